package submitter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// CorrectionConsumer names the submitter's consumer of correction requests.
const CorrectionConsumer = "submitter-corrections"

// CorrectionSpec is the submitter's durable consumer on the denials stream.
func CorrectionSpec() platform.ConsumerSpec {
	return platform.ConsumerSpec{Stream: events.StreamDenials, Durable: CorrectionConsumer,
		Subjects: []string{events.SubjectClaimCorrectionRequested}, AckWait: 30 * time.Second}
}

// HandleCorrection turns a biller's claim.correction_requested into the
// next submission of the claim: a replacement (frequency 7) or void (8)
// quoting the payer's claim control number as REF*F8, with the corrected
// lines, under a new control number. The batcher sends it like any ready
// claim. A request that cannot be honoured is announced as a held
// claim.scrubbed with the reason, so that the work item's timeline shows it.
func (h *Handler) HandleCorrection(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
	if in.Type != events.TypeClaimCorrectionRequested {
		return nil, nil
	}
	var req events.ClaimCorrectionRequested
	if err := in.DecodeData(&req); err != nil {
		return nil, err
	}
	if err := lockClaim(ctx, tx, req.ClaimID); err != nil {
		return nil, err
	}
	var (
		visitID, status       string
		submission            int
		claimJSON, summaryRaw []byte
	)
	err := tx.QueryRow(ctx, `SELECT visit_id, status, submission, claim, summary FROM submitter.claims WHERE claim_id = $1 FOR UPDATE`, req.ClaimID).
		Scan(&visitID, &status, &submission, &claimJSON, &summaryRaw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("correction %s: claim %s is unknown to the submitter", in.ID, req.ClaimID)
	}
	if err != nil {
		return nil, fmt.Errorf("read claim: %w", err)
	}
	var claim x12.Claim837
	var sum events.ClaimSubmitted
	if err := json.Unmarshal(claimJSON, &claim); err != nil {
		return nil, fmt.Errorf("stored claim: %w", err)
	}
	if err := json.Unmarshal(summaryRaw, &sum); err != nil {
		return nil, fmt.Errorf("stored summary: %w", err)
	}
	control := claim.ControlNumber
	refuse := func(msg string) ([]events.Envelope, error) {
		edits := []events.Edit{{Code: "claim.correction_refused", Severity: events.SeverityError, Message: msg,
			Fix: "check the claim's status in its timeline and request the correction again once it has been sent and adjudicated"}}
		return scrubbedEvent(in, req.ClaimID, visitID, control, events.ScrubHeld, edits, h.Rules.Version)
	}
	if status != StatusSubmitted {
		return refuse(fmt.Sprintf("the claim is %s, not submitted: only a claim the payer has can be replaced or voided", status))
	}
	if req.PayerClaimControlNumber == "" {
		return refuse("the request has no payer claim control number (CLP07) for REF*F8")
	}
	if err := applyCorrections(&claim, &sum, req.Lines); err != nil {
		return refuse(err.Error())
	}
	submission++
	control = ControlNumber(visitID, submission)
	claim.ControlNumber, claim.Frequency, claim.OriginalRef = control, req.Frequency, req.PayerClaimControlNumber
	sum.ControlNumber, sum.Submission, sum.Frequency, sum.OriginalReference = control, submission, req.Frequency, req.PayerClaimControlNumber
	for i := range claim.Lines {
		claim.Lines[i].ControlNumber = LineControlNumber(control, sum.Lines[i].Line)
		sum.Lines[i].LineItemControlNumber = claim.Lines[i].ControlNumber
	}
	if err := claim.Validate(); err != nil {
		return refuse("the corrected claim is not valid: " + err.Error())
	}
	claimJSON, err = json.Marshal(claim)
	if err != nil {
		return nil, err
	}
	summaryRaw, err = json.Marshal(sum)
	if err != nil {
		return nil, err
	}
	edits := []events.Edit{}
	if _, err := tx.Exec(ctx, `UPDATE submitter.claims SET submission = $2, control_number = $3, status = 'ready', claim = $4, summary = $5, edits = '[]',
	batch_id = NULL, updated_at = now() WHERE claim_id = $1`, req.ClaimID, submission, control, claimJSON, summaryRaw); err != nil {
		return nil, fmt.Errorf("write corrected claim: %w", err)
	}
	return scrubbedEvent(in, req.ClaimID, visitID, control, events.ScrubPassed, edits, h.Rules.Version)
}

// applyCorrections sets each corrected line's modifiers and units; the
// charge follows the units at the line's charge per unit.
func applyCorrections(claim *x12.Claim837, sum *events.ClaimSubmitted, lines []events.LineCorrection) error {
	if len(claim.Lines) != len(sum.Lines) {
		return errors.New("the stored claim and its summary disagree on the lines")
	}
	for _, lc := range lines {
		i := slices.IndexFunc(sum.Lines, func(l events.ClaimLine) bool { return l.Line == lc.Line })
		if i < 0 {
			return fmt.Errorf("line %d is not on the claim", lc.Line)
		}
		if lc.Units < 1 {
			return fmt.Errorf("line %d: units must be at least 1", lc.Line)
		}
		cl, sl := &claim.Lines[i], &sum.Lines[i]
		if cl.Units > 0 && lc.Units != cl.Units {
			per := cl.ChargeCents / int64(cl.Units)
			cl.ChargeCents = per * int64(lc.Units)
		}
		cl.Units, cl.Modifiers = lc.Units, slices.Clone(lc.Modifiers)
		sl.Units, sl.Modifiers, sl.ChargeCents = cl.Units, slices.Clone(lc.Modifiers), cl.ChargeCents
	}
	claim.TotalChargeCents, sum.TotalChargeCents, sum.TotalUnits = 0, 0, 0
	for i := range claim.Lines {
		claim.TotalChargeCents += claim.Lines[i].ChargeCents
		sum.TotalUnits += claim.Lines[i].Units
	}
	sum.TotalChargeCents = claim.TotalChargeCents
	return nil
}
