package submitter

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// Schema is the submitter's own Postgres schema.
const Schema = "submitter"

// Consumer names the submitter's durable consumer and its inbox.
const Consumer = "submitter"

// Claim statuses.
const (
	StatusHeld      = "held"
	StatusReady     = "ready"
	StatusBatched   = "batched"
	StatusSubmitted = "submitted"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the submitter's schema migrations, embedded in the binary.
func Migrations() fs.FS { return platform.MustSub(migrationFiles, "migrations") }

// ClaimID is the submitter's id for a visit's claim, stable across codings
// and submissions.
func ClaimID(visitID string) string { return events.NewID("claim", visitID) }

// Handler builds and scrubs a claim for each visit.coded.
type Handler struct {
	Rules *billing.Rules
}

// Handle is a platform.HandlerFunc: it runs once per visit.coded event.
func (h *Handler) Handle(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
	if in.Type != events.TypeVisitCoded {
		return nil, nil
	}
	var coded events.VisitCoded
	if err := in.DecodeData(&coded); err != nil {
		return nil, err
	}
	if coded.VisitID == "" || coded.Revision < 1 {
		return nil, fmt.Errorf("visit.coded %s: visit_id or revision missing", in.ID)
	}
	claimID := ClaimID(coded.VisitID)
	if err := lockClaim(ctx, tx, claimID); err != nil {
		return nil, err
	}
	submission, prevRevision, prevStatus := 1, 0, ""
	err := tx.QueryRow(ctx, `SELECT submission, coded_revision, status FROM submitter.claims WHERE claim_id = $1 FOR UPDATE`, claimID).Scan(&submission, &prevRevision, &prevStatus)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read claim: %w", err)
	}
	if prevRevision >= coded.Revision {
		return nil, nil // a late or repeated coding: the claim already reflects a newer one
	}

	control := ControlNumber(coded.VisitID, submission)
	submitted, err := submittedLines(ctx, tx, claimID, coded.Visit.Coverage.PayerID, coded.Visit.Coverage.MemberID)
	if err != nil {
		return nil, err
	}
	edits, claim := h.scrub(&coded, control, submission, in, submitted)
	if prevStatus == StatusBatched || prevStatus == StatusSubmitted {
		// The claim is on its way to the payer: a new coding is a corrected
		// claim for a biller to send, never a silent second original.
		edits = append(edits, events.Edit{Code: "claim.corrected_claim_needed", Severity: events.SeverityError,
			Message: "the visit was coded again after its claim was sent; the payer has the earlier version",
			Fix:     "review the new coding and send a replacement claim (frequency 7) once the payer's claim number is known"})
		return h.heldOnly(ctx, tx, in, claimID, &coded, control, edits)
	}
	status := events.ScrubPassed
	claimStatus := StatusReady
	for _, e := range edits {
		if e.Severity == events.SeverityError {
			status, claimStatus = events.ScrubHeld, StatusHeld
			break
		}
	}
	claimJSON, err := json.Marshal(claim)
	if err != nil {
		return nil, fmt.Errorf("encode claim: %w", err)
	}
	editsJSON, err := json.Marshal(edits)
	if err != nil {
		return nil, fmt.Errorf("encode edits: %w", err)
	}
	summaryJSON, err := json.Marshal(Summary(&coded, claimID, control, submission))
	if err != nil {
		return nil, fmt.Errorf("encode summary: %w", err)
	}
	if err := platform.Queue(ctx, tx, `INSERT INTO submitter.claims (claim_id, visit_id, payer_id, submission, control_number, status, coded_event_id, coded_revision, claim, summary, edits)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (claim_id) DO UPDATE SET payer_id = $3, submission = $4, control_number = $5, status = $6, coded_event_id = $7,
	coded_revision = $8, claim = $9, summary = $10, edits = $11, updated_at = now()`,
		claimID, coded.VisitID, coded.Visit.Coverage.PayerID, submission, control, claimStatus, in.ID, coded.Revision, claimJSON, summaryJSON, editsJSON); err != nil {
		return nil, fmt.Errorf("write claim: %w", err)
	}
	return scrubbedEvent(in, claimID, coded.VisitID, control, status, edits, h.Rules.Version)
}

