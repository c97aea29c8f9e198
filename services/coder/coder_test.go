package coder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcm-health/rcm/docs"
	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/intake"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	deps platform.Deps
	stop func()
}

// start runs the coder on fresh infrastructure; stop ends it (and is also
// called when the test ends).
func start(t *testing.T, d platform.Deps, rules *billing.Rules) *env {
	t.Helper()
	if err := platform.EnsureStreams(context.Background(), d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	d.Registry = prometheus.NewRegistry() // a restarted coder registers its metrics again
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- coder.Run(ctx, coder.Config{Rules: rules, Ready: func() { close(ready) }}, d) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("coder did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("coder did not start within 30s")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("coder stopped with: %v", err)
		}
	}
	t.Cleanup(stop)
	return &env{deps: d, stop: stop}
}

func exampleVisit(t *testing.T, name string) events.Visit {
	t.Helper()
	v, err := docs.ExampleVisit(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// record publishes a visit.recorded as intake would, under msgID (intake
// uses the event id; a different one simulates a stored duplicate).
func record(t *testing.T, js jetstream.JetStream, v events.Visit, change, supersedes, msgID string) events.Envelope {
	t.Helper()
	visitID := intake.VisitID(v.Source, v.SourceVisitID)
	id := events.NewID("intake", events.TypeVisitRecorded, visitID, strconv.Itoa(v.Revision))
	e, err := events.New(id, events.TypeVisitRecorded, events.SourceIntake, visitID, time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		events.VisitRecorded{VisitID: visitID, Revision: v.Revision, Change: change, Supersedes: supersedes, ReceivedAt: "2026-11-01T12:00:00Z", Visit: v})
	if err != nil {
		t.Fatal(err)
	}
	e.CorrelationID = visitID
	b, _ := json.Marshal(e)
	m := nats.NewMsg(events.SubjectVisitRecorded)
	m.Data = b
	if msgID == "" {
		msgID = e.ID
	}
	m.Header.Set(nats.MsgIdHdr, msgID)
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return e
}

// coded reads visit.coded events until there are want of them, or 15s.
func coded(t *testing.T, js jetstream.JetStream, want int) []events.Envelope {
	t.Helper()
	return codedWithin(t, js, want, 15*time.Second)
}

// codedWithin is coded with a chosen wait: a test that expects no more
// events waits a short while for one to show up.
func codedWithin(t *testing.T, js jetstream.JetStream, want int, wait time.Duration) []events.Envelope {
	t.Helper()
	return ptest.Events(t, js, events.StreamCoder, want, wait)
}

func decodeCoded(t *testing.T, e events.Envelope) events.VisitCoded {
	t.Helper()
	var c events.VisitCoded
	if err := e.DecodeData(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVisitInCodedOut(t *testing.T) {
	t.Parallel()
	rules := billing.DefaultRules()
	e := start(t, ptest.Deps(t), rules)
	v := exampleVisit(t, "visit-ot-medicare.json")
	in := record(t, e.deps.JS, v, events.ChangeNew, "", "")

	got := coded(t, e.deps.JS, 1)
	if len(got) != 1 {
		t.Fatalf("%d visit.coded events; want 1", len(got))
	}
	env := got[0]
	if env.CausationID != in.ID || env.CorrelationID != in.Subject || env.RulesVersion != rules.Version || env.Type != events.TypeVisitCoded {
		t.Fatalf("envelope: %+v", env)
	}
	c := decodeCoded(t, env)
	// The pipeline's coding is exactly what rcm code computes offline.
	want, _ := coder.Build(events.VisitRecorded{VisitID: in.Subject, Revision: v.Revision, Change: events.ChangeNew, Visit: v}, rules, coder.Options{})
	if c.Revision != 1 || c.TotalTimedUnits != want.TotalTimedUnits || len(c.Lines) != len(want.Lines) || c.ChargeCents != want.ChargeCents {
		t.Fatalf("coded %+v\nwant %+v", c, want)
	}
	for i := range c.Lines {
		if c.Lines[i].Code != want.Lines[i].Code || c.Lines[i].Units != want.Lines[i].Units || !slices.Equal(c.Lines[i].Modifiers, want.Lines[i].Modifiers) {
			t.Errorf("line %d: %+v; want %+v", i+1, c.Lines[i], want.Lines[i])
		}
		if !slices.Contains(c.Lines[i].Modifiers, "GO") {
			t.Errorf("line %d of an OT Medicare visit lacks GO: %v", i+1, c.Lines[i].Modifiers)
		}
	}
	if len(c.Lines) == 0 {
		t.Fatal("no lines")
	}
}

// TestRedeliveryAndReplayChangeNothing: the same visit.recorded stored twice
// and a consumer replaying the whole stream produce no second visit.coded.
func TestRedeliveryAndReplayChangeNothing(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	rules := billing.DefaultRules()
	e := start(t, d, rules)
	v := exampleVisit(t, "visit-pt-commercial-prior-auth.json")
	record(t, d.JS, v, events.ChangeNew, "", "")
	record(t, d.JS, v, events.ChangeNew, "", "stored-twice") // a second copy in the stream
	if n := len(coded(t, d.JS, 1)); n != 1 {
		t.Fatalf("%d visit.coded; want 1", n)
	}
	if n := len(codedWithin(t, d.JS, 2, 2*time.Second)); n != 1 {
		t.Fatalf("%d visit.coded after a duplicate; want 1", n)
	}
	var before []byte
	if err := d.Pool.QueryRow(context.Background(), `SELECT coded FROM coder.visits`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	// Replay: drop the consumer so the whole stream is delivered again.
	e.stop()
	if err := d.JS.DeleteConsumer(context.Background(), events.StreamIntake, coder.Consumer); err != nil {
		t.Fatal(err)
	}
	start(t, d, rules)
	// The replay really ran: the new consumer acked both stored messages.
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := d.JS.Consumer(context.Background(), events.StreamIntake, coder.Consumer)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Stream == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay acked up to %d of 2", info.AckFloor.Stream)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(codedWithin(t, d.JS, 2, time.Second)); n != 1 {
		t.Fatalf("%d visit.coded after a replay; want 1", n)
	}
	var after []byte
	if err := d.Pool.QueryRow(context.Background(), `SELECT coded FROM coder.visits`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("replay changed the stored coding")
	}
}

// TestThresholdTotalsAcrossAmendments: the patient's year-to-date total is
// the sum of the current codings of their visits, whatever amendments and
// voids came in between, and KX appears once the total passes the threshold.
func TestThresholdTotalsAcrossAmendments(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	rules := billing.DefaultRules()
	start(t, d, rules)
	base := exampleVisit(t, "visit-ot-medicare.json")
	base.DateOfService = "2026-03-02"
	const visits = 30
	var lastRecorded []events.Envelope
	for i := range visits {
		v := base
		v.SourceVisitID = fmt.Sprintf("kx-%02d", i)
		lastRecorded = append(lastRecorded, record(t, d.JS, v, events.ChangeNew, "", ""))
	}
	// Concurrent handlers may code a visit's revisions in any order (a late
	// older revision is then skipped); let the first revisions land first so
	// that every revision below is coded.
	if n := len(coded(t, d.JS, visits)); n != visits {
		t.Fatalf("%d visit.coded; want %d", n, visits)
	}
	// Amend visit 3 (fewer minutes) and void visit 5.
	amended := base
	amended.SourceVisitID, amended.Revision = "kx-03", 2
	amended.Services = slices.Clone(base.Services)
	for i := range amended.Services {
		if amended.Services[i].Minutes > 15 {
			amended.Services[i].Minutes = 15
			amended.Services[i].AssistantMinutes = 0
		}
	}
	record(t, d.JS, amended, events.ChangeAmendment, lastRecorded[3].ID, "")
	void := events.Visit{Source: base.Source, SourceVisitID: "kx-05", Revision: 2, Status: events.VisitVoided}
	record(t, d.JS, void, events.ChangeVoid, lastRecorded[5].ID, "")

	got := coded(t, d.JS, visits+2)
	if len(got) != visits+2 {
		t.Fatalf("%d visit.coded; want %d", len(got), visits+2)
	}
	// The current coding per visit, and the sum of their allowed amounts.
	current := map[string]events.VisitCoded{}
	sawKX := false
	for _, e := range got {
		c := decodeCoded(t, e)
		if prev, ok := current[c.VisitID]; !ok || c.Revision > prev.Revision {
			current[c.VisitID] = c
		}
		for _, l := range c.Lines {
			if slices.Contains(l.Modifiers, "KX") {
				sawKX = true
				if c.Threshold == nil || c.Threshold.AfterCents <= c.Threshold.ThresholdCents {
					t.Errorf("KX on a visit not past the threshold: %+v", c.Threshold)
				}
			}
		}
	}
	var want int64
	for _, c := range current {
		if c.Void {
			continue
		}
		for _, l := range c.Lines {
			want += l.AllowedCents
		}
	}
	var total int64
	if err := d.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(allowed_cents), 0) FROM coder.threshold_totals`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != want {
		t.Fatalf("threshold total %d cents; the current codings add up to %d", total, want)
	}
	th, _ := rules.Threshold(2026, events.ThresholdOT)
	if want > th.Cents && !sawKX {
		t.Fatalf("the patient passed the threshold (%d > %d) but no line has KX", want, th.Cents)
	}
	if want <= th.Cents {
		t.Fatalf("test visits add up to only %d cents; make them pass the %d threshold", want, th.Cents)
	}
}

// TestBadVisitsAreCodedWithHoldReasons: what intake would normally refuse
// still comes out as a coded visit with an explicit hold reason, and a
// message that is not an event goes to the dead-letter stream without
// blocking the visits behind it.
func TestBadVisitsAreCodedWithHoldReasons(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	start(t, d, billing.DefaultRules())
	bad := exampleVisit(t, "visit-ot-medicare.json")
	bad.SourceVisitID = "bad-1"
	bad.Services = []events.Service{{Code: "99999", Minutes: 20, DiagnosisPointers: []int{1}}, {Code: "97530", DiagnosisPointers: []int{1}}}

	m := nats.NewMsg(events.SubjectVisitRecorded)
	m.Data = []byte(`{"not":"an event"}`)
	m.Header.Set(nats.MsgIdHdr, "poison-1")
	if _, err := d.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	record(t, d.JS, bad, events.ChangeNew, "", "")

	got := coded(t, d.JS, 1)
	if len(got) != 1 {
		t.Fatalf("%d visit.coded; want 1", len(got))
	}
	c := decodeCoded(t, got[0])
	codes := map[string]string{}
	for _, is := range c.Issues {
		codes[is.Code] = is.Severity
	}
	if codes["code.unknown"] != events.SeverityError || codes["units.minutes_missing"] != events.SeverityError {
		t.Fatalf("issues %+v; want code.unknown and units.minutes_missing errors", c.Issues)
	}
	deadline := time.Now().Add(15 * time.Second)
	for ptest.StreamCount(t, d.JS, events.StreamDeadLetter) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the poison message did not reach the dead-letter stream")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConcurrentRevisionsOfANewVisit: two revisions of a visit never seen
// before, coded at the same time, must not both count towards the
// threshold total: the current coding is revision 2 either way.
func TestConcurrentRevisionsOfANewVisit(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	start(t, d, billing.DefaultRules())
	base := exampleVisit(t, "visit-ot-medicare.json")
	base.DateOfService = "2026-03-02"
	const visits = 20
	for i := range visits {
		v1 := base
		v1.SourceVisitID = fmt.Sprintf("race-%02d", i)
		first := record(t, d.JS, v1, events.ChangeNew, "", "")
		v2 := v1
		v2.Revision = 2
		v2.Services = slices.Clone(v1.Services)
		v2.Services = v2.Services[:1]
		record(t, d.JS, v2, events.ChangeAmendment, first.ID, "")
	}
	// Wait until every visit's current coding is revision 2 (a revision 1
	// coded second is skipped, so the count of events varies).
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM coder.visits WHERE visit_revision = 2`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == visits {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d visits at revision 2", n, visits)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let any stale revision 1 finish
	var want, total int64
	if err := d.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(allowed_cents), 0) FROM coder.visits`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if err := d.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(allowed_cents), 0) FROM coder.threshold_totals`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != want || want == 0 {
		t.Fatalf("threshold total %d; the current codings add up to %d", total, want)
	}
}
