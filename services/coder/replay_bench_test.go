package coder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/demo"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/internal/rulestest"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/intake"
)

// BenchmarkReplayCoderDryRun times a dry-run replay of the coder over
// RCM_BENCH_REPLAY_VISITS coded visits (default 100,000): synthetic visits
// from internal/demo in an embedded JetStream, their codings in Postgres,
// once under the rules they were coded with (nothing changes) and once with
// 97530 charged dearer (the diff of every visit billing it is printed);
// then that replay for real, for its write rate (with the test cluster's
// fsync off: a lower bound on a real server's time).
//
//	scripts/bench-replay.sh
//
// The codings are written straight into the coder's tables, as the coder
// would have made them one by one (same Build, same running threshold
// totals), because coding 100,000 visits through the live coder is not
// what is measured; the unchanged-rules replay finding 0 changes checks
// that they are what the coder makes.
func BenchmarkReplayCoderDryRun(b *testing.B) {
	n := 100_000
	if s := os.Getenv("RCM_BENCH_REPLAY_VISITS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("RCM_BENCH_REPLAY_VISITS: %v", err)
		}
	}
	d := ptest.Deps(b)
	ctx := context.Background()
	if err := platform.Migrate(ctx, d.Pool, coder.Schema, coder.Migrations()); err != nil {
		b.Fatal(err)
	}
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	seedCodedVisits(b, d, n)
	b.Logf("set-up: %d visits published and coded in %s", n, time.Since(start).Round(time.Millisecond))

	run := func(b *testing.B, rules *billing.Rules, wantChanged bool) {
		for b.Loop() {
			var out bytes.Buffer
			t0 := time.Now()
			sum, err := (&coder.Replay{Pool: d.Pool, JS: d.JS, Rules: rules, DryRun: true, Out: &out}).Run(ctx, platform.ReplayRange{FromSeq: 1})
			if err != nil {
				b.Fatal(err)
			}
			el := time.Since(t0)
			if sum.Span.Read != n || sum.Compared != n {
				b.Fatalf("read %d, compared %d; want %d", sum.Span.Read, sum.Compared, n)
			}
			if (sum.Changed > 0) != wantChanged {
				b.Fatalf("%d changed:\n%s", sum.Changed, tail(out.Bytes(), 2000))
			}
			b.ReportMetric(float64(n)/el.Seconds(), "visits/s")
			b.ReportMetric(el.Seconds(), "s/replay")
			b.Logf("%d visits in %s (%.0f/s), %d changed, %d bytes printed; summary:\n%s", n, el.Round(time.Millisecond), float64(n)/el.Seconds(),
				sum.Changed, out.Len(), tail(out.Bytes(), 700))
		}
	}
	dearer := rulestest.Rules(b, "2026.11.2-dearer", dearer97530(b))
	b.Run("unchanged-rules", func(b *testing.B) { run(b, billing.DefaultRules(), false) })
	b.Run("dearer-97530", func(b *testing.B) { run(b, dearer, true) })
	// Last, as it changes what the others compare with: the replay for
	// real, a transaction per changed visit and its event published.
	b.Run("dearer-97530-written", func(b *testing.B) {
		for b.Loop() {
			t0 := time.Now()
			sum, err := (&coder.Replay{Pool: d.Pool, JS: d.JS, Rules: dearer}).Run(ctx, platform.ReplayRange{FromSeq: 1})
			if err != nil {
				b.Fatal(err)
			}
			el := time.Since(t0)
			if sum.Changed == 0 || sum.Published.Stored != sum.Changed {
				b.Fatalf("changed %d, published %d", sum.Changed, sum.Published.Stored)
			}
			b.ReportMetric(el.Seconds(), "s/replay")
			b.Logf("%d visits compared, %d written and published in %s", sum.Compared, sum.Changed, el.Round(time.Millisecond))
		}
	})
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// seedCodedVisits publishes n synthetic visit.recorded events to INTAKE and
// writes the coder's state for them as the coder, coding them in stream
// order, would have.
func seedCodedVisits(b *testing.B, d platform.Deps, n int) {
	ctx := context.Background()
	rules := billing.DefaultRules()
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	visits := demo.Visits(1, n, at)
	totals := map[[4]string]int64{}
	var rows [][]any
	var futures []jetstream.PubAckFuture
	flush := func() {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
		futures = futures[:0]
		if _, err := d.Pool.CopyFrom(ctx, pgx.Identifier{"coder", "visits"}, []string{"visit_id", "patient_key", "payer_id", "year", "bucket",
			"allowed_cents", "coded_revision", "visit_revision", "source_event_id", "last_event_id", "rules_version", "voided", "held", "coded"},
			pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		rows = rows[:0]
	}
	for _, v := range visits {
		visitID := intake.VisitID(v.Source, v.SourceVisitID)
		id := events.NewID("intake", events.TypeVisitRecorded, visitID, strconv.Itoa(v.Revision))
		rec := events.VisitRecorded{VisitID: visitID, Revision: v.Revision, Change: events.ChangeNew, ReceivedAt: at.Format(time.RFC3339), Visit: v}
		e, err := events.New(id, events.TypeVisitRecorded, events.SourceIntake, visitID, at, rec)
		if err != nil {
			b.Fatal(err)
		}
		e.CorrelationID = visitID
		raw, _ := json.Marshal(e)
		m := nats.NewMsg(events.SubjectVisitRecorded)
		m.Data = raw
		m.Header.Set(nats.MsgIdHdr, id)
		f, err := d.JS.PublishMsgAsync(m)
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)

		// As Handler.Handle: the patient's total so far, the coding, and
		// what it adds to the total.
		patient := coder.PatientKey(&v)
		year := v.DateOfService[:4]
		bucket := events.ThresholdPTSLP
		if v.RenderingProvider.Discipline == events.DisciplineOT {
			bucket = events.ThresholdOT
		}
		key := [4]string{patient, v.Coverage.PayerID, year, bucket}
		coded, c := coder.Build(rec, rules, coder.Options{YTDAllowedCents: totals[key]})
		coded.Revision = 1
		if c.Bucket == "" {
			bucket = ""
		} else {
			totals[key] += c.AllowedCents
		}
		data, _ := json.Marshal(coded)
		y, _ := strconv.Atoi(year)
		rows = append(rows, []any{visitID, patient, v.Coverage.PayerID, y, bucket, c.AllowedCents, 1, v.Revision, id,
			events.NewID("coder", events.TypeVisitCoded, id, rules.Version), rules.Version, false, c.Held(), data})
		if len(rows) == 2000 {
			flush()
		}
	}
	flush()
	var trows [][]any
	for k, cents := range totals {
		y, _ := strconv.Atoi(k[2])
		trows = append(trows, []any{k[0], k[1], y, k[3], cents})
	}
	if _, err := d.Pool.CopyFrom(ctx, pgx.Identifier{"coder", "threshold_totals"}, []string{"patient_key", "payer_id", "year", "bucket", "allowed_cents"},
		pgx.CopyFromRows(trows)); err != nil {
		b.Fatal(err)
	}
}
