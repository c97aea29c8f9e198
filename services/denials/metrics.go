package denials

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
)

// RegisterMetrics registers on reg the revenue cycle's business counters,
// computed from the denials ledger at scrape time (at most every 10s):
//
//	rcm_claims_submitted_total                  submissions sent (denials.submissions, one row per 837P claim sent)
//	rcm_claims_acknowledged_total{source,status} 999 and 277CA answers per claim (claim.acknowledged rows of denials.timeline)
//	rcm_claims_reconciled_total{outcome}         claim.reconciled, reversals included (denials.reconciliations)
//	rcm_denials_opened_total{category}           denial work items opened, by their category now (denials.work_items)
//	rcm_dollars_posted_cents_total               payments posted, in cents, before reversals (positive denials.postings.paid_cents)
//	rcm_business_metrics_errors_total            scrapes that could not read the ledger
//
// They are sums over the ledger rather than counters kept by handlers: the
// ledger records each fact once, in the transaction that the inbox makes
// exactly-once, whereas an in-process counter would count handlers whose
// transaction rolled back, start from 0 at every restart and differ per
// replica. The rows they count are never deleted, so the values only grow
// (reversals are left out of the dollars for that reason: they post
// negative rows). Every replica reports the same totals: aggregate with
// max, not sum.
//
// The denials service owns these tables, so it is the one to register
// this; the pipeline's backlog is platform.RegisterPipelineCollector.
func RegisterMetrics(reg prometheus.Registerer, pool *pgxpool.Pool) error {
	return reg.Register(NewMetricsCollector(pool, 10*time.Second))
}

// NewMetricsCollector is the collector of RegisterMetrics; it reads the
// ledger at most once per minInterval and answers scrapes in between from
// what it read, so that several Prometheus servers cost one set of
// queries.
func NewMetricsCollector(pool *pgxpool.Pool, minInterval time.Duration) prometheus.Collector {
	return &metricsCollector{
		pool: pool, minInterval: minInterval,
		submitted: prometheus.NewDesc("rcm_claims_submitted_total",
			"Claims sent to the clearinghouse in an 837P, each submission of a claim counted.", nil, nil),
		acknowledged: prometheus.NewDesc("rcm_claims_acknowledged_total",
			"Acknowledgements of submitted claims, by file (999, 277CA) and status (accepted, rejected).", []string{"source", "status"}, nil),
		reconciled: prometheus.NewDesc("rcm_claims_reconciled_total",
			"Claims reconciled with an 835 remittance, by outcome.", []string{"outcome"}, nil),
		denialsOpened: prometheus.NewDesc("rcm_denials_opened_total",
			"Denial work items opened, by category.", []string{"category"}, nil),
		dollars: prometheus.NewDesc("rcm_dollars_posted_cents_total",
			"Payer payments posted to claims, in cents, before reversals.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "rcm_business_metrics_errors_total",
			Help: "Scrapes in which the denials ledger could not be read for the business metrics."}),
	}
}

type metricsCollector struct {
	pool        *pgxpool.Pool
	minInterval time.Duration

	submitted, acknowledged, reconciled, denialsOpened, dollars *prometheus.Desc
	errors                                                      prometheus.Counter

	mu     sync.Mutex
	readAt time.Time
	last   []prometheus.Metric
}

func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.submitted, c.acknowledged, c.reconciled, c.denialsOpened, c.dollars} {
		ch <- d
	}
	c.errors.Describe(ch)
}

func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || time.Since(c.readAt) >= c.minInterval {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ms, err := c.read(ctx)
		cancel()
		if err != nil {
			// The series are left out of this scrape rather than repeated
			// stale; the error counter says why.
			c.errors.Inc()
			c.last = nil
		} else {
			c.last, c.readAt = ms, time.Now()
		}
	}
	for _, m := range c.last {
		ch <- m
	}
	c.errors.Collect(ch)
}

