package submitter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// seenFiles records handled acknowledgement files by content hash.
type seenFiles struct{ pool *pgxpool.Pool }

func (s seenFiles) Has(ctx context.Context, sum string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM submitter.inbound_files WHERE sha256 = $1)`, sum).Scan(&ok)
	return ok, err
}

func (s seenFiles) Mark(ctx context.Context, sum, name string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO submitter.inbound_files (sha256, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, sum, name)
	return tag.RowsAffected() == 1, err
}

// Acks reads 999 and 277CA files from the mailbox and turns them into
// claim.acknowledged events. A claim rejected by either is held with the
// reason in words; it never entered adjudication and goes again as a new
// original once fixed.
type Acks struct {
	Pool    *pgxpool.Pool
	Outbox  *platform.Outbox
	Mailbox clearinghouse.Transport
	Log     *zap.Logger
}

// Step handles the acknowledgement files waiting in the mailbox.
// Replicas take turns: one reads the mailbox at a time.
func (a *Acks) Step(ctx context.Context) (int, error) {
	var n int
	_, err := platform.OnlyOne(ctx, a.Pool, "submitter.acks", func(ctx context.Context) error {
		var err error
		n, err = clearinghouse.Poll(ctx, clearinghouse.WithSuffixes(a.Mailbox, ".999", ".277"), seenFiles{a.Pool}, a.handle)
		return err
	})
	return n, err
}

type ackedClaim struct {
	claimID, control, visitID string
	submission                int
}

func (a *Acks) handle(ctx context.Context, f clearinghouse.File, data []byte) error {
	// One hash of the file keys every event it causes.
	key := contentKey(data)
	var envs []events.Envelope
	var rejectClaims []string
	var rejectReasons []string
	switch {
	case strings.HasSuffix(f.Name, ".999"):
		acks, err := x12.Read999(data)
		if err != nil {
			return clearinghouse.Rejectf("not a readable 999: %v", err)
		}
		for _, ack := range acks {
			control, err := strconv.ParseInt(ack.GroupControl, 10, 64)
			if err != nil {
				return clearinghouse.Rejectf("999 at segment %d: AK102 is not a group control number", ack.Segment)
			}
			claims, err := a.claimsOfBatch(ctx, control)
			if err != nil {
				return err
			}
			status, reason, codes := events.AckAccepted, "the clearinghouse accepted the file", []events.AckCode{{Segment: "AK9", Code: string(ack.Status), Text: ack.Status.String()}}
			if !ack.Accepted() || (len(ack.Sets) > 0 && !ack.Sets[0].Accepted()) {
				status, reason = events.AckRejected, ack.Reason()
				for _, s := range ack.Sets {
					if r := s.Reason(); r != "" {
						reason = r
					}
					codes = append(codes, events.AckCode{Segment: "IK5", Code: string(s.Status), Text: s.Status.String()})
				}
			}
			for _, c := range claims {
				env, err := ackEvent(c, events.Ack999, status, reason, codes, "", f.Name, key)
				if err != nil {
					return err
				}
				envs = append(envs, env)
				if status == events.AckRejected {
					rejectClaims, rejectReasons = append(rejectClaims, c.claimID), append(rejectReasons, reason)
				}
			}
		}
	case strings.HasSuffix(f.Name, ".277"):
		acks, err := x12.Read277CA(data)
		if err != nil {
			return clearinghouse.Rejectf("not a readable 277CA: %v", err)
		}
		var controls []string
		for _, ack := range acks {
			for i := range ack.Claims {
				controls = append(controls, ack.Claims[i].PatientControlNumber)
			}
		}
		known, err := a.claimsByControl(ctx, controls)
		if err != nil {
			return err
		}
		for _, ack := range acks {
			for i := range ack.Claims {
				cl := &ack.Claims[i]
				c, ok := known[cl.PatientControlNumber]
				if !ok {
					a.Log.Warn("277CA names a claim this submitter did not send", zap.String("file", f.Name), zap.Int("segment", cl.Segment))
					continue
				}
				var codes []events.AckCode
				for _, st := range cl.Statuses {
					for _, sc := range st.Codes {
						codes = append(codes, events.AckCode{Segment: "STC", Code: sc.Category, Status: sc.Code, Entity: sc.Entity, Text: sc.Words()})
					}
				}
				status, reason := events.AckAccepted, "accepted into adjudication"
				if !cl.Accepted() {
					status, reason = events.AckRejected, cl.Reason()
					rejectClaims, rejectReasons = append(rejectClaims, c.claimID), append(rejectReasons, reason)
				}
				env, err := ackEvent(c, events.Ack277CA, status, reason, codes, cl.PayerClaimNumber, f.Name, key)
				if err != nil {
					return err
				}
				envs = append(envs, env)
			}
		}
	default:
		return nil // not listed: Step reads only .999 and .277
	}
	var recs []platform.Record
	err := pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		for i, id := range rejectClaims {
			edits, _ := json.Marshal([]events.Edit{{Code: "ack.rejected", Severity: events.SeverityError,
				Message: "the clearinghouse or payer rejected the claim: " + rejectReasons[i],
				Fix:     "correct what the reason names and send the claim again as a new original"}})
			if _, err := tx.Exec(ctx, `UPDATE submitter.claims SET status = 'held', edits = $2, updated_at = now() WHERE claim_id = $1`, id, edits); err != nil {
				return fmt.Errorf("hold rejected claim: %w", err)
			}
		}
		var err error
		recs, err = a.Outbox.Add(ctx, tx, envs...)
		return err
	})
	if err != nil {
		return err
	}
	a.Outbox.Relay(recs)
	return nil
}

func (a *Acks) claimsOfBatch(ctx context.Context, control int64) ([]ackedClaim, error) {
	rows, err := a.Pool.Query(ctx, `SELECT c.claim_id, c.control_number, c.visit_id, c.submission FROM submitter.claims c
