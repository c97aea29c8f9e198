package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WaitForMsgIDs reads stream from since (an ordered consumer: no durable
// state is left behind) and returns how many times each wanted Nats-Msg-Id
// was seen, once every id was seen or ctx ends. Demo runs and tests use it
// to follow events through the pipeline.
func WaitForMsgIDs(ctx context.Context, js jetstream.JetStream, stream, subject string, since time.Time, want map[string]bool) (map[string]int, error) {
	return waitFor(ctx, js, stream, subject, since, want, len(want), nil, func(m jetstream.Msg) string { return m.Headers().Get(nats.MsgIdHdr) })
}

// WaitForCauses is WaitForMsgIDs for events known by what caused them: it
// counts, per wanted causation id, the events in stream that name it.
// onMatch, when not nil, sees each matching event's payload.
func WaitForCauses(ctx context.Context, js jetstream.JetStream, stream, subject string, since time.Time, want map[string]bool, onMatch func(data []byte)) (map[string]int, error) {
	return waitFor(ctx, js, stream, subject, since, want, len(want), onMatch, envelopeField(func(h envelopeHead) string { return h.CausationID }))
}

// WaitForCorrelations is WaitForMsgIDs for events known by the visit they
// concern: it counts, per wanted correlation id, the events in stream that
// carry it.
func WaitForCorrelations(ctx context.Context, js jetstream.JetStream, stream, subject string, since time.Time, want map[string]bool, onMatch func(data []byte)) (map[string]int, error) {
	return waitFor(ctx, js, stream, subject, since, want, len(want), onMatch, envelopeField(func(h envelopeHead) string { return h.CorrelationID }))
}

// WaitForCorrelationsAtLeast is WaitForCorrelations that is satisfied once
// need of the wanted ids were seen: later stages see only some visits (a
// held claim is never submitted).
func WaitForCorrelationsAtLeast(ctx context.Context, js jetstream.JetStream, stream, subject string, since time.Time, want map[string]bool, need int, onMatch func(data []byte)) (map[string]int, error) {
	return waitFor(ctx, js, stream, subject, since, want, need, onMatch, envelopeField(func(h envelopeHead) string { return h.CorrelationID }))
}

type envelopeHead struct {
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
}

func envelopeField(get func(envelopeHead) string) func(jetstream.Msg) string {
	return func(m jetstream.Msg) string {
		var h envelopeHead
		_ = json.Unmarshal(m.Data(), &h)
		return get(h)
	}
}

func waitFor(ctx context.Context, js jetstream.JetStream, stream, subject string, since time.Time, want map[string]bool, need int, onMatch func([]byte), key func(jetstream.Msg) string) (map[string]int, error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	if subject != "" {
		cfg.FilterSubjects = []string{subject}
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	seen := make(map[string]int, len(want))
	missing := need
	for missing > 0 {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return seen, fmt.Errorf("read %s: %w", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			k := key(m)
			if !want[k] {
				continue
			}
			if seen[k] == 0 {
				missing--
			}
			seen[k]++
			if onMatch != nil {
				onMatch(m.Data())
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return seen, fmt.Errorf("read %s: %w", stream, err)
		}
		if n == 0 {
			select {
			case <-ctx.Done():
				return seen, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return seen, nil
}
