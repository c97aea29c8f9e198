package submitter_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/submitter"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func startSubmitter(t *testing.T, d platform.Deps) {
	t.Helper()
	startSubmitterWith(t, d, submitter.Config{})
}

func startSubmitterWith(t *testing.T, d platform.Deps, cfg submitter.Config) {
	t.Helper()
	if err := platform.EnsureStreams(context.Background(), d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	d.Registry = prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		cfg.Rules, cfg.Ready = billing.DefaultRules(), func() { close(ready) }
		done <- submitter.Run(ctx, cfg, d)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("submitter did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("submitter stopped with: %v", err)
		}
	})
}

// publishCoded puts a visit.coded on the coder's stream as the coder would,
// dated at (the scrubber's "today").
// startSending runs the submitter with a directory mailbox it batches into
// every 100 ms, and returns the mailbox's root.
func startSending(t *testing.T, d platform.Deps) string {
	t.Helper()
	root := t.TempDir()
	mailbox, err := clearinghouse.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	startSubmitterWith(t, d, submitter.Config{Mailbox: mailbox, Batch: submitter.BatchConfig{Interval: 100 * time.Millisecond}})
	return root
}

func publishCoded(t *testing.T, d platform.Deps, c *events.VisitCoded, at time.Time, id string) {
	t.Helper()
	publishCodedAs(t, d, c, at, id, id)
}

// publishCodedAs stores the event under msgID: the same event under another
// msgID is a duplicate copy in the stream, as a republish after the dedupe
// window would leave.
func publishCodedAs(t *testing.T, d platform.Deps, c *events.VisitCoded, at time.Time, id, msgID string) {
	t.Helper()
	e, err := events.New(id, events.TypeVisitCoded, events.SourceCoder, c.VisitID, at, c)
	if err != nil {
		t.Fatal(err)
	}
	e.CorrelationID, e.CausationID, e.RulesVersion = c.VisitID, "recorded-"+id, c.RulesVersion
	b, _ := json.Marshal(e)
	m := nats.NewMsg(events.SubjectVisitCoded)
	m.Data = b
	m.Header.Set(nats.MsgIdHdr, msgID)
	if _, err := d.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func scrubbed(t *testing.T, d platform.Deps, want int, wait time.Duration) []events.ClaimScrubbed {
	t.Helper()
	var out []events.ClaimScrubbed
	for _, e := range ptest.Events(t, d.JS, events.StreamSubmitter, want, wait) {
		var s events.ClaimScrubbed
		if err := e.DecodeData(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func editCodes(s events.ClaimScrubbed) map[string]string {
	m := map[string]string{}
	for _, e := range s.Edits {
		m[e.Code] = e.Severity
	}
	return m
}

func TestCodedVisitsBecomeScrubbedClaims(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	startSubmitter(t, d)

	clean := codedExample(t, "visit-ot-medicare.json")
	publishCoded(t, d, clean, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-clean")
	publishCodedAs(t, d, clean, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-clean", "coded-clean-copy") // stored twice: one claim
	// Another coding event of the same revision (a replay's): still one claim.
	publishCoded(t, d, clean, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-clean-replayed")

	late := codedExample(t, "visit-pt-commercial-prior-auth.json")
	publishCoded(t, d, late, time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), "coded-late") // past timely filing

	void := *codedExample(t, "visit-ot-assistant-telehealth.json")
	void.Void, void.Lines = true, []events.CodedLine{}
	publishCoded(t, d, &void, time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC), "coded-void")

	got := scrubbed(t, d, 3, 15*time.Second)
	if len(got) != 3 {
		t.Fatalf("%d claim.scrubbed; want 3", len(got))
	}
	byVisit := map[string]events.ClaimScrubbed{}
	for _, s := range got {
		byVisit[s.VisitID] = s
	}
	if s := byVisit[clean.VisitID]; s.Status != events.ScrubPassed || s.ControlNumber != submitter.ControlNumber(clean.VisitID, 1) || s.ClaimID != submitter.ClaimID(clean.VisitID) {
		t.Errorf("clean claim: %+v", s)
	}
	if s := byVisit[late.VisitID]; s.Status != events.ScrubHeld || editCodes(s)["filing.expired"] != events.SeverityError {
		t.Errorf("late claim: status %s edits %v", s.Status, editCodes(s))
	}
	if s := byVisit[void.VisitID]; s.Status != events.ScrubHeld || editCodes(s)["claim.visit_voided"] == "" {
		t.Errorf("void: status %s edits %v", s.Status, editCodes(s))
	}
	if n := len(scrubbed(t, d, 4, time.Second)); n != 3 {
		t.Fatalf("%d claim.scrubbed after a duplicate; want 3", n)
	}

	// A new coding of the clean visit rebuilds its unsent claim.
	amended := *clean
	amended.Revision = 2
	amended.Lines = amended.Lines[:1]
	amended.ChargeCents = amended.Lines[0].ChargeCents
	publishCoded(t, d, &amended, time.Date(2025, 5, 21, 12, 0, 0, 0, time.UTC), "coded-clean-2")
	// And a late copy of revision 1 changes nothing.
	publishCoded(t, d, clean, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-clean-again")
	if n := len(scrubbed(t, d, 5, 5*time.Second)); n != 4 {
		t.Fatalf("%d claim.scrubbed after a new coding and a stale one; want 4", n)
	}
	var rev int
	var status string
	var claim []byte
	if err := d.Pool.QueryRow(context.Background(), `SELECT coded_revision, status, claim FROM submitter.claims WHERE visit_id = $1`, clean.VisitID).Scan(&rev, &status, &claim); err != nil {
		t.Fatal(err)
	}
	var model struct{ Lines []json.RawMessage }
	if err := json.Unmarshal(claim, &model); err != nil {
		t.Fatal(err)
	}
	if rev != 2 || status != submitter.StatusReady || len(model.Lines) != 1 {
		t.Fatalf("rebuilt claim: revision %d status %s %d lines", rev, status, len(model.Lines))
	}
}
