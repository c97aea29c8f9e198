package denials

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
)

// Replay runs the claim ledger over the history of its two input streams,
// the coder's visit.coded and the submitter's claim events, and records
// every event the ledger lacks: events it never got (its consumer was
// reset past them, or its tables were restored from an older backup).
//
// The ledger decides nothing by rules: it keeps what upstream said. So a
// replay has nothing to recompute and, when the ledger is complete,
// changes nothing whatever the rules. It goes through the ledger's own
// inbox, under its consumers' names, so that an event is recorded once
// whether the replay or the live consumer gets to it first. The ledger
// emits no events; denials' own (remit.received, claim.reconciled,
// denial.*) come from 835 files, which a replay does not post again
// (a file seen before is refused by its content).
type Replay struct {
	Pool   *pgxpool.Pool
	JS     jetstream.JetStream
	DryRun bool
	// Out gets a line per event recorded and the summary: event types,
	// claim and visit ids.
	Out io.Writer
}

// ReplaySummary counts what a replay did.
type ReplaySummary struct {
	Coded, Claims platform.StreamSpan
	// Recorded are events the ledger lacked, now recorded (dry: that would
	// be).
	Recorded int
	// Known events the ledger had already.
	Known int
	// Ignored are messages that are not events for the ledger.
	Ignored int
}

// Run replays the ledger's inputs stored within rng. A range by sequence
// is refused: the two streams number their messages apart.
func (r *Replay) Run(ctx context.Context, rng platform.ReplayRange) (ReplaySummary, error) {
	var sum ReplaySummary
	if rng.FromSeq > 0 || rng.ToSeq > 0 {
		return sum, errors.New("denials replay: the ledger reads two streams (CODER and SUBMITTER), whose sequences differ: replay it by time")
	}
	if r.Out == nil {
		r.Out = io.Discard
	}
	outbox, err := platform.OpenReplay(ctx, r.Pool, r.JS, Schema, "the denials service", r.DryRun)
	if err != nil {
		return sum, err
	}
	var inbox *platform.Inbox
	if outbox != nil {
		inbox = platform.NewInbox(r.Pool, outbox)
	}
	w := &platform.Report{W: r.Out}
	read := func(spec platform.ConsumerSpec, span *platform.StreamSpan) error {
		var err error
		*span, err = platform.ReadStream(ctx, r.JS, spec.Stream, rng, platform.ReadOptions{Subjects: spec.Subjects}, func(msgs []platform.StreamMsg) error {
			envs := make([]events.Envelope, len(msgs))
			ok := make([]bool, len(msgs))
			platform.Parallel(len(msgs), func(i int) {
				e, err := events.Unmarshal(msgs[i].Data)
				envs[i], ok[i] = e, err == nil
			})
			ids := make([]string, 0, len(msgs))
			for i := range envs {
				if ok[i] {
					ids = append(ids, envs[i].ID)
				}
			}
			seen, err := platform.InboxSeen(ctx, r.Pool, Schema, spec.Durable, ids)
			if err != nil {
				return err
			}
			for i, e := range envs {
				switch {
				case !ok[i]:
					sum.Ignored++
					continue
				case seen[e.ID]:
					sum.Known++
					continue
				}
				if !r.DryRun {
					first, err := inbox.Handle(ctx, spec.Durable, e, Ledger{}.Handle)
					if err != nil {
						return fmt.Errorf("denials replay: event %s: %w", e.ID, err)
					}
					if !first {
						sum.Known++ // the live consumer was quicker
						continue
					}
				}
				sum.Recorded++
				verb := "recorded"
				if r.DryRun {
					verb = "would record"
				}
				w.Printf("%s %s of %s (%s sequence %d, visit %s)\n", verb, e.Type, e.Subject, spec.Stream, msgs[i].Seq, e.CorrelationID)
			}
			return w.Err
		})
		return err
	}
	err = read(CodedConsumer(), &sum.Coded)
	if err == nil {
		err = read(ClaimsConsumer(), &sum.Claims)
	}
	w.Printf("denials replay of %s visit.coded (%d events) and %s claim events (%d events)", events.StreamCoder, sum.Coded.Read, events.StreamSubmitter, sum.Claims.Read)
	if r.DryRun {
		w.Printf(" (dry run)")
	}
	w.Printf(":\n  %d already in the ledger, %d missing from it", sum.Known, sum.Recorded)
	if sum.Ignored > 0 {
		w.Printf(", %d messages not events", sum.Ignored)
	}
	w.Printf("\n")
	if !w.Stopped(err, r.DryRun) {
		if sum.Recorded == 0 {
			w.Printf("  0 changed: the ledger was complete; nothing published\n")
		} else {
			w.Printf("  %d recorded in the ledger; nothing published (the ledger emits no events)\n", sum.Recorded)
		}
	}
	w.Printf("  rules play no part: the ledger keeps what upstream said, and 835 postings are not replayed\n")
	return sum, w.Done(err)
}
