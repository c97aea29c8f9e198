package platform

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/pkg/events"
)

// PipelineServices are the services in the order events flow through them.
// Each one's Postgres schema has its name, and status reports follow this
// order.
var PipelineServices = []string{"intake", "coder", "submitter", "denials"}

// StatusOptions tune Status. Zero values take the defaults.
type StatusOptions struct {
	// Sample is how long rates are measured over: everything is read twice,
	// Sample apart (default 1s). Negative reads once and reports no rates.
	Sample time.Duration
	// Pool, when set, counts each schema's outbox rows not yet published.
	Pool *pgxpool.Pool
	// Schemas are the schemas whose outbox is counted (default
	// PipelineServices). A schema the database does not have is skipped.
	Schemas []string
}

// PipelineStatus is what rcm status and the ops page show: where each stage
// is in its input, what failed, what waits to be published. It holds ids,
// names and counts only, never an event's content.
type PipelineStatus struct {
	Time          time.Time       `json:"time"`
	SampleSeconds float64         `json:"sample_seconds"`
	Stages        []StageStatus   `json:"stages"`
	Services      []ServiceStatus `json:"services"`
	Streams       []StreamStatus  `json:"streams"`
}

// StageStatus is one durable consumer's position in its stream. Intake
// consumes HTTP, not a stream; its row is its output stream, INTAKE, with
// Consumer empty and Rate the events received per second.
type StageStatus struct {
	Service  string `json:"service"`
	Consumer string `json:"consumer,omitempty"`
	Stream   string `json:"stream"`
	// Pending counts messages of the consumer's subjects not yet delivered
	// (num_pending); AckPending those delivered and not yet acknowledged
	// (num_ack_pending); Redelivered those of them delivered more than once
	// (num_redelivered).
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
	// Rate is messages acknowledged per second over the sample: deliveries
	// less the growth of AckPending. It counts redeliveries that were
	// acknowledged, which the inbox turned into no work.
	Rate float64 `json:"rate_per_second"`
	// OldestSeconds is the age of the oldest message not yet acknowledged,
	// the first of the consumer's subjects after its ack floor; 0 when the
	// consumer is caught up.
	OldestSeconds float64 `json:"oldest_unprocessed_seconds"`
}

// OldestAge is OldestSeconds as a duration, to the second.
func (s StageStatus) OldestAge() time.Duration {
	return time.Duration(s.OldestSeconds * float64(time.Second)).Round(time.Second)
}

// Name is the consumer, or for intake's row the service.
func (s StageStatus) Name() string { return cmp.Or(s.Consumer, s.Service) }

// ServiceStatus is what a service left behind: messages it gave up on and
// events committed but not yet in JetStream.
type ServiceStatus struct {
	Service     string `json:"service"`
	DeadLetters uint64 `json:"dead_letters"`
	// OutboxPending is nil when it was not counted (no database, or the
	// service's schema is not there).
	OutboxPending *int64 `json:"outbox_pending"`
}

// StreamStatus is one stream's size and what arrives in it.
type StreamStatus struct {
	Name     string `json:"name"`
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	// Rate is messages stored per second over the sample.
	Rate float64 `json:"rate_per_second"`
}

// Status reads the pipeline's state from JetStream (and, with a pool, the
// outboxes). It finds the durable consumers of every stream of the event
// contract by listing them, so a new stage or a replay's consumer shows up
// without being declared here.
func Status(ctx context.Context, js jetstream.JetStream, o StatusOptions) (*PipelineStatus, error) {
	if o.Sample == 0 {
		o.Sample = time.Second
	}
	first, err := readSnapshot(ctx, js)
	if err != nil {
		return nil, err
	}
	last := first
	if o.Sample > 0 {
		t := time.NewTimer(o.Sample)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		if last, err = readSnapshot(ctx, js); err != nil {
			return nil, err
		}
	}
	elapsed := last.at.Sub(first.at).Seconds()
	rate := func(delta float64) float64 {
		if elapsed <= 0 || delta <= 0 {
			return 0
		}
		return delta / elapsed
	}
	st := &PipelineStatus{Time: last.at, SampleSeconds: elapsed}

	for _, s := range last.streams {
		var before uint64
		if p, ok := first.stream(s.Config.Name); ok {
			before = p.State.LastSeq
		}
		st.Streams = append(st.Streams, StreamStatus{Name: s.Config.Name, Messages: s.State.Msgs, Bytes: s.State.Bytes,
			Rate: rate(float64(s.State.LastSeq) - float64(before))})
	}
	if s, ok := last.stream(events.StreamIntake); ok {
		var r float64
		for _, ss := range st.Streams {
			if ss.Name == events.StreamIntake {
				r = ss.Rate
			}
		}
		st.Stages = append(st.Stages, StageStatus{Service: PipelineServices[0], Stream: s.Config.Name, Rate: r})
	}
	for _, c := range last.consumers {
		row := StageStatus{Service: serviceOf(c.Name), Consumer: c.Name, Stream: c.Stream,
			Pending: c.NumPending, AckPending: c.NumAckPending, Redelivered: c.NumRedelivered}
		if p, ok := first.consumer(c.Stream, c.Name); ok {
			row.Rate = rate(float64(c.Delivered.Consumer) - float64(p.Delivered.Consumer) - float64(c.NumAckPending-p.NumAckPending))
		}
		if c.NumPending > 0 || c.NumAckPending > 0 {
			if at, ok := oldestUnacked(ctx, js, c); ok {
				row.OldestSeconds = max(0, last.at.Sub(at).Seconds())
			}
		}
		st.Stages = append(st.Stages, row)
	}
	slices.SortStableFunc(st.Stages, func(a, b StageStatus) int {
		return cmp.Or(cmp.Compare(serviceRank(a.Service), serviceRank(b.Service)), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Consumer, b.Consumer), cmp.Compare(a.Stream, b.Stream))
	})

	dead, err := NewDeadLetters(js, nil).Counts(ctx)
	if err != nil {
		return nil, err
	}
	services := map[string]*ServiceStatus{}
	service := func(name string) *ServiceStatus {
		if s, ok := services[name]; ok {
			return s
		}
		s := &ServiceStatus{Service: name}
		services[name] = s
		return s
	}
	for _, name := range PipelineServices {
		service(name)
	}
	for _, s := range st.Stages {
		service(s.Service)
	}
	for name, n := range dead {
		service(name).DeadLetters = n
	}
	if o.Pool != nil {
		schemas := o.Schemas
		if schemas == nil {
			schemas = PipelineServices
		}
		depths, err := OutboxPending(ctx, o.Pool, schemas...)
		if err != nil {
			return nil, err
		}
		for schema, n := range depths {
			service(schema).OutboxPending = &n
		}
	}
	for _, s := range services {
		st.Services = append(st.Services, *s)
	}
	slices.SortFunc(st.Services, func(a, b ServiceStatus) int {
		return cmp.Or(cmp.Compare(serviceRank(a.Service), serviceRank(b.Service)), cmp.Compare(a.Service, b.Service))
	})
	return st, nil
}