// heldOnly announces edits on a claim that is already on its way, without
// touching what was sent.
func (h *Handler) heldOnly(ctx context.Context, tx pgx.Tx, in events.Envelope, claimID string, coded *events.VisitCoded, control string, edits []events.Edit) ([]events.Envelope, error) {
	if err := platform.Queue(ctx, tx, `UPDATE submitter.claims SET coded_event_id = $2, coded_revision = $3, updated_at = now() WHERE claim_id = $1`,
		claimID, in.ID, coded.Revision); err != nil {
		return nil, fmt.Errorf("write claim: %w", err)
	}
	return scrubbedEvent(in, claimID, coded.VisitID, control, events.ScrubHeld, edits, h.Rules.Version)
}

// scrubbedEvent announces a build of the claim, caused by in.
func scrubbedEvent(in events.Envelope, claimID, visitID, control, status string, edits []events.Edit, rulesVersion string) ([]events.Envelope, error) {
	env, err := events.New(events.NewID("submitter", events.TypeClaimScrubbed, in.ID), events.TypeClaimScrubbed, events.SourceSubmitter, claimID, in.Time,
		events.ClaimScrubbed{ClaimID: claimID, VisitID: visitID, ControlNumber: control, Status: status, Edits: edits})
	if err != nil {
		return nil, err
	}
	env.CorrelationID, env.CausationID, env.RulesVersion = visitID, in.ID, rulesVersion
	return []events.Envelope{env}, nil
}

// lockClaim serialises the work on one claim, even before its row exists:
// FOR UPDATE cannot lock a row that is not there yet.
func lockClaim(ctx context.Context, tx pgx.Tx, claimID string) error {
	if err := platform.Queue(ctx, tx, `SELECT pg_advisory_xact_lock(hashtext('submitter.claim'), hashtext($1))`, claimID); err != nil {
		return fmt.Errorf("lock claim: %w", err)
	}
	return nil
}

// scrub builds the claim and lists every edit. The day of the coding event
// stands for "today" so that a replay of the same event scrubs the same
// way; the batcher checks timely filing again when it sends.
func (h *Handler) scrub(coded *events.VisitCoded, control string, submission int, in events.Envelope, submitted []billing.SubmittedLine) ([]events.Edit, x12.Claim837) {
	if coded.Void {
		// Nothing was sent yet (sending comes later), so nothing needs
		// voiding at the payer: the claim is simply never sent.
		return []events.Edit{{Code: "claim.visit_voided", Severity: events.SeverityError,
			Message: "the EMR voided the visit: no claim will be sent",
			Fix:     "nothing to do, unless the visit was voided by mistake: then send a new revision from the EMR"}}, x12.Claim837{}
	}
	claim, err := BuildClaim(ClaimRequest{Coded: coded, Submission: submission})
	if err != nil {
		edits := append([]events.Edit(nil), coded.Issues...)
		edits = append(edits, events.Edit{Code: "claim.unbuildable", Severity: events.SeverityError,
			Message: "no claim can be made of this coded visit: " + err.Error(),
			Fix:     "correct the visit in the EMR and send an amended visit"})
		return edits, claim
	}
	edits := billing.Scrub(billing.ScrubInput{Coded: coded, ControlNumber: control, Frequency: "1", Today: in.Time, Rules: h.Rules, Submitted: submitted})
	if edits == nil {
		edits = []events.Edit{}
	}
	return edits, claim
}

// submittedLines are the lines already sent to the payer for the member on
// other claims.
func submittedLines(ctx context.Context, tx pgx.Tx, claimID, payerID, memberID string) ([]billing.SubmittedLine, error) {
	rows, err := tx.Query(ctx, `SELECT control_number, code, modifiers, units, dos FROM submitter.submitted_lines
WHERE payer_id = $1 AND member_id = $2 AND claim_id <> $3`, payerID, memberID, claimID)
	if err != nil {
		return nil, fmt.Errorf("read submitted lines: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.SubmittedLine, error) {
		var l billing.SubmittedLine
		err := r.Scan(&l.ClaimControlNumber, &l.Code, &l.Modifiers, &l.Units, &l.DateOfService)
		return l, err
	})
}
