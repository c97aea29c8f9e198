package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/denials"
)

// remit is one posted 835 transaction set.
type remit struct {
	RemitID         string
	PayerID         string
	PayerName       string
	TraceNumber     string
	Method          string
	PaymentDate     string
	TotalPaidCents  int64
	Claims          int
	Lines           int
	AutoPosted      int
	Imbalances      []string
	FileName        string
	PostedAt        time.Time
	ProviderAdjusts []events.ProviderAdjustment
}

const remitColumns = `r.remit_id, r.payer_id, r.payer_name, r.trace_number, r.payment_method, coalesce(to_char(r.payment_date, 'YYYY-MM-DD'), ''),
	r.total_paid_cents, r.claim_count, r.line_count, r.auto_posted_lines, r.imbalances, r.file_name, r.posted_at,
	coalesce((SELECT json_agg(json_build_object('code', a.code, 'reference', a.reference, 'amount_cents', a.amount_cents) ORDER BY a.position)
		FROM denials.provider_adjustments a WHERE a.remit_id = r.remit_id), '[]')`

func scanRemit(row pgx.Row) (remit, error) {
	var m remit
	var imb, adjs []byte
	err := row.Scan(&m.RemitID, &m.PayerID, &m.PayerName, &m.TraceNumber, &m.Method, &m.PaymentDate, &m.TotalPaidCents, &m.Claims,
		&m.Lines, &m.AutoPosted, &imb, &m.FileName, &m.PostedAt, &adjs)
	if err != nil {
		return m, err
	}
	_ = json.Unmarshal(imb, &m.Imbalances)
	_ = json.Unmarshal(adjs, &m.ProviderAdjusts)
	return m, nil
}

// remittances lists the posted 835s, newest first.
func (s *server) remittances(w http.ResponseWriter, r *http.Request) {
	rows, err := s.pool.Query(r.Context(), `SELECT `+remitColumns+` FROM denials.remits r ORDER BY r.posted_at DESC, r.remit_id LIMIT 500`)
	if err != nil {
		s.fail(w, r, fmt.Errorf("remittances: %w", err))
		return
	}
	defer rows.Close()
	var list []remit
	for rows.Next() {
		m, err := scanRemit(rows)
		if err != nil {
			s.fail(w, r, fmt.Errorf("remittances: %w", err))
			return
		}
		list = append(list, m)
	}
	if err := rows.Err(); err != nil {
		s.fail(w, r, fmt.Errorf("remittances: %w", err))
		return
	}
	s.render(w, r, http.StatusOK, "remittances", view{Title: "Remittances", Nav: "remits", User: userOf(r), Data: list})
}

// remitClaim is one CLP of a remittance as reconciled.
type remitClaim struct {
	CLPIndex      int
	ClaimID       string
	ControlNumber string
	Submission    int
	Outcome       string
	PaidCents     int64
	DeniedCents   int64
	ReversedBy    string
	Postings      []postingRow
}

type remitData struct {
	Remit      remit
	Claims     []remitClaim
	Exceptions []exception
}

