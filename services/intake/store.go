package intake

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"sync"
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
func Migrations() fs.FS { return platform.MustSub(migrationFiles, "migrations") }

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

// VisitID is rcm's stable id for an EMR visit: the same for every revision,
// derived so that no lookup is needed to know it.
func VisitID(source, sourceVisitID string) string {
	return events.NewID("visit", source, sourceVisitID)
}

// StoreConfig tunes the group commit. Zero values take the defaults.
type StoreConfig struct {
	// MaxBatch bounds the visits committed together (default 128).
	MaxBatch int
	// Committers is how many batches may be in flight at once (default 4):
	// while one waits for its commit to reach disk the others fill up.
	Committers int
}

// Store records visits in intake's schema and its outbox.
//
// Requests are committed in groups: whatever requests are waiting when a
// committer is free go into one transaction. Each request still gets its own
// outcome, but the fsync and the round trips are shared, which is where
// per-request transactions spend their time.
type Store struct {
	pool   *pgxpool.Pool
	outbox *platform.Outbox
	cfg    StoreConfig
	queue  chan *request
}

type request struct {
	vis       *events.Visit
	visitID   string
	sum       []byte
	body      []byte
	webhookID string
	now       time.Time
	done      chan outcome
}

type outcome struct {
	receipt  json.RawMessage
	replayed bool
	err      error
}

// NewStore returns a store on an already migrated schema. Run must be
// running for Record to make progress.
func NewStore(pool *pgxpool.Pool, outbox *platform.Outbox, cfg StoreConfig) *Store {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 128
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 4
	}
	return &Store{pool: pool, outbox: outbox, cfg: cfg, queue: make(chan *request, cfg.MaxBatch*cfg.Committers)}
}

// Run commits queued requests until ctx ends. Requests still queued then are
// answered with an error; none is half written.
func (s *Store) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.cfg.Committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var first *request
				select {
				case <-ctx.Done():
					return
				case first = <-s.queue:
				}
				batch := []*request{first}
				for more := true; more && len(batch) < s.cfg.MaxBatch; {
					select {
					case r := <-s.queue:
						batch = append(batch, r)
					default:
						more = false
					}
				}
				s.commit(context.WithoutCancel(ctx), batch)
			}
		}()
	}
	wg.Wait()
	for {
		select {
		case r := <-s.queue:
			r.done <- outcome{err: errors.New("intake is shutting down")}
		default:
			return
		}
	}
}

// Record stores one revision and its visit.recorded event, durably, before it
// returns. For a revision already recorded with the same body it returns the
// stored receipt and replayed = true, writing nothing.
func (s *Store) Record(ctx context.Context, vis *events.Visit, body []byte, webhookID string, now time.Time) (json.RawMessage, bool, error) {
	sum := sha256.Sum256(body)
	r := &request{vis: vis, visitID: VisitID(vis.Source, vis.SourceVisitID), sum: sum[:], body: body,
		webhookID: webhookID, now: now, done: make(chan outcome, 1)}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	// Once queued the request is committed or failed whatever the caller
	// does, so wait for the outcome rather than ctx: an answer after a
	// commit must not be lost.
	o := <-r.done
	return o.receipt, o.replayed, o.err
}

// errRetry means a concurrent batch created a visit this batch thought new.
var errRetry = errors.New("concurrent first revision; retry")

func (s *Store) commit(ctx context.Context, batch []*request) {
	var outs []outcome
	var recs []platform.Record
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var e error
			outs, recs, e = s.write(ctx, tx, batch)
			return e
		})
		var pgErr *pgconn.PgError
		if errors.Is(err, errRetry) || (errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "40P01")) {
			continue
		}
		break
	}
	if err != nil {
		for _, r := range batch {
			r.done <- outcome{err: fmt.Errorf("record visits: %w", err)}
		}
		return
	}
	s.outbox.Relay(recs)
	for i, r := range batch {
		r.done <- outs[i]
	}
}

// head is the recorded state of one visit.
type head struct {
	exists    bool
	revision  int
	eventID   string
	status    string
	created   bool // by this batch
	revisions map[int]storedRevision
}

type storedRevision struct {
	sum      []byte
	response json.RawMessage
}

