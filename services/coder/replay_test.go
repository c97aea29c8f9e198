package coder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/internal/rulestest"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/intake"
	"github.com/rcm-health/rcm/services/submitter"
)

// dearer97530 charges $80 a unit for 97530 instead of $65.
func dearer97530(t testing.TB) rulestest.Edit {
	return rulestest.Replace(t, "fees.csv", "\n97530,6500\n", "\n97530,8000\n")
}

// recordAt publishes a visit.recorded as intake would, dated at (the day
// the submitter scrubs the claim as of).
func recordAt(t *testing.T, d platform.Deps, v events.Visit, at time.Time) events.Envelope {
	t.Helper()
	visitID := intake.VisitID(v.Source, v.SourceVisitID)
	id := events.NewID("intake", events.TypeVisitRecorded, visitID, strconv.Itoa(v.Revision))
	e, err := events.New(id, events.TypeVisitRecorded, events.SourceIntake, visitID, at,
		events.VisitRecorded{VisitID: visitID, Revision: v.Revision, Change: events.ChangeNew, ReceivedAt: at.Format(time.RFC3339), Visit: v})
	if err != nil {
		t.Fatal(err)
	}
	e.CorrelationID = visitID
	b, _ := json.Marshal(e)
	m := nats.NewMsg(events.SubjectVisitRecorded)
	m.Data = b
	m.Header.Set(nats.MsgIdHdr, e.ID)
	if _, err := d.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return e
}