JOIN submitter.batches b ON b.batch_id = c.batch_id WHERE b.isa_control = $1 ORDER BY c.claim_id`, control)
	if err != nil {
		return nil, fmt.Errorf("claims of batch %d: %w", control, err)
	}
	return pgx.CollectRows(rows, scanAcked)
}

// scanAcked reads claim_id, control_number, visit_id and submission.
func scanAcked(r pgx.CollectableRow) (ackedClaim, error) {
	var c ackedClaim
	err := r.Scan(&c.claimID, &c.control, &c.visitID, &c.submission)
	return c, err
}

// claimsByControl finds the claims a 277CA names, by control number, in
// one query.
func (a *Acks) claimsByControl(ctx context.Context, controls []string) (map[string]ackedClaim, error) {
	rows, err := a.Pool.Query(ctx, `SELECT claim_id, control_number, visit_id, submission FROM submitter.claims WHERE control_number = ANY($1)`, controls)
	if err != nil {
		return nil, fmt.Errorf("claims of 277CA: %w", err)
	}
	claims, err := pgx.CollectRows(rows, scanAcked)
	if err != nil {
		return nil, fmt.Errorf("claims of 277CA: %w", err)
	}
	found := make(map[string]ackedClaim, len(claims))
	for _, c := range claims {
		found[c.control] = c
	}
	return found, nil
}

// ackEvent's id depends on the file's content and the claim, so a file
// handled twice (a crash before its hash was recorded) announces nothing
// twice.
func ackEvent(c ackedClaim, source, status, reason string, codes []events.AckCode, payerRef, file, fileKey string) (events.Envelope, error) {
	id := events.NewID("submitter", events.TypeClaimAcknowledged, c.claimID, source, fileKey)
	env, err := events.New(id, events.TypeClaimAcknowledged, events.SourceSubmitter, c.claimID, nowUTC(),
		events.ClaimAcknowledged{ClaimID: c.claimID, ControlNumber: c.control, Submission: c.submission, Source: source, Status: status,
			Codes: codes, Reason: reason, PayerClaimControlNumber: payerRef, FileName: file})
	env.CorrelationID = c.visitID
	return env, err
}

func contentKey(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// nowUTC is the acknowledgement's processing time; the event id does not
// depend on it.
func nowUTC() time.Time { return time.Now().UTC() }