// write decides every request of the batch against recorded state (and the
// requests before it in the batch), then writes the accepted ones with a few
// set-based statements.
func (s *Store) write(ctx context.Context, tx pgx.Tx, batch []*request) ([]outcome, []platform.Record, error) {
	heads, err := s.readHeads(ctx, tx, batch)
	if err != nil {
		return nil, nil, err
	}
	outs := make([]outcome, len(batch))
	var (
		newHeads, updHeads []string
		envs               []events.Envelope
		revVisit           []string
		revNum             []int32
		revSum, revBody    [][]byte
		revWebhook         []string
		revEvent, revChg   []string
		revResp            [][]byte
	)
	for i, r := range batch {
		h := heads[r.visitID]
		if stored, ok := h.revisions[r.vis.Revision]; ok {
			if string(stored.sum) != string(r.sum) {
				outs[i].err = &ConflictError{Reason: "revision " + strconv.Itoa(r.vis.Revision) + " is already recorded with a different body; send a higher revision to amend"}
				continue
			}
			outs[i] = outcome{receipt: stored.response, replayed: true}
			continue
		}
		change, supersedes, cerr := decide(h, r.vis)
		if cerr != nil {
			outs[i].err = cerr
			continue
		}
		env, receipt, err := recordedEvent(r, change, supersedes)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case !h.exists:
			h.exists, h.created = true, true
			newHeads = append(newHeads, r.visitID)
		case !h.created && !slices.Contains(updHeads, r.visitID):
			updHeads = append(updHeads, r.visitID)
		}
		h.revision, h.eventID, h.status = r.vis.Revision, env.ID, statusOf(r.vis)
		h.revisions[r.vis.Revision] = storedRevision{sum: r.sum, response: receipt}
		envs = append(envs, env)
		revVisit = append(revVisit, r.visitID)
		revNum = append(revNum, int32(r.vis.Revision))
		revSum = append(revSum, r.sum)
		revBody = append(revBody, r.body)
		revWebhook = append(revWebhook, r.webhookID)
		revEvent = append(revEvent, env.ID)
		revChg = append(revChg, change)
		revResp = append(revResp, receipt)
		outs[i] = outcome{receipt: receipt}
	}
	if len(envs) == 0 {
		return outs, nil, nil
	}

	// Heads as they stand after the batch.
	headCols := func(ids []string) (src, svid []string, rev []int32, ev, st []string) {
		for _, id := range ids {
			h := heads[id]
			for _, r := range batch {
				if r.visitID == id {
					src, svid = append(src, r.vis.Source), append(svid, r.vis.SourceVisitID)
					break
				}
			}
			rev, ev, st = append(rev, int32(h.revision)), append(ev, h.eventID), append(st, h.status)
		}
		return
	}
	if len(newHeads) > 0 {
		src, svid, rev, ev, st := headCols(newHeads)
		tag, err := tx.Exec(ctx, `INSERT INTO intake.visits (visit_id, source, source_visit_id, latest_revision, latest_event_id, status)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[]) ON CONFLICT (visit_id) DO NOTHING`,
			newHeads, src, svid, rev, ev, st)
		if err != nil {
			return nil, nil, fmt.Errorf("write visit heads: %w", err)
		}
		if tag.RowsAffected() != int64(len(newHeads)) {
			return nil, nil, errRetry
		}
	}
	if len(updHeads) > 0 {
		_, _, rev, ev, st := headCols(updHeads)
		if _, err := tx.Exec(ctx, `UPDATE intake.visits v SET latest_revision = u.rev, latest_event_id = u.ev, status = u.st, updated_at = now()
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS u(id, rev, ev, st) WHERE v.visit_id = u.id`,
			updHeads, rev, ev, st); err != nil {
			return nil, nil, fmt.Errorf("update visit heads: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO intake.revisions (visit_id, revision, body_sha256, body, webhook_id, event_id, change, response)
SELECT * FROM unnest($1::text[], $2::int[], $3::bytea[], $4::bytea[], $5::text[], $6::text[], $7::text[], $8::bytea[])`,
		revVisit, revNum, revSum, revBody, revWebhook, revEvent, revChg, revResp); err != nil {
		return nil, nil, fmt.Errorf("write revisions: %w", err)
	}
	recs, err := s.outbox.Add(ctx, tx, envs...)
	if err != nil {
		return nil, nil, err
	}
	return outs, recs, nil
}

// readHeads locks the heads of the batch's visits that exist, in id order so
// that concurrent batches cannot deadlock, and reads the revisions the batch
// asks about.
func (s *Store) readHeads(ctx context.Context, tx pgx.Tx, batch []*request) (map[string]*head, error) {
	heads := make(map[string]*head, len(batch))
	ids := make([]string, 0, len(batch))
	for _, r := range batch {
		if heads[r.visitID] == nil {
			heads[r.visitID] = &head{revisions: map[int]storedRevision{}}
			ids = append(ids, r.visitID)
		}
	}
	rows, err := tx.Query(ctx, `SELECT visit_id, latest_revision, latest_event_id, status FROM intake.visits
WHERE visit_id = ANY($1) ORDER BY visit_id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("read visit heads: %w", err)
	}
	var existing []string
	for rows.Next() {
		var id string
		var h head
		if err := rows.Scan(&id, &h.revision, &h.eventID, &h.status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read visit heads: %w", err)
		}
		h.exists, h.revisions = true, map[int]storedRevision{}
		heads[id] = &h
		existing = append(existing, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read visit heads: %w", err)
	}
	if len(existing) == 0 {
		return heads, nil
	}
	var qv []string
	var qr []int32
	for _, r := range batch {
		if heads[r.visitID].exists {
			qv, qr = append(qv, r.visitID), append(qr, int32(r.vis.Revision))
		}
	}
	rows, err = tx.Query(ctx, `SELECT r.visit_id, r.revision, r.body_sha256, r.response FROM intake.revisions r
JOIN unnest($1::text[], $2::int[]) AS q(v, rev) ON r.visit_id = q.v AND r.revision = q.rev`, qv, qr)
	if err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rev int
		var sr storedRevision
		if err := rows.Scan(&id, &rev, &sr.sum, &sr.response); err != nil {
			return nil, fmt.Errorf("read revisions: %w", err)
		}
		heads[id].revisions[rev] = sr
	}
	return heads, rows.Err()
}

// decide says what a new revision is to a visit in state h: the first
// revision, an amendment or a void, or a conflict. A signed revision after a
// void is an amendment: EMRs reopen voided visits, and downstream treats it
// as the visit's current state like any amendment.
func decide(h *head, vis *events.Visit) (change, supersedes string, err error) {
	if !h.exists {
		if vis.Status == events.VisitVoided {
			return "", "", &ConflictError{Reason: "a void must follow a recorded revision of the visit; none is recorded", Unprocessable: true}
		}
		return events.ChangeNew, "", nil
	}
	if vis.Revision < h.revision {
		return "", "", &ConflictError{Reason: fmt.Sprintf("revision %d is older than the recorded revision %d", vis.Revision, h.revision)}
	}
	if vis.Status == events.VisitVoided {
		return events.ChangeVoid, h.eventID, nil
	}
	return events.ChangeAmendment, h.eventID, nil
}

func statusOf(v *events.Visit) string {
	if v.Status == "" {
		return events.VisitSigned
	}
	return v.Status
}

// recordedEvent builds the visit.recorded event and the receipt of r. The
// event id is derived from the visit and revision, so that however a
// revision reaches the outbox, JetStream keeps it once.
func recordedEvent(r *request, change, supersedes string) (events.Envelope, json.RawMessage, error) {
	eventID := events.NewID("intake", events.TypeVisitRecorded, r.visitID, strconv.Itoa(r.vis.Revision))
	data := events.VisitRecorded{
		VisitID: r.visitID, Revision: r.vis.Revision, Change: change, Supersedes: supersedes,
		WebhookID: r.webhookID, ReceivedAt: r.now.UTC().Format(time.RFC3339Nano), Visit: *r.vis,
	}
	env, err := events.New(eventID, events.TypeVisitRecorded, events.SourceIntake, r.visitID, r.now, data)
	if err != nil {
		return events.Envelope{}, nil, err
	}
	env.CorrelationID = r.visitID
	receipt, err := json.Marshal(Receipt{VisitID: r.visitID, EventID: eventID, Revision: r.vis.Revision, Change: change, Status: "accepted"})
	if err != nil {
		return events.Envelope{}, nil, err
	}
	return env, receipt, nil
}
