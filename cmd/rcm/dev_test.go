package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/rcm-health/rcm/internal/platform"
)

// TestDevAndDemo is the README's first command: rcm dev starts from nothing,
// rcm demo --visits 50 gets every visit through, and a second start resumes
// the same data.
func TestDevAndDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	var cfg platform.Config
	cfg.AddFlags(pflag.NewFlagSet("dev", pflag.ContinueOnError))
	cfg.LogLevel = "error"
	// Not t.TempDir: that is mode 0700, which the postgres user cannot
	// enter, and the cluster would move to a directory this test cannot
	// name to clean up.
	base, err := os.MkdirTemp("", "rcm-dev-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	dataDir := filepath.Join(base, "rcm")

	for run, seed := range []int64{1, 2} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runDev(ctx, devOptions{cfg: cfg, dataDir: dataDir, addr: addr}) }()
		waitHealthy(t, addr, done)

		natsURL, err := natsURLFromDataDir(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		err = runDemo(ctx, demoOptions{visits: 50, addr: addr, natsURL: natsURL, secret: devSecret, seed: seed, wait: time.Minute})
		if err != nil {
			t.Fatalf("run %d: demo: %v", run, err)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: rcm dev stopped with %v", run, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("run %d: rcm dev did not stop", run)
		}
		if _, err := natsURLFromDataDir(dataDir); err == nil {
			t.Errorf("run %d: nats.url left behind after a clean stop", run)
		}
	}
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
