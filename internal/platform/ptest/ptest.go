// Package ptest gives integration tests real infrastructure: an embedded
// JetStream server per test and a fresh Postgres database per test (from
// DATABASE_URL or a private cluster; see pgserver/pgtest).
package ptest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
)

// NATS starts an embedded JetStream server for the test and connects to it.
func NATS(t testing.TB) (*platform.EmbeddedNATS, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	ns, err := platform.StartNATS(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return ns, nc, js
}

// Deps returns a full set of service dependencies on fresh infrastructure.
func Deps(t testing.TB) platform.Deps {
	t.Helper()
	_, nc, js := NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := platform.OpenPool(ctx, pgtest.URL(t), 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// Not zaptest: background relays may log after the test returns.
	log, err := platform.NewLogger("error", false)
	if err != nil {
		t.Fatal(err)
	}
	return platform.Deps{
		Log:      log,
		NATS:     nc,
		JS:       js,
		Pool:     pool,
		Registry: prometheus.NewRegistry(),
		Streams:  platform.StreamOptions{Replicas: 1, Duplicates: 10 * time.Minute},
	}
}

// StreamCount returns how many messages stream holds.
func StreamCount(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// Events reads every event in stream, polling until there are at least want
// or wait has passed, and checks each is a valid envelope stored under its
// own id as Nats-Msg-Id. A test expecting no more events passes a short wait
// and a want one above what it expects.
func Events(t testing.TB, js jetstream.JetStream, stream string, want int, wait time.Duration) []events.Envelope {
	t.Helper()
	deadline := time.Now().Add(wait)
	var out []events.Envelope
	for {
		out = out[:0]
		cons, err := js.OrderedConsumer(context.Background(), stream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cons.FetchNoWait(10000)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			e, err := events.Unmarshal(m.Data())
			if err != nil {
				t.Fatalf("stream %s holds an invalid event: %v", stream, err)
			}
			if id := m.Headers().Get(nats.MsgIdHdr); id != e.ID {
				t.Fatalf("Nats-Msg-Id %q differs from event id %q", id, e.ID)
			}
			out = append(out, e)
		}
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}
