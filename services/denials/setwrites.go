package denials

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// setWrites gathers what one 835 transaction set posts, so that thousands
// of claims take a handful of statements: COPY for the ledger, the
// timeline and the reconciliations, one UPDATE for the claims, and one
// pipelined batch for the rest. Reads happen once, up front.
type setWrites struct {
	subs  map[string]claimMatch       // by control number
	items map[string]*events.WorkItem // active work items, by claim id

	// lastPaid is each claim's latest adjudication in this set that a
	// reversal later in the set would take back; reversed maps the
	// reversed reconciliation to the reversal.
	lastPaid map[string]string
	reversed map[string]string

	postings, recons, timeline [][]any
	claims                     map[string]*claimDelta
	claimOrder                 []string
	batch                      pgx.Batch
	out                        []events.Envelope
}

type claimDelta struct {
	paid, patient, adjusted, denied int64
	outcome, payerRef               string
}

func newSetWrites(ctx context.Context, tx pgx.Tx, r *x12.Remit) (*setWrites, error) {
	w := &setWrites{items: map[string]*events.WorkItem{}, lastPaid: map[string]string{},
		reversed: map[string]string{}, claims: map[string]*claimDelta{}}
	controls := make([]string, 0, len(r.Claims))
	for _, c := range r.Claims {
		controls = append(controls, c.ControlNumber)
	}
	var err error
	if w.subs, err = findSubmissions(ctx, tx, controls); err != nil {
		return nil, err
	}
	claimIDs := make([]string, 0, len(w.subs))
	for _, m := range w.subs {
		claimIDs = append(claimIDs, m.sub.ClaimID)
	}
	// The claims' rows are taken in one sorted statement, before anything
	// else waits on them: the ledger's group commits update the same rows
	// in event order, and a posting that held some while waiting for
	// others could deadlock with them.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM denials.claims WHERE claim_id = ANY($1) ORDER BY claim_id FOR UPDATE`, claimIDs); err != nil {
		return nil, fmt.Errorf("lock claims: %w", err)
	}
	// Locked, so that a biller's action on one of these items waits for
	// the posting rather than being overwritten by it.
	rows, err := tx.Query(ctx, `SELECT item FROM denials.work_items WHERE claim_id = ANY($1) AND status NOT IN ('written_off', 'resolved') FOR UPDATE`, claimIDs)
	if err != nil {
		return nil, fmt.Errorf("read work items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("read work items: %w", err)
		}
		it := new(events.WorkItem)
		if err := json.Unmarshal(raw, it); err != nil {
			return nil, fmt.Errorf("read work item: %w", err)
		}
		w.items[it.ClaimID] = it
	}
	return w, rows.Err()
}

func (w *setWrites) addClaim(claimID string, paid, patient, adjusted, denied int64, outcome, payerRef string) {
	d := w.claims[claimID]
	if d == nil {
		d = &claimDelta{}
		w.claims[claimID] = d
		w.claimOrder = append(w.claimOrder, claimID)
	}
	d.paid += paid
	d.patient += patient
	d.adjusted += adjusted
	d.denied += denied
	d.outcome = outcome
	if payerRef != "" {
		d.payerRef = payerRef
	}
}

// Exec queues a statement: setWrites is the execer of work items saved
// while posting.
func (w *setWrites) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if sql == timelineInsert {
		// New rows of a new posting: they join the timeline's COPY.
		w.timeline = append(w.timeline, args)
		return pgconn.CommandTag{}, nil
	}
	w.batch.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

func (w *setWrites) flush(ctx context.Context, tx pgx.Tx) error {
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"postings", []string{"remit_id", "clp_index", "line_index", "claim_id", "control_number", "line", "matched_by", "code",
			"charge_cents", "allowed_cents", "paid_cents", "contractual_cents", "patient_cents", "denied_cents", "other_cents", "adjustments", "remarks", "posted_at"}, w.postings},
		{"reconciliations", []string{"event_id", "remit_id", "clp_index", "claim_id", "control_number", "submission", "outcome", "paid_cents", "denied_cents", "posted_at"}, w.recons},
		{"timeline", []string{"event_id", "visit_id", "claim_id", "at", "kind", "summary", "detail"}, w.timeline},
	}
	for _, c := range copies {
		if len(c.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"denials", c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("post %s: %w", c.table, err)
		}
	}
	for prev, by := range w.reversed {
		w.batch.Queue(`UPDATE denials.reconciliations SET reversed_by = $2 WHERE event_id = $1`, prev, by)
	}
	if n := len(w.claimOrder); n > 0 {
		ids, outcomes, refs := make([]string, n), make([]string, n), make([]string, n)
		paid, patient, adjusted, denied := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		for i, id := range w.claimOrder {
			d := w.claims[id]
			ids[i], outcomes[i], refs[i] = id, d.outcome, d.payerRef
			paid[i], patient[i], adjusted[i], denied[i] = d.paid, d.patient, d.adjusted, d.denied
		}
		w.batch.Queue(`UPDATE denials.claims c SET paid_cents = c.paid_cents + u.paid, patient_cents = c.patient_cents + u.patient,
	adjusted_cents = c.adjusted_cents + u.adjusted, denied_cents = c.denied_cents + u.denied, outcome = u.outcome, reconciled_at = now(), updated_at = now(),
	payer_claim_control_number = CASE WHEN u.ref <> '' THEN u.ref ELSE c.payer_claim_control_number END
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[]) AS u(claim_id, paid, patient, adjusted, denied, outcome, ref)
WHERE c.claim_id = u.claim_id`, ids, paid, patient, adjusted, denied, outcomes, refs)
	}
	if w.batch.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &w.batch).Close(); err != nil {
		return fmt.Errorf("post: %w", err)
	}
	return nil
}
