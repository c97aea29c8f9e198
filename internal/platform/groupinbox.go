package platform

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/pkg/events"
)

// Group commit: a stage handles many events per transaction. Each event
// still takes effect exactly once; one whose handler fails is left out and
// comes back on its own, while the others commit together, and one fsync
// and one relay serve them all. The per-event
// transaction it replaces spent most of a stage's time on commits and round
// trips (BENCHMARKS.md).

// BatchConfig tunes group commit. Zero values take the defaults.
type BatchConfig struct {
	// Committers is how many batches commit at once (default 8). An event
	// goes to a committer chosen by its key (Input.Key; the correlation id,
	// the visit, by default), so that events touching the same rows are
	// never in two open transactions at once: two committers locking the
	// same rows in opposite orders deadlock, and a deadlock costs a second
	// of waiting.
	Committers int
	// MaxBatch bounds the events of one transaction (default 64).
	MaxBatch int
}

func (c *BatchConfig) setDefaults() {
	if c.Committers <= 0 {
		c.Committers = 8
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 64
	}
}

type handleReq struct {
	consumer string
	in       events.Envelope
	fn       HandlerFunc
	first    bool
	err      error
	done     chan struct{}
}

type groupCommit struct {
	seed  maphash.Seed
	queue []chan *handleReq
}

// RunBatches makes Handle group events into shared transactions until ctx
// ends; Handle blocks callers' events on the committers meanwhile. It
// returns once the committers have stopped. Call it before the consumers
// start.
func (i *Inbox) RunBatches(ctx context.Context, cfg BatchConfig) {
	cfg.setDefaults()
	g := &groupCommit{seed: maphash.MakeSeed()}
	for range cfg.Committers {
		g.queue = append(g.queue, make(chan *handleReq, cfg.MaxBatch))
	}
	i.mu.Lock()
	i.group = g
	i.mu.Unlock()
	var wg sync.WaitGroup
	for _, q := range g.queue {
		wg.Add(1)
		go func() { defer wg.Done(); i.commitLoop(ctx, q, cfg.MaxBatch) }()
	}
	<-ctx.Done()
	i.mu.Lock()
	i.group = nil
	i.mu.Unlock()
	wg.Wait()
}

// Grouped reports whether events are being group committed.
func (i *Inbox) Grouped() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.group != nil
}

// handleGrouped queues the event on its committer and waits for the
// outcome of its batch.
func (i *Inbox) handleGrouped(ctx context.Context, g *groupCommit, key, consumer string, in events.Envelope, fn HandlerFunc) (bool, error) {
	q := g.queue[maphash.String(g.seed, key)%uint64(len(g.queue))]
	r := &handleReq{consumer: consumer, in: in, fn: fn, done: make(chan struct{})}
	select {
	case q <- r:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case <-r.done:
		return r.first, r.err
	case <-ctx.Done():
		// The batch may still commit the event: then its redelivery is
		// skipped by the inbox.
		return false, ctx.Err()
	}
}

func (i *Inbox) commitLoop(ctx context.Context, q chan *handleReq, max int) {
	batch := make([]*handleReq, 0, max)
	for {
		batch = batch[:0]
		select {
		case r := <-q:
			batch = append(batch, r)
		case <-ctx.Done():
			i.failQueued(q)
			return
		}
		// Whatever queued while the last batch committed joins this one.
	more:
		for len(batch) < max {
			select {
			case r := <-q:
				batch = append(batch, r)
			default:
				break more
			}
		}
		i.commitBatch(context.WithoutCancel(ctx), batch)
	}
}

// failQueued answers events still queued at shutdown; their messages go
// back to the server.
func (i *Inbox) failQueued(q chan *handleReq) {
	for {
		select {
		case r := <-q:
			r.err = errors.New("inbox: stopping")
			close(r.done)
		default:
			return
		}
	}
}

func (i *Inbox) commitBatch(ctx context.Context, batch []*handleReq) {
	// An event whose handler fails rolls the whole transaction back; it is
	// answered with its error and the rest run again without it. Failures
	// are rare, so this costs less than a savepoint around every event.
	// Statements are queued (Queue) until a queued one fails: which event
	// queued it is unknown then, so the batch runs again with each
	// statement executed at once.
	pending := batch
	var recs []Record
	var err error
	queue := true
	for len(pending) > 0 {
		var failed int
		recs, failed, err = i.runBatch(ctx, pending, queue)
		if queue && err != nil && isQueuedErr(err) {
			queue = false
			continue
		}
		if failed < 0 {
			break
		}
		pending = append(pending[:failed:failed], pending[failed+1:]...)
	}
	if err == nil {
		// Committed: an error here leaves the rows to the sweeper, and the
		// inputs come back to find themselves in the inbox.
		err = i.outbox.RelayWait(ctx, recs)
	}
	for _, r := range batch {
		if err != nil && r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// runBatch handles the events in one transaction. It returns the index of
// the first event whose handler failed (its err set, the transaction rolled
// back), or -1 with the transaction's outcome. With queue, handlers' queued
// statements and the outbox rows of the whole batch go out together, and an
// error from them (errQueued) belongs to no event in particular.
func (i *Inbox) runBatch(ctx context.Context, batch []*handleReq, queue bool) ([]Record, int, error) {
	var recs []Record
	failed := -1
	consumers, ids := make([]string, len(batch)), make([]string, len(batch))
	for k, r := range batch {
		consumers[k], ids[k] = r.consumer, r.in.ID
		r.err = nil
	}
	err := pgx.BeginFunc(ctx, i.pool, func(raw pgx.Tx) error {
		recs, failed = recs[:0], -1
		tx := raw
		var q *queueTx // nil: every statement at once
		if queue {
			q = &queueTx{Tx: raw}
			tx = q
		}
		// One statement records the whole batch in the inbox; the events
		// it reports new are handled, each once even when it came twice.
		rows, err := tx.Query(ctx, i.insertManySQL, consumers, ids)
		if err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		fresh := map[[2]string]bool{}
		for rows.Next() {
			var c, id string
			if err := rows.Scan(&c, &id); err != nil {
				rows.Close()
				return fmt.Errorf("inbox: %w", err)
			}
			fresh[[2]string{c, id}] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		var outs []events.Envelope
		for k, r := range batch {
			key := [2]string{r.consumer, r.in.ID}
			if !fresh[key] {
				continue // handled before, or earlier in this batch
			}
			delete(fresh, key)
			out, err := r.fn(ctx, tx, r.in)
			if err != nil {
				if !isQueuedErr(err) {
					r.err, failed = err, k
				}
				return err
			}
			if q != nil {
				outs = append(outs, out...) // added for the whole batch below
			} else {
				added, err := i.outbox.Add(ctx, tx, out...)
				if err != nil {
					r.err, failed = err, k
					return err
				}
				recs = append(recs, added...)
			}
			r.first = true
		}
		if q == nil {
			return nil
		}
		added, err := i.outbox.Add(ctx, tx, outs...)
		if err != nil {
			return errQueued{err}
		}
		recs = added
		return q.flush(ctx)
	})
	if err != nil {
		for _, r := range batch {
			r.first = false
		}
	}
	return recs, failed, err
}
