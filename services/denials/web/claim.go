package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/denials"
)

// claimHeader is the claim as the ledger holds it, with the patient from
// its latest submission.
type claimHeader struct {
	ClaimID          string
	VisitID          string
	PatientID        string
	PayerID          string
	PayerName        string
	DOS              string
	ControlNumber    string
	Submission       int
	ChargeCents      int64
	PaidCents        int64
	PatientCents     int64
	AdjustedCents    int64
	DeniedCents      int64
	ScrubStatus      string
	AckStatus        string
	Outcome          string
	PayerClaimNumber string
	FirstSubmittedAt *time.Time
	SubmittedAt      *time.Time
	ReconciledAt     *time.Time
	Edits            []events.Edit
	// Sub is the latest submission; zero for a claim never sent.
	Sub events.ClaimSubmitted
}

// Patient is the patient's name as billed.
func (c claimHeader) Patient() string {
	return personName(c.Sub.Patient.LastName, c.Sub.Patient.FirstName)
}

// Status says where the claim stands, in a word or three.
func (c claimHeader) Status() string {
	switch {
	case c.Outcome != "":
		return denials.OutcomeWords(c.Outcome)
	case c.AckStatus != "":
		return "acknowledged: " + c.AckStatus
	case c.SubmittedAt != nil:
		return "submitted"
	case c.ScrubStatus != "":
		return "scrubbed: " + c.ScrubStatus
	}
	return "new"
}

// errNoClaim is a claim id the ledger does not hold.
var errNoClaim = errors.New("no such claim")

func (s *server) loadClaim(ctx context.Context, claimID string) (claimHeader, error) {
	var c claimHeader
	var edits, sub []byte
	err := s.pool.QueryRow(ctx, `SELECT c.claim_id, c.visit_id, c.patient_id, c.payer_id, c.payer_name,
	coalesce(to_char(c.date_of_service, 'YYYY-MM-DD'), ''), c.control_number, c.submission,
	c.charge_cents, c.paid_cents, c.patient_cents, c.adjusted_cents, c.denied_cents, c.scrub_status, c.ack_status, c.outcome,
	c.payer_claim_control_number, c.first_submitted_at, c.submitted_at, c.reconciled_at, c.edits, s.data
FROM denials.claims c
LEFT JOIN LATERAL (SELECT data FROM denials.submissions WHERE claim_id = c.claim_id ORDER BY submission DESC LIMIT 1) s ON true
WHERE c.claim_id = $1`, claimID).Scan(&c.ClaimID, &c.VisitID, &c.PatientID, &c.PayerID, &c.PayerName, &c.DOS, &c.ControlNumber, &c.Submission,
		&c.ChargeCents, &c.PaidCents, &c.PatientCents, &c.AdjustedCents, &c.DeniedCents, &c.ScrubStatus, &c.AckStatus, &c.Outcome,
		&c.PayerClaimNumber, &c.FirstSubmittedAt, &c.SubmittedAt, &c.ReconciledAt, &edits, &sub)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, errNoClaim
	}
	if err != nil {
		return c, fmt.Errorf("read claim: %w", err)
	}
	_ = json.Unmarshal(edits, &c.Edits)
	if sub != nil {
		if err := json.Unmarshal(sub, &c.Sub); err != nil {
			return c, fmt.Errorf("read submission of claim %s: %w", claimID, err)
		}
	}
	return c, nil
}

// entry is one timeline row, with its detail decoded by kind for display.
type entry struct {
	At      time.Time
	Kind    string
	Summary string
	// Coded: the lines with the explanations behind units and modifiers.
	Coded *codedDetail
	// Scrubbed: the edits.
	Edits []events.Edit
	// Submitted: the lines as sent.
	Lines []events.ClaimLine
	// Acknowledged: the codes as received.
	Codes []events.AckCode
	// Reconciled: the posting by line.
	Reconciled *events.ClaimReconciled
	// Denial events: the work item after the event.
	Item *events.WorkItem
}

