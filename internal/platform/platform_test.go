package platform_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testStream = "TESTWORK"

func testLogger(t *testing.T) *zap.Logger {
	t.Helper()
	l, err := platform.NewLogger("error", false)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// publish puts n messages with ids m-0..m-(n-1) on a fresh work stream.
func workStream(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{"test.work"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := nats.NewMsg("test.work")
		m.Data = []byte(strconv.Itoa(i))
		m.Header.Set(nats.MsgIdHdr, "m-"+strconv.Itoa(i))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func consumerInfo(t *testing.T, js jetstream.JetStream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(context.Background(), testStream, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestSlowFailingHandlerIsRedelivered: a handler that outlives its timeout and
// the consumer's AckWait, then fails, must get its message again; and the
// message is acked only after the handler finally succeeds.
func TestSlowFailingHandlerIsRedelivered(t *testing.T) {
	t.Parallel()
	_, _, js := ptest.NATS(t)
	workStream(t, js, 1)
	log := testLogger(t)
	sub, err := platform.NewSubscriber(js, platform.SubscriberConfig{
		Consumer:  platform.ConsumerSpec{Stream: testStream, Durable: "slow", AckWait: time.Second},
		NakDelay:  50 * time.Millisecond,
		Heartbeat: 200 * time.Millisecond,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	router, err := message.NewRouter(message.RouterConfig{}, platform.NewWatermillLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	var deliveries []string
	var mu sync.Mutex
	succeeded := make(chan struct{})
	router.AddConsumerHandler("slow", "test.work", sub, func(msg *message.Message) error {
		mu.Lock()
		deliveries = append(deliveries, msg.Metadata.Get(platform.MetaDelivered))
		first := len(deliveries) == 1
		mu.Unlock()
		if first {
			// Past every timeout: Timeout-style contexts, AckWait (1s).
			time.Sleep(2500 * time.Millisecond)
			return errors.New("failed after a long time")
		}
		close(succeeded)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = router.Run(ctx) }()
	<-router.Running()

	// While the first attempt runs, nothing is acked.
	time.Sleep(1500 * time.Millisecond)
	if info := consumerInfo(t, js, "slow"); info.AckFloor.Stream != 0 {
		t.Fatalf("message acked while its handler was still running: ack floor %d", info.AckFloor.Stream)
	}
	select {
	case <-succeeded:
	case <-time.After(10 * time.Second):
		t.Fatal("message was not redelivered after the handler failed")
	}
	mu.Lock()
	got := append([]string(nil), deliveries...)
	mu.Unlock()
	if len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Fatalf("deliveries %v; want exactly [1 2] (the heartbeat must stop a parallel redelivery)", got)
	}
	waitFor(t, func() bool { return consumerInfo(t, js, "slow").AckFloor.Stream == 1 })
}

// TestShutdownLeavesMessageUnacked: a handler interrupted by shutdown must
// not have its message acked; a new subscriber gets it again.
func TestShutdownLeavesMessageUnacked(t *testing.T) {
	t.Parallel()
	_, _, js := ptest.NATS(t)
	workStream(t, js, 1)
	log := testLogger(t)
	cfg := platform.SubscriberConfig{
		Consumer:      platform.ConsumerSpec{Stream: testStream, Durable: "shutdown", AckWait: 30 * time.Second},
		ShutdownGrace: 200 * time.Millisecond,
	}
	sub, err := platform.NewSubscriber(js, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	msgs, err := sub.Subscribe(ctx, "test.work")
	if err != nil {
		t.Fatal(err)
	}
	m := <-msgs
	if m.UUID != "m-0" {
		t.Fatalf("uuid %q; want the Nats-Msg-Id m-0", m.UUID)
	}
	// The handler is still busy when the process shuts down; it acks late.
	cancel()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	m.Ack() // too late: the subscriber has already handed the message back
	info := consumerInfo(t, js, "shutdown")
	if info.AckFloor.Stream != 0 {
		t.Fatalf("message acked by shutdown: ack floor %d", info.AckFloor.Stream)
	}
	// Another replica (or the restart) gets it at once, not after AckWait.
	sub2, err := platform.NewSubscriber(js, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	msgs2, err := sub2.Subscribe(ctx2, "test.work")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m2 := <-msgs2:
		if m2.UUID != "m-0" || m2.Metadata.Get(platform.MetaDelivered) != "2" {
			t.Fatalf("redelivered %s delivery %s", m2.UUID, m2.Metadata.Get(platform.MetaDelivered))
		}
		m2.Ack()
	case <-ctx2.Done():
		t.Fatal("message not redelivered after shutdown")
	}
	waitFor(t, func() bool { return consumerInfo(t, js, "shutdown").AckFloor.Stream == 1 })
}

// TestPoisonMessageGoesToDeadLetter: a handler that always fails sends its
// message to rcm.dlq.<service> with the reason, and the stream moves on.
func TestPoisonMessageGoesToDeadLetter(t *testing.T) {
	t.Parallel()
	_, _, js := ptest.NATS(t)
	if err := platform.EnsureStreams(context.Background(), js, platform.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	workStream(t, js, 3)
	log := testLogger(t)
	sub, err := platform.NewSubscriber(js, platform.SubscriberConfig{
		Consumer: platform.ConsumerSpec{Stream: testStream, Durable: "poison"},
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	router, err := platform.NewRouter(platform.RouterConfig{Service: "testsvc", MaxRetries: 2, RetryInitial: 10 * time.Millisecond}, platform.NewPublisher(js, 0), log)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var ok atomic.Int32
	router.AddConsumerHandler("poison", "test.work", sub, func(msg *message.Message) error {
		if string(msg.Payload) == "1" {
			calls.Add(1)
			panic("handler bug") // the Recoverer turns it into an error
		}
		ok.Add(1)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = router.Run(ctx) }()
	<-router.Running()
	waitFor(t, func() bool { return ptest.StreamCount(t, js, events.StreamDeadLetter) == 1 && ok.Load() == 2 })
	if c := calls.Load(); c != 3 {
		t.Errorf("poison handler ran %d times; want 1 + 2 retries", c)
	}
	s, _ := js.Stream(context.Background(), events.StreamDeadLetter)
	raw, err := s.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "rcm.dlq.testsvc" || string(raw.Data) != "1" || raw.Header.Get("reason_poisoned") == "" {
		t.Fatalf("dead letter: subject %s data %q headers %v", raw.Subject, raw.Data, raw.Header)
	}
	waitFor(t, func() bool { return consumerInfo(t, js, "poison").AckFloor.Stream == 3 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func envelope(t *testing.T, id string) events.Envelope {
	t.Helper()
	e, err := events.New(id, events.TypeVisitRecorded, events.SourceIntake, "visit-1", time.Now(), map[string]string{"visit_id": "visit-1"})
	if err != nil {
		t.Fatal(err)
	}
	e.CorrelationID = "visit-1"
	return e
}

// TestInboxOutboxExactlyOnce: the same input handled twice changes state
// once and publishes once.
func TestInboxOutboxExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, grouped := range []bool{false, true} {
		t.Run(fmt.Sprintf("grouped=%v", grouped), func(t *testing.T) {
			t.Parallel()
			testInboxOutboxExactlyOnce(t, grouped)
		})
	}
}

func testInboxOutboxExactlyOnce(t *testing.T, grouped bool) {
	d := ptest.Deps(t)
	ctx := context.Background()
	migrations := fstest.MapFS{"001_counter.sql": {Data: []byte(`CREATE TABLE svc.counter (n int NOT NULL); INSERT INTO svc.counter VALUES (0);`)}}
	if err := platform.Migrate(ctx, d.Pool, "svc", migrations); err != nil {
		t.Fatal(err)
	}
	if err := platform.Migrate(ctx, d.Pool, "svc", migrations); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	ob, err := platform.NewOutbox(platform.OutboxConfig{Schema: "svc"}, d.Pool, d.JS, d.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	inbox := platform.NewInbox(d.Pool, ob)
	if grouped {
		bctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); inbox.RunBatches(bctx, platform.BatchConfig{Committers: 2, MaxBatch: 8}) }()
		t.Cleanup(func() { stop(); <-done })
		waitGrouped(t, inbox)
	}
	in := envelope(t, "input-1")
	handler := func(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
		if _, err := tx.Exec(ctx, `UPDATE svc.counter SET n = n + 1`); err != nil {
			return nil, err
		}
		return []events.Envelope{envelope(t, events.NewID(in.ID, "out"))}, nil
	}
	var wg sync.WaitGroup
	var firsts atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := inbox.Handle(ctx, "svc", in, handler)
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	var n int
	if err := d.Pool.QueryRow(ctx, `SELECT n FROM svc.counter`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 || firsts.Load() != 1 {
		t.Fatalf("state changed %d times, %d first handlings; want 1 and 1", n, firsts.Load())
	}
	if c := ptest.StreamCount(t, d.JS, events.StreamIntake); c != 1 {
		t.Fatalf("stream holds %d events; want 1", c)
	}
	// A failing handler leaves nothing: no inbox row, no state, no output.
	boom := errors.New("boom")
	_, err = inbox.Handle(ctx, "svc", envelope(t, "input-2"), func(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
		_, _ = tx.Exec(ctx, `UPDATE svc.counter SET n = n + 100`)
		return nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v; want boom", err)
	}
	var inboxRows int
	_ = d.Pool.QueryRow(ctx, `SELECT count(*) FROM svc.inbox`).Scan(&inboxRows)
	_ = d.Pool.QueryRow(ctx, `SELECT n FROM svc.counter`).Scan(&n)
	if inboxRows != 1 || n != 1 {
		t.Fatalf("after a failed handler: %d inbox rows, counter %d; want 1 and 1", inboxRows, n)
	}

	// Many events at once, one of them failing: in a group commit the
	// failure rolls back only itself.
	var failed atomic.Int32
	for k := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := envelope(t, fmt.Sprintf("many-%d", k))
			_, err := inbox.Handle(ctx, "svc", e, func(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
				if _, err := tx.Exec(ctx, `UPDATE svc.counter SET n = n + 1`); err != nil {
					return nil, err
				}
				if k == 7 {
					return nil, boom
				}
				return []events.Envelope{envelope(t, events.NewID(in.ID, "out"))}, nil
			})
			if err != nil {
				if !errors.Is(err, boom) {
					t.Error(err)
				}
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	_ = d.Pool.QueryRow(ctx, `SELECT n FROM svc.counter`).Scan(&n)
	if n != 1+39 || failed.Load() != 1 {
		t.Fatalf("after 40 events with one failing: counter %d, %d failed; want 40 and 1", n, failed.Load())
	}
	if c := ptest.StreamCount(t, d.JS, events.StreamIntake); c != 1+39 {
		t.Fatalf("stream holds %d events; want 40", c)
	}

	// Queued statements: a read sees what the handler queued before it, and
	// a queued statement that fails only when the batch is sent fails its
	// own event alone, with its own error.
	if _, err := d.Pool.Exec(ctx, `CREATE TABLE svc.queued (k int PRIMARY KEY, seen int NOT NULL CHECK (k <> 11 OR seen < 2))`); err != nil {
		t.Fatal(err)
	}
	failed.Store(0)
	for k := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := envelope(t, fmt.Sprintf("queued-%d", k))
			_, err := inbox.Handle(ctx, "svc", e, func(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
				if err := platform.Queue(ctx, tx, `INSERT INTO svc.queued VALUES ($1, 0)`, k); err != nil {
					return nil, err
				}
				if err := platform.Queue(ctx, tx, `UPDATE svc.queued SET seen = seen + 1 WHERE k = $1`, k); err != nil {
					return nil, err
				}
				var seen int
				if err := tx.QueryRow(ctx, `SELECT seen FROM svc.queued WHERE k = $1`, k).Scan(&seen); err != nil {
					return nil, err
				}
				if seen != 1 {
					return nil, fmt.Errorf("read %d after the queued update; want 1", seen)
				}
				// Left queued until the batch commits.
				return []events.Envelope{envelope(t, events.NewID(in.ID, "out"))}, platform.Queue(ctx, tx, `UPDATE svc.queued SET seen = seen + 1 WHERE k = $1`, k)
			})
			if err != nil {
				var pgErr *pgconn.PgError
				if k != 11 || !errors.As(err, &pgErr) || pgErr.Code != "23514" {
					t.Errorf("event %d: %v", k, err)
				}
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	var rows, seen int
	_ = d.Pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(seen), 0) FROM svc.queued`).Scan(&rows, &seen)
	if rows != 39 || seen != 2*39 || failed.Load() != 1 {
		t.Fatalf("after 40 queued events with one failing: %d rows seen %d times, %d failed; want 39, 78 and 1", rows, seen, failed.Load())
	}
	if c := ptest.StreamCount(t, d.JS, events.StreamIntake); c != 40+39 {
		t.Fatalf("stream holds %d events; want 79", c)
	}
}

// waitGrouped waits until RunBatches has started.
func waitGrouped(t *testing.T, inbox *platform.Inbox) {
	t.Helper()
	for range 200 {
		if inbox.Grouped() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("group commit did not start")
}

// TestSweeperRelaysWhatACrashLeft: rows committed but never relayed (the
// process died after commit) are published by the sweep, once, even when
// swept again after their publish was not recorded.
func TestSweeperRelaysWhatACrashLeft(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	ctx := context.Background()
	if err := platform.Migrate(ctx, d.Pool, "svc", nil); err != nil {
		t.Fatal(err)
	}
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	ob, err := platform.NewOutbox(platform.OutboxConfig{Schema: "svc"}, d.Pool, d.JS, d.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		for i := range 1200 { // more than one sweep page
			if _, err := ob.Add(ctx, tx, envelope(t, "left-"+strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := ob.Sweep(ctx, 0)
	if err != nil || n != 1200 {
		t.Fatalf("sweep relayed %d (%v); want 1200", n, err)
	}
	if n, _ := ob.Sweep(ctx, 0); n != 0 {
		t.Fatalf("second sweep relayed %d; want 0", n)
	}
	// The marks were lost (crash between publish and mark): sweep again.
	if _, err := d.Pool.Exec(ctx, `INSERT INTO svc.outbox_pending (event_id) SELECT event_id FROM svc.outbox`); err != nil {
		t.Fatal(err)
	}
	if n, _ := ob.Sweep(ctx, 0); n != 1200 {
		t.Fatalf("re-sweep relayed %d; want 1200", n)
	}
	if c := ptest.StreamCount(t, d.JS, events.StreamIntake); c != 1200 {
		t.Fatalf("stream holds %d events; want 1200 (Nats-Msg-Id dedupe)", c)
	}
}

func TestMigrateRejectsBadFiles(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	ctx := context.Background()
	for name, fsys := range map[string]fstest.MapFS{
		"bad name":    {"first.sql": {Data: []byte("SELECT 1")}},
		"duplicate":   {"001_a.sql": {Data: []byte("SELECT 1")}, "001_b.sql": {Data: []byte("SELECT 1")}},
		"failing sql": {"001_a.sql": {Data: []byte("CREATE TABLE nope.x ()")}},
	} {
		if err := platform.Migrate(ctx, d.Pool, "bad", fsys); err == nil {
			t.Errorf("%s: migrate succeeded", name)
		}
	}
	if err := platform.Migrate(ctx, d.Pool, "Bad-Name", nil); err == nil {
		t.Error("invalid schema name accepted")
	}
}

// TestOnlyOne: while one caller holds the named lock another does not run,
// and once it is released the other does.
func TestOnlyOne(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	ctx := context.Background()
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := platform.OnlyOne(ctx, d.Pool, "mailbox", func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
		done <- err
	}()
	<-inside
	ran, err := platform.OnlyOne(ctx, d.Pool, "mailbox", func(context.Context) error { return nil })
	if err != nil || ran {
		t.Fatalf("second holder ran=%v err=%v while the first held the lock", ran, err)
	}
	if ran, err := platform.OnlyOne(ctx, d.Pool, "other", func(context.Context) error { return nil }); err != nil || !ran {
		t.Fatalf("another name: ran=%v err=%v", ran, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	ran, err = platform.OnlyOne(ctx, d.Pool, "mailbox", func(context.Context) error { return boom })
	if !ran || !errors.Is(err, boom) {
		t.Fatalf("after release: ran=%v err=%v", ran, err)
	}
}

// TestCachedPlansKeepTheirIndexes: a service's connections cache generic
// plans, and a plan cached while a table was small must not keep scanning
// it sequentially once it is large (the failure that once had intake read
// 37M rows for 18k visits).
func TestCachedPlansKeepTheirIndexes(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	ctx := context.Background()
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release() // released early below; a second Release does nothing
	run := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	run(`CREATE TABLE plans (id text PRIMARY KEY, v int NOT NULL)`)
	run(`INSERT INTO plans SELECT 'k' || g, g FROM generate_series(1, 20) g`)
	run(`ANALYZE plans`)
	run(`PREPARE head(text[]) AS SELECT v FROM plans WHERE id = ANY($1) ORDER BY id FOR UPDATE`)
	for range 8 { // past the five custom plans after which one is cached
		run(`EXECUTE head('{k1}')`)
	}
	run(`INSERT INTO plans SELECT 'x' || g, g FROM generate_series(1, 50000) g`)
	var plan strings.Builder
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE head('{k1}')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "Index Scan") || strings.Contains(plan.String(), "Seq Scan") {
		t.Fatalf("the cached plan does not use the index:\n%s", plan.String())
	}
	var compression string
	if err := conn.QueryRow(ctx, `SHOW default_toast_compression`).Scan(&compression); err != nil || compression != "lz4" {
		t.Errorf("default_toast_compression = %q (%v); want lz4", compression, err)
	}
	conn.Release()

	// Reports read whole tables and may scan them; only inside ReportTx.
	seqscan := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) string {
		var v string
		if err := q.QueryRow(ctx, `SHOW enable_seqscan`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if err := platform.ReportTx(ctx, d.Pool, func(tx pgx.Tx) error {
		if v := seqscan(tx); v != "on" {
			t.Errorf("enable_seqscan in a report = %s; want on", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for range 4 { // every connection, the report's included, is back to off
		if v := seqscan(d.Pool); v != "off" {
			t.Errorf("enable_seqscan after a report = %s; want off", v)
		}
	}
}
