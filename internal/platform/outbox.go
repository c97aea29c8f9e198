package platform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/events"
)

// OutboxConfig tunes an Outbox. Zero values take the defaults.
type OutboxConfig struct {
	// Schema is the service's schema holding the outbox table.
	Schema string
	// SweepInterval is how often rows a crash left behind are looked for
	// (default 1s).
	SweepInterval time.Duration
	// SweepAge is how old an unpublished row must be before the sweeper takes
	// it (default 3s), so it rarely races the inline relay. When it does,
	// JetStream drops the second copy by its Nats-Msg-Id.
	SweepAge time.Duration
	// BatchSize bounds rows per sweep and per published-mark update (500).
	BatchSize int
	// Retention is how long published rows stay, a second copy of the event
	// log for the replay horizon (default 30 days; negative keeps them).
	Retention time.Duration
	// PublishTimeout bounds the wait for JetStream acks (default 10s).
	PublishTimeout time.Duration
}

func (c *OutboxConfig) setDefaults() {
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.SweepAge <= 0 {
		c.SweepAge = 3 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 10 * time.Second
	}
}

// Record is an outbox row on its way to JetStream.
type Record struct {
	ID      string
	Subject string
	Payload []byte
}

// Outbox writes a service's output events in the same transaction as its
// state change and relays them to JetStream afterwards.
//
// The relay is inline (Relay, right after commit) with a sweeper behind it
// for rows a crash left unpublished. Both publish with Nats-Msg-Id = event id,
// so a row published twice is stored once.
type Outbox struct {
	cfg  OutboxConfig
	pool *pgxpool.Pool
	js   jetstream.JetStream
	log  *zap.Logger

	queue chan []Record
	marks chan string

	published prometheus.Counter
	failures  prometheus.Counter
	depth     prometheus.Gauge
}

// NewOutbox returns an outbox for cfg.Schema; call Run to relay.
func NewOutbox(cfg OutboxConfig, pool *pgxpool.Pool, js jetstream.JetStream, log *zap.Logger, reg prometheus.Registerer) (*Outbox, error) {
	if !schemaName.MatchString(cfg.Schema) {
		return nil, fmt.Errorf("outbox: invalid schema name %q", cfg.Schema)
	}
	cfg.setDefaults()
	o := &Outbox{
		cfg: cfg, pool: pool, js: js, log: log.With(zap.String("component", "outbox")),
		queue: make(chan []Record, 4096),
		marks: make(chan string, 8192),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rcm_outbox_published_total", Help: "Outbox events stored in JetStream.",
			ConstLabels: prometheus.Labels{"schema": cfg.Schema}}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rcm_outbox_publish_failures_total", Help: "Outbox publishes that failed and were left to the sweeper.",
			ConstLabels: prometheus.Labels{"schema": cfg.Schema}}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rcm_outbox_depth", Help: "Outbox rows not yet published, as of the last sweep.",
			ConstLabels: prometheus.Labels{"schema": cfg.Schema}}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{o.published, o.failures, o.depth} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("outbox metrics: %w", err)
			}
		}
	}
	return o, nil
}

// Add writes envs to the outbox inside tx. An event whose id is already in
// the outbox is skipped: a handler that runs again produces the same ids.
func (o *Outbox) Add(ctx context.Context, tx pgx.Tx, envs ...events.Envelope) ([]Record, error) {
	if len(envs) == 0 {
		return nil, nil
	}
	recs, err := records(envs)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(envs))
	subjects := make([]string, len(envs))
	types := make([]string, len(envs))
	payloads := make([][]byte, len(envs))
	for i, r := range recs {
		ids[i], subjects[i], types[i], payloads[i] = r.ID, r.Subject, envs[i].Type, r.Payload
	}
	err = Queue(ctx, tx, fmt.Sprintf(`WITH added AS (
	INSERT INTO %[1]s.outbox (event_id, subject, event_type, payload)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])
	ON CONFLICT (event_id) DO NOTHING RETURNING event_id
)
INSERT INTO %[1]s.outbox_pending (event_id) SELECT event_id FROM added`, o.cfg.Schema), ids, subjects, types, payloads)
	if err != nil {
		return nil, fmt.Errorf("outbox: insert: %w", err)
	}
	return recs, nil
}

