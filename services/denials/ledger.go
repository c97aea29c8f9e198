package denials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// Ledger keeps the claim ledger and each claim's timeline from the coder's
// and the submitter's events. It is a platform.HandlerFunc source: each
// event is handled once, in the inbox's transaction.
type Ledger struct{}

// Handle records one upstream event. Its writes need no answer, so they
// are queued (platform.Queue): a group-committed batch of events sends
// them in one round trip.
func (Ledger) Handle(ctx context.Context, raw pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
	tx := queued{raw}
	switch in.Type {
	case events.TypeVisitCoded:
		var d codedForTimeline
		if err := in.DecodeData(&d); err != nil {
			return nil, err
		}
		return nil, addTimeline(ctx, tx, in, d.VisitID, "", codedSummary(&d.VisitCoded), codedDetail(&d.VisitCoded))
	case events.TypeClaimScrubbed:
		var d events.ClaimScrubbed
		if err := in.DecodeData(&d); err != nil {
			return nil, err
		}
		return nil, scrubbed(ctx, tx, in, &d)
	case events.TypeClaimSubmitted:
		var d events.ClaimSubmitted
		if err := in.DecodeData(&d); err != nil {
			return nil, err
		}
		return nil, submitted(ctx, tx, in, &d)
	case events.TypeClaimAcknowledged:
		var d events.ClaimAcknowledged
		if err := in.DecodeData(&d); err != nil {
			return nil, err
		}
		return nil, acknowledged(ctx, tx, in, &d)
	}
	return nil, nil
}

// codedForTimeline is visit.coded without its visit, which is most of the
// event and all of its PHI: the timeline keeps none of it, so it is left
// undecoded (this field shadows the embedded one).
type codedForTimeline struct {
	events.VisitCoded
	Visit json.RawMessage `json:"visit"`
}

// timelineInsert adds a timeline row; its arguments are in the column
// order of the COPY that setWrites turns it into.
const timelineInsert = `INSERT INTO denials.timeline (event_id, visit_id, claim_id, at, kind, summary, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`

// addTimeline records one entry of a visit's history; the event id keys it,
// so a replay adds nothing.
func addTimeline(ctx context.Context, tx execer, in events.Envelope, visitID, claimID, summary string, detail any) error {
	raw, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("timeline detail: %w", err)
	}
	if _, err := tx.Exec(ctx, timelineInsert, in.ID, visitID, claimID, in.Time, in.Type, summary, raw); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return nil
}

func codedSummary(d *events.VisitCoded) string {
	if d.Void {
		return fmt.Sprintf("visit voided (coding revision %d)", d.Revision)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "coded (revision %d, %s method, rules %s): ", d.Revision, strings.ToUpper(d.UnitMethod), d.RulesVersion)
	for i, l := range d.Lines {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(lineWords(l.Code, l.Units, l.Modifiers))
	}
	if len(d.Lines) == 0 {
		b.WriteString("no billable lines")
	}
	fmt.Fprintf(&b, "; charge %s", billing.Dollars(d.ChargeCents))
	return b.String()
}

// lineWords is a line as billers write it: 97530×2 GO KX.
func lineWords(code string, units int, mods []string) string {
	s := code + "×" + strconv.Itoa(units)
	if len(mods) > 0 {
		s += " " + strings.Join(mods, " ")
	}
	return s
}

// codedDetail keeps what explains the coding and leaves the visit's PHI
// (names, member id, diagnoses) out of the timeline.
func codedDetail(d *events.VisitCoded) any {
	return struct {
		Revision     int                  `json:"revision"`
		RulesVersion string               `json:"rules_version"`
		UnitMethod   string               `json:"unit_method"`
		TimedMinutes int                  `json:"total_timed_minutes"`
		TimedUnits   int                  `json:"total_timed_units"`
		Lines        []events.CodedLine   `json:"lines"`
		Issues       []events.Edit        `json:"issues,omitempty"`
		Explanations []events.Explanation `json:"explanations,omitempty"`
	}{d.Revision, d.RulesVersion, d.UnitMethod, d.TotalTimedMinutes, d.TotalTimedUnits, d.Lines, d.Issues, d.Explanations}
}

// queued is the ledger's execer.
type queued struct{ pgx.Tx }

func (q queued) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, platform.Queue(ctx, q.Tx, sql, args...)
}

