package intake_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/emrclient"
	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
	"github.com/rcm-health/rcm/services/intake"
)

// The crash test runs intake as a child process: this test binary again,
// told by these variables to be intake instead of running tests.
const (
	childEnv     = "RCM_INTAKE_CRASH_CHILD"
	childDB      = "RCM_INTAKE_CRASH_DB"
	childNATS    = "RCM_INTAKE_CRASH_NATS"
	childAddr    = "RCM_INTAKE_CRASH_ADDR"
	crashVisits  = 2000
	crashClients = 32
)

func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log, _ := platform.NewLogger("error", false)
	nc, err := platform.ConnectNATS(os.Getenv(childNATS), "intake-child", log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	js, _ := jetstream.New(nc)
	pool, err := platform.OpenPool(ctx, os.Getenv(childDB), 40)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	secret, _ := webhook.ParseSecret(testSecret)
	d := platform.Deps{Log: log, NATS: nc, JS: js, Pool: pool, Registry: platform.NewRegistry(),
		Streams: platform.StreamOptions{Replicas: 1, Duplicates: 10 * time.Minute}}
	err = intake.Run(ctx, intake.Config{Addr: os.Getenv(childAddr), Secrets: map[string][]webhook.Secret{"acme-emr": {secret}}}, d)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestCrashExactlyOnce: 2,000 visits from 32 clients that retry until 2xx,
// intake SIGKILLed at random moments and restarted; the stream must end with
// exactly one visit.recorded per visit.
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs subprocesses")
	}
	t.Parallel()
	_, nc, js := ptest.NATS(t)
	dbURL := pgtest.URL(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var childMu sync.Mutex
	var child *exec.Cmd
	startChild := func() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", childDB+"="+dbURL, childNATS+"="+nc.ConnectedUrl(), childAddr+"="+addr)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		childMu.Lock()
		child = cmd
		childMu.Unlock()
	}
	kill := func() {
		childMu.Lock()
		defer childMu.Unlock()
		_ = child.Process.Signal(syscall.SIGKILL)
		_ = child.Wait()
	}
	startChild()
	t.Cleanup(func() {
		childMu.Lock()
		defer childMu.Unlock()
		_ = child.Process.Signal(syscall.SIGTERM)
		_ = child.Wait()
	})

	secret, _ := webhook.ParseSecret(testSecret)
	base := example(t, "visit-ot-medicare.json")
	client := emrclient.New("http://"+addr, secret, crashClients)
	client.Retries = 400
	client.Backoff = 20 * time.Millisecond
	client.HTTP.Timeout = 5 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var accepted atomic.Int64
	wantIDs := make(map[string]bool, crashVisits)
	var idsMu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for range crashClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				v := base
				v.SourceVisitID = fmt.Sprintf("crash-%05d", i)
				resp, err := client.Post(ctx, &v)
				if err != nil || resp.Status != http.StatusAccepted {
					t.Errorf("visit %d: status %d err %v", i, resp.Status, err)
					continue
				}
				rec, err := resp.Receipt()
				if err != nil {
					t.Errorf("visit %d: receipt: %v", i, err)
					continue
				}
				idsMu.Lock()
				wantIDs[rec.EventID] = true
				idsMu.Unlock()
				accepted.Add(1)
			}
		}()
	}
	loadDone := make(chan struct{})
	go func() {
		for i := range crashVisits {
			next <- i
		}
		close(next)
		wg.Wait()
		close(loadDone)
	}()

	// Kill as progress passes these marks, each after a random extra delay,
	// so the kills land mid-load at unplanned instructions.
	kills := 0
	for _, mark := range []int64{250, 700, 1150, 1600} {
		for accepted.Load() < mark {
			select {
			case <-loadDone:
			case <-time.After(2 * time.Millisecond):
				continue
			}
			break
		}
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
		select {
		case <-loadDone:
		default:
			kill()
			kills++
			startChild()
		}
	}
	<-loadDone
	if kills < 3 {
		t.Fatalf("only %d kills landed during the load; want at least 3", kills)
	}
	if n := accepted.Load(); n != crashVisits {
		t.Fatalf("%d visits accepted; want %d", n, crashVisits)
	}
	// Every visit got a 202: its event is durable. The restarted intake's
	// sweep publishes what a kill left in the outbox.
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	seen, err := platform.WaitForMsgIDs(wctx, js, events.StreamIntake, events.SubjectVisitRecorded, time.Time{}, wantIDs)
	if err != nil {
		t.Fatalf("waiting for events: %v (%d of %d seen)", err, len(seen), crashVisits)
	}
	time.Sleep(4 * time.Second) // let a late sweep or relay show itself
	total := ptest.StreamCount(t, js, events.StreamIntake)
	perVisit := map[string]int{}
	cons, err := js.OrderedConsumer(ctx, events.StreamIntake, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for read := uint64(0); read < total; {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			read++
			perVisit[m.Headers().Get(nats.MsgIdHdr)]++
		}
	}
	if total != crashVisits || len(perVisit) != crashVisits {
		t.Fatalf("stream holds %d events for %d distinct ids; want exactly %d of each", total, len(perVisit), crashVisits)
	}
	for id, n := range perVisit {
		if n != 1 || !wantIDs[id] {
			t.Fatalf("event %s stored %d times (expected=%v)", id, n, wantIDs[id])
		}
	}
	t.Logf("%d visits, %d kills: exactly one event each", crashVisits, kills)
}
