package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/docs"
	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
	"github.com/rcm-health/rcm/services/intake"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	pgtest.Main(m)
}

type env struct {
	url    string
	deps   platform.Deps
	secret webhook.Secret
}

// start runs intake on fresh NATS and Postgres until the test ends.
func start(t *testing.T) *env {
	t.Helper()
	d := ptest.Deps(t)
	secret, err := webhook.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- intake.Run(ctx, intake.Config{Listener: ln, Secrets: map[string][]webhook.Secret{"acme-emr": {secret}}, Ready: func(string) { close(ready) }}, d)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("intake did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("intake stopped with: %v", err)
		}
	})
	return &env{url: "http://" + ln.Addr().String(), deps: d, secret: secret}
}

// example loads a documented example visit, re-sourced to the test's source.
func example(t *testing.T, name string) events.Visit {
	t.Helper()
	v, err := docs.ExampleVisit(name)
	if err != nil {
		t.Fatal(err)
	}
	v.Source = "acme-emr"
	return v
}

func (e *env) post(t *testing.T, body []byte, mutate func(*http.Request)) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/visits", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	webhook.SignRequest(req, e.secret, "msg_test", time.Now(), body)
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorded reads the visit.recorded events in the stream.
func recorded(t *testing.T, js jetstream.JetStream, want int) []events.Envelope {
	t.Helper()
	return ptest.Events(t, js, events.StreamIntake, want, 10*time.Second)
}

func TestRevisionsAmendmentsAndVoids(t *testing.T) {
	t.Parallel()
	e := start(t)
	v := example(t, "visit-ot-medicare.json")
	body := mustJSON(t, v)

	code, first, _ := e.post(t, body, nil)
	if code != http.StatusAccepted {
		t.Fatalf("first post: %d %s", code, first)
	}
	var r1 intake.Receipt
	if err := json.Unmarshal(first, &r1); err != nil {
		t.Fatal(err)
	}
	if r1.Change != events.ChangeNew || r1.VisitID != intake.VisitID(v.Source, v.SourceVisitID) {
		t.Fatalf("first receipt: %+v", r1)
	}

	// The EMR retries: same answer, no second event.
	code, again, hdr := e.post(t, body, nil)
	if code != http.StatusAccepted || !bytes.Equal(again, first) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s (replayed=%q); want the first answer", code, again, hdr.Get("Idempotent-Replayed"))
	}

	// Same revision, different body: refused.
	changed := v
	changed.TotalTreatmentMinutes++
	if code, b, _ := e.post(t, mustJSON(t, changed), nil); code != http.StatusConflict {
		t.Fatalf("changed body under the same revision: %d %s; want 409", code, b)
	}

	// Revision 2 amends.
	changed.Revision = 2
	code, b, _ := e.post(t, mustJSON(t, changed), nil)
	var r2 intake.Receipt
	if code != http.StatusAccepted || json.Unmarshal(b, &r2) != nil || r2.Change != events.ChangeAmendment {
		t.Fatalf("amendment: %d %s", code, b)
	}
	// Revision 1 again is now stale only if its body differs; a retry of it
	// still gets its first answer.
	if code, b, _ := e.post(t, body, nil); code != http.StatusAccepted || !bytes.Equal(b, first) {
		t.Fatalf("late retry of revision 1: %d %s", code, b)
	}

	// Revision 3 voids.
	void := events.Visit{Source: v.Source, SourceVisitID: v.SourceVisitID, Revision: 3, Status: events.VisitVoided}
	code, b, _ = e.post(t, mustJSON(t, void), nil)
	var r3 intake.Receipt
	if code != http.StatusAccepted || json.Unmarshal(b, &r3) != nil || r3.Change != events.ChangeVoid {
		t.Fatalf("void: %d %s", code, b)
	}
	// An older new revision after the void is stale.
	changed.Revision = 2
	changed.TotalTreatmentMinutes++
	if code, b, _ := e.post(t, mustJSON(t, changed), nil); code != http.StatusConflict {
		t.Fatalf("changed revision 2 after 3: %d %s; want 409", code, b)
	}

	got := recorded(t, e.deps.JS, 3)
	if len(got) != 3 {
		t.Fatalf("stream holds %d visit.recorded events; want 3", len(got))
	}
	wantChange := []string{events.ChangeNew, events.ChangeAmendment, events.ChangeVoid}
	prev := ""
	for i, env := range got {
		var data events.VisitRecorded
		if err := env.DecodeData(&data); err != nil {
			t.Fatal(err)
		}
		if data.Change != wantChange[i] || data.Revision != i+1 || data.Supersedes != prev {
			t.Errorf("event %d: change %s revision %d supersedes %q; want %s %d %q", i, data.Change, data.Revision, data.Supersedes, wantChange[i], i+1, prev)
		}
		if env.Subject != r1.VisitID || env.CorrelationID != r1.VisitID || env.Type != events.TypeVisitRecorded {
			t.Errorf("event %d envelope: %+v", i, env)
		}
		prev = env.ID
	}
	if got[0].ID != r1.EventID || got[1].ID != r2.EventID || got[2].ID != r3.EventID {
		t.Errorf("event ids do not match the receipts")
	}
}

func TestVoidOfUnknownVisit(t *testing.T) {
	t.Parallel()
	e := start(t)
	void := events.Visit{Source: "acme-emr", SourceVisitID: "never-seen", Revision: 1, Status: events.VisitVoided}
	if code, b, _ := e.post(t, mustJSON(t, void), nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("void of an unknown visit: %d %s; want 422", code, b)
	}
}

// TestConcurrentDuplicates sends the same visit from many clients at once:
// one event, one answer.
func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	e := start(t)
	body := mustJSON(t, example(t, "visit-pt-commercial-prior-auth.json"))
	var wg sync.WaitGroup
	answers := make([][]byte, 16)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, b, _ := e.post(t, body, nil)
			if code != http.StatusAccepted {
				t.Errorf("client %d: %d %s", i, code, b)
			}
			answers[i] = b
		}()
	}
	wg.Wait()
	for i := range answers {
		if !bytes.Equal(answers[i], answers[0]) {
			t.Fatalf("answers differ: %s vs %s", answers[i], answers[0])
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(recorded(t, e.deps.JS, 1)); n != 1 {
		t.Fatalf("%d events for one visit; want 1", n)
	}
}

func TestEveryExampleIsAccepted(t *testing.T) {
	t.Parallel()
	e := start(t)
	entries, err := docs.FS.ReadDir("examples")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ent := range entries {
		v := example(t, ent.Name())
		if v.Status == events.VisitVoided {
			continue
		}
		n++
		if code, b, _ := e.post(t, mustJSON(t, v), nil); code != http.StatusAccepted {
			t.Errorf("%s: %d %s", ent.Name(), code, b)
		}
	}
	if got := len(recorded(t, e.deps.JS, n)); got != n {
		t.Fatalf("%d events; want %d", got, n)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
		if path == "/readyz" && !strings.Contains(string(b), `"postgres":"ok"`) {
			t.Errorf("readyz: %s", b)
		}
	}
	// Ready means reachable: with NATS gone, readyz says which.
	e.deps.NATS.Close()
	resp, err := http.Get(e.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "nats") {
		t.Fatalf("readyz without NATS: %d %s", resp.StatusCode, b)
	}
}
