package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/internal/demo"
	"github.com/rcm-health/rcm/internal/emrclient"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
)

type loadOptions struct {
	addr     string
	dataDir  string
	natsURL  string
	clients  int
	duration time.Duration
	rate     float64
	warmup   time.Duration
	asJSON   bool
}

func newLoadgenCmd() *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "loadgen",
		Short: "Fire signed visits at intake and report sustained visits/s and latency",
		Long: `rcm loadgen posts distinct, valid, signed visits to intake from --clients
concurrent clients, as fast as intake answers or at --rate visits/s, for
--duration, and reports accepted visits per second and latency percentiles.
Every counted visit got a 202: it was committed with its event in the outbox.`,
		Example: `  rcm loadgen --addr 127.0.0.1:8080 --clients 32 --duration 20s
  rcm loadgen --rate 100 --duration 30s`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoad(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:8080", "intake's address")
	cmd.Flags().IntVar(&o.clients, "clients", 32, "concurrent clients")
	cmd.Flags().DurationVar(&o.duration, "duration", 20*time.Second, "how long to measure")
	cmd.Flags().DurationVar(&o.warmup, "warmup", 2*time.Second, "load before measuring starts")
	cmd.Flags().Float64Var(&o.rate, "rate", 0, "visits per second in total; 0 is as fast as possible")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&o.dataDir, "data-dir", ".rcm", "the data dir of the rcm dev under load (for its NATS URL, to follow the coder)")
	cmd.Flags().StringVar(&o.natsURL, "nats-url", "", "NATS URL of the pipeline, to follow the coder (default: from --data-dir)")
	return cmd
}

// loadResult is what loadgen reports.
type loadResult struct {
	Clients      int            `json:"clients"`
	Seconds      float64        `json:"seconds"`
	Accepted     int            `json:"accepted"`
	Failed       int            `json:"failed"`
	ByStatus     map[string]int `json:"by_status"`
	VisitsPerSec float64        `json:"visits_per_sec"`
	P50ms        float64        `json:"p50_ms"`
	P90ms        float64        `json:"p90_ms"`
	P99ms        float64        `json:"p99_ms"`
	Maxms        float64        `json:"max_ms"`
	// Stages are the downstream stages followed while the load ran.
	Stages []stageRate `json:"stages,omitempty"`
}

