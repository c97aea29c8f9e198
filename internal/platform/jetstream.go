package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/events"
)

// StreamOptions are the deployment's choices for every stream.
type StreamOptions struct {
	// Replicas is 1 in dev and 3 in production.
	Replicas int
	// MaxAge 0 keeps events for ever: the event log is the audit trail.
	MaxAge time.Duration
	// Duplicates is the Nats-Msg-Id window. It must outlast the longest a
	// crashed relay can take to come back, or a re-sent outbox row is stored
	// twice (consumers still drop it through their inbox).
	Duplicates time.Duration
}

// ConnectNATS connects with reconnects that never give up: a service waits
// out a NATS restart instead of dying.
func ConnectNATS(url, name string, log *zap.Logger, opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", zap.String("url", c.ConnectedUrlRedacted())) }),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}

// StreamConfig turns a stream of the event contract into its JetStream
// configuration. Retention is Limits, never WorkQueue: replay needs the
// messages after they are acked.
func StreamConfig(s events.Stream, o StreamOptions) jetstream.StreamConfig {
	replicas := o.Replicas
	if replicas < 1 {
		replicas = 1
	}
	dup := o.Duplicates
	if dup <= 0 {
		dup = 2 * time.Minute
	}
	return jetstream.StreamConfig{
		Name:        s.Name,
		Description: s.Description,
		Subjects:    s.Subjects,
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		MaxAge:      o.MaxAge,
		Duplicates:  dup,
		Discard:     jetstream.DiscardOld,
	}
}

// EnsureStreams creates or updates every stream of the event contract. It is
// safe to run from every replica at every start.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	for _, s := range events.Streams {
		if _, err := js.CreateOrUpdateStream(ctx, StreamConfig(s, o)); err != nil {
			return fmt.Errorf("provision stream %s: %w", s.Name, err)
		}
	}
	return nil
}

// ConsumerSpec is a durable consumer of one service on one stream.
type ConsumerSpec struct {
	Stream  string
	Durable string
	// Subjects filter the stream; empty takes all of it.
	Subjects []string
	// AckWait is how long the server waits before redelivering an
	// unacknowledged message; the subscriber extends it while a handler runs.
	AckWait time.Duration
	// MaxDeliver bounds redeliveries; -1 is unlimited. Poison messages go to
	// the dead-letter stream through the router before this is reached.
	MaxDeliver int
	// MaxAckPending bounds messages in flight across all replicas.
	MaxAckPending int
	// BackOff spaces redeliveries after AckWait expiries.
	BackOff []time.Duration
}

func (s ConsumerSpec) config() jetstream.ConsumerConfig {
	ackWait := s.AckWait
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	maxDeliver := s.MaxDeliver
	if maxDeliver == 0 {
		maxDeliver = -1
	}
	maxPending := s.MaxAckPending
	if maxPending <= 0 {
		maxPending = 1000
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       s.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: maxPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		BackOff:       s.BackOff,
	}
	if len(s.Subjects) == 1 {
		cfg.FilterSubject = s.Subjects[0]
	} else {
		cfg.FilterSubjects = s.Subjects
	}
	return cfg
}

// EnsureConsumer creates or updates a durable pull consumer. Replicas of a
// service share it, so the work spreads over them.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, s ConsumerSpec) (jetstream.Consumer, error) {
	if s.Stream == "" || s.Durable == "" {
		return nil, errors.New("provision consumer: stream and durable name are required")
	}
	c, err := js.CreateOrUpdateConsumer(ctx, s.Stream, s.config())
	if err != nil {
		return nil, fmt.Errorf("provision consumer %s on %s: %w", s.Durable, s.Stream, err)
	}
	return c, nil
}
