package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
)

// TestCorrectedClaimEndToEnd runs the whole pipeline in rcm dev, lets the
// payer simulator deny some claims, and works one denial through the web
// UI as a biller would (log in, open the queue, open the claim, request a
// corrected claim): the submitter sends a frequency-7 replacement quoting
// the payer's claim number, the simulator adjudicates it, and its outcome
// comes back into the same work item.
func TestCorrectedClaimEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	webAddr := freeAddr(t)
	d := startDev(t, devOptions{webAddr: webAddr})
	// Enough visits that the simulator's 5 % CO-50 share denies some.
	if err := runDemo(t.Context(), demoOptions{visits: 80, addr: d.addr, natsURL: d.natsURL, secret: devSecret, seed: 11, wait: time.Minute}); err != nil {
		t.Fatal(err)
	}

	site := "http://" + webAddr
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	get := func(path string) string {
		t.Helper()
		resp, err := client.Get(site + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return string(b)
	}
	post := func(path, page string, form url.Values) string {
		t.Helper()
		m := csrfRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no CSRF token on the page before POST %s", path)
		}
		form.Set("csrf", m[1])
		req, _ := http.NewRequest(http.MethodPost, site+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", site)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}

	queue := post("/login", get("/login"), url.Values{"username": {devUser}, "password": {devPassword}, "next": {"/"}})
	claimLink := regexp.MustCompile(`href="/claims/([^"/?]+)"`).FindStringSubmatch(queue)
	if claimLink == nil {
		t.Fatal("the queue lists no denied claim")
	}
	claimID := claimLink[1]
	page := get("/claims/" + claimID)
	action := regexp.MustCompile(`action="(/items/[^"/]+/request_correction)"`).FindStringSubmatch(page)
	if action == nil {
		t.Fatal("the claim page has no corrected-claim form")
	}
	itemID := strings.Split(action[1], "/")[2]
	after := post(action[1], page, url.Values{"note": {"documentation supports medical necessity; resubmitting"}, "frequency": {"7"}})
	if !strings.Contains(after, "corrected") {
		t.Error("the claim page does not show the item as corrected")
	}

	nc, err := nats.Connect(d.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(45 * time.Second)
	var replacement *events.ClaimSubmitted
	var outcome *events.DenialUpdated
	for (replacement == nil || outcome == nil) && time.Now().Before(deadline) {
		for _, e := range ptest.Events(t, js, events.StreamSubmitter, 0, 0) {
			var c events.ClaimSubmitted
			if e.Type == events.TypeClaimSubmitted && e.DecodeData(&c) == nil && c.ClaimID == claimID && c.Frequency == events.FrequencyReplacement {
				replacement = &c
			}
		}
		for _, e := range ptest.Events(t, js, events.StreamDenials, 0, 0) {
			var u events.DenialUpdated
			// The pipeline's update (no user) after the replacement's
			// adjudication.
			if e.Type == events.TypeDenialUpdated && e.DecodeData(&u) == nil && u.WorkItemID == itemID && u.ChangedBy == "" {
				outcome = &u
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if replacement == nil {
		t.Fatal("no replacement claim was submitted")
	}
	if replacement.Submission != 2 || replacement.OriginalReference == "" {
		t.Errorf("replacement: submission %d, REF*F8 %q", replacement.Submission, replacement.OriginalReference)
	}
	if outcome == nil {
		t.Fatal("the replacement's outcome did not come back to the work item")
	}
	if outcome.Status != events.DenialResolved && outcome.Status != events.DenialOpen {
		t.Errorf("work item after the replacement: %s", outcome.Status)
	}
	timeline := get("/claims/" + claimID)
	for _, want := range []string{"replacement", replacement.ControlNumber} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
}
