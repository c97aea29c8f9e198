package main

import (
	"testing"
	"time"
)

// TestDevAndDemo is the README's first command: rcm dev starts from nothing,
// rcm demo --visits 50 gets every visit through, and a second start resumes
// the same data.
func TestDevAndDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	dataDir := devDataDir(t)
	for run, seed := range []int64{1, 2} {
		d := startDev(t, devOptions{dataDir: dataDir})
		err := runDemo(t.Context(), demoOptions{visits: 50, addr: d.addr, natsURL: d.natsURL, secret: devSecret, seed: seed, wait: time.Minute})
		if err != nil {
			t.Fatalf("run %d: demo: %v", run, err)
		}
		if err := d.stop(); err != nil {
			t.Fatalf("run %d: rcm dev stopped with %v", run, err)
		}
		if _, err := natsURLFromDataDir(dataDir); err == nil {
			t.Errorf("run %d: nats.url left behind after a clean stop", run)
		}
	}
}
