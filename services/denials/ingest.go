package denials

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// Sources of an 835 file.
const (
	SourceMailbox = "mailbox"
	SourceHTTP    = "http"
	SourceImport  = "import"
)

// ErrMalformed wraps the reader's error for a file that is not a readable
// 835; nothing of it is posted.
var ErrMalformed = errors.New("not a readable 835")

// Store posts remittances and works denials. Each 835 transaction set
// posts in one transaction, all or nothing, and each biller action in one,
// with its events in the outbox.
type Store struct {
	Pool   *pgxpool.Pool
	Outbox *platform.Outbox
	Rules  *billing.Rules
	// Now is the posting time; nil is time.Now. Event ids never depend on it.
	Now func() time.Time
}

// ImportResult says what one file did.
type ImportResult struct {
	FileID string `json:"file_id"`
	// Duplicate: the file was handled before; nothing was posted.
	Duplicate bool `json:"duplicate"`
	Sets      int  `json:"sets"`
	// Posted counts sets posted now; AlreadyPosted sets whose payer and
	// trace number were posted before (from another file).
	Posted        int   `json:"posted"`
	AlreadyPosted int   `json:"already_posted"`
	Claims        int   `json:"claims"`
	Unmatched     int   `json:"unmatched"`
	Denials       int   `json:"denials"`
	PaidCents     int64 `json:"paid_cents"`
	Imbalances    int   `json:"imbalances"`
}

func (p *Store) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

// Import reads and posts one 835 file. The same file again posts nothing,
// nor does a set whose payer and trace number were posted already.
func (p *Store) Import(ctx context.Context, data []byte, name, source string) (ImportResult, error) {
	return p.importFile(ctx, data, name, source, false)
}

// ErrUnknownClaims: the file names claims the ledger does not know yet. The
// submitter's claim.submitted may still be on its way (a payer that answers
// within seconds, or a ledger catching up after a restart); posting now
// would send paid claims to the exceptions queue for good.
var ErrUnknownClaims = errors.New("the 835 names claims not yet in the ledger")

// ImportWhenKnown is Import that refuses, with ErrUnknownClaims and
// nothing posted, a file naming a claim the ledger does not know. The
// mailbox poller uses it until the file has waited long enough.
func (p *Store) ImportWhenKnown(ctx context.Context, data []byte, name, source string) (ImportResult, error) {
	return p.importFile(ctx, data, name, source, true)
}

