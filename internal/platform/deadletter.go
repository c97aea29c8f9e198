package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/events"
)

// Headers of a dead letter besides the failed message's own, the
// subscriber's MetaStream, MetaSeq, MetaDelivered and MetaSubject, and
// Watermill's reason_poisoned and handler_poisoned.
const (
	// MetaAttempts is how many times the handler ran on the delivery that
	// was given up on: 1 + RouterConfig.MaxRetries, unless the handler's
	// context ended first.
	MetaAttempts = "rcm_attempts"
	// MetaOriginalID is the failed message's own id (its Nats-Msg-Id).
	MetaOriginalID = "rcm_original_id"
	// MetaEventID and MetaEventType are the envelope's id and type, copied
	// so that dead letters can be listed without reading their payloads,
	// which carry PHI.
	MetaEventID   = "rcm_event_id"
	MetaEventType = "rcm_event_type"
	// MetaRetryOf marks a message rcm dlq retry put back: DEADLETTER:<seq>.
	MetaRetryOf = "rcm_retry_of"
)

// ErrDeadLetterNotFound is returned for a sequence the DEADLETTER stream
// does not hold (never did, or it was retried or dropped since).
var ErrDeadLetterNotFound = errors.New("no such dead letter")

// countAttempts sits inside Retry, so it runs once per attempt; the count
// travels in the message's metadata to the poison queue, which stores it
// with the dead letter. Each delivery is a new message, so the count is per
// delivery; MetaDelivered says which delivery it was.
func countAttempts(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		n, _ := strconv.Atoi(msg.Metadata.Get(MetaAttempts))
		msg.Metadata.Set(MetaAttempts, strconv.Itoa(n+1))
		return h(msg)
	}
}

// deadLetterPublisher gives each dead letter an id of its own. The poison
// queue publishes the failed message as it came, with the event's id as
// Nats-Msg-Id: the same event failing again within the DEADLETTER stream's
// duplicate window (after a retry, or in a second consumer) would be
// dropped as a duplicate while its input was acked, and so lost. The id
// names the consumer and the input's stream position instead, so that only
// a redelivery of that very input (a crash between dead-lettering and the
// ack) is stored once.
type deadLetterPublisher struct{ message.Publisher }

func (p deadLetterPublisher) Publish(topic string, msgs ...*message.Message) error {
	out := make([]*message.Message, len(msgs))
	for i, m := range msgs {
		c := m.Copy()
		c.UUID = deadLetterID(m)
		c.Metadata.Set(MetaOriginalID, m.UUID)
		if id, typ := envelopeIDType(m.Payload); id != "" {
			c.Metadata.Set(MetaEventID, id)
			c.Metadata.Set(MetaEventType, typ)
		}
		out[i] = c
	}
	return p.Publisher.Publish(topic, out...)
}

func deadLetterID(m *message.Message) string {
	consumer := m.Metadata.Get(middleware.PoisonedHandlerKey)
	if stream, seq := m.Metadata.Get(MetaStream), m.Metadata.Get(MetaSeq); stream != "" && seq != "" {
		return "dlq:" + consumer + ":" + stream + ":" + seq
	}
	return "dlq:" + consumer + ":" + m.UUID
}

// envelopeIDType reads only an envelope's id and type: the rest of it,
// data above all, may be PHI and is not decoded. Anything that does not look
// like an id (not an envelope, or an absurd one) gives "".
func envelopeIDType(payload []byte) (id, typ string) {
	var h struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if json.Unmarshal(payload, &h) != nil || h.ID == "" || len(h.ID) > 200 || len(h.Type) > 100 {
		return "", ""
	}
	return h.ID, h.Type
}

