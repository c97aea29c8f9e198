package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	// Coded is how many visits the coder finished from the start of the
	// measurement until it caught up, and CodedPerSec its rate.
	Coded       int64   `json:"coded,omitempty"`
	CodedPerSec float64 `json:"coded_per_sec,omitempty"`
	CodedLagSec float64 `json:"coded_catch_up_sec,omitempty"`
	// DrainPerSec is the coder's rate once the load stopped: the stage
	// alone, with intake idle.
	DrainPerSec float64 `json:"coder_drain_per_sec,omitempty"`
}

func runLoad(ctx context.Context, o loadOptions) error {
	secret, err := webhook.ParseSecret(webhookSecretFromEnv())
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	// Bodies come from a few hundred realistic visits with a fresh
	// source_visit_id per request, so every request is a new visit and the
	// client spends its CPU on HTTP, not on generating data.
	const placeholder = "__LOADGEN_ID__"
	base := demo.Visits(time.Now().UnixNano(), 256, time.Now())
	templates := make([][]byte, len(base))
	for i := range base {
		base[i].SourceVisitID = placeholder
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
		lat    time.Duration
		status int
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
				body := bytes.Replace(templates[n%int64(len(templates))], []byte(placeholder), []byte(id), 1)
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
				perClient[c] = append(perClient[c], sample{lat, st})
			}
		}()
	}
	wg.Wait()

	res := loadResult{Clients: o.clients, Seconds: o.duration.Seconds(), ByStatus: map[string]int{}}
	var lats []time.Duration
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
		var drained int64
		res.Coded, drained, res.CodedLagSec = follow.waitCaughtUp(time.Now())
		if res.CodedLagSec > 0.5 {
			res.DrainPerSec = float64(drained) / res.CodedLagSec
		}
		if d := o.duration.Seconds() + res.CodedLagSec; d > 0 {
			res.CodedPerSec = float64(res.Coded) / d
		}
	}
	if o.asJSON {
		return json.NewEncoder(stdout()).Encode(res)
	}
	fmt.Printf("loadgen: %d clients, %s measured after %s warm-up\n", o.clients, o.duration, o.warmup)
	fmt.Printf("  accepted  %d (%.0f visits/s)\n", res.Accepted, res.VisitsPerSec)
	fmt.Printf("  failed    %d %v\n", res.Failed, res.ByStatus)
	fmt.Printf("  latency   p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n", res.P50ms, res.P90ms, res.P99ms, res.Maxms)
	if res.Coded > 0 {
		fmt.Printf("  coder     %d coded (%.0f visits/s), caught up %.1f s after the load", res.Coded, res.CodedPerSec, res.CodedLagSec)
		if res.DrainPerSec > 0 {
			fmt.Printf(", draining the backlog at %.0f visits/s", res.DrainPerSec)
		}
		fmt.Println()
	}
	return nil
}

// stageFollower counts the coder's output while the load runs, to report
// the stage's throughput beside intake's.
type stageFollower struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	mu     sync.Mutex
	coded0 uint64
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

func (f *stageFollower) count(stream string) uint64 {
	s, err := f.js.Stream(context.Background(), stream)
	if err != nil {
		return 0
	}
	info, err := s.Info(context.Background())
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// markAt records the streams' sizes when measurement starts.
func (f *stageFollower) markAt(t time.Time) {
	if f == nil {
		return
	}
	time.Sleep(time.Until(t))
	out := f.count(events.StreamCoder)
	f.mu.Lock()
	f.coded0, f.marked = out, true
	f.mu.Unlock()
}

// waitCaughtUp waits until the coder has coded everything intake recorded
// and returns how many visits it coded since the mark, how many of them
// after end, and how long after end it caught up.
func (f *stageFollower) waitCaughtUp(end time.Time) (int64, int64, float64) {
	f.mu.Lock()
	marked, coded0 := f.marked, f.coded0
	f.mu.Unlock()
	if !marked {
		return 0, 0, 0
	}
	target := f.count(events.StreamIntake)
	atEnd := f.count(events.StreamCoder)
	if atEnd == coded0 {
		return 0, 0, 0 // no coder ran during the load (rcm dev --stages intake)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out := f.count(events.StreamCoder)
		if out >= target || time.Now().After(deadline) {
			// Coded events are one per recorded event here: the load
			// sends new visits only.
			return int64(out - coded0), int64(out - atEnd), time.Since(end).Seconds()
		}
		time.Sleep(20 * time.Millisecond)
	}
}
