package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/events"
)

// ReplayRange selects part of a stream's history: by the time JetStream
// stored a message (Since inclusive, Until exclusive) or by stream sequence
// (FromSeq and ToSeq inclusive). Zero values are open ends; time and
// sequence do not mix.
type ReplayRange struct {
	Since, Until   time.Time
	FromSeq, ToSeq uint64
}

// Validate reports a range that selects by both time and sequence, or
// whose end comes before its start.
func (r ReplayRange) Validate() error {
	bySeq := r.FromSeq > 0 || r.ToSeq > 0
	byTime := !r.Since.IsZero() || !r.Until.IsZero()
	switch {
	case bySeq && byTime:
		return errors.New("replay range: choose times or sequences, not both")
	case r.ToSeq > 0 && r.ToSeq < r.FromSeq:
		return fmt.Errorf("replay range: sequence %d ends before %d", r.ToSeq, r.FromSeq)
	case !r.Until.IsZero() && !r.Until.After(r.Since):
		return errors.New("replay range: until is not after since")
	}
	return nil
}

// StreamMsg is one message read from a stream's history.
type StreamMsg struct {
	Seq     uint64
	Time    time.Time
	Subject string
	// MsgID is the Nats-Msg-Id header: the event id.
	MsgID string
	// Data is nil when the stream was read for headers only.
	Data []byte
}

// StreamSpan says what ReadStream read.
type StreamSpan struct {
	Read              int
	FirstSeq, LastSeq uint64
}

// ReadOptions tune ReadStream.
type ReadOptions struct {
	// Subjects filter the stream; empty reads all of it.
	Subjects []string
	// Batch is how many messages fn gets at once (default 1000).
	Batch int
	// HeadersOnly leaves Data nil: enough to know which ids a stream holds.
	HeadersOnly bool
}

// ReadStream reads the messages of stream within r, in stream order, and
// hands them to fn in batches. It reads with an ordered consumer, which the
// server forgets afterwards: a replay leaves no durable state behind and
// never moves a service's durable consumer.
//
// It stops at the last message the stream held when it started, so that
// events arriving during a replay are left to the live consumers and a
// replay of a busy stream ends.
func ReadStream(ctx context.Context, js jetstream.JetStream, stream string, r ReplayRange, o ReadOptions, fn func([]StreamMsg) error) (StreamSpan, error) {
	var span StreamSpan
	if err := r.Validate(); err != nil {
		return span, err
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return span, fmt.Errorf("read %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return span, fmt.Errorf("read %s: %w", stream, err)
	}
	end := info.State.LastSeq
	if r.ToSeq > 0 && r.ToSeq < end {
		end = r.ToSeq
	}
	if info.State.Msgs == 0 || r.FromSeq > end {
		return span, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: o.Subjects, DeliverPolicy: jetstream.DeliverAllPolicy, HeadersOnly: o.HeadersOnly}
	switch {
	case r.FromSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, r.FromSeq
	case !r.Since.IsZero():
		since := r.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return span, fmt.Errorf("read %s: %w", stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * o.Batch))
	if err != nil {
		return span, fmt.Errorf("read %s: %w", stream, err)
	}
	defer it.Stop()
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return span, nil // nothing at or after the start
	}

	batch := make([]StreamMsg, 0, o.Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := fn(batch)
		batch = batch[:0]
		return err
	}
	for {
		m, err := it.Next(jetstream.NextMaxWait(10 * time.Second))
		if errors.Is(err, nats.ErrTimeout) {
			// The stream said there was more. Messages past their age limit
			// may have been removed meanwhile, but a replay that ends short
			// must say so rather than look complete.
			return span, fmt.Errorf("read %s: nothing more arrived for 10s after sequence %d although more was pending", stream, span.LastSeq)
		}
		if err != nil {
			return span, fmt.Errorf("read %s: %w", stream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return span, fmt.Errorf("read %s: %w", stream, err)
		}
		seq := md.Sequence.Stream
		if seq > end || (!r.Until.IsZero() && !md.Timestamp.Before(r.Until)) {
			break
		}
		if span.FirstSeq == 0 {
			span.FirstSeq = seq
		}
		span.LastSeq = seq
		span.Read++
		batch = append(batch, StreamMsg{Seq: seq, Time: md.Timestamp, Subject: m.Subject(), MsgID: m.Headers().Get(nats.MsgIdHdr), Data: m.Data()})
		if len(batch) == o.Batch {
			if err := flush(); err != nil {
				return span, err
			}
		}
		if seq == end || md.NumPending == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return span, err
		}
	}
	return span, flush()
}

// AddPending is Add for events that may be in the outbox already: a row an
// earlier run wrote (and the relay marked published) is made pending again,
// so that the relay and the sweeper publish it once more. Intake's replay
// uses it to restore events a stream lost.
func (o *Outbox) AddPending(ctx context.Context, tx pgx.Tx, envs ...events.Envelope) ([]Record, error) {
	recs, err := o.Add(ctx, tx, envs...)
	if err != nil || len(recs) == 0 {
		return recs, err
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.outbox_pending (event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, o.cfg.Schema), ids); err != nil {
		return nil, fmt.Errorf("outbox: pending: %w", err)
	}
	return recs, nil
}

// Published counts what PublishNow sent.
type Published struct {
	// Stored is how many events JetStream stored.
	Stored int
	// Duplicates were dropped by JetStream as repeats of an id it saw
	// within its de-duplication window.
	Duplicates int
}

