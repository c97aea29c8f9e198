package fault

import (
	"context"
	"testing"
	"time"

	"github.com/rcm-health/rcm/internal/demo"
	"github.com/rcm-health/rcm/pkg/events"
)

// TestScaleOutSurvivesKills runs the pipeline as it runs in production:
// a three-node JetStream cluster with every stream on three replicas, and
// two processes of each service sharing the database, the consumers and the
// clearinghouse mailbox. Half-way through a steady load the leader of the
// intake stream and one process of every service are SIGKILLed and stay
// dead. The survivors must finish the work, every accepted visit reaching
// claim.reconciled exactly once.
func TestScaleOutSurvivesKills(t *testing.T) {
	needsPipeline(t)
	dir := mkdirShared(t)
	cluster := startNATS(t, 3, dir)
	pg := startPostgres(t, dir)
	p := startPipeline(t, dir, pipelineConfig{natsURLs: cluster.urls(), replicas: 3, dbURL: pg.url(),
		intakes: 2, coders: 2, submitters: 2, denials: 2})

	const n, rate = 300, 50.0
	visits := demo.Visits(61, n, time.Now())
	// Some claims held by the scrubber, so that the held path is checked
	// too: they must stop at claim.scrubbed, once.
	demo.WithProblems(visits, 0.1, 61)
	start := time.Now()
	var killed string
	res := p.post(context.Background(), visits, rate, time.Minute, func() {
		// The node that leads the intake stream: its loss forces an
		// election exactly where every visit is being written.
		victim := cluster.nodes[len(cluster.nodes)-1]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s, err := p.js.Stream(ctx, events.StreamIntake); err == nil {
			if info, err := s.Info(ctx); err == nil && info.Cluster != nil {
				if n := cluster.node(info.Cluster.Leader); n != nil {
					victim = n
				}
			}
		}
		killed = victim.spec.Name
		victim.proc.kill()
		for _, service := range []string{"intake", "coder", "submitter", "denials"} {
			p.proc(service, 0).kill()
		}
	})
	t.Logf("posted %d visits in %v (%d went to the other intake); killed NATS node %s and intake-1, coder-1, submitter-1, denials-1 half-way",
		n, time.Since(start).Round(100*time.Millisecond), res.failovers, killed)
	requireAllAccepted(t, res, n)

	visitIDs := res.visitIDs()
	snap := p.waitSettled(t, visitIDs, 3*time.Minute)
	o := p.checkExactlyOnce(t, snap, visitIDs, "")
	requireNoDeadLetters(t, snap)
	if len(o.reconciled) < n/2 {
		t.Errorf("only %d of %d visits reached claim.reconciled: too few to prove anything", len(o.reconciled), n)
	}
	t.Logf("total %v", time.Since(start).Round(100*time.Millisecond))
}