func (p *Store) importFile(ctx context.Context, data []byte, name, source string, known bool) (ImportResult, error) {
	sum := sha256.Sum256(data)
	res := ImportResult{FileID: hex.EncodeToString(sum[:])}
	var seen bool
	if err := p.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM denials.remit_files WHERE sha256 = $1)`, res.FileID).Scan(&seen); err != nil {
		return res, fmt.Errorf("check file: %w", err)
	}
	if seen {
		res.Duplicate = true
		return res, nil
	}
	remits, err := x12.Read835(data)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	res.Sets = len(remits)
	if known {
		var controls []string
		for i := range remits {
			for _, c := range remits[i].Claims {
				controls = append(controls, c.ControlNumber)
			}
		}
		var missing int
		if err := p.Pool.QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[]) AS c(n) WHERE NOT EXISTS (SELECT 1 FROM denials.submissions s WHERE s.control_number = c.n)`,
			controls).Scan(&missing); err != nil {
			return res, fmt.Errorf("check claims: %w", err)
		}
		if missing > 0 {
			return res, fmt.Errorf("%w: %d of %d", ErrUnknownClaims, missing, len(controls))
		}
	}
	for i := range remits {
		if err := p.postSet(ctx, &remits[i], res.FileID, name, &res); err != nil {
			return res, fmt.Errorf("835 set %s (segment %d): %w", remits[i].ControlNumber, remits[i].Segment, err)
		}
	}
	if _, err := p.Pool.Exec(ctx, `INSERT INTO denials.remit_files (sha256, name, source, sets, posted_sets) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		res.FileID, name, source, res.Sets, res.Posted); err != nil {
		return res, fmt.Errorf("record file: %w", err)
	}
	return res, nil
}

// RemitID is rcm's id of a payment: the payer's originating company id
// (TRN03) and its trace number (TRN02), whatever file carries them.
func RemitID(r *x12.Remit) string {
	return events.NewID("remit", r.TraceOriginatorID, r.TraceNumber)
}

// payerID is the payer id claims are sent to (REF*2U), else the N1*PR id,
// else TRN03.
func payerID(r *x12.Remit) string {
	for _, ref := range r.Payer.Refs {
		if ref.Qualifier == "2U" && ref.Value != "" {
			return ref.Value
		}
	}
	if r.Payer.ID != "" {
		return r.Payer.ID
	}
	return r.TraceOriginatorID
}

// claimMatch is the submission a CLP names, with what posting it needs.
type claimMatch struct {
	sub     events.ClaimSubmitted
	visitID string
}

// postSet posts one transaction set, trying again when its locks collide
// with the ledger's: a short lock timeout, then a fresh attempt, is cheaper
// than a deadlock, which Postgres takes a second to find.
func (p *Store) postSet(ctx context.Context, r *x12.Remit, fileID, fileName string, res *ImportResult) error {
	var err error
	for attempt := range 20 {
		err = p.postSetOnce(ctx, r, fileID, fileName, res)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "55P03" && pgErr.Code != "40P01") {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(10+rand.IntN(20*(attempt+1))) * time.Millisecond):
		}
	}
	return err
}

func (p *Store) postSetOnce(ctx context.Context, r *x12.Remit, fileID, fileName string, res *ImportResult) error {
	remitID := RemitID(r)
	now := p.now()
	var posted bool
	var counts ImportResult
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		counts, posted = ImportResult{}, false
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '200ms'`); err != nil {
			return err
		}
		// Two files carrying the same payment, posted at once, wait here.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('denials.remit'), hashtext($1))`, remitID); err != nil {
			return fmt.Errorf("lock remit: %w", err)
		}
		imbalances := r.Check()
		imb, _ := json.Marshal(imbalanceWords(imbalances))
		lines := 0
		for _, c := range r.Claims {
			lines += len(c.Lines)
		}
		var payDate *time.Time
		if !r.PaymentDate.IsZero() {
			payDate = &r.PaymentDate
		}
		tag, err := tx.Exec(ctx, `INSERT INTO denials.remits (remit_id, file_sha256, file_name, st_control, payer_id, payer_name, payee_npi, trace_number,
	payment_method, payment_date, total_paid_cents, claim_count, line_count, auto_posted_lines, imbalances)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14) ON CONFLICT DO NOTHING`,
			remitID, fileID, fileName, r.ControlNumber, payerID(r), r.Payer.Name, r.Payee.ID, r.TraceNumber,
			r.Method, payDate, r.TotalPaidCents, len(r.Claims), lines, imb)
		if err != nil {
			return fmt.Errorf("record remit: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // this payment was posted from another file
		}
		posted = true
		counts.Imbalances = len(imbalances)
		recv, err := p.remitEvent(r, remitID, fileID, fileName, now)
		if err != nil {
			return err
		}
		w, err := newSetWrites(ctx, tx, r)
		if err != nil {
			return err
		}
		w.out = append(w.out, recv)
		for i, adj := range r.PLB {
			for j, a := range adj.Adjustments {
				w.batch.Queue(`INSERT INTO denials.provider_adjustments (remit_id, position, code, reference, amount_cents) VALUES ($1, $2, $3, $4, $5)`,
					remitID, i*100+j, a.Reason, a.Reference, a.AmountCents)
			}
		}
		autoPosted := 0
		for i := range r.Claims {
			c := &r.Claims[i]
			n, err := p.postClaim(ctx, tx, w, r, remitID, i, c, recv, now, &counts)
			if err != nil {
				return fmt.Errorf("CLP at segment %d: %w", c.Segment, err)
			}
			autoPosted += n
		}
		w.batch.Queue(`UPDATE denials.remits SET auto_posted_lines = $2 WHERE remit_id = $1`, remitID, autoPosted)
		if err := w.flush(ctx, tx); err != nil {
			return err
		}
		// The ids derive from this set's remit id, new in this transaction.
		recs, err := p.Outbox.AddNew(ctx, tx, w.out...)
		if err != nil {
			return err
		}
		p.Outbox.Relay(recs)
		return nil
	})
	if err != nil {
		return err
	}
	if !posted {
		res.AlreadyPosted++
		return nil
	}
	res.Posted++
	res.Claims += counts.Claims
	res.Unmatched += counts.Unmatched
	res.Denials += counts.Denials
	res.PaidCents += counts.PaidCents
	res.Imbalances += counts.Imbalances
	return nil
}

