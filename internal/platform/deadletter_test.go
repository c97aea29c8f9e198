package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
)

// publishVisit stores a visit.recorded event with id on INTAKE and returns
// its payload.
func publishVisit(t *testing.T, js jetstream.JetStream, id string) []byte {
	t.Helper()
	e, err := events.New(id, events.TypeVisitRecorded, events.SourceIntake, "visit-"+id, time.Now(), map[string]string{"visit_id": "visit-" + id})
	if err != nil {
		t.Fatal(err)
	}
	e.CorrelationID = "visit-" + id
	payload, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(events.SubjectVisitRecorded)
	m.Data = payload
	m.Header.Set(nats.MsgIdHdr, id)
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return payload
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20s: %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestDeadLetterRetryAndDrop runs a real stage whose handler fails for some
// events: they reach the DEADLETTER stream with their error and attempts,
// while the stream flows on; a retry after the fix handles the event once;
// a retry before the fix dead-letters it again (not dropped as a
// duplicate); a drop removes it.
func TestDeadLetterRetryAndDrop(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	ctx := context.Background()
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	broken := map[string]bool{"bad-1": true, "bad-2": true}
	handler := func(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
		mu.Lock()
		fail := broken[in.ID]
		mu.Unlock()
		if fail {
			return nil, fmt.Errorf("event %s: no fee schedule for the payer", in.ID)
		}
		_, err := tx.Exec(ctx, `INSERT INTO dlqsvc.handled (event_id) VALUES ($1) ON CONFLICT (event_id) DO UPDATE SET n = handled.n + 1`, in.ID)
		return nil, err
	}
	ready := make(chan struct{})
	stage := platform.Stage{
		Service: "dlqsvc", Schema: "dlqsvc",
		Migrations: fstest.MapFS{"001_handled.sql": {Data: []byte(`CREATE TABLE dlqsvc.handled (event_id text PRIMARY KEY, n int NOT NULL DEFAULT 1)`)}},
		Inputs: []platform.Input{{Consumer: platform.ConsumerSpec{Stream: events.StreamIntake, Durable: "dlqsvc",
			Subjects: []string{events.SubjectVisitRecorded}}, Handler: handler}},
		Ready: func() { close(ready) },
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- platform.RunStage(runCtx, stage, d) }()
	t.Cleanup(func() { stop(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("stage stopped: %v", err)
	}

	payloads := map[string][]byte{}
	for _, id := range []string{"good-1", "bad-1", "bad-2", "good-2"} {
		payloads[id] = publishVisit(t, d.JS, id)
	}
	handled := func(id string) int {
		var n int
		err := d.Pool.QueryRow(ctx, `SELECT n FROM dlqsvc.handled WHERE event_id = $1`, id).Scan(&n)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		return n
	}
	q := platform.NewDeadLetters(d.JS, d.Log)
	list := func(service string) []platform.DeadLetter {
		t.Helper()
		l, err := q.List(ctx, service)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	eventually(t, "two dead letters and both good events handled", func() bool {
		return len(list("")) == 2 && handled("good-1") == 1 && handled("good-2") == 1
	})

	dead := list("")
	byEvent := map[string]platform.DeadLetter{}
	for _, dl := range dead {
		byEvent[dl.EventID] = dl
	}
	dl1, dl2 := byEvent["bad-1"], byEvent["bad-2"]
	if dl1.Seq == 0 || dl2.Seq == 0 {
		t.Fatalf("dead letters %+v; want bad-1 and bad-2", dead)
	}
	want := platform.DeadLetter{Seq: dl1.Seq, Time: dl1.Time, Service: "dlqsvc", Consumer: "dlqsvc",
		Subject: events.SubjectVisitRecorded, Stream: events.StreamIntake, StreamSeq: 2, EventID: "bad-1",
		EventType: events.TypeVisitRecorded, Error: "event bad-1: no fee schedule for the payer", Attempts: 6, Deliveries: 1}
	if got := dl1; got.Service != want.Service || got.Consumer != want.Consumer || got.Subject != want.Subject ||
		got.Stream != want.Stream || got.StreamSeq != want.StreamSeq || got.EventType != want.EventType ||
		!strings.Contains(got.Error, want.Error) || got.Attempts != want.Attempts || got.Deliveries != want.Deliveries ||
		got.Payload != nil || time.Since(got.Time) > time.Minute {
		t.Errorf("listed dead letter\n %+v\nwant\n %+v (1 try + 5 retries, no payload)", got, want)
	}
	if l := list("other"); len(l) != 0 {
		t.Errorf("dead letters of another service: %+v", l)
	}
	if counts, err := q.Counts(ctx); err != nil || counts["dlqsvc"] != 2 || len(counts) != 1 {
		t.Errorf("counts %v, %v; want dlqsvc: 2", counts, err)
	}
	got, err := q.Get(ctx, dl1.Seq)
	if err != nil || !bytes.Equal(got.Payload, payloads["bad-1"]) {
		t.Fatalf("show %d: payload %q (%v); want the original event", dl1.Seq, got.Payload, err)
	}

	// bad-1 is fixed and retried; bad-2 is retried unfixed and fails again.
	mu.Lock()
	broken["bad-1"] = false
	mu.Unlock()
	for _, seq := range []uint64{dl1.Seq, dl2.Seq} {
		if _, err := q.Retry(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	var again platform.DeadLetter
	eventually(t, "bad-1 handled and bad-2 dead-lettered again", func() bool {
		l := list("dlqsvc")
		if len(l) == 1 {
			again = l[0]
		}
		return handled("bad-1") == 1 && len(l) == 1
	})
	if again.EventID != "bad-2" || again.Seq == dl2.Seq || again.RetryOf != fmt.Sprintf("DEADLETTER:%d", dl2.Seq) || again.Attempts != 6 {
		t.Errorf("second dead letter of bad-2: %+v; want a new one marked as the retry of %d", again, dl2.Seq)
	}
	if _, err := q.Retry(ctx, dl1.Seq); !errors.Is(err, platform.ErrDeadLetterNotFound) {
		t.Errorf("second retry of %d: %v; want ErrDeadLetterNotFound", dl1.Seq, err)
	}

	if _, err := q.Drop(ctx, again.Seq, " "); err == nil {
		t.Error("drop without a reason succeeded")
	}
	if _, err := q.Drop(ctx, again.Seq, "test data from the EMR sandbox"); err != nil {
		t.Fatal(err)
	}
	if l := list(""); len(l) != 0 {
		t.Errorf("after drop: %+v", l)
	}
	// Nothing more arrives: each good event and bad-1 exactly once, bad-2 never.
	time.Sleep(300 * time.Millisecond)
	for id, n := range map[string]int{"good-1": 1, "good-2": 1, "bad-1": 1, "bad-2": 0} {
		if got := handled(id); got != n {
			t.Errorf("%s handled %d times; want %d", id, got, n)
		}
	}
	if n := ptest.StreamCount(t, d.JS, events.StreamIntake); n != 6 {
		t.Errorf("INTAKE holds %d messages; want 4 + 2 retries", n)
	}
}

// TestStageFailsWhenItsConsumerGoes: a stage whose consumer is deleted
// under it stops with an error instead of staying up consuming nothing.
func TestStageFailsWhenItsConsumerGoes(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	ctx := context.Background()
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	stage := platform.Stage{
		Service: "gone", Schema: "gone",
		Inputs: []platform.Input{{Consumer: platform.ConsumerSpec{Stream: events.StreamIntake, Durable: "gone",
			Subjects: []string{events.SubjectVisitRecorded}}, Handler: func(context.Context, pgx.Tx, events.Envelope) ([]events.Envelope, error) { return nil, nil }}},
		Ready: func() { close(ready) },
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- platform.RunStage(runCtx, stage, d) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("stage did not start: %v", err)
	}
	if err := d.JS.DeleteConsumer(ctx, events.StreamIntake, "gone"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the stage stopped without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stage kept running without its consumer")
	}
}
