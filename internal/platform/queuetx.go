package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Queue runs a statement whose result its caller does not need, after
// every statement tx ran or queued before it. In a group-committed
// transaction it is only queued: the batch's queued statements go to
// Postgres together, in one round trip before the next read or the commit,
// instead of one round trip each. Elsewhere it executes at once.
//
// A queued statement's failure shows up later, so the caller cannot react
// to it; group commit then runs the batch again with every statement
// executed at once, to find the event that failed.
func Queue(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	if q, ok := tx.(*queueTx); ok {
		q.queued.Queue(sql, args...)
		return nil
	}
	_, err := tx.Exec(ctx, sql, args...)
	return err
}

// queueTx is the transaction group-committed handlers see. Every call that
// talks to Postgres first sends what Queue held back, so statements still
// run in the order the handler wrote them.
type queueTx struct {
	pgx.Tx
	queued pgx.Batch
}

// errQueued marks the failure of a queued statement: it belongs to
// whichever event queued it, not necessarily to the one whose call sent it.
type errQueued struct{ err error }

func (e errQueued) Error() string { return fmt.Sprintf("queued statement: %v", e.err) }
func (e errQueued) Unwrap() error { return e.err }

func isQueuedErr(err error) bool {
	var q errQueued
	return errors.As(err, &q)
}

func (t *queueTx) flush(ctx context.Context) error {
	if t.queued.Len() == 0 {
		return nil
	}
	b := t.queued
	t.queued = pgx.Batch{}
	if err := t.Tx.SendBatch(ctx, &b).Close(); err != nil {
		return errQueued{err}
	}
	return nil
}

func (t *queueTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.flush(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.Tx.Exec(ctx, sql, args...)
}

func (t *queueTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.Tx.Query(ctx, sql, args...)
}

// QueryRow sends the queued statements and the query in one round trip.
func (t *queueTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	n := t.queued.Len()
	if n == 0 {
		return t.Tx.QueryRow(ctx, sql, args...)
	}
	b := t.queued
	t.queued = pgx.Batch{}
	b.Queue(sql, args...)
	br := t.Tx.SendBatch(ctx, &b)
	for range n {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return errRow{errQueued{err}}
		}
	}
	return batchRow{br}
}

// batchRow is the last result of a batch; reading it ends the batch.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); cerr != nil && (err == nil || errors.Is(err, pgx.ErrNoRows)) {
		return cerr
	}
	return err
}

func (t *queueTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	return t.Tx.CopyFrom(ctx, table, cols, src)
}

func (t *queueTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := t.flush(ctx); err != nil {
		return errBatch{err: err}
	}
	return t.Tx.SendBatch(ctx, b)
}

func (t *queueTx) Commit(ctx context.Context) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	return t.Tx.Commit(ctx)
}

// Begin would start a savepoint ahead of the queued statements.
func (t *queueTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.Tx.Begin(ctx)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errBatch answers a batch that could not be sent because the queued
// statements before it failed.
type errBatch struct {
	pgx.BatchResults // never called: every method below answers err
	err              error
}

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow{b.err} }
func (b errBatch) Close() error                     { return b.err }
