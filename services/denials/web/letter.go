package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/denials"
)

// fact is one dated line of a letter's history of the claim.
type fact struct {
	At   time.Time
	Text string
}

type letterData struct {
	Claim claimHeader
	Item  workItem
	// Sub is the submission the payer denied.
	Sub   events.ClaimSubmitted
	Facts []fact
	Date  time.Time
	// Preparer is the display name of who opened the letter.
	Preparer string
}

// appealLetter is a printable appeal of a claim's denial: who, what was
// billed, what the payer said, and the claim's history as supporting
// facts, with room for the clinical justification. ?item= picks a work
// item; by default the claim's open one. The view is audited like the
// claim page.
func (s *server) appealLetter(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	ctx := r.Context()
	c, err := s.loadClaim(ctx, r.PathValue("claimID"))
	if errors.Is(err, errNoClaim) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.workItems(ctx, c.ClaimID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	want := r.URL.Query().Get("item")
	i := slices.IndexFunc(items, func(it workItem) bool { return want == "" || it.WorkItemID == want })
	if i < 0 {
		s.errorPage(w, r, http.StatusNotFound, "No denial", "The claim has no such denial to appeal.")
		return
	}
	d := letterData{Claim: c, Item: items[i], Sub: c.Sub, Date: s.now(), Preparer: u.Name}
	if d.Item.ControlNumber != "" && d.Item.ControlNumber != c.Sub.ControlNumber {
		if d.Sub, err = s.submission(ctx, d.Item.ControlNumber); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if d.Facts, err = s.facts(ctx, c.ClaimID); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := denials.Audit(ctx, s.pool, u.ID, "view_letter", c.ClaimID, d.Item.WorkItemID, remote(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "letter", view{Title: "Appeal letter", Nav: "queue", User: u, Data: d})
}

func (s *server) submission(ctx context.Context, control string) (events.ClaimSubmitted, error) {
	var sub events.ClaimSubmitted
	err := s.pool.QueryRow(ctx, `SELECT data FROM denials.submissions WHERE control_number = $1`, control).Scan(&sub)
	if err != nil {
		return sub, fmt.Errorf("read submission: %w", err)
	}
	return sub, nil
}

// facts are the claim's submissions, acknowledgements and adjudications,
// in date order: what a payer's appeal reviewer checks first (was it
// filed on time, was it received).
func (s *server) facts(ctx context.Context, claimID string) ([]fact, error) {
	var out []fact
	rows, err := s.pool.Query(ctx, `SELECT submitted_at, control_number, frequency FROM denials.submissions WHERE claim_id = $1`, claimID)
	if err != nil {
		return nil, fmt.Errorf("claim facts: %w", err)
	}
	for rows.Next() {
		var f fact
		var control, freq string
		if err := rows.Scan(&f.At, &control, &freq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim facts: %w", err)
		}
		f.Text = "Claim submitted electronically (837P), claim control number " + control
		switch freq {
		case events.FrequencyReplacement:
			f.Text += ", as a replacement claim"
		case events.FrequencyVoid:
			f.Text += ", as a void"
		}
		out = append(out, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim facts: %w", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT at, summary FROM denials.timeline WHERE claim_id = $1 AND kind = $2`, claimID, events.TypeClaimAcknowledged)
	if err != nil {
		return nil, fmt.Errorf("claim facts: %w", err)
	}
	for rows.Next() {
		var f fact
		if err := rows.Scan(&f.At, &f.Text); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim facts: %w", err)
		}
		f.Text = "Acknowledged: " + f.Text
		out = append(out, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim facts: %w", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT coalesce(r.payment_date::timestamptz, c.posted_at), r.trace_number, c.control_number, c.outcome,
	c.paid_cents, c.denied_cents
FROM denials.reconciliations c JOIN denials.remits r ON r.remit_id = c.remit_id WHERE c.claim_id = $1`, claimID)
	if err != nil {
		return nil, fmt.Errorf("claim facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f fact
		var trace, control, outcome string
		var paid, denied int64
		if err := rows.Scan(&f.At, &trace, &control, &outcome, &paid, &denied); err != nil {
			return nil, fmt.Errorf("claim facts: %w", err)
		}
		f.Text = fmt.Sprintf("Adjudicated (remittance trace %s, claim control number %s): %s, paid %s, denied %s",
			trace, control, denials.OutcomeWords(outcome), billing.Dollars(paid), billing.Dollars(denied))
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim facts: %w", err)
	}
	slices.SortStableFunc(out, func(a, b fact) int { return a.At.Compare(b.At) })
	return out, nil
}