type codedDetail struct {
	RulesVersion string               `json:"rules_version"`
	UnitMethod   string               `json:"unit_method"`
	TimedMinutes int                  `json:"total_timed_minutes"`
	TimedUnits   int                  `json:"total_timed_units"`
	Lines        []events.CodedLine   `json:"lines"`
	Issues       []events.Edit        `json:"issues"`
	Explanations []events.Explanation `json:"explanations"`
}

func (s *server) timeline(ctx context.Context, visitID string) ([]entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, kind, summary, detail FROM denials.timeline WHERE visit_id = $1 ORDER BY at, event_id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	defer rows.Close()
	var out []entry
	for rows.Next() {
		var e entry
		var detail []byte
		if err := rows.Scan(&e.At, &e.Kind, &e.Summary, &detail); err != nil {
			return nil, fmt.Errorf("timeline: %w", err)
		}
		// A detail that does not decode is shown by its summary alone:
		// the summary was written for people already.
		switch e.Kind {
		case events.TypeVisitCoded:
			var d codedDetail
			if json.Unmarshal(detail, &d) == nil {
				e.Coded = &d
			}
		case events.TypeClaimScrubbed:
			_ = json.Unmarshal(detail, &e.Edits)
		case events.TypeClaimSubmitted:
			var d struct {
				Lines []events.ClaimLine `json:"lines"`
			}
			if json.Unmarshal(detail, &d) == nil {
				e.Lines = d.Lines
			}
		case events.TypeClaimAcknowledged:
			_ = json.Unmarshal(detail, &e.Codes)
		case events.TypeClaimReconciled:
			var d events.ClaimReconciled
			if json.Unmarshal(detail, &d) == nil {
				e.Reconciled = &d
			}
		case events.TypeDenialOpened, events.TypeDenialUpdated:
			var d events.WorkItem
			if json.Unmarshal(detail, &d) == nil && d.WorkItemID != "" {
				e.Item = &d
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// postingRow is one row of the claim's posting ledger.
type postingRow struct {
	RemitID          string
	PayerName        string
	TraceNumber      string
	PaymentDate      string
	ClaimID          string
	CLPIndex         int
	LineIndex        int
	Line             int
	ControlNumber    string
	MatchedBy        string
	Code             string
	ChargeCents      int64
	AllowedCents     int64
	PaidCents        int64
	ContractualCents int64
	PatientCents     int64
	DeniedCents      int64
	OtherCents       int64
	Adjustments      []events.Adjustment
	Remarks          []string
	PostedAt         time.Time
}

const postingColumns = `p.remit_id, r.payer_name, r.trace_number, coalesce(to_char(r.payment_date, 'YYYY-MM-DD'), ''), p.claim_id,
	p.clp_index, p.line_index, p.line, p.control_number, p.matched_by, p.code, p.charge_cents, p.allowed_cents, p.paid_cents,
	p.contractual_cents, p.patient_cents, p.denied_cents, p.other_cents, p.adjustments, p.remarks, p.posted_at`

func (s *server) postings(ctx context.Context, where string, arg any) ([]postingRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+postingColumns+` FROM denials.postings p JOIN denials.remits r ON r.remit_id = p.remit_id
WHERE `+where+` ORDER BY p.posted_at, p.remit_id, p.clp_index, p.line_index`, arg)
	if err != nil {
		return nil, fmt.Errorf("postings: %w", err)
	}
	defer rows.Close()
	var out []postingRow
	for rows.Next() {
		var p postingRow
		var adjs []byte
		if err := rows.Scan(&p.RemitID, &p.PayerName, &p.TraceNumber, &p.PaymentDate, &p.ClaimID, &p.CLPIndex, &p.LineIndex, &p.Line,
			&p.ControlNumber, &p.MatchedBy, &p.Code, &p.ChargeCents, &p.AllowedCents, &p.PaidCents, &p.ContractualCents, &p.PatientCents,
			&p.DeniedCents, &p.OtherCents, &adjs, &p.Remarks, &p.PostedAt); err != nil {
			return nil, fmt.Errorf("postings: %w", err)
		}
		_ = json.Unmarshal(adjs, &p.Adjustments)
		out = append(out, p)
	}
	return out, rows.Err()
}

// postingTotals adds up ledger rows.
type postingTotals struct {
	ChargeCents, PaidCents, ContractualCents, PatientCents, DeniedCents, OtherCents int64
}

func sumPostings(ps []postingRow) postingTotals {
	var t postingTotals
	for _, p := range ps {
		t.ChargeCents += p.ChargeCents
		t.PaidCents += p.PaidCents
		t.ContractualCents += p.ContractualCents
		t.PatientCents += p.PatientCents
		t.DeniedCents += p.DeniedCents
		t.OtherCents += p.OtherCents
	}
	return t
}

// workItem is a work item with its notes, for the claim page.
type workItem struct {
	events.WorkItem
	OpenedAt  time.Time
	UpdatedAt time.Time
	Notes     []note
	// Submitted are the lines of the submission the denial answered, for
	// the corrected-claim form.
	Submitted []events.ClaimLine
}

type note struct {
	At     time.Time
	UserID string
	Text   string
}

// Closed reports whether the item takes no more actions but a note or
// reopening.
func (it workItem) Closed() bool {
	return it.Status == events.DenialWrittenOff || it.Status == events.DenialResolved
}

// Offers reports whether the item's status offers an action; the
// server's check is Store.Act's.
func (it workItem) Offers(action string) bool {
	switch action {
	case denials.ActNote:
		return true
	case denials.ActReopen:
		return it.Closed()
	case denials.ActStart:
		return it.Status == events.DenialOpen
	}
	return !it.Closed()
}

// workItems are the claim's items, open ones first, then newest first.
func (s *server) workItems(ctx context.Context, claimID string) ([]workItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT item, opened_at, updated_at FROM denials.work_items WHERE claim_id = $1
ORDER BY status IN ('written_off', 'resolved'), updated_at DESC, work_item_id`, claimID)
	if err != nil {
		return nil, fmt.Errorf("work items: %w", err)
	}
	var out []workItem
	var ids []string
	for rows.Next() {
		var it workItem
		var raw []byte
		if err := rows.Scan(&raw, &it.OpenedAt, &it.UpdatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("work items: %w", err)
		}
		if err := json.Unmarshal(raw, &it.WorkItem); err != nil {
			rows.Close()
			return nil, fmt.Errorf("work item: %w", err)
		}
		out = append(out, it)
		ids = append(ids, it.WorkItemID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("work items: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	nrows, err := s.pool.Query(ctx, `SELECT work_item_id, at, user_id, note FROM denials.notes WHERE work_item_id = ANY($1) ORDER BY at`, ids)
	if err != nil {
		return nil, fmt.Errorf("notes: %w", err)
	}
	defer nrows.Close()
	for nrows.Next() {
		var id string
		var n note
		if err := nrows.Scan(&id, &n.At, &n.UserID, &n.Text); err != nil {
			return nil, fmt.Errorf("notes: %w", err)
		}
		for i := range out {
			if out[i].WorkItemID == id {
				out[i].Notes = append(out[i].Notes, n)
			}
		}
	}
	return out, nrows.Err()
}

type claimData struct {
	Claim     claimHeader
	Timeline  []entry
	Postings  []postingRow
	Totals    postingTotals
	Items     []workItem
	Assignees []option
}

// claim is a claim's page: header, timeline, ledger and work items. The
// view is written to the audit log before anything is sent; without the
// audit row nothing is shown.
func (s *server) claim(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	ctx := r.Context()
	id := r.PathValue("claimID")
	c, err := s.loadClaim(ctx, id)
	if errors.Is(err, errNoClaim) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := claimData{Claim: c}
	if d.Timeline, err = s.timeline(ctx, c.VisitID); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Postings, err = s.postings(ctx, "p.claim_id = $1", c.ClaimID); err != nil {
		s.fail(w, r, err)
		return
	}
	d.Totals = sumPostings(d.Postings)
	if d.Items, err = s.workItems(ctx, c.ClaimID); err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range d.Items {
		if d.Items[i].Submitted, err = s.submittedLines(ctx, d.Items[i].ControlNumber); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if d.Assignees, err = s.workers(r); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := denials.Audit(ctx, s.pool, u.ID, "view_claim", c.ClaimID, "", remote(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "claim", view{Title: "Claim " + c.ClaimID, Nav: "queue", User: u, Data: d})
}