func runLoad(ctx context.Context, o loadOptions) error {
	secret, err := webhook.ParseSecret(webhookSecretFromEnv())
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	// Bodies come from a few hundred realistic visits with a fresh
	// source_visit_id and member id per request, so every request is a new
	// visit of a new member (the scrubber would hold a repeated service of
	// one member as a duplicate), and the client spends its CPU on HTTP, not
	// on generating data.
	const placeholder, memberPlaceholder = "__LOADGEN_ID__", "__LGMEMBER__"
	base := demo.Visits(time.Now().UnixNano(), 256, time.Now())
	templates := make([][]byte, len(base))
	medicare := make([]bool, len(base))
	for i := range base {
		base[i].SourceVisitID = placeholder
		base[i].Coverage.MemberID = memberPlaceholder
		medicare[i] = base[i].Coverage.PlanType == events.PlanMedicarePartB
		b, err := json.Marshal(base[i])
		if err != nil {
			return err
		}
		templates[i] = b
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	client := emrclient.New("http://"+o.addr, secret, o.clients)
	client.Retries = 1

	var seq atomic.Int64
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.clients) / o.rate)
	}
	follow := newStageFollower(o)
	defer follow.close()
	ctx, cancel := context.WithTimeout(ctx, o.warmup+o.duration)
	defer cancel()
	measureFrom := time.Now().Add(o.warmup)
	go follow.markAt(measureFrom)

	type sample struct {
		lat     time.Duration
		status  int
		visitID string
		at      time.Time
	}
	perClient := make([][]sample, o.clients)
	var wg sync.WaitGroup
	for c := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now().Add(time.Duration(c) * interval / time.Duration(max(o.clients, 1)))
			for ctx.Err() == nil {
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
					next = next.Add(interval)
				}
				n := seq.Add(1)
				id := "lg-" + run + "-" + strconv.FormatInt(n, 10)
				t := n % int64(len(templates))
				body := bytes.Replace(templates[t], []byte(placeholder), []byte(id), 1)
				body = bytes.Replace(body, []byte(memberPlaceholder), []byte(loadMember(run, n, medicare[t])), 1)
				t0 := time.Now()
				resp, err := client.PostRaw(ctx, "msg_"+id, body)
				lat := time.Since(t0)
				if t0.Before(measureFrom) || ctx.Err() != nil {
					continue
				}
				st := resp.Status
				if err != nil && st == 0 {
					st = -1
				}
				var visitID string
				if st == http.StatusAccepted {
					if rec, err := resp.Receipt(); err == nil {
						visitID = rec.VisitID
					}
				}
				perClient[c] = append(perClient[c], sample{lat, st, visitID, t0})
			}
		}()
	}
	wg.Wait()

	res := loadResult{Clients: o.clients, Seconds: o.duration.Seconds(), ByStatus: map[string]int{}}
	var lats []time.Duration
	posted := map[string]time.Time{}
	for _, ss := range perClient {
		for _, s := range ss {
			key := strconv.Itoa(s.status)
			if s.status == -1 {
				key = "error"
			}
			res.ByStatus[key]++
			if s.status == http.StatusAccepted {
				res.Accepted++
				lats = append(lats, s.lat)
				if s.visitID != "" {
					posted[s.visitID] = s.at
				}
			} else {
				res.Failed++
			}
		}
	}
	slices.Sort(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		i := int(p * float64(len(lats)-1))
		return float64(lats[i].Microseconds()) / 1000
	}
	res.VisitsPerSec = float64(res.Accepted) / o.duration.Seconds()
	res.P50ms, res.P90ms, res.P99ms, res.Maxms = pct(.50), pct(.90), pct(.99), pct(1)
	if follow != nil {
		res.Stages = follow.waitCaughtUp(time.Now(), o.duration)
		follow.latencies(res.Stages, posted, measureFrom)
	}
	if o.asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("loadgen: %d clients, %s measured after %s warm-up\n", o.clients, o.duration, o.warmup)
	fmt.Printf("  accepted  %d (%.0f visits/s)\n", res.Accepted, res.VisitsPerSec)
	fmt.Printf("  failed    %d %v\n", res.Failed, res.ByStatus)
	fmt.Printf("  latency   p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n", res.P50ms, res.P90ms, res.P99ms, res.Maxms)
	for _, st := range res.Stages {
		fmt.Printf("  %-9s %d events (%.0f/s), caught up %.1f s after the load", st.Name, st.Count, st.PerSec, st.CatchUpSec)
		if st.DrainPerSec > 0 {
			fmt.Printf(", draining the backlog at %.0f/s", st.DrainPerSec)
		}
		fmt.Println()
		if st.Latency.N > 0 {
			fmt.Printf("            webhook to %s: p50 %.0f ms  p99 %.0f ms  max %.0f ms (%d visits)\n", st.Name, st.Latency.P50ms, st.Latency.P99ms, st.Latency.Maxms, st.Latency.N)
		}
	}
	return nil
}

// followed are the stages loadgen follows after intake, by the event each
// emits once per visit (claim.submitted only for claims that passed).
type followedStage struct{ name, stream, subject string }

var followed = []followedStage{
	{"coder", events.StreamCoder, events.SubjectVisitCoded},
	{"scrubber", events.StreamSubmitter, events.SubjectClaimScrubbed},
	{"sent", events.StreamSubmitter, events.SubjectClaimSubmitted},
	{"reconciled", events.StreamDenials, events.SubjectClaimReconciled},
}

// stageRate is one followed stage's throughput during a load.
type stageRate struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
	// PerSec is Count over the measured time plus the catch-up.
	PerSec     float64 `json:"per_sec"`
	CatchUpSec float64 `json:"catch_up_sec"`
	// DrainPerSec is the rate once the load stopped: the stage without
	// intake competing for the cores.
	DrainPerSec float64 `json:"drain_per_sec,omitempty"`
	// Latency is from the webhook's request to the stage's event stored in
	// JetStream (the server's timestamp), over the measured visits.
	Latency latency `json:"latency"`
}