// OutboxPending counts each schema's outbox rows not yet published. A
// schema without an outbox (not in this database, not migrated yet) is left
// out of the result.
func OutboxPending(ctx context.Context, pool *pgxpool.Pool, schemas ...string) (map[string]int64, error) {
	out := make(map[string]int64, len(schemas))
	for _, schema := range schemas {
		if !schemaName.MatchString(schema) {
			return nil, fmt.Errorf("outbox depth: invalid schema name %q", schema)
		}
		var n int64
		err := pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.outbox_pending`, schema)).Scan(&n)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") { // undefined table, schema
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("outbox depth of %s: %w", schema, err)
		}
		out[schema] = n
	}
	return out, nil
}

// serviceOf names the service of a durable consumer: its name up to the
// first dash (submitter-corrections is the submitter's).
func serviceOf(durable string) string {
	s, _, _ := strings.Cut(durable, "-")
	return s
}

func serviceRank(s string) int {
	if i := slices.Index(PipelineServices, s); i >= 0 {
		return i
	}
	return len(PipelineServices)
}

// snapshot is one read of every stream and durable consumer.
type snapshot struct {
	at        time.Time
	streams   []*jetstream.StreamInfo
	consumers []*jetstream.ConsumerInfo
}

func (s snapshot) stream(name string) (*jetstream.StreamInfo, bool) {
	for _, i := range s.streams {
		if i.Config.Name == name {
			return i, true
		}
	}
	return nil, false
}

func (s snapshot) consumer(stream, name string) (*jetstream.ConsumerInfo, bool) {
	for _, c := range s.consumers {
		if c.Stream == stream && c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// readSnapshot reads the streams of the event contract and their durable
// consumers. Ephemeral consumers (a demo following events, rcm dlq list)
// are not stages and are left out. A stream not provisioned yet is skipped.
func readSnapshot(ctx context.Context, js jetstream.JetStream) (snapshot, error) {
	var snap snapshot
	for _, def := range events.Streams {
		s, err := js.Stream(ctx, def.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return snap, fmt.Errorf("status of stream %s: %w", def.Name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return snap, fmt.Errorf("status of stream %s: %w", def.Name, err)
		}
		snap.streams = append(snap.streams, info)
		if def.Name == events.StreamDeadLetter {
			continue // nothing consumes it: rcm dlq reads it on demand
		}
		list := s.ListConsumers(ctx)
		for c := range list.Info() {
			if c.Config.Durable != "" {
				snap.consumers = append(snap.consumers, c)
			}
		}
		if err := list.Err(); err != nil {
			return snap, fmt.Errorf("consumers of stream %s: %w", def.Name, err)
		}
	}
	snap.at = time.Now()
	return snap, nil
}

// oldestUnacked returns the time of the first message of c's subjects after
// its ack floor: the oldest one c has not finished.
func oldestUnacked(ctx context.Context, js jetstream.JetStream, c *jetstream.ConsumerInfo) (time.Time, bool) {
	s, err := js.Stream(ctx, c.Stream)
	if err != nil {
		return time.Time{}, false
	}
	subjects := slices.Clone(c.Config.FilterSubjects)
	if c.Config.FilterSubject != "" {
		subjects = append(subjects, c.Config.FilterSubject)
	}
	if len(subjects) == 0 {
		subjects = []string{">"}
	}
	var oldest time.Time
	for _, subj := range subjects {
		m, err := s.GetMsg(ctx, c.AckFloor.Stream+1, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			continue
		}
		if oldest.IsZero() || m.Time.Before(oldest) {
			oldest = m.Time
		}
	}
	return oldest, !oldest.IsZero()
}
