package denials_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/denials"
)

// runDenials runs the denials service (ledger only: no mailbox, no web)
// until the returned stop is called or the test ends.
func runDenials(t *testing.T, d platform.Deps) (stop func()) {
	t.Helper()
	d.Registry = prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- denials.Run(ctx, denials.Config{Rules: billing.DefaultRules(), Ready: func() { close(ready) }}, d)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("denials did not start: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("denials stopped with: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// publishEvent puts an event on its stream as its producer would.
func publishEvent(t *testing.T, d platform.Deps, typ, source, subject, id string, data any) {
	t.Helper()
	e, err := events.New(id, typ, source, subject, day, data)
	if err != nil {
		t.Fatal(err)
	}
	e.CorrelationID = "visit-" + subject
	b, _ := json.Marshal(e)
	subj, _ := events.SubjectOf(typ)
	m := nats.NewMsg(subj)
	m.Data = b
	m.Header.Set(nats.MsgIdHdr, id)
	if _, err := d.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// scrubAndCode publishes a claim's scrub and its visit's coding.
func scrubAndCode(t *testing.T, d platform.Deps, name string) {
	t.Helper()
	publishEvent(t, d, events.TypeVisitCoded, events.SourceCoder, "visit-"+name, "coded-"+name,
		events.VisitCoded{VisitID: "visit-" + name, Revision: 1, RulesVersion: "test", Lines: []events.CodedLine{{Line: 1, Code: "97530", Units: 2, Modifiers: []string{"GO"}}}})
	publishEvent(t, d, events.TypeClaimScrubbed, events.SourceSubmitter, "claim-"+name, "scrubbed-"+name,
		events.ClaimScrubbed{ClaimID: "claim-" + name, VisitID: "visit-" + name, ControlNumber: "CTL" + name + "-1", Status: events.ScrubPassed, Edits: []events.Edit{}})
}

// ledger snapshots the ledger's claims and timeline.
func ledger(t *testing.T, d platform.Deps) string {
	t.Helper()
	var s string
	if err := d.Pool.QueryRow(context.Background(), `SELECT
	(SELECT coalesce(string_agg(claim_id || ':' || scrub_status || ':' || scrub_count, ',' ORDER BY claim_id), '') FROM denials.claims) || '|' ||
	(SELECT coalesce(string_agg(event_id, ',' ORDER BY event_id), '') FROM denials.timeline) || '|' ||
	(SELECT count(*) FROM denials.inbox)::text`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitTimeline(t *testing.T, d platform.Deps, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got int
		_ = d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM denials.timeline`).Scan(&got)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d timeline entries; want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplayLedger: with a complete ledger a replay changes nothing; events
// the ledger missed while it was down are recorded by the replay, once,
// and the live consumer that catches up afterwards adds nothing more.
func TestReplayLedger(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	if err := platform.EnsureStreams(context.Background(), d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	stop := runDenials(t, d)
	scrubAndCode(t, d, "a")
	scrubAndCode(t, d, "b")
	waitTimeline(t, d, 4)
	since := time.Now().Add(-time.Hour)
	replay := func(dry bool) (denials.ReplaySummary, string) {
		t.Helper()
		var out bytes.Buffer
		sum, err := (&denials.Replay{Pool: d.Pool, JS: d.JS, DryRun: dry, Out: &out}).Run(context.Background(), platform.ReplayRange{Since: since})
		if err != nil {
			t.Fatal(err)
		}
		return sum, out.String()
	}

	// (a) A complete ledger: nothing to do, dry or not.
	before := ledger(t, d)
	for _, dry := range []bool{true, false} {
		sum, text := replay(dry)
		if sum.Known != 4 || sum.Recorded != 0 || sum.Coded.Read != 2 || sum.Claims.Read != 2 {
			t.Fatalf("dry %v: %+v\n%s", dry, sum, text)
		}
		if !dry && !strings.Contains(text, "0 changed") {
			t.Fatalf("the summary does not say nothing changed:\n%s", text)
		}
	}
	if after := ledger(t, d); after != before {
		t.Fatalf("a replay of a complete ledger changed it:\n%s\n%s", before, after)
	}
	if _, err := (&denials.Replay{Pool: d.Pool, JS: d.JS}).Run(context.Background(), platform.ReplayRange{FromSeq: 1}); err == nil {
		t.Fatal("a replay by sequence was not refused")
	}

	// Claim c is scrubbed while the ledger is down.
	stop()
	scrubAndCode(t, d, "c")

	// (c) Dry: says what is missing, records nothing.
	sum, text := replay(true)
	if sum.Recorded != 2 || !strings.Contains(text, "would record "+events.TypeClaimScrubbed+" of claim-c") {
		t.Fatalf("dry run: %+v\n%s", sum, text)
	}
	if after := ledger(t, d); after != before {
		t.Fatal("a dry run wrote to the ledger")
	}

	// (b) For real: c is in the ledger, once, and stays so when the live
	// consumer catches up.
	if sum, text := replay(false); sum.Recorded != 2 || sum.Known != 4 {
		t.Fatalf("replay: %+v\n%s", sum, text)
	}
	runDenials(t, d)
	// The live consumers get c's events too, and their inbox skips them.
	caughtUp(t, d, events.StreamSubmitter, denials.ConsumerClaims)
	caughtUp(t, d, events.StreamCoder, denials.ConsumerCoded)
	var count int
	var status string
	if err := d.Pool.QueryRow(context.Background(), `SELECT scrub_count, scrub_status FROM denials.claims WHERE claim_id = 'claim-c'`).Scan(&count, &status); err != nil {
		t.Fatal(err)
	}
	if count != 1 || status != events.ScrubPassed {
		t.Fatalf("claim c: scrubbed %d times, %s; want once, passed", count, status)
	}
	if sum, _ := replay(false); sum.Recorded != 0 || sum.Known != 6 {
		t.Fatalf("replay after catching up: %+v", sum)
	}
	if n := ptest.StreamCount(t, d.JS, events.StreamDenials); n != 0 {
		t.Fatalf("%d events on DENIALS; a ledger replay publishes none", n)
	}
}

// caughtUp waits until the durable consumer has acked all of stream.
func caughtUp(t *testing.T, d platform.Deps, stream, durable string) {
	t.Helper()
	ctx := context.Background()
	last := ptest.StreamCount(t, d.JS, stream) // no deletes: the count is the last sequence
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := d.JS.Consumer(ctx, stream, durable)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Stream >= last {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s acked %s up to %d of %d", durable, stream, info.AckFloor.Stream, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
