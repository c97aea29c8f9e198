package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/browsertest"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
)

// TestCorrectedClaimEndToEnd runs the whole pipeline in rcm dev, lets the
// payer simulator deny some claims, and works one denial through the web
// UI in headless Chromium as a biller would (log in, open the queue, open
// the claim, request a corrected claim): the submitter sends a frequency-7 replacement quoting
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

	// A biller works the denial in a real browser.
	bctx := browsertest.Start(t)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	type css = chromedp.CSS
	site := "http://" + webAddr
	err := chromedp.Do(ctx,
		chromedp.Navigate(site+"/"),
		chromedp.WaitVisible(css(`#login`)),
		chromedp.SendKeys(css(`#username`), devUser),
		chromedp.SendKeys(css(`#password`), devPassword),
		chromedp.Submit(css(`#login`)),
		chromedp.WaitVisible(css(`#queue tbody tr a`)),
		chromedp.Click(css(`#queue tbody tr a`)),
		chromedp.WaitVisible(css(`#timeline`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	claimURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	claimID := claimURL[strings.LastIndex(claimURL, "/")+1:]
	formID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('form[id^="correct-"]').id`))
	if err != nil {
		t.Fatalf("the claim page has no corrected-claim form: %v", err)
	}
	itemID := strings.TrimPrefix(formID, "correct-")
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#correct-box-`+itemID+` summary`)),
		chromedp.WaitVisible(css(`#`+formID+` textarea[name="note"]`)),
		chromedp.SendKeys(css(`#`+formID+` textarea[name="note"]`), "documentation supports medical necessity; resubmitting"),
		chromedp.Click(css(`#correct-submit-`+itemID)),
		chromedp.WaitVisible(css(`#flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if status, err := chromedp.Run(ctx, chromedp.Text(css(`#item-status-`+itemID))); err != nil || status != "corrected" {
		t.Errorf("the claim page shows the item as %q (%v), want corrected", status, err)
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
	// The biller sees the replacement and its outcome on the claim's page.
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(css(`#timeline`))); err != nil {
		t.Fatal(err)
	}
	timeline, err := chromedp.Run(ctx, chromedp.Text(css(`#timeline`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"replacement", replacement.ControlNumber} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
}