// codedRows snapshots coder.visits and the threshold totals.
func codedRows(t *testing.T, d platform.Deps) string {
	t.Helper()
	var s string
	err := d.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(visit_id || ':' || coded_revision || ':' || last_event_id || ':' || rules_version || ':' || md5(coded), ',' ORDER BY visit_id), '')
	|| '|' || (SELECT coalesce(string_agg(patient_key || bucket || allowed_cents, ',' ORDER BY patient_key, bucket), '') FROM coder.threshold_totals) FROM coder.visits`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var scrubDay = time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC)

// TestReplayUnchangedRulesChangesNothing: a replay, dry or not, under the
// rules the visits were coded with finds nothing to change, says so, and
// publishes and writes nothing.
func TestReplayUnchangedRulesChangesNothing(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	rules := billing.DefaultRules()
	start(t, d, rules)
	names := []string{"visit-ot-medicare.json", "visit-pt-commercial-prior-auth.json", "visit-slp-child-medicaid.json", "visit-ot-assistant-telehealth.json"}
	for _, n := range names {
		recordAt(t, d, exampleVisit(t, n), scrubDay)
	}
	// A second revision of one visit: its first is superseded. (Once the
	// first is coded: the coder may code two revisions out of order, and
	// skip the older.)
	coded(t, d.JS, len(names))
	amended := exampleVisit(t, "visit-ot-medicare.json")
	amended.Revision = 2
	amended.Services = amended.Services[:2]
	recordAt(t, d, amended, scrubDay)
	waitCodedRevision(t, d, intake.VisitID(amended.Source, amended.SourceVisitID), 2)
	if n := len(coded(t, d.JS, len(names)+1)); n != len(names)+1 {
		t.Fatalf("%d visit.coded; want %d", n, len(names)+1)
	}
	before := codedRows(t, d)

	for _, dry := range []bool{true, false} {
		var out bytes.Buffer
		sum, err := (&coder.Replay{Pool: d.Pool, JS: d.JS, Rules: rules, DryRun: dry, Out: &out}).Run(context.Background(), platform.ReplayRange{FromSeq: 1})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Span.Read != len(names)+1 || sum.Compared != len(names) || sum.Changed != 0 || sum.Unchanged != len(names) || sum.Superseded != 1 || sum.Published.Stored != 0 {
			t.Fatalf("dry %v: summary %+v\n%s", dry, sum, out.String())
		}
		if !strings.Contains(out.String(), "0 changed") || !strings.Contains(out.String(), "nothing published") {
			t.Fatalf("dry %v: the summary does not say nothing changed:\n%s", dry, out.String())
		}
	}
	if n := len(codedWithin(t, d.JS, len(names)+2, time.Second)); n != len(names)+1 {
		t.Fatalf("%d visit.coded after the replays; want %d", n, len(names)+1)
	}
	if after := codedRows(t, d); after != before {
		t.Fatalf("the replays changed the coder's tables:\n%s\n%s", before, after)
	}
}

func waitCodedRevision(t *testing.T, d platform.Deps, visitID string, rev int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got int
		_ = d.Pool.QueryRow(context.Background(), `SELECT visit_revision FROM coder.visits WHERE visit_id = $1`, visitID).Scan(&got)
		if got == rev {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("visit %s at revision %d; want %d", visitID, got, rev)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplayDryRunShowsTheDiff: under a dearer 97530 the dry run names the
// visits that bill 97530 and their new charges, and changes nothing.
func TestReplayDryRunShowsTheDiff(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	start(t, d, billing.DefaultRules())
	ot := recordAt(t, d, exampleVisit(t, "visit-ot-medicare.json"), scrubDay)
	pt := recordAt(t, d, exampleVisit(t, "visit-pt-commercial-prior-auth.json"), scrubDay)
	coded(t, d.JS, 2)
	before := codedRows(t, d)

	rules := rulestest.Rules(t, "2026.11.2-dearer", dearer97530(t))
	var out bytes.Buffer
	sum, err := (&coder.Replay{Pool: d.Pool, JS: d.JS, Rules: rules, DryRun: true, Out: &out}).Run(context.Background(), platform.ReplayRange{Since: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Logf("dry run:\n%s", text)
	if sum.Changed != 1 || sum.Unchanged != 1 || sum.ChargeDeltaCents <= 0 {
		t.Fatalf("summary %+v\n%s", sum, text)
	}
	for _, want := range []string{"visit " + ot.Subject + " revision 1: coding 1 (rules 2026.11.2) → would be coding 2 (rules 2026.11.2-dearer)",
		"97530: charge $", "visit: charge $", "nothing published, nothing written (dry run)", "1 changed, 1 unchanged"} {
		if !strings.Contains(text, want) {
			t.Errorf("the dry run's output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, pt.Subject) {
		t.Errorf("the unchanged visit is listed:\n%s", text)
	}
	// No PHI: the example's patient and member id are nowhere.
	v := exampleVisit(t, "visit-ot-medicare.json")
	for _, phi := range []string{v.Patient.LastName, v.Patient.FirstName, v.Coverage.MemberID, v.Patient.BirthDate, v.Diagnoses[0]} {
		if phi != "" && strings.Contains(text, phi) {
			t.Errorf("the output carries PHI %q:\n%s", phi, text)
		}
	}
	if n := len(codedWithin(t, d.JS, 3, time.Second)); n != 2 {
		t.Fatalf("%d visit.coded after a dry run; want 2", n)
	}
	if after := codedRows(t, d); after != before {
		t.Fatal("the dry run wrote to the coder's tables")
	}
}

// TestReplayChangedRulesDownstream runs the coder and the submitter: after
// a rules change a replay emits new revisions for the visits whose coding
// changed and for no other; the submitter rebuilds the unsent claim and
// holds the sent one for a corrected claim; a second replay finds nothing.
func TestReplayChangedRulesDownstream(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	start(t, d, billing.DefaultRules())
	startSubmitter(t, d)

	// Visit A is coded, scrubbed and sent; B (telehealth, also 97530) and
	// C (no 97530) are coded and scrubbed but not sent.
	a := recordAt(t, d, exampleVisit(t, "visit-ot-medicare.json"), scrubDay)
	waitScrubbed(t, d, 1)
	sendReady(t, d)
	b := recordAt(t, d, exampleVisit(t, "visit-ot-assistant-telehealth.json"), scrubDay)
	c := recordAt(t, d, exampleVisit(t, "visit-pt-commercial-prior-auth.json"), scrubDay)
	coded(t, d.JS, 3)
	waitScrubbed(t, d, 3)
	claimA, claimB := submitter.ClaimID(a.Subject), submitter.ClaimID(b.Subject)
	if st := claimStatus(t, d, claimA); st != submitter.StatusSubmitted {
		t.Fatalf("claim A is %s; want submitted", st)
	}
	if st := claimStatus(t, d, claimB); st == submitter.StatusSubmitted || st == submitter.StatusBatched {
		t.Fatalf("claim B is %s; want unsent", st)
	}
	scrubbedBefore := len(ptest.Events(t, d.JS, events.StreamSubmitter, 0, 0))

	rules := rulestest.Rules(t, "2026.11.2-dearer", dearer97530(t))
	var out bytes.Buffer
	sum, err := (&coder.Replay{Pool: d.Pool, JS: d.JS, Rules: rules, Out: &out}).Run(context.Background(), platform.ReplayRange{FromSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Changed != 2 || sum.Unchanged != 1 || sum.Published.Stored != 2 {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	all := coded(t, d.JS, 5)
	if len(all) != 5 {
		t.Fatalf("%d visit.coded; want 5", len(all))
	}
	for _, e := range all[3:] {
		cd := decodeCoded(t, e)
		if e.RulesVersion != rules.Version || cd.RulesVersion != rules.Version || cd.Revision != 2 || cd.Supersedes == "" {
			t.Errorf("new revision %+v: rules %s revision %d supersedes %q", e, cd.RulesVersion, cd.Revision, cd.Supersedes)
		}
		if e.Subject == c.Subject {
			t.Errorf("visit C, without 97530, got a new revision")
		}
		for _, l := range cd.Lines {
			if l.Code == "97530" && l.ChargeCents != 8000*int64(l.Units) {
				t.Errorf("97530 charged %d for %d units under the new rules", l.ChargeCents, l.Units)
			}
		}
	}

	// The submitter's reaction: A held for a corrected claim (still the
	// claim sent), B rebuilt with the new charge.
	deadline := time.Now().Add(15 * time.Second)
	var heldA, rebuiltB bool
	for !(heldA && rebuiltB) {
		if time.Now().After(deadline) {
			t.Fatalf("corrected-claim hold of A %v, rebuild of B %v", heldA, rebuiltB)
		}
		for _, e := range ptest.Events(t, d.JS, events.StreamSubmitter, 0, 0)[scrubbedBefore:] {
			var s events.ClaimScrubbed
			if e.Type != events.TypeClaimScrubbed || e.DecodeData(&s) != nil {
				continue
			}
			for _, ed := range s.Edits {
				heldA = heldA || (s.ClaimID == claimA && s.Status == events.ScrubHeld && ed.Code == "claim.corrected_claim_needed")
			}
			if s.ClaimID == claimB {
				rebuiltB = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := claimStatus(t, d, claimA); st != submitter.StatusSubmitted {
		t.Errorf("claim A is %s after the replay; a sent claim stays as sent", st)
	}
	var revB int
	var claimJSON []byte
	if err := d.Pool.QueryRow(context.Background(), `SELECT coded_revision, claim FROM submitter.claims WHERE claim_id = $1`, claimB).Scan(&revB, &claimJSON); err != nil {
		t.Fatal(err)
	}
	var model struct {
		Lines []struct {
			Code        string
			Units       int
			ChargeCents int64
		}
	}
	if err := json.Unmarshal(claimJSON, &model); err != nil {
		t.Fatal(err)
	}
	for _, l := range model.Lines {
		if l.Code == "97530" && l.ChargeCents != 8000*int64(l.Units) {
			t.Errorf("rebuilt claim B charges %d for 97530×%d", l.ChargeCents, l.Units)
		}
	}
	if revB != 2 {
		t.Errorf("claim B built from coding %d; want 2", revB)
	}

	// Threshold totals still add up to the current codings of the payers
	// that have a threshold.
	var want, total int64
	if err := d.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(allowed_cents), 0) FROM coder.visits WHERE bucket <> ''`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if err := d.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(allowed_cents), 0) FROM coder.threshold_totals`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != want {
		t.Errorf("threshold totals %d; the current codings add up to %d", total, want)
	}

	// The same replay again: everything is current now.
	out.Reset()
	sum, err = (&coder.Replay{Pool: d.Pool, JS: d.JS, Rules: rules, Out: &out}).Run(context.Background(), platform.ReplayRange{FromSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Changed != 0 || sum.Published.Stored != 0 {
		t.Fatalf("second replay: %+v\n%s", sum, out.String())
	}
	if n := len(codedWithin(t, d.JS, 6, time.Second)); n != 5 {
		t.Fatalf("%d visit.coded after the second replay; want 5", n)
	}
}

func startSubmitter(t *testing.T, d platform.Deps) {
	t.Helper()
	d.Registry = prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- submitter.Run(ctx, submitter.Config{Rules: billing.DefaultRules(), Ready: func() { close(ready) }}, d)
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

func waitScrubbed(t *testing.T, d platform.Deps, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got int
		_ = d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM submitter.claims`).Scan(&got)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d claims; want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sendReady sends every ready claim as the batcher would, into a mailbox
