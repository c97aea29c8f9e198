package fault

import (
	"context"
	"testing"
	"time"

	"github.com/rcm-health/rcm/internal/demo"
)

// faultRun is one process per service on a single NATS server and a
// private PostgreSQL, under a steady load of 200 visits at 50 a second;
// fault runs half-way through.
type faultRun struct {
	dir  string
	nats *natsCluster
	pg   *postgres
	p    *pipeline
}

func startFaultRun(t *testing.T) *faultRun {
	t.Helper()
	needsPipeline(t)
	r := &faultRun{dir: mkdirShared(t)}
	r.nats = startNATS(t, 1, r.dir)
	r.pg = startPostgres(t, r.dir)
	r.p = startPipeline(t, r.dir, pipelineConfig{natsURLs: r.nats.urls(), replicas: 1, dbURL: r.pg.url(),
		intakes: 1, coders: 1, submitters: 1, denials: 1})
	return r
}

// load posts the visits with fault half-way, then waits until the
// pipeline has caught up by itself and proves that nothing was lost or
// doubled.
func (r *faultRun) load(t *testing.T, seed int64, fault func()) {
	t.Helper()
	const n, rate = 200, 50.0
	visits := demo.Visits(seed, n, time.Now())
	demo.WithProblems(visits, 0.1, seed)
	start := time.Now()
	res := r.p.post(context.Background(), visits, rate, 2*time.Minute, fault)
	t.Logf("posted %d visits in %v", n, time.Since(start).Round(100*time.Millisecond))
	requireAllAccepted(t, res, n)
	visitIDs := res.visitIDs()
	snap := r.p.waitSettled(t, visitIDs, 2*time.Minute)
	o := r.p.checkExactlyOnce(t, snap, visitIDs, "")
	requireNoDeadLetters(t, snap)
	if len(o.reconciled) < n/2 {
		t.Errorf("only %d of %d visits reached claim.reconciled: too few to prove anything", len(o.reconciled), n)
	}
	t.Logf("total %v", time.Since(start).Round(100*time.Millisecond))
}

// TestPostgresRestartMidLoad stops PostgreSQL while visits flow, keeps it
// down for longer than a stage's in-process retries last, and starts it
// again on the same data directory. Intake answers 503 meanwhile (the EMR
// retries), the stages' transactions fail and their inputs come back; once
// the database is back the pipeline must catch up without help, and
// without dead-lettering a visit because the database was away.
//
// The coder is lagging when the database goes: frozen for a second before,
// so that a backlog of visits reaches it during the outage. Without that
// only the few messages in hand at the instant of the stop would meet the
// outage, and whether any did would be luck.
func TestPostgresRestartMidLoad(t *testing.T) {
	r := startFaultRun(t)
	r.load(t, 62, func() {
		coder := r.p.proc("coder", 0)
		coder.pause()
		time.Sleep(time.Second)
		began := time.Now()
		err := r.pg.stop()
		coder.resume()
		if err != nil {
			t.Errorf("stop postgres: %v", err)
			return
		}
		time.Sleep(5 * time.Second)
		if err := r.pg.start(); err != nil {
			t.Errorf("start postgres again: %v", err)
			return
		}
		t.Logf("postgres down for %v", time.Since(began).Round(100*time.Millisecond))
	})
}

// TestNATSRestartMidLoad SIGKILLs the NATS server while visits flow and
// starts a new one on the same port and store directory: no flush, no
// clean shutdown, messages delivered and not yet acknowledged, publishes
// without an answer. Services reconnect by themselves; intake's outbox and
// the stages' sweepers publish what they committed meanwhile, and JetStream
// redelivers what was not acknowledged.
func TestNATSRestartMidLoad(t *testing.T) {
	r := startFaultRun(t)
	r.load(t, 63, func() {
		node := r.nats.nodes[0]
		began := time.Now()
		node.proc.kill()
		// Longer than a stage's in-process retries: what was in hand when
		// the server died has to come back through redelivery.
		time.Sleep(5 * time.Second)
		if err := node.proc.start(); err != nil {
			t.Errorf("start nats again: %v", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := node.waitUp(ctx); err != nil {
			t.Errorf("nats after restart: %v", err)
		}
		t.Logf("nats down for %v", time.Since(began).Round(100*time.Millisecond))
	})
}
