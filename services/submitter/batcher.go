package submitter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// BatchConfig says how claims are gathered into 837P files.
type BatchConfig struct {
	// Interval is the longest a ready claim waits for its batch (default 2s).
	Interval time.Duration
	// MaxClaims bounds a file (default 500).
	MaxClaims int
	// The submitter's and the clearinghouse's identities on the envelope.
	SenderID, SenderName     string
	ReceiverID, ReceiverName string
	Contact                  x12.Contact
	// Usage is ISA15: "P" production or "T" test (default "T").
	Usage string
}

func (c *BatchConfig) setDefaults() {
	if c.Interval <= 0 {
		c.Interval = 2 * time.Second
	}
	if c.MaxClaims <= 0 {
		c.MaxClaims = 500
	}
	if c.SenderID == "" {
		c.SenderID, c.SenderName = "RCMSUBMITTER", "RCM"
	}
	if c.ReceiverID == "" {
		c.ReceiverID, c.ReceiverName = "CLEARINGHOUSE", "CLEARINGHOUSE"
	}
	if c.Contact.Name == "" {
		c.Contact = x12.Contact{Name: "BILLING OFFICE", Phone: "0000000000"}
	}
	if c.Usage == "" {
		c.Usage = "T"
	}
}

// Batcher writes ready claims into 837P files in the clearinghouse mailbox
// and announces each claim as submitted.
//
// Sending is two transactions around the mailbox put. The first takes the
// claims and records the file's bytes (prepared); the second, after the put,
// marks the batch sent and writes the claim.submitted events. A crash in
// between leaves a prepared batch, which the next run puts again: the same
// bytes under the same name, never the claims in a second file.
type Batcher struct {
	Pool    *pgxpool.Pool
	Outbox  *platform.Outbox
	Mailbox clearinghouse.Transport
	Config  BatchConfig
	Log     *zap.Logger
	Now     func() time.Time
}

// Run sends prepared batches left by a crash, then batches ready claims,
// and reads acknowledgements when acks is not nil, every Interval until ctx
// ends. Acknowledgements are read on their own loop, so that a large 277CA
// never holds up the next 837P, nor the other way round.
func (b *Batcher) Run(ctx context.Context, acks *Acks) error {
	b.Config.setDefaults()
	if b.Now == nil {
		b.Now = time.Now
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	if acks != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			platform.Every(ctx, b.Config.Interval, func() {
				if _, err := acks.Step(ctx); err != nil && ctx.Err() == nil {
					b.Log.Warn("acknowledgements", zap.Error(err))
				}
			})
		}()
	}
	platform.Every(ctx, b.Config.Interval, func() {
		if _, err := b.Step(ctx); err != nil && ctx.Err() == nil {
			b.Log.Warn("batch", zap.Error(err))
		}
	})
	return nil
}

// Step sends what is prepared, then makes and sends batches while full ones
// can be made, at most ten, so that a steady stream of new claims cannot
// keep it from returning. It returns the number of claims submitted.
func (b *Batcher) Step(ctx context.Context) (int, error) {
	b.Config.setDefaults()
	if b.Now == nil {
		b.Now = time.Now
	}
	total := 0
	prepared, err := b.preparedBatches(ctx)
	if err != nil {
		return 0, err
	}
	for _, id := range prepared {
		n, err := b.send(ctx, id)
		if err != nil {
			return total, err
		}
		total += n
	}
	for range 10 {
		id, claims, err := b.prepare(ctx)
		if err != nil || id == "" {
			return total, err
		}
		n, err := b.send(ctx, id)
		if err != nil {
			return total, err
		}
		total += n
		if claims < b.Config.MaxClaims {
			break
		}
	}
	return total, nil
}

