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
	StatusHeld  = "held"
	StatusReady = "ready"
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
	// Serialise the visit's codings even before its claim row exists:
	// FOR UPDATE cannot lock a row that is not there yet.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('submitter.claim'), hashtext($1))`, claimID); err != nil {
		return nil, fmt.Errorf("lock claim: %w", err)
	}
	submission, prevRevision := 1, 0
	err := tx.QueryRow(ctx, `SELECT submission, coded_revision FROM submitter.claims WHERE claim_id = $1 FOR UPDATE`, claimID).Scan(&submission, &prevRevision)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read claim: %w", err)
	}
	if prevRevision >= coded.Revision {
		return nil, nil // a late or repeated coding: the claim already reflects a newer one
	}

	control := ControlNumber(coded.VisitID, submission)
	edits, claim := h.scrub(&coded, control, submission, in)
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
	if _, err := tx.Exec(ctx, `INSERT INTO submitter.claims (claim_id, visit_id, payer_id, submission, control_number, status, coded_event_id, coded_revision, claim, edits)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (claim_id) DO UPDATE SET payer_id = $3, submission = $4, control_number = $5, status = $6, coded_event_id = $7,
	coded_revision = $8, claim = $9, edits = $10, updated_at = now()`,
		claimID, coded.VisitID, coded.Visit.Coverage.PayerID, submission, control, claimStatus, in.ID, coded.Revision, claimJSON, editsJSON); err != nil {
		return nil, fmt.Errorf("write claim: %w", err)
	}

	env, err := events.New(events.NewID("submitter", events.TypeClaimScrubbed, in.ID), events.TypeClaimScrubbed, events.SourceSubmitter, claimID, in.Time,
		events.ClaimScrubbed{ClaimID: claimID, VisitID: coded.VisitID, ControlNumber: control, Status: status, Edits: edits})
	if err != nil {
		return nil, err
	}
	env.CorrelationID, env.CausationID, env.RulesVersion = coded.VisitID, in.ID, h.Rules.Version
	return []events.Envelope{env}, nil
}

// scrub builds the claim and lists every edit. The day of the coding event
// stands for "today" so that a replay of the same event scrubs the same
// way; the batcher checks timely filing again when it sends.
func (h *Handler) scrub(coded *events.VisitCoded, control string, submission int, in events.Envelope) ([]events.Edit, x12.Claim837) {
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
	edits := billing.Scrub(billing.ScrubInput{Coded: coded, ControlNumber: control, Frequency: "1", Today: in.Time, Rules: h.Rules})
	if edits == nil {
		edits = []events.Edit{}
	}
	return edits, claim
}