// directory of the test's.
func sendReady(t *testing.T, d platform.Deps) {
	t.Helper()
	mailbox, err := clearinghouse.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := platform.NewOutbox(platform.OutboxConfig{Schema: submitter.Schema}, d.Pool, d.JS, d.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &submitter.Batcher{Pool: d.Pool, Outbox: outbox, Mailbox: mailbox, Log: d.Log, Now: func() time.Time { return scrubDay.Add(24 * time.Hour) }}
	if n, err := b.Step(context.Background()); err != nil || n != 1 {
		t.Fatalf("batcher sent %d claims (%v); want 1", n, err)
	}
	if _, err := outbox.Sweep(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

func claimStatus(t *testing.T, d platform.Deps, claimID string) string {
	t.Helper()
	var s string
	if err := d.Pool.QueryRow(context.Background(), `SELECT status FROM submitter.claims WHERE claim_id = $1`, claimID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// richerMedicare raises Original Medicare's allowed amounts by half, so that
// patients pass the KX threshold visits earlier.
func richerMedicare(name, text string) string {
	if name != "allowed.csv" {
		return text
	}
	var b strings.Builder
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(line, "plan:medicare_part_b,"); ok {
			code, cents, _ := strings.Cut(strings.TrimSpace(rest), ",")
			n, err := strconv.ParseInt(cents, 10, 64)
			if err == nil {
				line = "plan:medicare_part_b," + code + "," + strconv.FormatInt(n*3/2, 10) + "\n"
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

func startCoder(t *testing.T, d platform.Deps, cfg coder.Config) {
	t.Helper()
	if err := platform.EnsureStreams(context.Background(), d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	d.Registry = prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	cfg.Ready = func() { close(ready) }
	go func() { done <- coder.Run(ctx, cfg, d) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("coder did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("coder stopped with: %v", err)
		}
	})
}

// TestReplayMatchesCodingFromScratch: a patient's visits coded under rules
// A and then replayed under rules B (higher allowed amounts: KX comes
// earlier) end up coded exactly as a coder running B from the start codes
// them, threshold totals included. The coders code one visit at a time,
// so that "the total so far" is the same in both. (With amendments the two
// can differ: a superseded revision's part in the totals the later visits
// saw stays at its old rules' amount in a replay, while a coder running B
// from the start counted it at B's.)
func TestReplayMatchesCodingFromScratch(t *testing.T) {
	t.Parallel()
	rulesB := rulestest.Rules(t, "2026.11.2-richer", richerMedicare)
	base := exampleVisit(t, "visit-ot-medicare.json")
	base.DateOfService = "2025-03-02"
	var visits []events.Visit
	for i := range 24 {
		v := base
		v.SourceVisitID = "kx-" + strconv.Itoa(i)
		visits = append(visits, v)
	}
	run := func(rules *billing.Rules) platform.Deps {
		d := ptest.Deps(t)
		startCoder(t, d, coder.Config{Rules: rules, Concurrency: 1})
		for _, v := range visits {
			recordAt(t, d, v, scrubDay)
		}
		if n := len(coded(t, d.JS, len(visits))); n != len(visits) {
			t.Fatalf("%d visit.coded; want %d", n, len(visits))
		}
		return d
	}
	replayed, scratch := run(billing.DefaultRules()), run(rulesB)

	var out bytes.Buffer
	sum, err := (&coder.Replay{Pool: replayed.Pool, JS: replayed.JS, Rules: rulesB, Out: &out}).Run(context.Background(), platform.ReplayRange{FromSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Changed == 0 || sum.Compared != len(visits) {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	views := func(d platform.Deps) (map[string]string, int64) {
		rows, err := d.Pool.Query(context.Background(), `SELECT visit_id, coded FROM coder.visits`)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for rows.Next() {
			var id string
			var raw []byte
			if err := rows.Scan(&id, &raw); err != nil {
				t.Fatal(err)
			}
			var c events.VisitCoded
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			// What the claim and the threshold see; revisions differ.
			b, _ := json.Marshal(struct {
				Lines     []events.CodedLine
				Threshold *events.ThresholdStatus
				Issues    []events.Edit
			}{c.Lines, c.Threshold, c.Issues})
			m[id] = string(b)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		var total int64
		if err := d.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(allowed_cents), 0) FROM coder.threshold_totals`).Scan(&total); err != nil {
			t.Fatal(err)
		}
		return m, total
	}
	got, gotTotal := views(replayed)
	want, wantTotal := views(scratch)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("visit %s replayed:\n%s\ncoded under B from the start:\n%s", id, got[id], w)
		}
	}
	if gotTotal != wantTotal {
		t.Errorf("threshold total %d after the replay; %d coded under B from the start", gotTotal, wantTotal)
	}
	kx := 0
	for _, w := range want {
		if strings.Contains(w, `"KX"`) {
			kx++
		}
	}
	if kx == 0 || kx == len(want) {
		t.Fatalf("%d of %d visits have KX under B: the test needs some of each", kx, len(want))
	}
}