// AddNew is Add for events that cannot be in the outbox yet, because their
// ids derive from a row the same transaction has just created (a
// remittance's payment, say). It COPYs them, several times faster than Add
// for thousands; an id already there fails the transaction.
func (o *Outbox) AddNew(ctx context.Context, tx pgx.Tx, envs ...events.Envelope) ([]Record, error) {
	if len(envs) < 64 {
		return o.Add(ctx, tx, envs...)
	}
	recs, err := records(envs)
	if err != nil {
		return nil, err
	}
	rows := make([][]any, len(envs))
	pending := make([][]any, len(envs))
	for i, r := range recs {
		rows[i] = []any{r.ID, r.Subject, envs[i].Type, r.Payload}
		pending[i] = []any{r.ID}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{o.cfg.Schema, "outbox"}, []string{"event_id", "subject", "event_type", "payload"}, pgx.CopyFromRows(rows)); err != nil {
		return nil, fmt.Errorf("outbox: copy: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{o.cfg.Schema, "outbox_pending"}, []string{"event_id"}, pgx.CopyFromRows(pending)); err != nil {
		return nil, fmt.Errorf("outbox: copy: %w", err)
	}
	return recs, nil
}

// records validates envs and encodes them as the outbox stores them.
func records(envs []events.Envelope) ([]Record, error) {
	recs := make([]Record, len(envs))
	for i, e := range envs {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("outbox: event %s: %w", e.ID, err)
		}
		subject, _ := events.SubjectOf(e.Type)
		// Called directly: json.Marshal would re-validate and compact what
		// MarshalJSON wrote, a second pass over the whole payload.
		payload, err := e.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("outbox: encode event %s: %w", e.ID, err)
		}
		recs[i] = Record{ID: e.ID, Subject: subject, Payload: payload}
	}
	return recs, nil
}

// Relay hands committed records to the background relay and returns at once.
// If the relay is saturated the records wait for the sweeper instead: they
// are durable already.
func (o *Outbox) Relay(recs []Record) {
	if len(recs) == 0 {
		return
	}
	select {
	case o.queue <- recs:
	default:
	}
}

// RelayWait publishes committed records and returns once JetStream stored
// them. A consumer calls it before acking its input, so that an acked input
// always has its outputs in the stream.
func (o *Outbox) RelayWait(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := o.publish(ctx, recs); err != nil {
		return err
	}
	return nil
}

// publish sends recs asynchronously, waits for every ack, and queues the
// stored ones to be marked published.
func (o *Outbox) publish(ctx context.Context, recs []Record) error {
	return o.publishMarking(ctx, recs, true)
}

// publishMarking publishes recs; with mark false the caller marks them
// itself (Sweep, which may run without the mark loop of Run).
func (o *Outbox) publishMarking(ctx context.Context, recs []Record, mark bool) error {
	// A large transaction (an 835 of thousands of claims) is published in
	// chunks: the client stalls past a few thousand unacknowledged async
	// publishes, and each chunk gets the whole timeout.
	for len(recs) > o.cfg.BatchSize {
		if err := o.publishChunk(ctx, recs[:o.cfg.BatchSize], mark); err != nil {
			return err
		}
		recs = recs[o.cfg.BatchSize:]
	}
	return o.publishChunk(ctx, recs, mark)
}

func (o *Outbox) publishChunk(ctx context.Context, recs []Record, mark bool) error {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.PublishTimeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, len(recs))
	var firstErr error
	for i, r := range recs {
		m := nats.NewMsg(r.Subject)
		m.Data = r.Payload
		m.Header.Set(nats.MsgIdHdr, r.ID)
		f, err := o.js.PublishMsgAsync(m)
		if err != nil {
			firstErr = fmt.Errorf("relay event %s: %w", r.ID, err)
			break
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			break
		}
		select {
		case <-f.Ok():
			o.published.Inc()
			if mark {
				o.mark(ctx, recs[i].ID)
			}
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = fmt.Errorf("relay event %s: %w", recs[i].ID, err)
			}
		case <-ctx.Done():
			if firstErr == nil {
				firstErr = fmt.Errorf("relay event %s: %w", recs[i].ID, ctx.Err())
			}
		}
	}
	if firstErr != nil {
		o.failures.Inc()
	}
	return firstErr
}

func (o *Outbox) mark(ctx context.Context, id string) {
	select {
	case o.marks <- id:
	case <-ctx.Done():
	}
}

