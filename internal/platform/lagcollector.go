package platform

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterPipelineCollector registers on reg the pipeline's backlog, read
// from JetStream (and with a pool, Postgres) at each scrape:
//
//	rcm_consumer_pending{stream,consumer,service}            messages not yet delivered
//	rcm_consumer_ack_pending{stream,consumer,service}        delivered, not yet acknowledged
//	rcm_consumer_redelivered{stream,consumer,service}        of those, delivered more than once
//	rcm_consumer_oldest_unprocessed_seconds{stream,consumer,service}
//	rcm_dead_letters{service}                                messages in DEADLETTER
//	rcm_stream_messages{stream}, rcm_stream_bytes{stream}
//	rcm_outbox_pending{schema}                               outbox rows not yet published
//	rcm_pipeline_collect_errors_total                        scrapes that could not read a source
//
// Values are read at scrape time rather than kept up to date by the
// stages, so they are right even for a stage that is down, and every
// process reports the same numbers: aggregate with max, not sum. The
// outbox is counted for schemas only (a service reads its own schema; rcm
// dev passes all of them); pool nil counts none.
//
// A source that cannot be read (NATS down) leaves its series out of that
// scrape and counts an error, rather than failing the whole /metrics page.
func RegisterPipelineCollector(reg prometheus.Registerer, js jetstream.JetStream, pool *pgxpool.Pool, schemas ...string) error {
	return reg.Register(NewPipelineCollector(js, pool, schemas...))
}

// NewPipelineCollector is the collector RegisterPipelineCollector
// registers.
func NewPipelineCollector(js jetstream.JetStream, pool *pgxpool.Pool, schemas ...string) prometheus.Collector {
	consumer := []string{"stream", "consumer", "service"}
	return &pipelineCollector{
		js: js, pool: pool, schemas: schemas, timeout: 5 * time.Second,
		pending:     prometheus.NewDesc("rcm_consumer_pending", "Messages of a durable consumer's subjects not yet delivered (num_pending).", consumer, nil),
		ackPending:  prometheus.NewDesc("rcm_consumer_ack_pending", "Messages delivered to a durable consumer and not yet acknowledged (num_ack_pending).", consumer, nil),
		redelivered: prometheus.NewDesc("rcm_consumer_redelivered", "Unacknowledged messages delivered more than once (num_redelivered).", consumer, nil),
		oldest:      prometheus.NewDesc("rcm_consumer_oldest_unprocessed_seconds", "Age of the oldest message a durable consumer has not acknowledged; 0 when caught up.", consumer, nil),
		deadLetters: prometheus.NewDesc("rcm_dead_letters", "Messages a service gave up on, waiting in the DEADLETTER stream for rcm dlq.", []string{"service"}, nil),
		streamMsgs:  prometheus.NewDesc("rcm_stream_messages", "Messages a stream holds.", []string{"stream"}, nil),
		streamBytes: prometheus.NewDesc("rcm_stream_bytes", "Bytes a stream holds.", []string{"stream"}, nil),
		outbox:      prometheus.NewDesc("rcm_outbox_pending", "Outbox rows committed and not yet published to JetStream, counted at scrape.", []string{"schema"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "rcm_pipeline_collect_errors_total",
			Help: "Scrapes in which JetStream or Postgres could not be read for the pipeline's backlog."}),
	}
}

type pipelineCollector struct {
	js      jetstream.JetStream
	pool    *pgxpool.Pool
	schemas []string
	timeout time.Duration

	pending, ackPending, redelivered, oldest *prometheus.Desc
	deadLetters, streamMsgs, streamBytes     *prometheus.Desc
	outbox                                   *prometheus.Desc
	errors                                   prometheus.Counter
}

func (c *pipelineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.ackPending, c.redelivered, c.oldest, c.deadLetters, c.streamMsgs, c.streamBytes, c.outbox} {
		ch <- d
	}
	c.errors.Describe(ch)
}

func (c *pipelineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	failed := false
	if snap, err := readSnapshot(ctx, c.js); err != nil {
		failed = true
	} else {
		for _, s := range snap.streams {
			gauge(c.streamMsgs, float64(s.State.Msgs), s.Config.Name)
			gauge(c.streamBytes, float64(s.State.Bytes), s.Config.Name)
		}
		for _, ci := range snap.consumers {
			labels := []string{ci.Stream, ci.Name, serviceOf(ci.Name)}
			gauge(c.pending, float64(ci.NumPending), labels...)
			gauge(c.ackPending, float64(ci.NumAckPending), labels...)
			gauge(c.redelivered, float64(ci.NumRedelivered), labels...)
			var age float64
			if ci.NumPending > 0 || ci.NumAckPending > 0 {
				if at, ok := oldestUnacked(ctx, c.js, ci); ok {
					age = max(0, snap.at.Sub(at).Seconds())
				}
			}
			gauge(c.oldest, age, labels...)
		}
	}
	if dead, err := NewDeadLetters(c.js, nil).Counts(ctx); err != nil {
		failed = true
	} else {
		// Every service has a series, 0 included, so that an alert on
		// rcm_dead_letters > 0 has something to compare before the first failure.
		for _, s := range PipelineServices {
			if _, ok := dead[s]; !ok {
				gauge(c.deadLetters, 0, s)
			}
		}
		for s, n := range dead {
			gauge(c.deadLetters, float64(n), s)
		}
	}
	if c.pool != nil && len(c.schemas) > 0 {
		if depths, err := OutboxPending(ctx, c.pool, c.schemas...); err != nil {
			failed = true
		} else {
			for schema, n := range depths {
				gauge(c.outbox, float64(n), schema)
			}
		}
	}
	if failed {
		c.errors.Inc()
	}
	c.errors.Collect(ch)
}