// Label values that exist before anything happened, so that each series
// starts at 0 and rate() sees its first increase.
var (
	ackKeys = [][2]string{{events.Ack999, events.AckAccepted}, {events.Ack999, events.AckRejected},
		{events.Ack277CA, events.AckAccepted}, {events.Ack277CA, events.AckRejected}}
	outcomeKeys = []string{events.OutcomePaidInFull, events.OutcomePartlyPaid, events.OutcomeDenied,
		events.OutcomeReversed, events.OutcomeForwarded}
	categoryKeys = []string{events.CategoryCoding, events.CategoryBundling, events.CategoryMedicalNecessity,
		events.CategoryAuthorization, events.CategoryEligibility, events.CategoryTimelyFiling, events.CategoryDuplicate,
		events.CategoryBenefitMaximum, events.CategoryCoordinationOfBenefits, events.CategoryMissingInformation}
)

// known gives every key of keys a count, 0 if it has none, and adds the
// counts of any other key under other. Label values are thus a fixed set
// whatever the tables hold: no unbounded series, and no text that was
// never meant for a label (the acknowledgement's comes from a summary).
func known(counts map[[2]string]int64, keys [][2]string, other [2]string) map[[2]string]int64 {
	out := make(map[[2]string]int64, len(keys)+1)
	for _, k := range keys {
		out[k] = 0
	}
	for k, n := range counts {
		if _, ok := out[k]; !ok {
			k = other
		}
		out[k] += n
	}
	return out
}

func single(values []string) [][2]string {
	out := make([][2]string, len(values))
	for i, v := range values {
		out[i] = [2]string{v}
	}
	return out
}

// read takes every number from one snapshot of the ledger, so that they
// agree with one another.
func (c *metricsCollector) read(ctx context.Context) ([]prometheus.Metric, error) {
	var out []prometheus.Metric
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...))
	}
	grouped := func(tx pgx.Tx, q string, args ...any) (map[[2]string]int64, error) {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		m := map[[2]string]int64{}
		var k [2]string
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&k[0], &k[1], &n}, func() error { m[k] += n; return nil })
		return m, err
	}
	err := platform.ReportTx(ctx, c.pool, func(tx pgx.Tx) error {
		var submitted, cents int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM denials.submissions`).Scan(&submitted); err != nil {
			return err
		}
		counter(c.submitted, float64(submitted))

		// The ledger writes an acknowledgement's summary as "<source>
		// <status> submission <n>: <reason>" (acknowledged in ledger.go);
		// TestBusinessMetrics holds the two together.
		acks, err := grouped(tx, `SELECT split_part(summary, ' ', 1), split_part(summary, ' ', 2), count(*)
FROM denials.timeline WHERE kind = $1 GROUP BY 1, 2`, events.TypeClaimAcknowledged)
		if err != nil {
			return err
		}
		acks = known(acks, ackKeys, [2]string{"other", "other"})
		for k, n := range acks {
			counter(c.acknowledged, float64(n), k[0], k[1])
		}

		outcomes, err := grouped(tx, `SELECT outcome, '', count(*) FROM denials.reconciliations GROUP BY 1`)
		if err != nil {
			return err
		}
		outcomes = known(outcomes, single(outcomeKeys), [2]string{"other"})
		for k, n := range outcomes {
			counter(c.reconciled, float64(n), k[0])
		}

		categories, err := grouped(tx, `SELECT category, '', count(*) FROM denials.work_items GROUP BY 1`)
		if err != nil {
			return err
		}
		categories = known(categories, single(categoryKeys), [2]string{"other"})
		for k, n := range categories {
			counter(c.denialsOpened, float64(n), k[0])
		}

		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(paid_cents), 0) FROM denials.postings WHERE paid_cents > 0`).Scan(&cents); err != nil {
			return err
		}
		counter(c.dollars, float64(cents))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("business metrics: %w", err)
	}
	return out, nil
}