func imbalanceWords(imbs []x12.Imbalance) []string {
	out := make([]string, len(imbs))
	for i, b := range imbs {
		out[i] = b.String()
	}
	return out
}

func (p *Store) remitEvent(r *x12.Remit, remitID, fileID, fileName string, now time.Time) (events.Envelope, error) {
	d := events.RemitReceived{
		RemitID: remitID, FileID: fileID, FileName: fileName, STControlNumber: r.ControlNumber,
		PayerID: payerID(r), PayerName: r.Payer.Name, PayeeNPI: r.Payee.ID, TraceNumber: r.TraceNumber,
		PaymentMethod: r.Method, TotalPaidCents: r.TotalPaidCents, ClaimCount: len(r.Claims),
	}
	if !r.PaymentDate.IsZero() {
		d.PaymentDate = r.PaymentDate.Format("2006-01-02")
	}
	for _, plb := range r.PLB {
		for _, a := range plb.Adjustments {
			d.ProviderAdjustments = append(d.ProviderAdjustments, events.ProviderAdjustment{Code: a.Reason, Reference: a.Reference, AmountCents: a.AmountCents})
		}
	}
	env, err := events.New(events.NewID("denials", events.TypeRemitReceived, remitID), events.TypeRemitReceived, events.SourceDenials, remitID, now, d)
	env.CorrelationID = remitID
	return env, err
}

// postClaim posts one CLP into the set's writes and returns how many of its
// lines were matched to submitted lines.
func (p *Store) postClaim(ctx context.Context, tx pgx.Tx, w *setWrites, r *x12.Remit, remitID string, idx int, c *x12.Claim, recv events.Envelope, now time.Time, counts *ImportResult) (int, error) {
	counts.Claims++
	counts.PaidCents += c.PaidCents
	m, ok := w.subs[c.ControlNumber]
	if !ok {
		counts.Unmatched++
		detail, _ := json.Marshal(map[string]any{"claim_status": c.Status, "charge_cents": c.ChargeCents, "payer_claim_control_number": c.PayerClaimNumber, "segment": c.Segment})
		w.batch.Queue(`INSERT INTO denials.exceptions (remit_id, clp_index, line_index, control_number, reason, amount_cents, detail)
VALUES ($1, $2, 0, $3, $4, $5, $6)`, remitID, idx, c.ControlNumber,
			"the remittance names a claim we did not send (CLP01 matches no submission)", c.PaidCents, detail)
		return 0, nil
	}
	rec := ReconcileClaim(c, &m.sub, p.Rules.Posting)
	rec.Data.RemitID = remitID
	reconciledID := events.NewID("denials", events.TypeClaimReconciled, remitID, fmt.Sprint(idx))
	if rec.Data.Outcome == events.OutcomeReversed {
		// The reversal takes back the latest adjudication of the claim
		// that is not itself reversed: posted earlier, or earlier in
		// this set.
		prev := w.lastPaid[m.sub.ClaimID]
		if prev == "" {
			err := tx.QueryRow(ctx, `SELECT event_id FROM denials.reconciliations WHERE claim_id = $1 AND outcome <> 'reversed' AND reversed_by IS NULL
ORDER BY posted_at DESC, event_id LIMIT 1`, m.sub.ClaimID).Scan(&prev)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return 0, fmt.Errorf("find reversed claim: %w", err)
			}
		}
		if prev != "" {
			rec.Data.Reverses = prev
			w.reversed[prev] = reconciledID
		}
		delete(w.lastPaid, m.sub.ClaimID)
	} else {
		w.lastPaid[m.sub.ClaimID] = reconciledID
	}
	matched := 0
	var paid, patient, adjusted, denied int64
	for _, row := range rec.Rows {
		lp := row.LinePosting
		if lp.MatchedBy == events.MatchLineItemControlNumber || lp.MatchedBy == events.MatchServiceDetails {
			matched++
		}
		adjs, _ := json.Marshal(lp.Adjustments)
		remarks := lp.RemarkCodes
		if remarks == nil {
			remarks = []string{}
		}
		w.postings = append(w.postings, []any{remitID, idx, row.LineIndex, m.sub.ClaimID, c.ControlNumber, lp.Line, lp.MatchedBy, lp.Code,
			lp.ChargeCents, lp.AllowedCents, lp.PaidCents, lp.ContractualCents, lp.PatientResponsibilityCents, lp.DeniedCents, lp.OtherAdjustmentCents,
			adjs, remarks, now})
		paid += lp.PaidCents
		patient += lp.PatientResponsibilityCents
		adjusted += lp.ContractualCents + lp.OtherAdjustmentCents
		denied += lp.DeniedCents
	}
	for _, ex := range rec.Exceptions {
		counts.Unmatched++
		w.batch.Queue(`INSERT INTO denials.exceptions (remit_id, clp_index, line_index, control_number, reason, amount_cents)
VALUES ($1, $2, $3, $4, $5, $6)`, remitID, idx, ex.LineIndex, c.ControlNumber, ex.Reason, ex.AmountCents)
	}
	w.recons = append(w.recons, []any{reconciledID, remitID, idx, m.sub.ClaimID, c.ControlNumber, m.sub.Submission, rec.Data.Outcome, c.PaidCents, rec.DeniedCents, now})
	w.addClaim(m.sub.ClaimID, paid, patient, adjusted, denied, rec.Data.Outcome, c.PayerClaimNumber)
	env, err := events.New(reconciledID, events.TypeClaimReconciled, events.SourceDenials, m.sub.ClaimID, now, rec.Data)
	if err != nil {
		return 0, err
	}
	env.CorrelationID, env.CausationID = m.visitID, recv.ID
	summary := fmt.Sprintf("835 %s (trace %s): %s; paid %s, patient %s, denied %s", r.Payer.Name, r.TraceNumber,
		OutcomeWords(rec.Data.Outcome), billing.Dollars(c.PaidCents), billing.Dollars(c.PatientCents), billing.Dollars(rec.DeniedCents))
	detail, err := json.Marshal(rec.Data)
	if err != nil {
		return 0, err
	}
	w.timeline = append(w.timeline, []any{env.ID, m.visitID, m.sub.ClaimID, env.Time, env.Type, summary, detail})
	w.out = append(w.out, env)
	wenvs, opened, err := p.workItems(ctx, w, r, m, &rec, env, now)
	if err != nil {
		return 0, err
	}
	counts.Denials += opened
	w.out = append(w.out, wenvs...)
	return matched, nil
}