// remittance is one 835's claims, their ledger rows and what matched
// nothing. It names claims by id, not by patient, so it is not audited.
func (s *server) remittance(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("remitID")
	m, err := scanRemit(s.pool.QueryRow(ctx, `SELECT `+remitColumns+` FROM denials.remits r WHERE r.remit_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("remittance: %w", err))
		return
	}
	d := remitData{Remit: m}
	if d.Claims, err = s.remitClaims(ctx, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Exceptions, err = s.listExceptions(ctx, "e.remit_id = $1", id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "remittance", view{Title: "Remittance " + m.TraceNumber, Nav: "remits", User: userOf(r), Data: d})
}

func (s *server) remitClaims(ctx context.Context, remitID string) ([]remitClaim, error) {
	rows, err := s.pool.Query(ctx, `SELECT clp_index, claim_id, control_number, submission, outcome, paid_cents, denied_cents, coalesce(reversed_by, '')
FROM denials.reconciliations WHERE remit_id = $1 ORDER BY clp_index`, remitID)
	if err != nil {
		return nil, fmt.Errorf("remittance claims: %w", err)
	}
	var out []remitClaim
	for rows.Next() {
		var c remitClaim
		if err := rows.Scan(&c.CLPIndex, &c.ClaimID, &c.ControlNumber, &c.Submission, &c.Outcome, &c.PaidCents, &c.DeniedCents, &c.ReversedBy); err != nil {
			rows.Close()
			return nil, fmt.Errorf("remittance claims: %w", err)
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("remittance claims: %w", err)
	}
	ps, err := s.postings(ctx, "p.remit_id = $1", remitID)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		for i := range out {
			if out[i].CLPIndex == p.CLPIndex {
				out[i].Postings = append(out[i].Postings, p)
			}
		}
	}
	return out, nil
}

// exception is a part of a remittance that matched nothing sent.
type exception struct {
	RemitID       string
	PayerName     string
	TraceNumber   string
	CLPIndex      int
	LineIndex     int
	ControlNumber string
	Reason        string
	AmountCents   int64
	// From the detail of a whole unmatched claim.
	ClaimStatus      string
	PayerClaimNumber string
	ChargeCents      int64
	ResolvedBy       string
	ResolvedAt       *time.Time
	CreatedAt        time.Time
}

func (s *server) listExceptions(ctx context.Context, where string, args ...any) ([]exception, error) {
	if where == "" {
		where = "true"
	}
	rows, err := s.pool.Query(ctx, `SELECT e.remit_id, r.payer_name, r.trace_number, e.clp_index, e.line_index, e.control_number, e.reason,
	e.amount_cents, e.detail, coalesce(e.resolved_by, ''), e.resolved_at, e.created_at
FROM denials.exceptions e JOIN denials.remits r ON r.remit_id = e.remit_id
WHERE `+where+`
ORDER BY e.resolved_at IS NOT NULL, e.created_at DESC, e.remit_id, e.clp_index, e.line_index LIMIT 1000`, args...)
	if err != nil {
		return nil, fmt.Errorf("exceptions: %w", err)
	}
	defer rows.Close()
	var out []exception
	for rows.Next() {
		var e exception
		var detail []byte
		if err := rows.Scan(&e.RemitID, &e.PayerName, &e.TraceNumber, &e.CLPIndex, &e.LineIndex, &e.ControlNumber, &e.Reason,
			&e.AmountCents, &detail, &e.ResolvedBy, &e.ResolvedAt, &e.CreatedAt); err != nil {
			return nil, fmt.Errorf("exceptions: %w", err)
		}
		var d struct {
			ClaimStatus      string `json:"claim_status"`
			ChargeCents      int64  `json:"charge_cents"`
			PayerClaimNumber string `json:"payer_claim_control_number"`
		}
		if json.Unmarshal(detail, &d) == nil {
			e.ClaimStatus, e.ChargeCents, e.PayerClaimNumber = d.ClaimStatus, d.ChargeCents, d.PayerClaimNumber
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// exceptions lists what remittances named that matched nothing sent,
// unresolved first.
func (s *server) exceptions(w http.ResponseWriter, r *http.Request) {
	list, err := s.listExceptions(r.Context(), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "exceptions", view{Title: "Exceptions", Nav: "exceptions", User: userOf(r), Data: list})
}

// resolveException marks one exception dealt with (POST
// /exceptions/resolve: exception "remit|clp|line" and a note) and goes
// back to the list with a flash.
func (s *server) resolveException(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	parts := strings.Split(r.PostFormValue("exception"), "|")
	var clp, line int
	var err error
	if len(parts) == 3 {
		clp, err = strconv.Atoi(parts[1])
		if err == nil {
			line, err = strconv.Atoi(parts[2])
		}
	}
	if len(parts) != 3 || err != nil {
		s.setFlash(w, true, "Choose an open exception.")
		http.Redirect(w, r, "/exceptions", http.StatusSeeOther)
		return
	}
	err = s.store.ResolveException(r.Context(), parts[0], clp, line, u.ID, r.PostFormValue("note"))
	switch {
	case errors.Is(err, denials.ErrNeedsReason):
		s.setFlash(w, true, "Write what you did about it: resolving needs a note.")
	case errors.Is(err, denials.ErrExceptionResolved):
		s.setFlash(w, true, "That exception was resolved already.")
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		s.setFlash(w, false, "Exception resolved.")
	}
	http.Redirect(w, r, "/exceptions", http.StatusSeeOther)
}
