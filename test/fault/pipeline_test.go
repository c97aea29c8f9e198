package fault

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/demo"
	"github.com/rcm-health/rcm/internal/emrclient"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
)

// pipelineConfig says how many processes of each service to run against
// which servers.
type pipelineConfig struct {
	natsURLs string
	replicas int
	dbURL    string
	// Processes per service; intake at least 1.
	intakes, coders, submitters, denials int
}

// pipeline is the rcm binary running as separate processes, one mailbox
// directory shared by the submitters, the denials processes and the payer
// simulator, as in a deployment with a shared volume.
type pipeline struct {
	t       *testing.T
	dir     string
	mailbox string
	secret  webhook.Secret
	procs   map[string][]*proc
	// intakeURLs are the intakes' base URLs, in process order.
	intakeURLs []string
	// readyURLs are the /readyz URL of each process, by name.
	readyURLs map[string]string

	nc   *nats.Conn
	js   jetstream.JetStream
	pool *pgxpool.Pool
}

// startPipeline starts every process and waits until each answers /readyz.
func startPipeline(t *testing.T, dir string, cfg pipelineConfig) *pipeline {
	t.Helper()
	bin := rcmBinary(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secretText := "whsec_" + base64.StdEncoding.EncodeToString(key)
	secret, err := webhook.ParseSecret(secretText)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, dir: dir, mailbox: filepath.Join(dir, "mailbox"), secret: secret, procs: map[string][]*proc{}, readyURLs: map[string]string{}}
	env := append(cleanEnv(), "RCM_WEBHOOK_SECRETS="+demo.Source+"="+secretText)
	common := []string{"--nats-url", cfg.natsURLs, "--database-url", cfg.dbURL, "--stream-replicas", strconv.Itoa(cfg.replicas),
		// Eight connections each keep two of every service (and the test)
		// under PostgreSQL's default of 100.
		"--log-level", "warn", "--db-max-conns", "8"}
	add := func(service string, i int, extra ...string) *proc {
		name := fmt.Sprintf("%s-%d", service, i+1)
		args := append(append([]string{service}, common...), extra...)
		pr := newProc(name, bin, args, env, dir)
		p.procs[service] = append(p.procs[service], pr)
		return pr
	}
	var first []*proc // intake-1 provisions the streams before the rest start
	var rest []*proc
	for i := range cfg.intakes {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		pr := add("intake", i, "--addr", addr)
		p.intakeURLs = append(p.intakeURLs, "http://"+addr)
		p.readyURLs[pr.name] = "http://" + addr + "/readyz"
		if i == 0 {
			first = append(first, pr)
		} else {
			rest = append(rest, pr)
		}
	}
	for i := range cfg.coders {
		ops := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		pr := add("coder", i, "--ops-addr", ops)
		p.readyURLs[pr.name] = "http://" + ops + "/readyz"
		rest = append(rest, pr)
	}
	for i := range cfg.submitters {
		ops := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		pr := add("submitter", i, "--ops-addr", ops, "--mailbox-dir", p.mailbox, "--batch-interval", "500ms")
		p.readyURLs[pr.name] = "http://" + ops + "/readyz"
		rest = append(rest, pr)
	}
	for i := range cfg.denials {
		ops := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		pr := add("denials", i, "--ops-addr", ops, "--mailbox-dir", p.mailbox, "--poll-interval", "500ms", "--http-addr=")
		p.readyURLs[pr.name] = "http://" + ops + "/readyz"
		rest = append(rest, pr)
	}
	// Every claim the scrubber passes must come back in an 835, so the
	// clearinghouse rejects none at random; the payer still denies some.
	sim := newProc("payersim", bin, []string{"payersim", "--mailbox-dir", p.mailbox, "--reject-rate", "0", "--deny-rate", "0.05", "--every", "250ms", "--seed", "7"}, env, dir)
	p.procs["payersim"] = []*proc{sim}
	rest = append(rest, sim)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, group := range [][]*proc{first, rest} {
		for _, pr := range group {
			if err := pr.start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pr.stop)
		}
		for _, pr := range group {
			if err := p.waitReady(ctx, pr); err != nil {
				p.dumpLogs()
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.dumpLogs()
		}
	})

	p.nc, err = nats.Connect(cfg.natsURLs, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.nc.Close)
	if p.js, err = jetstream.New(p.nc); err != nil {
		t.Fatal(err)
	}
	if p.pool, err = pgxpool.New(ctx, cfg.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.pool.Close)
	return p
}

