package platform

import (
	"context"
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
	missing := len(want)
	for missing > 0 {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return seen, fmt.Errorf("read %s: %w", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			id := m.Headers().Get(nats.MsgIdHdr)
			if want[id] {
				if seen[id] == 0 {
					missing--
				}
				seen[id]++
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
