package submitter_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/internal/rulestest"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/intake"
	"github.com/rcm-health/rcm/services/submitter"
)

var replayDay = time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC)

// claimsSnapshot is the submitter's claims as a string to compare.
func claimsSnapshot(t *testing.T, d platform.Deps) string {
	t.Helper()
	var s string
	if err := d.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(claim_id || status || coded_event_id || md5(claim) || md5(edits) || md5(summary) || updated_at::text, ',' ORDER BY claim_id), '')
FROM submitter.claims`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// medicareVisit is the OT Medicare example coded as another visit of the
// patient, so that one can be sent and one not.
func medicareVisit(t *testing.T, sourceVisitID string) *events.VisitCoded {
	t.Helper()
	c := codedExample(t, "visit-ot-medicare.json")
	c.Visit.SourceVisitID = sourceVisitID
	c.VisitID = intake.VisitID(c.Visit.Source, sourceVisitID)
	return c
}

// stricterMedicare gives Original Medicare 30 days to file instead of a
// year: the examples' claims, scrubbed two months after the visit, are late.
func stricterMedicare(t testing.TB) rulestest.Edit {
	return rulestest.Replace(t, "payers.csv", "yes,59,95,10,02,yes,365,no,120", "yes,59,95,10,02,yes,30,no,120")
}

func TestReplaySubmitter(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	startSubmitter(t, d)

	// X is sent; Y (another visit of the patient) and the commercial
	// visit are scrubbed and ready.
	x := medicareVisit(t, "replay-x")
	publishCoded(t, d, x, replayDay, "coded-x")
	scrubbed(t, d, 1, 15*time.Second)
	mailbox, err := clearinghouse.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := platform.NewOutbox(platform.OutboxConfig{Schema: submitter.Schema}, d.Pool, d.JS, d.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	batcher := &submitter.Batcher{Pool: d.Pool, Outbox: outbox, Mailbox: mailbox, Log: d.Log, Now: func() time.Time { return replayDay }}
	send := func() {
		t.Helper()
		if n, err := batcher.Step(context.Background()); err != nil || n != 1 {
			t.Fatalf("sent %d (%v); want 1", n, err)
		}
		if _, err := outbox.Sweep(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
	}
	send()
	// Z is sent too, and rejected by the clearinghouse: held again, as the
	// acknowledgement reader holds it. It went out: a replay leaves it.
	z := medicareVisit(t, "replay-z")
	z.Visit.DateOfService = "2025-03-28"
	publishCoded(t, d, z, replayDay, "coded-z")
	scrubbed(t, d, 3, 15*time.Second) // X's scrub and submission, Z's scrub
	send()
	if _, err := d.Pool.Exec(context.Background(), `UPDATE submitter.claims SET status = 'held',
	edits = '[{"code":"ack.rejected","severity":"error","message":"rejected","fix":"send again"}]' WHERE claim_id = $1`, submitter.ClaimID(z.VisitID)); err != nil {
		t.Fatal(err)
	}
	y := medicareVisit(t, "replay-y")
	y.Visit.DateOfService = "2025-03-21" // a week later: not a duplicate of X
	publishCoded(t, d, y, replayDay, "coded-y")
	pt := codedExample(t, "visit-pt-commercial-prior-auth.json")
	publishCoded(t, d, pt, replayDay, "coded-pt")
	// Four claim.scrubbed and two claim.submitted.
	if got := ptest.Events(t, d.JS, events.StreamSubmitter, 6, 15*time.Second); len(got) != 6 {
		t.Fatalf("%d events on SUBMITTER; want 6", len(got))
	}
	eventsBefore := len(ptest.Events(t, d.JS, events.StreamSubmitter, 0, 0))
	before := claimsSnapshot(t, d)
	replay := func(rules *billing.Rules, dry bool) (submitter.ReplaySummary, string) {
		t.Helper()
		var out bytes.Buffer
		sum, err := (&submitter.Replay{Pool: d.Pool, JS: d.JS, Rules: rules, DryRun: dry, Out: &out}).Run(context.Background(), platform.ReplayRange{FromSeq: 1})
		if err != nil {
			t.Fatal(err)
		}
		return sum, out.String()
	}

	// (a) Unchanged rules, dry and not: nothing changes.
	for _, dry := range []bool{true, false} {
		sum, text := replay(billing.DefaultRules(), dry)
		if sum.Span.Read != 4 || sum.Compared != 2 || sum.Sent != 2 || sum.Changed != 0 || sum.SentDiffer != 0 || sum.Published.Stored != 0 {
			t.Fatalf("dry %v, unchanged rules: %+v\n%s", dry, sum, text)
		}
		if !strings.Contains(text, "0 changed") || !strings.Contains(text, "nothing published") {
			t.Fatalf("the summary does not say nothing changed:\n%s", text)
		}
	}
	if n := len(ptest.Events(t, d.JS, events.StreamSubmitter, eventsBefore+1, time.Second)); n != eventsBefore {
		t.Fatalf("%d events on SUBMITTER after unchanged replays; want %d", n, eventsBefore)
	}
	if claimsSnapshot(t, d) != before {
		t.Fatal("an unchanged replay wrote to the claims")
	}

	// (c) Stricter timely filing, dry: the diff is printed, nothing written.
	rules := rulestest.Rules(t, "2026.11.2-strict", stricterMedicare(t))
	sum, text := replay(rules, true)
	claimX, claimY := submitter.ClaimID(x.VisitID), submitter.ClaimID(y.VisitID)
	if sum.Changed != 1 || sum.NowHeld != 1 || sum.Unchanged != 1 || sum.SentDiffer != 1 {
		t.Fatalf("dry run under stricter rules: %+v\n%s", sum, text)
	}
	for _, want := range []string{"claim " + claimY + " (visit " + y.VisitID + ", coding 1): would be rebuilt, ready → held (rules 2026.11.2-strict)",
		"edits: + filing.expired (error)", "claim " + claimX + " (visit " + x.VisitID + ") is submitted: would now scrub differently; left as sent",
		"nothing published, nothing written (dry run)"} {
		if !strings.Contains(text, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, text)
		}
	}
	for _, phi := range []string{y.Visit.Patient.LastName, y.Visit.Coverage.MemberID, y.Visit.Patient.BirthDate} {
		if strings.Contains(text, phi) {
			t.Errorf("the output carries PHI %q", phi)
		}
	}
	if n := len(ptest.Events(t, d.JS, events.StreamSubmitter, eventsBefore+1, time.Second)); n != eventsBefore {
		t.Fatalf("%d events on SUBMITTER after a dry run; want %d", n, eventsBefore)
	}
	if claimsSnapshot(t, d) != before {
		t.Fatal("a dry run wrote to the claims")
	}

	// (b) The same for real: Y is held with a new claim.scrubbed, X stays
	// as sent, the commercial claim is untouched.
	sum, text = replay(rules, false)
	if sum.Changed != 1 || sum.Published.Stored != 1 {
		t.Fatalf("replay under stricter rules: %+v\n%s", sum, text)
	}
	all := ptest.Events(t, d.JS, events.StreamSubmitter, eventsBefore+1, 5*time.Second)
	if len(all) != eventsBefore+1 {
		t.Fatalf("%d events on SUBMITTER; want %d", len(all), eventsBefore+1)
	}
	last := all[len(all)-1]
	var s events.ClaimScrubbed
	if err := last.DecodeData(&s); err != nil {
		t.Fatal(err)
	}
	if last.Type != events.TypeClaimScrubbed || s.ClaimID != claimY || s.Status != events.ScrubHeld || editCodes(s)["filing.expired"] != events.SeverityError ||
		last.RulesVersion != rules.Version || last.CausationID != "coded-y" {
		t.Fatalf("replay's event %+v: %+v", last, s)
	}
	status := func(id string) string {
		var st string
		if err := d.Pool.QueryRow(context.Background(), `SELECT status FROM submitter.claims WHERE claim_id = $1`, id).Scan(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if status(claimY) != submitter.StatusHeld || status(claimX) != submitter.StatusSubmitted || status(submitter.ClaimID(pt.VisitID)) != submitter.StatusReady {
		t.Fatalf("statuses after the replay: Y %s, X %s, commercial %s", status(claimY), status(claimX), status(submitter.ClaimID(pt.VisitID)))
	}
	var zEdits string
	if err := d.Pool.QueryRow(context.Background(), `SELECT convert_from(edits, 'UTF8') FROM submitter.claims WHERE claim_id = $1`, submitter.ClaimID(z.VisitID)).Scan(&zEdits); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(zEdits, "ack.rejected") {
		t.Fatalf("the rejected claim was rebuilt: edits %s", zEdits)
	}
	// Again: nothing left to change.
	if sum, text := replay(rules, false); sum.Changed != 0 || sum.Published.Stored != 0 {
		t.Fatalf("second replay: %+v\n%s", sum, text)
	}
}
