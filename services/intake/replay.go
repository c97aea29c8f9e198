package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
)

// StreamSkew is how much earlier than a revision's received_at the intake
// stream is read from when looking for its event: the stream stamps events
// with the NATS server's clock, received_at is Postgres's.
const StreamSkew = 5 * time.Minute

// Replay checks that every visit revision intake recorded in a time range
// is in the INTAKE stream, and publishes again, through intake's outbox,
// those the stream lacks: the stream was lost or restored from an older
// backup, or its messages aged out. Intake's input is HTTP, which cannot be
// replayed; its own record of what it accepted (intake.revisions, and the
// outbox rows of the last 30 days) is the history it replays from.
//
// Intake decides nothing by rules, so there is nothing to recompute: when
// the stream is complete a replay publishes nothing. A republished event
// keeps its id, so the coder's inbox skips it if the coder had it before.
type Replay struct {
	Pool   *pgxpool.Pool
	JS     jetstream.JetStream
	DryRun bool
	// Out gets a line per missing revision and the summary: visit ids and
	// revision numbers, never the visit.
	Out io.Writer
}

// ReplaySummary counts what a replay did.
type ReplaySummary struct {
	// Revisions recorded in the range, InStream of them found in INTAKE.
	Revisions, InStream int
	// Missing from the stream; Rebuilt of them from the stored body because
	// their outbox row was pruned.
	Missing, Rebuilt int
	Published        platform.Published
}

// replayRevision is a revision intake recorded, as a replay looks it up.
type replayRevision struct {
	visitID, eventID string
	revision         int
}

// Run replays the revisions intake received within rng (by time only).
func (r *Replay) Run(ctx context.Context, rng platform.ReplayRange) (ReplaySummary, error) {
	var sum ReplaySummary
	if rng.FromSeq > 0 || rng.ToSeq > 0 {
		return sum, errors.New("intake replay: intake's input is HTTP, not a stream: replay it by time (when intake received the visits)")
	}
	if err := rng.Validate(); err != nil {
		return sum, err
	}
	if r.Out == nil {
		r.Out = io.Discard
	}
	outbox, err := platform.OpenReplay(ctx, r.Pool, r.JS, Schema, "intake", r.DryRun)
	if err != nil {
		return sum, err
	}
	w := &platform.Report{W: r.Out}

	// What the stream holds: ids only, from a little before the range (the
	// clocks differ) to its end (an event is published after its commit).
	inStream := map[string]bool{}
	from := platform.ReplayRange{}
	if !rng.Since.IsZero() {
		from.Since = rng.Since.Add(-StreamSkew)
	}
	if _, err := platform.ReadStream(ctx, r.JS, events.StreamIntake, from, platform.ReadOptions{Subjects: []string{events.SubjectVisitRecorded}, HeadersOnly: true, Batch: 5000},
		func(msgs []platform.StreamMsg) error {
			for _, m := range msgs {
				inStream[m.MsgID] = true
			}
			return nil
		}); err != nil {
		return sum, err
	}

	rows, err := r.Pool.Query(ctx, `SELECT visit_id, revision, event_id FROM intake.revisions
WHERE ($1::timestamptz IS NULL OR received_at >= $1) AND ($2::timestamptz IS NULL OR received_at < $2) ORDER BY received_at, visit_id, revision`,
		nullTime(rng.Since), nullTime(rng.Until))
	if err != nil {
		return sum, fmt.Errorf("intake replay: read revisions: %w", err)
	}
	revs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (replayRevision, error) {
		var s replayRevision
		err := row.Scan(&s.visitID, &s.revision, &s.eventID)
		return s, err
	})
	if err != nil {
		return sum, fmt.Errorf("intake replay: read revisions: %w", err)
	}
	sum.Revisions = len(revs)
	var missing []replayRevision
	for _, s := range revs {
		if inStream[s.eventID] {
			sum.InStream++
		} else {
			missing = append(missing, s)
		}
	}
	sum.Missing = len(missing)

	for len(missing) > 0 && err == nil {
		n := min(len(missing), 500)
		chunk := missing[:n]
		missing = missing[n:]
		var envs []events.Envelope
		var rebuilt []bool
		envs, rebuilt, err = r.envelopes(ctx, chunk)
		if err != nil {
			break
		}
		for i := range envs {
			how := "from its outbox row"
			if rebuilt[i] {
				sum.Rebuilt++
				how = "rebuilt from the stored body (its outbox row was pruned)"
			}
			verb := "republished"
			if r.DryRun {
				verb = "would republish"
			}
			w.Printf("visit %s revision %d: missing from %s; %s %s\n", chunk[i].visitID, chunk[i].revision, events.StreamIntake, verb, how)
		}
		if r.DryRun {
			continue
		}
		var recs []platform.Record
		err = pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
			var err error
			recs, err = outbox.AddPending(ctx, tx, envs...)
			return err
		})
		if err != nil {
			err = fmt.Errorf("intake replay: outbox: %w", err)
			break
		}
		var p platform.Published
		p, err = outbox.PublishNow(ctx, recs)
		sum.Published.Add(p)
		if err != nil {
			err = fmt.Errorf("intake replay: publish (intake's outbox sweeper will retry): %w", err)
		}
	}

	w.Printf("intake replay of the revisions intake received")
	if !rng.Since.IsZero() {
		w.Printf(" from %s", rng.Since.UTC().Format(time.RFC3339))
	}
	if !rng.Until.IsZero() {
		w.Printf(" until %s", rng.Until.UTC().Format(time.RFC3339))
	}
	if r.DryRun {
		w.Printf(" (dry run)")
	}
	w.Printf(":\n  %d revisions recorded, %d in %s, %d missing from it\n", sum.Revisions, sum.InStream, events.StreamIntake, sum.Missing)
	if !w.Stopped(err, r.DryRun) {
		if sum.Missing == 0 {
			w.Printf("  0 changed: the stream is complete; nothing published\n")
		} else {
			w.Printf("  republished %d visit.recorded", sum.Published.Stored)
			if sum.Published.Duplicates > 0 {
				w.Printf("; %d dropped by JetStream as repeats of ids it saw within its de-duplication window: they left the stream less than that ago; run again once the window has passed", sum.Published.Duplicates)
			}
			w.Printf("\n  the coder codes those it never had; its inbox skips the others\n")
		}
	}
	w.Printf("  rules play no part: intake decides nothing by them\n")
	return sum, w.Done(err)
}