// OutcomeWords is a claim outcome as a biller reads it: "partly paid".
func OutcomeWords(o string) string {
	switch o {
	case events.OutcomePaidInFull:
		return "paid in full"
	case events.OutcomePartlyPaid:
		return "partly paid"
	case events.OutcomeDenied:
		return "denied"
	case events.OutcomeReversed:
		return "reversed"
	case events.OutcomeForwarded:
		return "forwarded to another payer"
	}
	return o
}

// findSubmissions reads the submissions the control numbers name, by
// control number; a number no submission has is simply absent.
func findSubmissions(ctx context.Context, tx pgx.Tx, controls []string) (map[string]claimMatch, error) {
	rows, err := tx.Query(ctx, `SELECT s.control_number, s.data, coalesce(c.visit_id, '') FROM denials.submissions s
LEFT JOIN denials.claims c ON c.claim_id = s.claim_id WHERE s.control_number = ANY($1)`, controls)
	if err != nil {
		return nil, fmt.Errorf("find submissions: %w", err)
	}
	defer rows.Close()
	subs := make(map[string]claimMatch, len(controls))
	for rows.Next() {
		var m claimMatch
		var control string
		var raw []byte
		if err := rows.Scan(&control, &raw, &m.visitID); err != nil {
			return nil, fmt.Errorf("find submissions: %w", err)
		}
		if err := jsonv2.Unmarshal(raw, &m.sub); err != nil { // as events are read (events.Unmarshal)
			return nil, fmt.Errorf("read submission %s: %w", control, err)
		}
		if m.visitID == "" {
			m.visitID = m.sub.VisitID
		}
		subs[control] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find submissions: %w", err)
	}
	return subs, nil
}