func scrubbed(ctx context.Context, tx queued, in events.Envelope, d *events.ClaimScrubbed) error {
	edits, err := json.Marshal(d.Edits)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO denials.claims (claim_id, visit_id, control_number, scrub_status, scrub_count, first_scrub, edits)
VALUES ($1, $2, $3, $4, 1, $4, $5)
ON CONFLICT (claim_id) DO UPDATE SET scrub_status = $4, scrub_count = denials.claims.scrub_count + 1,
	first_scrub = CASE WHEN denials.claims.first_scrub = '' THEN $4 ELSE denials.claims.first_scrub END,
	edits = $5, updated_at = now()`, d.ClaimID, d.VisitID, d.ControlNumber, d.Status, edits); err != nil {
		return fmt.Errorf("scrubbed claim: %w", err)
	}
	summary := "scrubbed: passed"
	if d.Status == events.ScrubHeld {
		summary = "scrubbed: held"
	}
	if n := len(d.Edits); n > 0 {
		codes := make([]string, 0, n)
		for _, e := range d.Edits {
			codes = append(codes, e.Code)
		}
		summary += " (" + strings.Join(codes, ", ") + ")"
	}
	return addTimeline(ctx, tx, in, d.VisitID, d.ClaimID, summary, d.Edits)
}

func submitted(ctx context.Context, tx queued, in events.Envelope, d *events.ClaimSubmitted) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO denials.submissions (control_number, claim_id, submission, frequency, event_id, data, submitted_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, d.ControlNumber, d.ClaimID, d.Submission, d.Frequency, in.ID, raw, in.Time); err != nil {
		return fmt.Errorf("submission: %w", err)
	}
	var dos *string
	if len(d.Lines) > 0 && d.Lines[0].DateOfService != "" {
		dos = &d.Lines[0].DateOfService
	}
	// A submission older than the one recorded (events handled out of
	// order) updates nothing but its own row.
	if _, err := tx.Exec(ctx, `INSERT INTO denials.claims (claim_id, visit_id, patient_id, payer_id, payer_name, date_of_service, control_number, submission,
	charge_cents, scrub_status, first_submitted_at, submitted_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'passed', $10, $10)
ON CONFLICT (claim_id) DO UPDATE SET patient_id = $3, payer_id = $4, payer_name = $5, date_of_service = $6, control_number = $7,
	submission = $8, charge_cents = $9, scrub_status = 'passed', ack_status = '', submitted_at = $10,
	first_submitted_at = coalesce(denials.claims.first_submitted_at, $10), updated_at = now()
WHERE denials.claims.submission < $8`,
		d.ClaimID, d.VisitID, d.Patient.ID, d.PayerID, d.PayerName, dos, d.ControlNumber, d.Submission, d.TotalChargeCents, in.Time); err != nil {
		return fmt.Errorf("submitted claim: %w", err)
	}
	kind := "original"
	switch d.Frequency {
	case events.FrequencyReplacement:
		kind = "replacement (frequency 7, REF*F8 " + d.OriginalReference + ")"
	case events.FrequencyVoid:
		kind = "void (frequency 8, REF*F8 " + d.OriginalReference + ")"
	}
	lines := make([]string, 0, len(d.Lines))
	for _, l := range d.Lines {
		lines = append(lines, lineWords(l.Code, l.Units, l.Modifiers))
	}
	summary := fmt.Sprintf("submitted %s as %s, submission %d, in 837P %s: %s; charge %s",
		d.ControlNumber, kind, d.Submission, d.FileName, strings.Join(lines, ", "), billing.Dollars(d.TotalChargeCents))
	return addTimeline(ctx, tx, in, d.VisitID, d.ClaimID, summary, struct {
		ControlNumber string             `json:"control_number"`
		Submission    int                `json:"submission"`
		Frequency     string             `json:"frequency"`
		FileName      string             `json:"file_name"`
		BatchID       string             `json:"batch_id"`
		Lines         []events.ClaimLine `json:"lines"`
	}{d.ControlNumber, d.Submission, d.Frequency, d.FileName, d.BatchID, d.Lines})
}

func acknowledged(ctx context.Context, tx queued, in events.Envelope, d *events.ClaimAcknowledged) error {
	// The first submission's final word (the 277CA, or a rejecting 999)
	// decides first-pass acceptance.
	final := d.Source == events.Ack277CA || d.Status == events.AckRejected
	const update = `UPDATE denials.claims SET ack_status = $3,
	first_ack = CASE WHEN $4 AND $2 = 1 AND first_ack = '' THEN $3 ELSE first_ack END,
	payer_claim_control_number = CASE WHEN $5 <> '' THEN $5 ELSE payer_claim_control_number END, updated_at = now()
WHERE claim_id = $1 AND submission <= $2`
	// The submitter correlates acknowledgements by visit, so the claim's
	// visit need not be read back.
	visitID := in.CorrelationID
	var err error
	if visitID != "" {
		_, err = tx.Exec(ctx, update, d.ClaimID, d.Submission, d.Status, final, d.PayerClaimControlNumber)
	} else {
		err = tx.Tx.QueryRow(ctx, update+" RETURNING visit_id", d.ClaimID, d.Submission, d.Status, final, d.PayerClaimControlNumber).Scan(&visitID)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("acknowledged claim: %w", err)
	}
	summary := fmt.Sprintf("%s %s submission %d: %s", d.Source, d.Status, d.Submission, d.Reason)
	return addTimeline(ctx, tx, in, visitID, d.ClaimID, summary, d.Codes)
}