type latency struct {
	N     int     `json:"n"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	Maxms float64 `json:"max_ms"`
}

// latencies reads each stage's events of the measured visits and sets the
// stages' latency from webhook to event.
func (f *stageFollower) latencies(stages []stageRate, posted map[string]time.Time, since time.Time) {
	for k := range stages {
		i := slices.IndexFunc(followed, func(st followedStage) bool { return st.name == stages[k].Name })
		if i < 0 {
			continue
		}
		start := since.Add(-time.Second)
		cons, err := f.js.OrderedConsumer(context.Background(), followed[i].stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{followed[i].subject}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start})
		if err != nil {
			continue
		}
		var lats []time.Duration
		seen := map[string]bool{}
		for {
			batch, err := cons.FetchNoWait(5000)
			if err != nil {
				break
			}
			n := 0
			for m := range batch.Messages() {
				n++
				var head struct {
					CorrelationID string `json:"correlation_id"`
				}
				if json.Unmarshal(m.Data(), &head) != nil || seen[head.CorrelationID] {
					continue
				}
				t0, ok := posted[head.CorrelationID]
				meta, err := m.Metadata()
				if !ok || err != nil {
					continue
				}
				seen[head.CorrelationID] = true
				lats = append(lats, meta.Timestamp.Sub(t0))
			}
			if n == 0 {
				break
			}
		}
		if len(lats) == 0 {
			continue
		}
		slices.Sort(lats)
		ms := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000 }
		stages[k].Latency = latency{N: len(lats), P50ms: ms(.5), P99ms: ms(.99), Maxms: ms(1)}
	}
}

// stageFollower counts the stages' output while the load runs.
type stageFollower struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	mu     sync.Mutex
	marks  []uint64
	marked bool
}

func newStageFollower(o loadOptions) *stageFollower {
	url := o.natsURL
	if url == "" {
		u, err := natsURLFromDataDir(o.dataDir)
		if err != nil {
			return nil
		}
		url = u
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return nil
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil
	}
	return &stageFollower{nc: nc, js: js}
}

func (f *stageFollower) close() {
	if f != nil {
		f.nc.Close()
	}
}

// count is how many events of subject stream holds.
func (f *stageFollower) count(stream, subject string) uint64 {
	s, err := f.js.Stream(context.Background(), stream)
	if err != nil {
		return 0
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0
	}
	return info.State.Subjects[subject]
}

func (f *stageFollower) counts() []uint64 {
	out := make([]uint64, len(followed))
	for i, st := range followed {
		out[i] = f.count(st.stream, st.subject)
	}
	return out
}

// markAt records the stages' counts when measurement starts.
func (f *stageFollower) markAt(t time.Time) {
	if f == nil {
		return
	}
	time.Sleep(time.Until(t))
	c := f.counts()
	f.mu.Lock()
	f.marks, f.marked = c, true
	f.mu.Unlock()
}

// waitCaughtUp waits until every stage stops making progress (two seconds
// without a new event, or two minutes in all) and reports each stage that
// ran during the load.
func (f *stageFollower) waitCaughtUp(end time.Time, measured time.Duration) []stageRate {
	f.mu.Lock()
	marked, marks := f.marked, f.marks
	f.mu.Unlock()
	if !marked {
		return nil
	}
	atEnd := f.counts()
	last := atEnd
	caught := make([]time.Time, len(followed))
	idleSince := time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Since(idleSince) < 2*time.Second && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		now := f.counts()
		for i := range now {
			if now[i] != last[i] {
				idleSince, caught[i] = time.Now(), time.Now()
			}
		}
		last = now
	}
	var out []stageRate
	for i, st := range followed {
		if atEnd[i] == marks[i] {
			continue // the stage did not run (rcm dev --stages)
		}
		r := stageRate{Name: st.name, Count: int64(last[i] - marks[i])}
		if !caught[i].IsZero() {
			r.CatchUpSec = caught[i].Sub(end).Seconds()
		}
		if r.CatchUpSec > 0.5 {
			r.DrainPerSec = float64(last[i]-atEnd[i]) / r.CatchUpSec
		}
		r.PerSec = float64(r.Count) / (measured.Seconds() + max(r.CatchUpSec, 0))
		out = append(out, r)
	}
	return out
}

// memberOffset keeps two load runs from making the same members.
var memberOffset = time.Now().UnixNano() % 100_000_000_000

// mbiLetters are the letters a Medicare Beneficiary Identifier may use.
const mbiLetters = "ACDEFGHJKMNPQRTUVWXY"

// loadMember is a distinct member id for request n: a well-formed MBI for
// Medicare Part B, so the scrubber passes it, and a plain id otherwise.
func loadMember(run string, n int64, medicare bool) string {
	if !medicare {
		return "LG" + run + strconv.FormatInt(n, 36)
	}
	// MBI: C A AN N A AN N A A N N (C = 1-9; letters without S L O I B Z).
	l := func(k int64) byte { return mbiLetters[k%int64(len(mbiLetters))] }
	d := func(k int64) byte { return byte('0' + k%10) }
	v := n + memberOffset
	b := []byte{byte('1' + v%9), l(v / 9), d(v / 180), d(v / 1800), l(v / 18000), d(v / 360000), d(v / 3600000),
		l(v / 36000000), l(v / 720000000), d(v / 14400000000), d(v / 144000000000)}
	return string(b)
}
