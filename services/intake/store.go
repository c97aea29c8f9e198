package intake

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
)

// Schema is intake's own Postgres schema.
const Schema = "intake"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are intake's schema migrations, embedded in the binary.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Receipt is intake's answer for a recorded revision. The first answer is
// stored and returned again, byte for byte, for a retried delivery.
type Receipt struct {
	VisitID  string `json:"visit_id"`
	EventID  string `json:"event_id"`
	Revision int    `json:"revision"`
	Change   string `json:"change"`
	Status   string `json:"status"`
}

// ConflictError is a revision intake cannot take: a different body under a
// revision already recorded, an older revision than the latest, or a void of
// a visit never recorded. Its message names revisions, never content.
type ConflictError struct {
	Reason string
	// Unprocessable marks a conflict that is the payload's fault rather than
	// a clash with recorded state (422 rather than 409).
	Unprocessable bool
}

func (e *ConflictError) Error() string { return e.Reason }

// Store records visits in intake's schema and its outbox.
type Store struct {
	pool   *pgxpool.Pool
	outbox *platform.Outbox
}

// NewStore returns a store on an already migrated schema.
func NewStore(pool *pgxpool.Pool, outbox *platform.Outbox) *Store {
	return &Store{pool: pool, outbox: outbox}
}

// VisitID is rcm's stable id for an EMR visit: the same for every revision,
// derived so that no lookup is needed to know it.
func VisitID(source, sourceVisitID string) string {
	return events.NewID("visit", source, sourceVisitID)
}

// Record stores one revision and its visit.recorded event in one
// transaction. For a revision already recorded with the same body it returns
// the stored receipt and replayed = true, writing nothing.
func (s *Store) Record(ctx context.Context, vis *events.Visit, body []byte, webhookID string, now time.Time) (rec json.RawMessage, replayed bool, err error) {
	sum := sha256.Sum256(body)
	visitID := VisitID(vis.Source, vis.SourceVisitID)
	var recs []platform.Record
	// A concurrent first delivery of the same visit makes the head insert
	// conflict; the second attempt then sees the head and takes the
	// amendment or replay path.
	for attempt := 0; ; attempt++ {
		recs = nil
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var e error
			rec, replayed, recs, e = s.record(ctx, tx, vis, visitID, sum[:], body, webhookID, now)
			return e
		})
		var pgErr *pgconn.PgError
		if attempt < 3 && errors.As(err, &pgErr) && pgErr.Code == "23505" {
			continue
		}
		break
	}
	if err != nil {
		return nil, false, err
	}
	s.outbox.Relay(recs)
	return rec, replayed, nil
}

func (s *Store) record(ctx context.Context, tx pgx.Tx, vis *events.Visit, visitID string, sum, body []byte, webhookID string, now time.Time) (json.RawMessage, bool, []platform.Record, error) {
	change := events.ChangeNew
	supersedes := ""
	var latestRev int
	var latestEvent string
	err := tx.QueryRow(ctx, `SELECT latest_revision, latest_event_id FROM intake.visits WHERE visit_id = $1 FOR UPDATE`, visitID).Scan(&latestRev, &latestEvent)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if vis.Status == events.VisitVoided {
			return nil, false, nil, &ConflictError{Reason: "a void must follow a recorded revision of the visit; none is recorded", Unprocessable: true}
		}
	case err != nil:
		return nil, false, nil, fmt.Errorf("read visit head: %w", err)
	default:
		var storedSum []byte
		var stored json.RawMessage
		err := tx.QueryRow(ctx, `SELECT body_sha256, response FROM intake.revisions WHERE visit_id = $1 AND revision = $2`, visitID, vis.Revision).Scan(&storedSum, &stored)
		switch {
		case err == nil:
			if string(storedSum) != string(sum) {
				return nil, false, nil, &ConflictError{Reason: "revision " + strconv.Itoa(vis.Revision) + " is already recorded with a different body; send a higher revision to amend"}
			}
			return stored, true, nil, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, false, nil, fmt.Errorf("read revision: %w", err)
		}
		if vis.Revision < latestRev {
			return nil, false, nil, &ConflictError{Reason: fmt.Sprintf("revision %d is older than the recorded revision %d", vis.Revision, latestRev)}
		}
		change, supersedes = events.ChangeAmendment, latestEvent
		if vis.Status == events.VisitVoided {
			change = events.ChangeVoid
		}
	}

	eventID := events.NewID("intake", events.TypeVisitRecorded, visitID, strconv.Itoa(vis.Revision))
	data := events.VisitRecorded{
		VisitID: visitID, Revision: vis.Revision, Change: change, Supersedes: supersedes,
		WebhookID: webhookID, ReceivedAt: now.UTC().Format(time.RFC3339Nano), Visit: *vis,
	}
	env, err := events.New(eventID, events.TypeVisitRecorded, events.SourceIntake, visitID, now, data)
	if err != nil {
		return nil, false, nil, err
	}
	env.CorrelationID = visitID
	receipt, err := json.Marshal(Receipt{VisitID: visitID, EventID: eventID, Revision: vis.Revision, Change: change, Status: "accepted"})
	if err != nil {
		return nil, false, nil, err
	}
	status := vis.Status
	if status == "" {
		status = events.VisitSigned
	}
	if change == events.ChangeNew {
		_, err = tx.Exec(ctx, `INSERT INTO intake.visits (visit_id, source, source_visit_id, latest_revision, latest_event_id, status) VALUES ($1, $2, $3, $4, $5, $6)`,
			visitID, vis.Source, vis.SourceVisitID, vis.Revision, eventID, status)
	} else {
		_, err = tx.Exec(ctx, `UPDATE intake.visits SET latest_revision = $2, latest_event_id = $3, status = $4, updated_at = now() WHERE visit_id = $1`,
			visitID, vis.Revision, eventID, status)
	}
	if err != nil {
		return nil, false, nil, fmt.Errorf("write visit head: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO intake.revisions (visit_id, revision, body_sha256, body, webhook_id, event_id, change, response) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		visitID, vis.Revision, sum, body, webhookID, eventID, change, receipt); err != nil {
		return nil, false, nil, fmt.Errorf("write revision: %w", err)
	}
	recs, err := s.outbox.Add(ctx, tx, env)
	if err != nil {
		return nil, false, nil, err
	}
	return receipt, false, recs, nil
}