// DeadLetter is a message a stage gave up on, as the DEADLETTER stream
// holds it. Everything but Payload is ids, counts and the error, which by
// the services' contract carries no PHI.
type DeadLetter struct {
	// Seq is the dead letter's sequence in the DEADLETTER stream: what
	// rcm dlq show, retry and drop take.
	Seq uint64 `json:"seq"`
	// Time is when the stage gave up.
	Time time.Time `json:"time"`
	// Service is the stage (from the subject rcm.dlq.<service>), Consumer
	// the durable consumer whose handler failed.
	Service  string `json:"service"`
	Consumer string `json:"consumer"`
	// Subject, Stream and StreamSeq locate the original message.
	Subject   string `json:"subject"`
	Stream    string `json:"stream"`
	StreamSeq uint64 `json:"stream_seq"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Error     string `json:"error"`
	// Attempts is how many times the handler ran on the last delivery;
	// Deliveries how many times JetStream delivered the message. 0: not
	// recorded (a dead letter from before the router counted).
	Attempts   int `json:"attempts"`
	Deliveries int `json:"deliveries"`
	// RetryOf is set when the failed message was itself a retry:
	// DEADLETTER:<seq> of the earlier dead letter.
	RetryOf string `json:"retry_of,omitempty"`
	// Payload is the original message: an event whose data is PHI. Only
	// DeadLetters.Get fills it, and it is never part of the JSON form.
	Payload []byte `json:"-"`

	originalID string
	header     nats.Header
}

func newDeadLetter(seq uint64, subject string, at time.Time, h nats.Header) DeadLetter {
	d := DeadLetter{
		Seq:       seq,
		Time:      at,
		Service:   strings.TrimPrefix(subject, events.SubjectDeadLetterPrefix),
		Consumer:  h.Get(middleware.PoisonedHandlerKey),
		Subject:   h.Get(MetaSubject),
		Stream:    h.Get(MetaStream),
		EventID:   h.Get(MetaEventID),
		EventType: h.Get(MetaEventType),
		Error:     h.Get(middleware.ReasonForPoisonedKey),
		RetryOf:   h.Get(MetaRetryOf),
		header:    h,
	}
	d.StreamSeq, _ = strconv.ParseUint(h.Get(MetaSeq), 10, 64)
	d.Attempts, _ = strconv.Atoi(h.Get(MetaAttempts))
	d.Deliveries, _ = strconv.Atoi(h.Get(MetaDelivered))
	// Dead letters stored before MetaOriginalID existed kept the original
	// id as their own Nats-Msg-Id, which was the event's.
	d.originalID = h.Get(MetaOriginalID)
	if d.originalID == "" {
		d.originalID = h.Get(nats.MsgIdHdr)
	}
	if d.EventID == "" {
		d.EventID = d.originalID
	}
	return d
}

// DeadLetters reads the DEADLETTER stream and re-drives or drops what it
// holds. It is what rcm dlq runs.
type DeadLetters struct {
	js  jetstream.JetStream
	log *zap.Logger
}

// NewDeadLetters returns the dead letters of js. Retries and drops are
// logged to log with ids only.
func NewDeadLetters(js jetstream.JetStream, log *zap.Logger) *DeadLetters {
	if log == nil {
		log = zap.NewNop()
	}
	return &DeadLetters{js: js, log: log.With(zap.String("component", "dlq"))}
}

// List returns the dead letters of service ("" for all) in stream order,
// without their payloads: it reads headers only, so no PHI leaves the
// server.
func (q *DeadLetters) List(ctx context.Context, service string) ([]DeadLetter, error) {
	filter := events.SubjectDeadLetterPrefix + ">"
	if service != "" {
		filter = DeadLetterSubject(service)
	}
	counts, err := q.countSubjects(ctx, filter)
	if err != nil {
		return nil, err
	}
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return nil, nil
	}
	// An ordered consumer is ephemeral and in memory; it is deleted when
	// done, or by the server soon after if this process dies first.
	cons, err := q.js.OrderedConsumer(ctx, events.StreamDeadLetter, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, HeadersOnly: true, InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			_ = q.js.DeleteConsumer(context.WithoutCancel(ctx), events.StreamDeadLetter, info.Name)
		}
	}()
	out := make([]DeadLetter, 0, total)
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		n, done := 0, false
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("list dead letters: %w", err)
			}
			out = append(out, newDeadLetter(meta.Sequence.Stream, m.Subject(), meta.Timestamp, m.Headers()))
			done = meta.NumPending == 0
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		// An empty batch means the rest was retried or dropped meanwhile.
		if done || n == 0 {
			return out, nil
		}
	}
}

// Counts returns how many dead letters each service has.
func (q *DeadLetters) Counts(ctx context.Context) (map[string]uint64, error) {
	bySubject, err := q.countSubjects(ctx, events.SubjectDeadLetterPrefix+">")
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(bySubject))
	for subj, n := range bySubject {
		out[strings.TrimPrefix(subj, events.SubjectDeadLetterPrefix)] += n
	}
	return out, nil
}

func (q *DeadLetters) countSubjects(ctx context.Context, filter string) (map[string]uint64, error) {
	s, err := q.js.Stream(ctx, events.StreamDeadLetter)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // nothing has been provisioned, so nothing failed
	}
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return info.State.Subjects, nil
}

// Get returns one dead letter with its payload, the original event. The
// payload carries PHI: show it to a person who asked for it, never log it.
func (q *DeadLetters) Get(ctx context.Context, seq uint64) (DeadLetter, error) {
	s, err := q.js.Stream(ctx, events.StreamDeadLetter)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	raw, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", seq, ErrDeadLetterNotFound)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	d := newDeadLetter(raw.Sequence, raw.Subject, raw.Time, raw.Header)
	d.Payload = raw.Data
	if d.EventType == "" {
		if id, typ := envelopeIDType(raw.Data); id != "" {
			d.EventID, d.EventType = id, typ
		}
	}
	return d, nil
}

// Retry republishes a dead letter's original message to its original
// subject, then deletes the dead letter. Every consumer of that subject
// sees the message again; those that handled it before skip it through
// their inbox (keyed by the event id inside the payload), and the one that
// failed never committed it, so it is handled once.
//
// The message gets a new Nats-Msg-Id, <original id>:retry:<seq>: with the
// original id the stream would drop it as a duplicate within its window.
// The id is the same for the same dead letter, so running Retry again
// after a crash between publish and delete stores it once.
func (q *DeadLetters) Retry(ctx context.Context, seq uint64) (DeadLetter, error) {
	d, err := q.Get(ctx, seq)
	if err != nil {
		return d, err
	}
	if d.Subject == "" || strings.HasPrefix(d.Subject, events.SubjectDeadLetterPrefix) {
		return d, fmt.Errorf("dead letter %d: no original subject to put it back on", seq)
	}
	m := nats.NewMsg(d.Subject)
	m.Data = d.Payload
	for k, v := range d.header {
		if passThrough(k) {
			m.Header[k] = v
		}
	}
	base, _, _ := strings.Cut(d.originalID, ":retry:")
	if base == "" {
		base = events.StreamDeadLetter
	}
	id := base + ":retry:" + strconv.FormatUint(seq, 10)
	m.Header.Set(nats.MsgIdHdr, id)
	m.Header.Set(MetaRetryOf, events.StreamDeadLetter+":"+strconv.FormatUint(seq, 10))
	if _, err := q.js.PublishMsg(ctx, m); err != nil {
		return d, fmt.Errorf("retry dead letter %d to %s: %w", seq, d.Subject, err)
	}
	if err := q.delete(ctx, seq); err != nil {
		return d, fmt.Errorf("retry dead letter %d: republished as %s but not deleted: %w", seq, id, err)
	}
	q.log.Info("dead letter retried", zap.Uint64("seq", seq), zap.String("service", d.Service), zap.String("consumer", d.Consumer),
		zap.String("event_id", d.EventID), zap.String("event_type", d.EventType), zap.String("subject", d.Subject), zap.String("uuid", id))
	return d, nil
}

// Drop deletes a dead letter for good, logging reason with its ids. The
// original event stays in its own stream, the audit trail.
func (q *DeadLetters) Drop(ctx context.Context, seq uint64, reason string) (DeadLetter, error) {
	if strings.TrimSpace(reason) == "" {
		return DeadLetter{}, errors.New("drop: a reason is required")
	}
	d, err := q.Get(ctx, seq)
	if err != nil {
		return d, err
	}
	d.Payload = nil
	if err := q.delete(ctx, seq); err != nil {
		return d, fmt.Errorf("drop dead letter %d: %w", seq, err)
	}
	q.log.Warn("dead letter dropped", zap.Uint64("seq", seq), zap.String("service", d.Service), zap.String("consumer", d.Consumer),
		zap.String("event_id", d.EventID), zap.String("event_type", d.EventType), zap.String("reason", reason))
	return d, nil
}

func (q *DeadLetters) delete(ctx context.Context, seq uint64) error {
	s, err := q.js.Stream(ctx, events.StreamDeadLetter)
	if err != nil {
		return err
	}
	err = s.DeleteMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // someone else deleted it first: the outcome is the same
	}
	return err
}

// passThrough reports whether a dead letter's header came with the original
// message rather than from the subscriber, the poison queue or the server.
func passThrough(key string) bool {
	switch key {
	case MetaStream, MetaSeq, MetaDelivered, MetaSubject,
		middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey, middleware.PoisonedSubscriberKey:
		return false
	}
	return !strings.HasPrefix(key, "rcm_") && !strings.HasPrefix(key, "Nats-")
}