// Run relays, marks and sweeps until ctx ends. It sweeps once at start,
// taking every unpublished row whatever its age: whatever is there was left
// by a process that is gone or by this one before it restarted.
func (o *Outbox) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	markCtx, stopMarks := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() { defer wg.Done(); o.runMarks(markCtx) }()

	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				o.drain(context.WithoutCancel(ctx))
				return
			case recs := <-o.queue:
				// Take whatever else is waiting so acks are awaited together.
				for more := true; more && len(recs) < o.cfg.BatchSize; {
					select {
					case r := <-o.queue:
						recs = append(recs, r...)
					default:
						more = false
					}
				}
				if err := o.publish(ctx, recs); err != nil && ctx.Err() == nil {
					o.log.Warn("relay failed; the sweeper will retry", zap.Error(err), zap.Int("count", len(recs)))
				}
			}
		}
	}()

	o.sweep(ctx, 0)
	t := time.NewTicker(o.cfg.SweepInterval)
	defer t.Stop()
	lastPrune := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
			o.sweep(ctx, o.cfg.SweepAge)
			if o.cfg.Retention > 0 && time.Since(lastPrune) > time.Minute {
				lastPrune = time.Now()
				o.prune(ctx)
			}
		}
	}
	stopMarks()
	wg.Wait()
	return nil
}

// drain publishes what is queued when the outbox stops, so a clean
// shutdown leaves nothing for the next start's sweep.
func (o *Outbox) drain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var recs []Record
	for {
		select {
		case r := <-o.queue:
			recs = append(recs, r...)
		default:
			if err := o.publish(ctx, recs); err != nil {
				o.log.Warn("relay at shutdown; the next sweep will retry", zap.Error(err))
			}
			return
		}
	}
}

// runMarks records published rows in batches: one UPDATE per batch rather
// than a transaction per event, which would double the commits of a handler.
func (o *Outbox) runMarks(ctx context.Context) {
	q := fmt.Sprintf(`DELETE FROM %s.outbox_pending WHERE event_id = ANY($1)`, o.cfg.Schema)
	ids := make([]string, 0, o.cfg.BatchSize)
	flush := func() {
		if len(ids) == 0 {
			return
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := o.pool.Exec(fctx, q, ids); err != nil {
			// Unmarked rows are re-sent by the sweeper and dropped by dedupe.
			o.log.Warn("mark outbox rows published", zap.Error(err), zap.Int("count", len(ids)))
		}
		ids = ids[:0]
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case id := <-o.marks:
			ids = append(ids, id)
			if len(ids) >= o.cfg.BatchSize {
				flush()
			}
		case <-t.C:
			flush()
		case <-ctx.Done():
			for {
				select {
				case id := <-o.marks:
					ids = append(ids, id)
				default:
					flush()
					return
				}
			}
		}
	}
}

// Sweep publishes unpublished rows older than age; tests and tools call it
// directly.
func (o *Outbox) Sweep(ctx context.Context, age time.Duration) (int, error) {
	total := 0
	q := fmt.Sprintf(`SELECT o.event_id, o.subject, o.payload FROM %[1]s.outbox_pending p JOIN %[1]s.outbox o USING (event_id)
WHERE p.created_at <= now() - $1::interval ORDER BY p.created_at, p.event_id LIMIT $2`, o.cfg.Schema)
	for {
		rows, err := o.pool.Query(ctx, q, age.String(), o.cfg.BatchSize)
		if err != nil {
			return total, fmt.Errorf("sweep outbox: %w", err)
		}
		recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) {
			var rec Record
			err := r.Scan(&rec.ID, &rec.Subject, &rec.Payload)
			return rec, err
		})
		if err != nil {
			return total, fmt.Errorf("sweep outbox: %w", err)
		}
		if len(recs) == 0 {
			return total, nil
		}
		if err := o.publishMarking(ctx, recs, false); err != nil {
			return total, err
		}
		total += len(recs)
		// Marks are asynchronous; make sure they landed before reading the
		// next page, or it would return the same rows.
		if err := o.markNow(ctx, recs); err != nil {
			return total, err
		}
		if len(recs) < o.cfg.BatchSize {
			return total, nil
		}
	}
}

func (o *Outbox) markNow(ctx context.Context, recs []Record) error {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	_, err := o.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s.outbox_pending WHERE event_id = ANY($1)`, o.cfg.Schema), ids)
	if err != nil {
		return fmt.Errorf("mark outbox rows published: %w", err)
	}
	return nil
}

func (o *Outbox) sweep(ctx context.Context, age time.Duration) {
	n, err := o.Sweep(ctx, age)
	if err != nil && !errors.Is(err, context.Canceled) {
		o.log.Warn("outbox sweep", zap.Error(err))
	}
	if n > 0 {
		o.log.Info("outbox sweep relayed rows a previous run left", zap.Int("count", n))
	}
	var depth int64
	if err := o.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.outbox_pending`, o.cfg.Schema)).Scan(&depth); err == nil {
		o.depth.Set(float64(depth))
	}
}

