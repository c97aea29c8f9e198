package platform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Metadata keys the subscriber sets on every Watermill message.
const (
	MetaStream    = "nats_stream"
	MetaSeq       = "nats_stream_seq"
	MetaDelivered = "nats_delivered"
	MetaSubject   = "nats_subject"
)

// SubscriberConfig tunes a Subscriber. Zero values take the defaults.
type SubscriberConfig struct {
	// Consumer is the durable consumer to bind; it is provisioned on Subscribe.
	Consumer ConsumerSpec
	// Concurrency is how many messages are handed to the router at once
	// (default 16). The router runs each in its own goroutine.
	Concurrency int
	// NakDelay spaces redeliveries after a handler fails (default 1s): a plain
	// Nak redelivers at once, a hot loop on a failing message.
	NakDelay time.Duration
	// Heartbeat is how often a running handler's message is marked in
	// progress so the server does not redeliver it to another replica
	// (default AckWait/3).
	Heartbeat time.Duration
	// MaxInProgress stops the heartbeat of a handler that seems stuck
	// (default 10m); the server then redelivers its message.
	MaxInProgress time.Duration
	// ConsumerCheck is how often the consumer is looked for, so that one
	// deleted under the subscriber stops it (default 5s).
	ConsumerCheck time.Duration
	// ShutdownGrace is how long Close waits for running handlers to finish
	// before it gives their messages back with a Nak (default 5s).
	ShutdownGrace time.Duration
}

func (c *SubscriberConfig) setDefaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.NakDelay <= 0 {
		c.NakDelay = time.Second
	}
	if c.Consumer.AckWait <= 0 {
		c.Consumer.AckWait = 30 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = c.Consumer.AckWait / 3
	}
	if c.MaxInProgress <= 0 {
		c.MaxInProgress = 10 * time.Minute
	}
	if c.ConsumerCheck <= 0 {
		c.ConsumerCheck = 5 * time.Second
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 5 * time.Second
	}
}

// Subscriber is a Watermill subscriber on a durable JetStream pull consumer.
//
// It acks a message only after the handler acked it, and in every other case
// (handler error, panic turned error, timeout, shutdown, a handler that never
// returns) the message is handed back with a Nak or left to AckWait. This is
// the guarantee watermill-nats does not give by default: it acks when its own
// timeout fires, whether or not the handler finished.
type Subscriber struct {
	js  jetstream.JetStream
	cfg SubscriberConfig
	log *zap.Logger

	mu      sync.Mutex
	closing chan struct{}
	closed  bool
	wg      sync.WaitGroup
}

// NewSubscriber binds to the consumer described by cfg.
func NewSubscriber(js jetstream.JetStream, cfg SubscriberConfig, log *zap.Logger) (*Subscriber, error) {
	if cfg.Consumer.Stream == "" || cfg.Consumer.Durable == "" {
		return nil, errors.New("subscriber: consumer stream and durable name are required")
	}
	cfg.setDefaults()
	return &Subscriber{js: js, cfg: cfg, log: log.With(zap.String("consumer", cfg.Consumer.Durable)), closing: make(chan struct{})}, nil
}

