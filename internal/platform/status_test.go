package platform_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
)

// backlog builds a pipeline with work in it: 10 visits on INTAKE, of which
// the coder's consumer has finished three and holds one unacknowledged; an
// idle submitter consumer; two dead letters of the coder and one of
// denials; three coder outbox rows not yet published. It returns the coder's
// consumer.
func backlog(t *testing.T, d platform.Deps) jetstream.Consumer {
	t.Helper()
	ctx := context.Background()
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	if err := platform.Migrate(ctx, d.Pool, "coder", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `INSERT INTO coder.outbox_pending (event_id) VALUES ('a'), ('b'), ('c')`); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		publishVisit(t, d.JS, fmt.Sprintf("v-%d", i))
	}
	for i, svc := range []string{"coder", "coder", "denials"} {
		m := nats.NewMsg(platform.DeadLetterSubject(svc))
		m.Data = []byte(`{"id":"x"}`)
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("dl-%d", i))
		if _, err := d.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	coder, err := platform.EnsureConsumer(ctx, d.JS, platform.ConsumerSpec{Stream: events.StreamIntake, Durable: "coder",
		Subjects: []string{events.SubjectVisitRecorded}, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := platform.EnsureConsumer(ctx, d.JS, platform.ConsumerSpec{Stream: events.StreamCoder, Durable: "submitter",
		Subjects: []string{events.SubjectVisitCoded}}); err != nil {
		t.Fatal(err)
	}
	// The first stays unacknowledged, so the ack floor stays before it.
	consume(t, coder, 4, 1)
	// A demo following events: ephemeral, not a stage.
	if _, err := d.JS.OrderedConsumer(ctx, events.StreamIntake, jetstream.OrderedConsumerConfig{}); err != nil {
		t.Fatal(err)
	}
	return coder
}

// consume fetches n messages and acks all but the first skip.
func consume(t *testing.T, c jetstream.Consumer, n, skip int) {
	t.Helper()
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Error(err)
		return
	}
	i := 0
	for m := range batch.Messages() {
		if i >= skip {
			if err := m.DoubleAck(context.Background()); err != nil {
				t.Error(err)
			}
		}
		i++
	}
	if i != n {
		t.Errorf("fetched %d; want %d", i, n)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	coder := backlog(t, d)
	// Two more are handled while the status samples its rates.
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		time.Sleep(150 * time.Millisecond)
		consume(t, coder, 2, 0)
	}()
	st, err := platform.Status(context.Background(), d.JS, platform.StatusOptions{Sample: 700 * time.Millisecond, Pool: d.Pool,
		Schemas: []string{"intake", "coder", "denials"}})
	<-acked
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range st.Stages {
		names = append(names, s.Name()+"@"+s.Stream)
	}
	if want := []string{"intake@INTAKE", "coder@INTAKE", "submitter@CODER"}; !slices.Equal(names, want) {
		t.Fatalf("stages %v; want %v", names, want)
	}
	intake, c, sub := st.Stages[0], st.Stages[1], st.Stages[2]
	if intake.Consumer != "" || intake.Pending != 0 {
		t.Errorf("intake row %+v", intake)
	}
	if c.Service != "coder" || c.Pending != 4 || c.AckPending != 1 || c.Redelivered != 0 {
		t.Errorf("coder %+v; want 4 pending, 1 unacknowledged", c)
	}
	if c.Rate < 1 || c.Rate > 10 {
		t.Errorf("coder rate %.2f/s; want 2 acks over the 0.7s sample", c.Rate)
	}
	if c.OldestSeconds < 0.5 || c.OldestSeconds > 60 {
		t.Errorf("coder's oldest unprocessed %.2fs; want the first visit's age", c.OldestSeconds)
	}
	if sub.Pending != 0 || sub.AckPending != 0 || sub.Rate != 0 || sub.OldestSeconds != 0 {
		t.Errorf("idle submitter %+v", sub)
	}

	services := map[string]platform.ServiceStatus{}
	for _, s := range st.Services {
		services[s.Service] = s
	}
	check := func(svc string, dead uint64, outbox int64) {
		t.Helper()
		s := services[svc]
		got := int64(-1)
		if s.OutboxPending != nil {
			got = *s.OutboxPending
		}
		if s.DeadLetters != dead || got != outbox {
			t.Errorf("%s: %d dead letters, outbox %d; want %d and %d (-1: not counted)", svc, s.DeadLetters, got, dead, outbox)
		}
	}
	check("coder", 2, 3)
	check("denials", 1, -1) // no denials schema in this database
	check("intake", 0, -1)
	check("submitter", 0, -1) // not among the schemas asked for
	if len(st.Services) != 4 || st.Services[0].Service != "intake" || st.Services[3].Service != "denials" {
		t.Errorf("services %+v; want the pipeline's order", st.Services)
	}
	streams := map[string]platform.StreamStatus{}
	for _, s := range st.Streams {
		streams[s.Name] = s
	}
	if streams[events.StreamIntake].Messages != 10 || streams[events.StreamIntake].Bytes == 0 || streams[events.StreamDeadLetter].Messages != 3 {
		t.Errorf("streams %+v", st.Streams)
	}
}

// gather scrapes reg and returns each sample as name{label="value",...}.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

func TestPipelineCollector(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	backlog(t, d)
	reg := prometheus.NewPedanticRegistry()
	if err := platform.RegisterPipelineCollector(reg, d.JS, d.Pool, "intake", "coder"); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	for k, v := range map[string]float64{
		`rcm_consumer_pending{consumer="coder",service="coder",stream="INTAKE"}`:        6,
		`rcm_consumer_ack_pending{consumer="coder",service="coder",stream="INTAKE"}`:    1,
		`rcm_consumer_redelivered{consumer="coder",service="coder",stream="INTAKE"}`:    0,
		`rcm_consumer_pending{consumer="submitter",service="submitter",stream="CODER"}`: 0,
		`rcm_dead_letters{service="coder"}`:                                             2,
		`rcm_dead_letters{service="denials"}`:                                           1,
		`rcm_dead_letters{service="submitter"}`:                                         0,
		`rcm_outbox_pending{schema="coder"}`:                                            3,
		`rcm_stream_messages{stream="INTAKE"}`:                                          10,
		`rcm_pipeline_collect_errors_total{}`:                                           0,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v); want %v", k, g, ok, v)
		}
	}
	if age := got[`rcm_consumer_oldest_unprocessed_seconds{consumer="coder",service="coder",stream="INTAKE"}`]; age <= 0 || age > 60 {
		t.Errorf("coder's oldest unprocessed: %vs", age)
	}
	for k := range got {
		if strings.Contains(k, `schema="intake"`) {
			t.Errorf("%s: a schema the database does not have is not reported", k)
		}
	}
	// NATS gone: the scrape still works, without the pipeline's series.
	d.NATS.Close()
	got = gather(t, reg)
	if got[`rcm_pipeline_collect_errors_total{}`] != 1 || got[`rcm_outbox_pending{schema="coder"}`] != 3 {
		t.Errorf("after NATS closed: %v", got)
	}
}