func (o *Outbox) prune(ctx context.Context) {
	_, err := o.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %[1]s.outbox o WHERE created_at < now() - $1::interval
AND NOT EXISTS (SELECT 1 FROM %[1]s.outbox_pending p WHERE p.event_id = o.event_id)`, o.cfg.Schema), o.cfg.Retention.String())
	if err != nil && ctx.Err() == nil {
		o.log.Warn("prune outbox", zap.Error(err))
	}
}

// Inbox makes a consumer's effect exactly-once: the input event's id, the
// state change and the output events commit in one transaction.
type Inbox struct {
	pool          *pgxpool.Pool
	schema        string
	outbox        *Outbox
	insertSQL     string
	insertManySQL string

	mu    sync.Mutex
	group *groupCommit // set while RunBatches runs
}

// NewInbox returns the inbox of the outbox's schema.
func NewInbox(pool *pgxpool.Pool, outbox *Outbox) *Inbox {
	return &Inbox{pool: pool, schema: outbox.cfg.Schema, outbox: outbox,
		insertSQL: fmt.Sprintf(`INSERT INTO %s.inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, outbox.cfg.Schema),
		insertManySQL: fmt.Sprintf(`INSERT INTO %s.inbox (consumer, event_id) SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT DO NOTHING RETURNING consumer, event_id`, outbox.cfg.Schema)}
}

// HandlerFunc changes state inside tx and returns the events it causes.
type HandlerFunc func(ctx context.Context, tx pgx.Tx, in events.Envelope) ([]events.Envelope, error)

// Handle runs fn once for the event id per consumer. A repeat returns
// (false, nil) without running fn. After commit the outputs are published
// and Handle returns once JetStream has them, so the caller may ack its input.
func (i *Inbox) Handle(ctx context.Context, consumer string, in events.Envelope, fn HandlerFunc) (bool, error) {
	return i.HandleKey(ctx, DefaultKey(in), consumer, in, fn)
}

// DefaultKey is the key events are grouped by: the correlation id (the
// visit), else the subject.
func DefaultKey(in events.Envelope) string {
	if in.CorrelationID != "" {
		return in.CorrelationID
	}
	return in.Subject
}

// HandleKey is Handle with the key that keeps events touching the same rows
// out of concurrent transactions under group commit (BatchConfig).
func (i *Inbox) HandleKey(ctx context.Context, key, consumer string, in events.Envelope, fn HandlerFunc) (bool, error) {
	i.mu.Lock()
	g := i.group
	i.mu.Unlock()
	if g != nil {
		return i.handleGrouped(ctx, g, key, consumer, in, fn)
	}
	var recs []Record
	first := false
	err := pgx.BeginFunc(ctx, i.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, i.insertSQL, consumer, in.ID)
		if err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		first = true
		out, err := fn(ctx, tx, in)
		if err != nil {
			return err
		}
		recs, err = i.outbox.Add(ctx, tx, out...)
		return err
	})
	if err != nil {
		return false, err
	}
	if err := i.outbox.RelayWait(ctx, recs); err != nil {
		// Committed: the sweeper will publish. Returning the error makes the
		// input come back, and the inbox will skip it then.
		return first, err
	}
	return first, nil
}

// EventHandler adapts fn to a Watermill handler: it decodes the envelope and
// runs fn through the inbox. A payload that is not a valid envelope fails
// every time and so reaches the dead-letter stream after the retries.
func EventHandler(inbox *Inbox, consumer string, key func(events.Envelope) string, fn HandlerFunc) message.NoPublishHandlerFunc {
	if key == nil {
		key = DefaultKey
	}
	return func(msg *message.Message) error {
		in, err := events.Unmarshal(msg.Payload)
		if errors.Is(err, events.ErrUnknownType) {
			// A newer producer's type (a .v2 beside the .v1): not ours to
			// handle, and no reason to dead-letter it.
			return nil
		}
		if err != nil {
			return fmt.Errorf("message %s: %w", msg.UUID, err)
		}
		_, err = inbox.HandleKey(msg.Context(), key(in), consumer, in, fn)
		return err
	}
}
