package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/events"
)

// Publisher is a Watermill publisher on JetStream. Each message's UUID
// becomes its Nats-Msg-Id so that a republished copy is dropped by the
// stream, and Publish returns only after the stream stored every message.
type Publisher struct {
	js      jetstream.JetStream
	timeout time.Duration
}

// NewPublisher returns a publisher that waits at most timeout per message.
func NewPublisher(js jetstream.JetStream, timeout time.Duration) *Publisher {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Publisher{js: js, timeout: timeout}
}

// Publish stores msgs on topic, in order.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		nm := nats.NewMsg(topic)
		nm.Data = m.Payload
		for k, v := range m.Metadata {
			nm.Header.Set(k, v)
		}
		nm.Header.Set(nats.MsgIdHdr, m.UUID)
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		_, err := p.js.PublishMsg(ctx, nm)
		cancel()
		if err != nil {
			return fmt.Errorf("publish %s to %s: %w", m.UUID, topic, err)
		}
	}
	return nil
}

// Close does nothing: the connection belongs to the caller.
func (p *Publisher) Close() error { return nil }

// RouterConfig tunes the middleware of NewRouter.
type RouterConfig struct {
	// Service names the dead-letter subject rcm.dlq.<service>.
	Service string
	// MaxRetries in process before a message is dead-lettered (default 5).
	MaxRetries int
	// RetryInitial and RetryMax bound the exponential backoff (100ms, 2s).
	// Their total must stay well under the consumer's AckWait; long waits
	// belong to JetStream's redelivery, not to a goroutine holding a message.
	RetryInitial, RetryMax time.Duration
	// HandlerTimeout cancels a handler's context (default 30s).
	HandlerTimeout time.Duration
}

func (c *RouterConfig) setDefaults() {
	if c.MaxRetries <= 0 {
		c.MaxRetries = 5
	}
	if c.RetryInitial <= 0 {
		c.RetryInitial = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 2 * time.Second
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = 30 * time.Second
	}
}

// DeadLetterSubject is where a service's poison messages go.
func DeadLetterSubject(service string) string { return events.SubjectDeadLetterPrefix + service }

// NewRouter builds a Watermill router with the middleware every stage uses,
// outermost first:
//
//	PoisonQueue → Retry → attempt count → Timeout → CorrelationID → Recoverer
//
// PoisonQueue must wrap Retry, or it would take the first error before Retry
// saw it (watermill#645); Recoverer is innermost so a panic becomes an error
// the others handle. A message is dead-lettered only after MaxRetries, and
// acked only once it is stored in the dead-letter stream, with the headers
// rcm dlq reads (see DeadLetter).
func NewRouter(cfg RouterConfig, pub message.Publisher, log *zap.Logger) (*message.Router, error) {
	cfg.setDefaults()
	if cfg.Service == "" {
		return nil, fmt.Errorf("router: service name is required")
	}
	wlog := NewWatermillLogger(log)
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 15 * time.Second}, wlog)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	// A handler stopped by shutdown is not poison: its message goes back
	// to the server and is handled again by whichever replica runs. Nor is
	// one that failed because PostgreSQL or NATS was away (Transient): it
	// is redelivered until the dependency is back, instead of being
	// dead-lettered by an outage longer than the retries.
	poison, err := middleware.PoisonQueueWithFilter(deadLetterPublisher{pub}, DeadLetterSubject(cfg.Service), func(err error) bool {
		return !errors.Is(err, context.Canceled) && !Transient(err)
	})
	if err != nil {
		return nil, fmt.Errorf("router: poison queue: %w", err)
	}
	r.AddMiddleware(
		poison,
		middleware.Retry{
			MaxRetries:          cfg.MaxRetries,
			InitialInterval:     cfg.RetryInitial,
			MaxInterval:         cfg.RetryMax,
			Multiplier:          2,
			RandomizationFactor: 0.2,
			ResetContextOnRetry: true,
			Logger:              wlog,
		}.Middleware,
		countAttempts, // inside Retry: once per attempt; see deadletter.go
		middleware.Timeout(cfg.HandlerTimeout),
		middleware.CorrelationID,
		middleware.Recoverer,
	)
	return r, nil
}

// watermillLogger sends Watermill's logs to zap through the PHI filter.
type watermillLogger struct{ l *zap.Logger }

// NewWatermillLogger adapts a zap logger to Watermill.
func NewWatermillLogger(l *zap.Logger) watermill.LoggerAdapter {
	return watermillLogger{l.WithOptions(zap.AddCallerSkip(1))}
}

func zapFields(f watermill.LogFields) []zap.Field {
	out := make([]zap.Field, 0, len(f))
	for k, v := range f {
		out = append(out, zap.Any(k, v))
	}
	return out
}

func (w watermillLogger) Error(msg string, err error, f watermill.LogFields) {
	w.l.Error(msg, append(zapFields(f), zap.Error(err))...)
}
func (w watermillLogger) Info(msg string, f watermill.LogFields)  { w.l.Info(msg, zapFields(f)...) }
func (w watermillLogger) Debug(msg string, f watermill.LogFields) { w.l.Debug(msg, zapFields(f)...) }
func (w watermillLogger) Trace(msg string, f watermill.LogFields) { w.l.Debug(msg, zapFields(f)...) }
func (w watermillLogger) With(f watermill.LogFields) watermill.LoggerAdapter {
	return watermillLogger{w.l.With(zapFields(f)...)}
}