// envelopes returns the visit.recorded of each revision: the outbox's copy
// byte for byte when it is still kept, else one rebuilt from the stored
// body with the same id, revision, change and predecessor.
func (r *Replay) envelopes(ctx context.Context, revs []replayRevision) ([]events.Envelope, []bool, error) {
	ids := make([]string, len(revs))
	for i, s := range revs {
		ids[i] = s.eventID
	}
	rows, err := r.Pool.Query(ctx, `SELECT r.event_id, o.payload, r.body, r.change, r.webhook_id, r.received_at,
	(SELECT p.event_id FROM intake.revisions p WHERE p.visit_id = r.visit_id AND p.revision < r.revision ORDER BY p.revision DESC LIMIT 1)
FROM intake.revisions r LEFT JOIN intake.outbox o ON o.event_id = r.event_id WHERE r.event_id = ANY($1)`, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("intake replay: read revisions: %w", err)
	}
	defer rows.Close()
	byID := map[string]events.Envelope{}
	rebuiltID := map[string]bool{}
	for rows.Next() {
		var id, change, webhookID string
		var payload, body []byte
		var received time.Time
		var prev *string
		if err := rows.Scan(&id, &payload, &body, &change, &webhookID, &received, &prev); err != nil {
			return nil, nil, fmt.Errorf("intake replay: read revisions: %w", err)
		}
		if payload != nil {
			e, err := events.Unmarshal(payload)
			if err != nil {
				return nil, nil, fmt.Errorf("intake replay: outbox row %s: %w", id, err)
			}
			byID[id] = e
			continue
		}
		vis, err := Decode(body)
		if err != nil {
			return nil, nil, fmt.Errorf("intake replay: stored body of event %s: %w", id, err)
		}
		visitID := VisitID(vis.Source, vis.SourceVisitID)
		data := events.VisitRecorded{VisitID: visitID, Revision: vis.Revision, Change: change, WebhookID: webhookID,
			ReceivedAt: received.UTC().Format(time.RFC3339Nano), Visit: *vis}
		if prev != nil && change != events.ChangeNew {
			data.Supersedes = *prev
		}
		e, err := events.New(id, events.TypeVisitRecorded, events.SourceIntake, visitID, received, data)
		if err != nil {
			return nil, nil, err
		}
		e.CorrelationID = visitID
		byID[id], rebuiltID[id] = e, true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("intake replay: read revisions: %w", err)
	}
	envs := make([]events.Envelope, len(revs))
	rebuilt := make([]bool, len(revs))
	for i, s := range revs {
		e, ok := byID[s.eventID]
		if !ok {
			return nil, nil, fmt.Errorf("intake replay: revision %d of visit %s vanished", s.revision, s.visitID)
		}
		envs[i], rebuilt[i] = e, rebuiltID[s.eventID]
	}
	return envs, rebuilt, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
