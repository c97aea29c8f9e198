package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
)

// TestOpsPage: every role sees the pipeline's status at /ops, with a
// backlog, a dead letter and the denials outbox; without JetStream the page
// says the status is unavailable.
func TestOpsPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	js := f.deps.JS
	// The coder has five visits waiting, and the denials stage one dead letter.
	for i := range 5 {
		m := nats.NewMsg(events.SubjectVisitRecorded)
		m.Data = []byte(`{"id":"v` + strconv.Itoa(i) + `"}`)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := platform.EnsureConsumer(ctx, js, platform.ConsumerSpec{Stream: events.StreamIntake, Durable: "coder",
		Subjects: []string{events.SubjectVisitRecorded}}); err != nil {
		t.Fatal(err)
	}
	dl := nats.NewMsg(platform.DeadLetterSubject("denials"))
	dl.Data = []byte(`{"id":"x","data":{"patient":{"last_name":"Doe"}}}`)
	if _, err := js.PublishMsg(ctx, dl); err != nil {
		t.Fatal(err)
	}

	h, err := New(Config{Store: f.store, Log: f.deps.Log, Now: func() time.Time { return today }, JS: js})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	row := func(body, id string) string {
		m := regexp.MustCompile(`(?s)<tr id="` + id + `">(.*?)</tr>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no row %s in:\n%s", id, body)
		}
		return regexp.MustCompile(`\s+`).ReplaceAllString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], " "), " ")
	}
	audited := func() int {
		var n int
		if err := f.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM denials.audit`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, u := range []string{biller, supervisor, opsUser} {
		c := f.client()
		c.base = srv.URL
		c.login(u)
		before := audited()
		resp, body := c.get("/ops")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET /ops %d", u, resp.StatusCode)
		}
		if n := audited(); n != before {
			t.Errorf("%s: the ops page wrote %d audit rows; it shows no PHI", u, n-before)
		}
		if got := strings.Fields(row(body, "stage-coder")); len(got) < 7 || got[2] != "5" || got[3] != "0" || got[6] == "—" {
			t.Errorf("%s: coder row %q; want 5 pending and an oldest age", u, got)
		}
		if got := strings.Fields(row(body, "service-denials")); len(got) != 3 || got[1] != "1" {
			t.Errorf("%s: denials row %q; want 1 dead letter and its outbox count", u, got)
		}
		if got := strings.Fields(row(body, "service-coder")); len(got) != 3 || got[2] != "—" {
			t.Errorf("%s: coder service row %q; its outbox is not denials' to count", u, got)
		}
		if !strings.Contains(body, `href="/ops" aria-current="page"`) || !strings.Contains(body, "1 dead letters wait") {
			t.Errorf("%s: page lacks the nav entry or the dead letter hint", u)
		}
		if strings.Contains(body, "Doe") {
			t.Errorf("%s: the ops page shows a dead letter's content", u)
		}
	}

	// The fixture's server has no JetStream.
	c := f.loggedIn(opsUser)
	resp, body := c.get("/ops")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="ops-unavailable"`) || strings.Contains(body, `id="ops-stages"`) {
		t.Errorf("/ops without JetStream: %d\n%s", resp.StatusCode, body)
	}
}
