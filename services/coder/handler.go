package coder

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// Schema is the coder's own Postgres schema.
const Schema = "coder"

// Consumer names the coder's durable consumer and its inbox.
const Consumer = "coder"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the coder's schema migrations, embedded in the binary.
func Migrations() fs.FS { return platform.MustSub(migrationFiles, "migrations") }

// Handler codes visit.recorded events inside the inbox transaction.
type Handler struct {
	Rules *billing.Rules
	// Method overrides every payer's unit method when set (tests, what-if).
	Method string
}

// PatientKey identifies a patient across visits for threshold totals: the
// EMR's patient id within its source.
func PatientKey(v *events.Visit) string { return events.NewID("patient", v.Source, v.Patient.ID) }

// EventKey groups visit.recorded events by patient under group commit:
// the threshold totals a coding updates are the patient's, so two visits of
// one patient must not commit in two concurrent transactions.
func EventKey(in events.Envelope) string {
	var head struct {
		Visit struct {
			Source  string `json:"source"`
			Patient struct {
				ID string `json:"id"`
			} `json:"patient"`
		} `json:"visit"`
	}
	if in.DecodeData(&head) != nil || head.Visit.Patient.ID == "" {
		return platform.DefaultKey(in)
	}
	return head.Visit.Source + "\x1f" + head.Visit.Patient.ID
}

// lockVisit serialises the visit's revisions even before its row exists:
// two revisions coded at once would otherwise both see no prior coding and
// both add to the threshold total.
func lockVisit(ctx context.Context, tx pgx.Tx, visitID string) error {
	if err := platform.Queue(ctx, tx, `SELECT pg_advisory_xact_lock(hashtext('coder.visit'), hashtext($1))`, visitID); err != nil {
		return fmt.Errorf("lock visit: %w", err)
	}
	return nil
}

type prior struct {
	exists        bool
	patientKey    string
	payerID       string
	year          int
	bucket        string
	allowedCents  int64
	codedRevision int
	visitRevision int
	lastEventID   string
	rulesVersion  string
}

// Handle is a platform.HandlerFunc: it runs once per visit.recorded event.
func (h *Handler) Handle(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error) {
	if in.Type != events.TypeVisitRecorded {
		return nil, nil // not ours: a consumer ignores what it does not know
	}
	var rec events.VisitRecorded
	if err := in.DecodeData(&rec); err != nil {
		return nil, err
	}
	if rec.VisitID == "" {
		return nil, fmt.Errorf("visit.recorded %s: visit_id is empty", in.ID)
	}
	if err := lockVisit(ctx, tx, rec.VisitID); err != nil {
		return nil, err
	}
	var p prior
	err := tx.QueryRow(ctx, `SELECT patient_key, payer_id, year, bucket, allowed_cents, coded_revision, visit_revision, last_event_id, rules_version
FROM coder.visits WHERE visit_id = $1 FOR UPDATE`, rec.VisitID).Scan(&p.patientKey, &p.payerID, &p.year, &p.bucket, &p.allowedCents, &p.codedRevision, &p.visitRevision, &p.lastEventID, &p.rulesVersion)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read coded visit: %w", err)
	default:
		p.exists = true
	}
	if p.exists && (rec.Revision < p.visitRevision || (rec.Revision == p.visitRevision && h.Rules.Version == p.rulesVersion)) {
		// An older revision arriving late, or the same revision again under
		// the same rules (a replay): the current coding stands.
		return nil, nil
	}

	// Take back what the previous coding added to its threshold total.
	if p.exists && p.bucket != "" && p.allowedCents != 0 {
		if err := platform.Queue(ctx, tx, `UPDATE coder.threshold_totals SET allowed_cents = allowed_cents - $5
WHERE patient_key = $1 AND payer_id = $2 AND year = $3 AND bucket = $4`, p.patientKey, p.payerID, p.year, p.bucket, p.allowedCents); err != nil {
			return nil, fmt.Errorf("reverse threshold total: %w", err)
		}
	}

	v := &rec.Visit
	patient := PatientKey(v)
	year, bucket := thresholdKey(v)
	var ytd int64
	voided := rec.Change == events.ChangeVoid || v.Status == events.VisitVoided
	if !voided && bucket != "" {
		// Read and lock the patient's total in one statement (the no-op
		// update takes the row lock), so that two visits of one patient
		// coded at once see each other.
		if err := tx.QueryRow(ctx, `INSERT INTO coder.threshold_totals AS t (patient_key, payer_id, year, bucket, allowed_cents) VALUES ($1, $2, $3, $4, 0)
ON CONFLICT (patient_key, payer_id, year, bucket) DO UPDATE SET allowed_cents = t.allowed_cents RETURNING allowed_cents`,
			patient, v.Coverage.PayerID, year, bucket).Scan(&ytd); err != nil {
			return nil, fmt.Errorf("threshold total: %w", err)
		}
	}

	coded, c := Build(rec, h.Rules, Options{Method: h.Method, YTDAllowedCents: ytd})
	coded.Revision = p.codedRevision + 1
	coded.Supersedes = p.lastEventID
	if c.Bucket == "" {
		bucket = "" // the payer applies no threshold
	}
	allowed := c.AllowedCents
	if voided {
		allowed = 0
	}
	if bucket != "" && allowed != 0 {
		if err := platform.Queue(ctx, tx, `UPDATE coder.threshold_totals SET allowed_cents = allowed_cents + $5
WHERE patient_key = $1 AND payer_id = $2 AND year = $3 AND bucket = $4`, patient, v.Coverage.PayerID, year, bucket, allowed); err != nil {
			return nil, fmt.Errorf("add threshold total: %w", err)
		}
	}

	eventID := events.NewID("coder", events.TypeVisitCoded, in.ID, h.Rules.Version)
	data, err := json.Marshal(coded)
	if err != nil {
		return nil, fmt.Errorf("encode visit.coded: %w", err)
	}
	if err := platform.Queue(ctx, tx, `INSERT INTO coder.visits (visit_id, patient_key, payer_id, year, bucket, allowed_cents, coded_revision, visit_revision,
	source_event_id, last_event_id, rules_version, voided, held, coded)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (visit_id) DO UPDATE SET patient_key = $2, payer_id = $3, year = $4, bucket = $5, allowed_cents = $6, coded_revision = $7,
	visit_revision = $8, source_event_id = $9, last_event_id = $10, rules_version = $11, voided = $12, held = $13, coded = $14, updated_at = now()`,
		rec.VisitID, patient, v.Coverage.PayerID, year, bucket, allowed, coded.Revision, rec.Revision,
		in.ID, eventID, h.Rules.Version, voided, c.Held(), data); err != nil {
		return nil, fmt.Errorf("write coded visit: %w", err)
	}

	env := events.Envelope{
		ID: eventID, Type: events.TypeVisitCoded, Source: events.SourceCoder, Subject: rec.VisitID,
		Time: in.Time, CorrelationID: rec.VisitID, CausationID: in.ID, RulesVersion: h.Rules.Version, Data: data,
	}
	return []events.Envelope{env}, nil
}

// thresholdKey is the year and bucket a visit's allowed amount counts in:
// OT alone, PT and SLP together.
func thresholdKey(v *events.Visit) (int, string) {
	year := 0
	if len(v.DateOfService) >= 4 {
		year, _ = strconv.Atoi(v.DateOfService[:4])
	}
	if v.RenderingProvider.Discipline == events.DisciplineOT {
		return year, events.ThresholdOT
	}
	return year, events.ThresholdPTSLP
}