// Add counts q in p.
func (p *Published) Add(q Published) {
	p.Stored += q.Stored
	p.Duplicates += q.Duplicates
}

// PublishNow publishes committed records, waits for JetStream, and marks
// them published before it returns. It is for tools such as a replay,
// which run without the relay loop of Run: unlike RelayWait it needs
// nothing running beside it, and it says how many JetStream took as new.
// What it fails to publish stays pending for the service's sweeper.
func (o *Outbox) PublishNow(ctx context.Context, recs []Record) (Published, error) {
	var p Published
	for len(recs) > 0 {
		n := min(len(recs), o.cfg.BatchSize)
		chunk := recs[:n]
		recs = recs[n:]
		pctx, cancel := context.WithTimeout(ctx, o.cfg.PublishTimeout)
		futures := make([]jetstream.PubAckFuture, 0, len(chunk))
		var firstErr error
		for _, r := range chunk {
			m := nats.NewMsg(r.Subject)
			m.Data = r.Payload
			m.Header.Set(nats.MsgIdHdr, r.ID)
			f, err := o.js.PublishMsgAsync(m)
			if err != nil {
				firstErr = fmt.Errorf("publish event %s: %w", r.ID, err)
				break
			}
			futures = append(futures, f)
		}
		done := make([]Record, 0, len(futures))
		for i, f := range futures {
			select {
			case ack := <-f.Ok():
				if ack.Duplicate {
					p.Duplicates++
				} else {
					p.Stored++
				}
				done = append(done, chunk[i])
			case err := <-f.Err():
				if firstErr == nil {
					firstErr = fmt.Errorf("publish event %s: %w", chunk[i].ID, err)
				}
			case <-pctx.Done():
				if firstErr == nil {
					firstErr = fmt.Errorf("publish event %s: %w", chunk[i].ID, pctx.Err())
				}
			}
		}
		cancel()
		if len(done) > 0 {
			if err := o.markNow(ctx, done); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return p, firstErr
		}
	}
	return p, nil
}

// InboxSeen returns which of ids the consumer's inbox in schema holds:
// the events the consumer has handled.
func InboxSeen(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, schema, consumer string, ids []string) (map[string]bool, error) {
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("inbox: invalid schema name %q", schema)
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT event_id FROM %s.inbox WHERE consumer = $1 AND event_id = ANY($2)`, schema), consumer, ids)
	if err != nil {
		return nil, fmt.Errorf("read inbox: %w", err)
	}
	seen := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read inbox: %w", err)
		}
		seen[id] = true
	}
	return seen, rows.Err()
}

// SchemaExists reports whether a service's schema has been migrated: a
// replay reads a stage's tables but never creates them.
func SchemaExists(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, schema string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'inbox')`, schema).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for schema %s: %w", schema, err)
	}
	return ok, nil
}

// OpenReplay prepares a replay of the stage whose tables are in schema:
// it refuses a database the stage has never run against, and returns the
// outbox the replay writes its events through, nil for a dry run, which
// writes nothing. stage names the stage in the refusal ("the coder").
func OpenReplay(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, schema, stage string, dryRun bool) (*Outbox, error) {
	ok, err := SchemaExists(ctx, pool, schema)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s replay: this database has no %s schema: %s has never run against it", schema, schema, stage)
	}
	if dryRun {
		return nil, nil
	}
	// No logger and no metrics: a replay says what it did in its report.
	return NewOutbox(OutboxConfig{Schema: schema}, pool, js, zap.NewNop(), nil)
}

// WriteEach calls write(i) for every i below n, on writers goroutines (4
// when writers is 0 or less): a replay writes each change in a
// transaction of its own, and write returns the outbox records the
// transaction added. Once every write has succeeded, WriteEach returns all
// the records, in order of i, for the replay to publish.
func WriteEach(writers, n int, write func(i int) ([]Record, error)) ([]Record, error) {
	if writers <= 0 {
		writers = 4
	}
	recs := make([][]Record, n)
	errs := make([]error, n)
	ParallelN(writers, n, func(i int) {
		recs[i], errs[i] = write(i)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(recs...), nil
}

// Parallel calls fn(i) for every i below n, on as many goroutines as there
// are CPUs, and returns when all calls have: a replay decodes and
// recomputes a batch of events with it.
func Parallel(n int, fn func(i int)) { ParallelN(runtime.GOMAXPROCS(0), n, fn) }

// ParallelN is Parallel on at most workers goroutines.
func ParallelN(workers, n int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// Report is where a replay prints, one line per change and a summary. It
// keeps the first write error so that the printing code reads straight;
// the replay returns it at the end.
type Report struct {
	W   io.Writer
	Err error
}

// Printf writes to W unless an earlier write failed.
func (r *Report) Printf(format string, args ...any) {
	if r.Err == nil {
		_, r.Err = fmt.Fprintf(r.W, format, args...)
	}
}

// Stopped ends a replay's summary with the line every replay prints when
// it did not run through: it stopped early on err, or it was a dry run,
// which writes nothing. It reports whether it printed; if not, the caller
// says what the replay changed.
func (r *Report) Stopped(err error, dryRun bool) bool {
	switch {
	case err != nil:
		r.Printf("  stopped early: %v\n", err)
	case dryRun:
		r.Printf("  nothing published, nothing written (dry run)\n")
	default:
		return false
	}
	return true
}

// Done returns a replay's error: err, else the first write error.
func (r *Report) Done(err error) error {
	if err != nil {
		return err
	}
	return r.Err
}