// Subscribe provisions the consumer and streams its messages. The topic is
// only checked against the consumer's filter, since the consumer decides what
// arrives.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if len(s.cfg.Consumer.Subjects) > 0 && topic != "" && !slices.Contains(s.cfg.Consumer.Subjects, topic) {
		return nil, fmt.Errorf("subscribe %s: topic is not among consumer %s's subjects", topic, s.cfg.Consumer.Durable)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("subscriber is closed")
	}
	s.mu.Unlock()

	cons, err := EnsureConsumer(ctx, s.js, s.cfg.Consumer)
	if err != nil {
		return nil, err
	}
	// A missed heartbeat is what a NATS restart, a consumer leader
	// election or a network blip looks like; by default Next reports it as
	// an error, and the dispatcher below would stop consuming for good while
	// the process stayed up and ready. Without the report the iterator
	// just pulls again, from whichever server now leads the consumer.
	iter, err := cons.Messages(jetstream.PullMaxMessages(s.cfg.Concurrency), jetstream.WithMessagesErrOnMissingHeartbeat(false))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", s.cfg.Consumer.Durable, err)
	}

	ctx, cancel := context.WithCancel(ctx)
	out := make(chan *message.Message)
	work := make(chan jetstream.Msg)

	s.wg.Add(1)
	go func() { // stop the iterator when asked to, or when the consumer is gone
		defer s.wg.Done()
		defer iter.Stop()
		// Missed heartbeats are not errors (a NATS restart looks like
		// that), so a consumer deleted under the iterator would leave it
		// waiting for good: look for the consumer now and then instead.
		check := time.NewTicker(s.cfg.ConsumerCheck)
		defer check.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.closing:
				cancel()
				return
			case <-check.C:
				_, err := s.js.Consumer(ctx, s.cfg.Consumer.Stream, s.cfg.Consumer.Durable)
				if errors.Is(err, jetstream.ErrConsumerNotFound) {
					s.log.Warn("consumer deleted: consuming stops", zap.String("consumer", s.cfg.Consumer.Durable))
					return
				}
			}
		}
	}()

	var workers sync.WaitGroup
	s.wg.Add(1)
	go func() { // dispatcher
		defer s.wg.Done()
		defer close(work)
		for {
			m, err := iter.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					s.log.Warn("consumer iterator stopped", zap.Error(err))
				}
				return
			}
			select {
			case work <- m:
			case <-ctx.Done():
				_ = m.Nak()
			}
		}
	}()
	for range s.cfg.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for m := range work {
				s.process(ctx, m, out)
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		workers.Wait()
		cancel()
		close(out)
	}()
	return out, nil
}

func (s *Subscriber) process(ctx context.Context, jm jetstream.Msg, out chan<- *message.Message) {
	meta, err := jm.Metadata()
	if err != nil {
		s.log.Error("message without metadata", zap.Error(err))
		_ = jm.Nak()
		return
	}
	id := jm.Headers().Get(nats.MsgIdHdr)
	if id == "" {
		id = meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	wm := message.NewMessage(id, jm.Data())
	for k, v := range jm.Headers() {
		if len(v) > 0 && k != nats.MsgIdHdr {
			wm.Metadata.Set(k, v[0])
		}
	}
	wm.Metadata.Set(MetaStream, meta.Stream)
	wm.Metadata.Set(MetaSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
	wm.Metadata.Set(MetaDelivered, strconv.FormatUint(meta.NumDelivered, 10))
	wm.Metadata.Set(MetaSubject, jm.Subject())
	// The handler's context is not ctx: on shutdown the handler gets
	// ShutdownGrace to finish and commit, rather than being cut mid-way.
	msgCtx, cancelMsg := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelMsg()
	wm.SetContext(msgCtx)

	select {
	case out <- wm:
	case <-ctx.Done():
		_ = jm.Nak()
		return
	}

	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	started := time.Now()
	var shutdown <-chan time.Time
	done := ctx.Done()
	for {
		select {
		case <-wm.Acked():
			// A plain ack, not a double one: an ack the server never gets
			// only brings the message back after AckWait, and its
			// redelivery is skipped by the inbox (or, for a dead letter,
			// stored once by its id), while waiting for the server's
			// confirmation of every ack cost the stages about a sixth of
			// their CPU (ENGINEERING.md: ack ~150k/s, double ack ~24k/s).
			if err := jm.Ack(); err != nil {
				s.log.Warn("ack failed", zap.String("message_uuid", id), zap.Error(err))
			}
			return
		case <-wm.Nacked():
			_ = jm.NakWithDelay(s.cfg.NakDelay)
			return
		case <-heartbeat.C:
			if time.Since(started) < s.cfg.MaxInProgress {
				_ = jm.InProgress()
			}
		case <-done:
			done = nil
			shutdown = time.After(s.cfg.ShutdownGrace)
		case <-shutdown:
			cancelMsg()
			// Whatever the handler does now, its message goes back.
			_ = jm.Nak()
			return
		}
	}
}

// Close stops every subscription; running handlers get ShutdownGrace, then
// their messages are handed back unacknowledged.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
