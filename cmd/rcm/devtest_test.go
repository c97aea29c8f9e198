package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// testDev is an rcm dev a test started with startDev.
type testDev struct {
	dataDir, addr string
	// natsURL is the NATS server's, as rcm dev wrote it to its data dir.
	natsURL string

	cancel   context.CancelFunc
	done     <-chan error
	stopOnce sync.Once
	stopErr  error
}

// errDevStuck is what stop returns when rcm dev did not stop in time.
var errDevStuck = errors.New("rcm dev did not stop within 60s")

// startDev runs rcm dev with o until the test ends, and returns once it is
// ready. It logs errors only; a dataDir or addr o leaves empty is a new
// directory (devDataDir) or a free address.
func startDev(t *testing.T, o devOptions) *testDev {
	t.Helper()
	o.cfg.AddFlags(pflag.NewFlagSet("dev", pflag.ContinueOnError))
	o.cfg.LogLevel = "error"
	if o.dataDir == "" {
		o.dataDir = devDataDir(t)
	}
	if o.addr == "" {
		o.addr = freeAddr(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDev(ctx, o) }()
	d := &testDev{dataDir: o.dataDir, addr: o.addr, cancel: cancel, done: done}
	// A test that cares how rcm dev ended calls stop itself; stopping
	// again here is then a no-op.
	t.Cleanup(func() {
		if err := d.stop(); errors.Is(err, errDevStuck) {
			t.Error(err)
		}
	})
	waitHealthy(t, d.addr, done)
	var err error
	if d.natsURL, err = natsURLFromDataDir(d.dataDir); err != nil {
		t.Fatal(err)
	}
	return d
}

// stop stops rcm dev and returns what it returned, or errDevStuck.
func (d *testDev) stop() error {
	d.stopOnce.Do(func() {
		d.cancel()
		select {
		case d.stopErr = <-d.done:
		case <-time.After(60 * time.Second):
			d.stopErr = errDevStuck
		}
	})
	return d.stopErr
}

// devDataDir returns a data dir for rcm dev in a new directory that is
// removed when the test ends. Not t.TempDir: that is mode 0700, which the
// postgres user cannot enter, and the cluster would move to a directory
// this test cannot name to clean up.
func devDataDir(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "rcm-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	return filepath.Join(base, "rcm")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHealthy(t *testing.T, addr string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("rcm dev exited: %v", err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("rcm dev not ready within 90s")
}