func (b *Batcher) preparedBatches(ctx context.Context) ([]string, error) {
	rows, err := b.Pool.Query(ctx, `SELECT batch_id FROM submitter.batches WHERE status = 'prepared' ORDER BY isa_control`)
	if err != nil {
		return nil, fmt.Errorf("read prepared batches: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// prepare takes up to MaxClaims ready claims into a new batch and records
// its file. It returns "" when no claim is ready, and how many claims it took.
func (b *Batcher) prepare(ctx context.Context) (string, int, error) {
	var batchID string
	var taken int
	err := pgx.BeginFunc(ctx, b.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT claim_id, claim FROM submitter.claims WHERE status = 'ready'
ORDER BY updated_at, claim_id LIMIT $1 FOR UPDATE SKIP LOCKED`, b.Config.MaxClaims)
		if err != nil {
			return fmt.Errorf("read ready claims: %w", err)
		}
		var ids []string
		var claims []x12.Claim837
		for rows.Next() {
			var id string
			var raw []byte
			if err := rows.Scan(&id, &raw); err != nil {
				rows.Close()
				return fmt.Errorf("read ready claims: %w", err)
			}
			var c x12.Claim837
			if err := jsonv2.Unmarshal(raw, &c); err != nil { // as events are read (events.Unmarshal)
				rows.Close()
				return fmt.Errorf("claim %s: stored model: %w", id, err)
			}
			ids, claims = append(ids, id), append(claims, c)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read ready claims: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		taken = len(ids)
		var control int64
		if err := tx.QueryRow(ctx, `SELECT nextval('submitter.interchange_control')`).Scan(&control); err != nil {
			return fmt.Errorf("interchange control number: %w", err)
		}
		now := b.Now().UTC()
		var file bytes.Buffer
		err = x12.Write837P(&file, x12.Batch837{
			SenderID: b.Config.SenderID, SenderName: b.Config.SenderName,
			ReceiverID: b.Config.ReceiverID, ReceiverName: b.Config.ReceiverName, Contact: b.Config.Contact,
			InterchangeControl: int(control), GroupControl: int(control), Usage: b.Config.Usage,
			Created: now, LineBreaks: true, Claims: claims,
		})
		if err != nil {
			// The scrubber passed a claim the writer refuses: a bug to see,
			// not a batch to retry for ever. Hold the claims it names.
			var ce *x12.ClaimError
			if errors.As(err, &ce) && ce.Claim >= 0 && ce.Claim < len(ids) {
				if _, herr := tx.Exec(ctx, `UPDATE submitter.claims SET status = 'held', updated_at = now() WHERE claim_id = $1`, ids[ce.Claim]); herr != nil {
					return herr
				}
				b.Log.Error("claim held: the 837P writer refused it", zap.String("claim_id", ids[ce.Claim]), zap.Error(err))
				return nil
			}
			return fmt.Errorf("write 837P: %w", err)
		}
		batchID = events.NewID("batch", strconv.FormatInt(control, 10), now.Format(time.RFC3339Nano))
		name := fmt.Sprintf("%s-%09d.837", now.Format("20060102T150405"), control)
		if _, err := tx.Exec(ctx, `INSERT INTO submitter.batches (batch_id, isa_control, file_name, file, claims, status) VALUES ($1, $2, $3, $4, $5, 'prepared')`,
			batchID, control, name, file.Bytes(), len(ids)); err != nil {
			return fmt.Errorf("record batch: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE submitter.claims SET status = 'batched', batch_id = $2, updated_at = now() WHERE claim_id = ANY($1)`, ids, batchID); err != nil {
			return fmt.Errorf("mark claims batched: %w", err)
		}
		return nil
	})
	return batchID, taken, err
}

// send puts a prepared batch's file in the mailbox, then marks it sent and
// announces its claims, in one transaction.
func (b *Batcher) send(ctx context.Context, batchID string) (int, error) {
	var name string
	var file []byte
	var control int64
	if err := b.Pool.QueryRow(ctx, `SELECT file_name, file, isa_control FROM submitter.batches WHERE batch_id = $1 AND status = 'prepared'`, batchID).Scan(&name, &file, &control); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil // another replica sent it
		}
		return 0, fmt.Errorf("read batch %s: %w", batchID, err)
	}
	if err := b.Mailbox.Put(ctx, name, file); err != nil {
		return 0, fmt.Errorf("put batch %s: %w", batchID, err)
	}
	var recs []platform.Record
	n := 0
	err := pgx.BeginFunc(ctx, b.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE submitter.batches SET status = 'sent', sent_at = now() WHERE batch_id = $1 AND status = 'prepared'`, batchID)
		if err != nil {
			return fmt.Errorf("mark batch sent: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, `UPDATE submitter.claims SET status = 'submitted', updated_at = now() WHERE batch_id = $1 AND status = 'batched' RETURNING summary`, batchID)
		if err != nil {
			return fmt.Errorf("mark claims submitted: %w", err)
		}
		summaries, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return fmt.Errorf("mark claims submitted: %w", err)
		}
		now := b.Now().UTC()
		envs := make([]events.Envelope, 0, len(summaries))
		var lines [][]any // each sent line, for later claims' duplicate checks
		for _, raw := range summaries {
			var s events.ClaimSubmitted
			if err := jsonv2.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("batch %s: stored summary: %w", batchID, err)
			}
			s.BatchID, s.FileName = batchID, name
			s.ISAControlNumber = fmt.Sprintf("%09d", control)
			s.GSControlNumber = strconv.FormatInt(control, 10)
			s.STControlNumber = "0001"
			env, err := events.New(events.NewID("submitter", events.TypeClaimSubmitted, s.ClaimID, s.ControlNumber), events.TypeClaimSubmitted,
				events.SourceSubmitter, s.ClaimID, now, s)
			if err != nil {
				return err
			}
			env.CorrelationID = s.VisitID
			envs = append(envs, env)
			for _, l := range s.Lines {
				lines = append(lines, []any{s.ClaimID, s.ControlNumber, s.PayerID, s.Patient.MemberID, l.Code, l.Modifiers, l.Units, l.DateOfService})
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"submitter", "submitted_lines"},
			[]string{"claim_id", "control_number", "payer_id", "member_id", "code", "modifiers", "units", "dos"}, pgx.CopyFromRows(lines)); err != nil {
			return fmt.Errorf("record submitted lines: %w", err)
		}
		n = len(envs)
		recs, err = b.Outbox.Add(ctx, tx, envs...)
		return err
	})
	if err != nil {
		return 0, err
	}
	b.Outbox.Relay(recs)
	if n > 0 {
		b.Log.Info("batch sent", zap.String("batch", batchID), zap.Int("count", n))
	}
	return n, nil
}