// waitReady polls the process's /readyz until it answers 200.
func (p *pipeline) waitReady(ctx context.Context, pr *proc) error {
	u, ok := p.readyURLs[pr.name]
	if !ok {
		return nil // the payer simulator serves nothing
	}
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !pr.running() {
			return fmt.Errorf("%s exited before it was ready; log %s", pr.name, pr.logPath)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", pr.name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// proc returns the i-th process of a service.
func (p *pipeline) proc(service string, i int) *proc { return p.procs[service][i] }

// dumpLogs prints the warnings and errors every process logged.
func (p *pipeline) dumpLogs() {
	for _, service := range []string{"intake", "coder", "submitter", "denials", "payersim"} {
		for _, pr := range p.procs[service] {
			lines := pr.problems(6)
			if len(lines) == 0 {
				continue
			}
			p.t.Logf("--- %s (%s), last warnings and errors:", pr.name, pr.logPath)
			for _, l := range lines {
				p.t.Log("  ", l)
			}
		}
	}
}

// loadResult is what intake answered to each visit.
type loadResult struct {
	// receipts holds every 202, by webhook id.
	receipts map[string]emrclient.ReceiptBody
	// failed names visits with no 202 (webhook id: why), which a test
	// treats as a failure: every visit is valid and clients retry.
	failed map[string]string
	// failovers counts posts that another intake than the first took.
	failovers int
}

// visitIDs is the set of accepted visits' ids.
func (r loadResult) visitIDs() map[string]string {
	out := make(map[string]string, len(r.receipts))
	for _, rc := range r.receipts {
		out[rc.VisitID] = rc.EventID
	}
	return out
}

// post sends the visits at rate per second, spread round-robin over the
// intakes. A visit whose intake does not answer goes to the next one under
// the same webhook id, as an EMR behind a load balancer would retry, until
// one gives a definite answer or patience runs out. at, when not nil, is
// called once from its own goroutine when half the visits have been sent.
func (p *pipeline) post(ctx context.Context, visits []events.Visit, rate float64, patience time.Duration, at func()) loadResult {
	clients := make([]*emrclient.Client, len(p.intakeURLs))
	for i, u := range p.intakeURLs {
		c := emrclient.New(u, p.secret, 16)
		// Few retries per intake: a dead one should hand over quickly.
		c.Retries, c.Backoff = 2, 50*time.Millisecond
		c.HTTP.Timeout = 10 * time.Second
		clients[i] = c
	}
	res := loadResult{receipts: map[string]emrclient.ReceiptBody{}, failed: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	var hook sync.WaitGroup
	for i := range visits {
		if i == len(visits)/2 && at != nil {
			hook.Add(1)
			go func() { defer hook.Done(); at() }()
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			v := &visits[i]
			id := emrclient.WebhookID(v)
			deadline := time.Now().Add(patience)
			var last string
			for attempt := 0; time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
				c := clients[(i+attempt)%len(clients)]
				resp, err := c.Post(ctx, v)
				if err != nil {
					last = err.Error()
					time.Sleep(200 * time.Millisecond)
					continue
				}
				mu.Lock()
				defer mu.Unlock()
				if attempt%len(clients) != 0 {
					res.failovers++
				}
				if resp.Status != http.StatusAccepted {
					// The body names fields and rules, never values.
					res.failed[id] = fmt.Sprintf("%d %s", resp.Status, resp.Body)
					return
				}
				rc, err := resp.Receipt()
				if err != nil {
					res.failed[id] = "unreadable receipt"
					return
				}
				res.receipts[id] = rc
				return
			}
			mu.Lock()
			res.failed[id] = "no definite answer: " + last
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	hook.Wait()
	return res
}

// requireAllAccepted fails the test unless every visit got a 202.
func requireAllAccepted(t *testing.T, res loadResult, n int) {
	t.Helper()
	if len(res.failed) > 0 {
		i := 0
		for id, why := range res.failed {
			if i++; i > 10 {
				break
			}
			t.Errorf("visit %s not accepted: %s", id, why)
		}
		t.Fatalf("%d of %d visits not accepted", len(res.failed), n)
	}
	if len(res.receipts) != n {
		t.Fatalf("%d receipts for %d visits", len(res.receipts), n)
	}
}
