package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/denials"
	"github.com/rcm-health/rcm/services/submitter"
)

// streamMsg is one message of a stream as stored.
type streamMsg struct {
	stream, subject string
	seq             uint64
	msgID           string
	header          nats.Header
	data            []byte
	env             events.Envelope
	valid           bool // data is a valid envelope
}

// readStream reads every message stream holds, with an ordered consumer,
// which leaves no state on the server.
func readStream(ctx context.Context, js jetstream.JetStream, name string) ([]streamMsg, error) {
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	last := info.State.LastSeq
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	var out []streamMsg
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		var seq uint64
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			seq = meta.Sequence.Stream
			sm := streamMsg{stream: name, subject: m.Subject(), seq: seq, msgID: m.Headers().Get(nats.MsgIdHdr), header: m.Headers(), data: m.Data()}
			if e, err := events.Unmarshal(m.Data()); err == nil {
				sm.env, sm.valid = e, true
			}
			out = append(out, sm)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		if seq >= last {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("stream %s: read up to %d of %d: %w", name, seq, last, err)
		}
	}
}

// snapshot is every stream's content, indexed by what the checks need.
type snapshot struct {
	streams map[string][]streamMsg
	// byType maps an event type to the events of each visit (correlation
	// id), in stream order.
	byType map[string]map[string][]events.Envelope
	dead   []streamMsg
}

func takeSnapshot(ctx context.Context, js jetstream.JetStream) (*snapshot, error) {
	s := &snapshot{streams: map[string][]streamMsg{}, byType: map[string]map[string][]events.Envelope{}}
	for _, st := range events.Streams {
		msgs, err := readStream(ctx, js, st.Name)
		if err != nil {
			return nil, err
		}
		s.streams[st.Name] = msgs
		if st.Name == events.StreamDeadLetter {
			s.dead = msgs
			continue
		}
		for _, m := range msgs {
			if !m.valid {
				continue
			}
			byVisit := s.byType[m.env.Type]
			if byVisit == nil {
				byVisit = map[string][]events.Envelope{}
				s.byType[m.env.Type] = byVisit
			}
			byVisit[m.env.CorrelationID] = append(byVisit[m.env.CorrelationID], m.env)
		}
	}
	return s, nil
}

func (s *snapshot) events(typ, visitID string) []events.Envelope { return s.byType[typ][visitID] }

// outcome is where each accepted visit ended up, from the events.
type outcome struct {
	scrubbed   map[string]bool // visit → has a claim.scrubbed
	passed     map[string]bool // visit → its claim passed the scrubber
	acked      map[string]bool // passed visit → its acknowledgements are final
	accepted   map[string]bool // passed visit → the 999 and 277CA accepted it
	reconciled map[string]bool // accepted visit → has a claim.reconciled
}

func (s *snapshot) outcome(visits map[string]string) outcome {
	o := outcome{scrubbed: map[string]bool{}, passed: map[string]bool{}, acked: map[string]bool{}, accepted: map[string]bool{}, reconciled: map[string]bool{}}
	for v := range visits {
		sc := s.events(events.TypeClaimScrubbed, v)
		if len(sc) == 0 {
			continue
		}
		o.scrubbed[v] = true
		var d events.ClaimScrubbed
		if sc[len(sc)-1].DecodeData(&d) != nil || d.Status != events.ScrubPassed {
			continue
		}
		o.passed[v] = true
		var got999, got277, rejected bool
		for _, e := range s.events(events.TypeClaimAcknowledged, v) {
			var a events.ClaimAcknowledged
			if e.DecodeData(&a) != nil {
				continue
			}
			rejected = rejected || a.Status == events.AckRejected
			got999 = got999 || a.Source == events.Ack999
			got277 = got277 || a.Source == events.Ack277CA
		}
		if rejected || (got999 && got277) {
			o.acked[v] = true
		}
		if !rejected && got999 && got277 {
			o.accepted[v] = true
			if len(s.events(events.TypeClaimReconciled, v)) > 0 {
				o.reconciled[v] = true
			}
		}
	}
	return o
}

// consumers are every durable consumer of the pipeline; once none has a
// message pending or unacknowledged, the stages have nothing left to do.
var consumers = []platform.ConsumerSpec{coder.ConsumerSpec(), submitter.ConsumerSpec(), submitter.CorrectionSpec(), denials.ClaimsConsumer(), denials.CodedConsumer()}

// busy names what is still in flight: unacknowledged or undelivered
// messages, unpublished outbox rows, claims not yet sent, mailbox files
// not yet answered or read. Empty means the pipeline is at rest.
func (p *pipeline) busy(ctx context.Context) []string {
	var out []string
	for _, c := range consumers {
		cons, err := p.js.Consumer(ctx, c.Stream, c.Durable)
		if err != nil {
			out = append(out, fmt.Sprintf("consumer %s: %v", c.Durable, err))
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			out = append(out, fmt.Sprintf("consumer %s: %v", c.Durable, err))
			continue
		}
		if info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0 {
			out = append(out, fmt.Sprintf("consumer %s: %d pending, %d unacknowledged, %d redelivering", c.Durable, info.NumPending, info.NumAckPending, info.NumRedelivered))
		}
	}
	for _, schema := range []string{"intake", "coder", "submitter", "denials"} {
		var n int
		if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".outbox_pending").Scan(&n); err != nil {
			out = append(out, fmt.Sprintf("outbox %s: %v", schema, err))
		} else if n > 0 {
			out = append(out, fmt.Sprintf("outbox %s: %d unpublished", schema, n))
		}
	}
	var unsent int
	if err := p.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM submitter.claims WHERE status IN ('ready', 'batched'))
	+ (SELECT count(*) FROM submitter.batches WHERE status = 'prepared')`).Scan(&unsent); err != nil {
		out = append(out, fmt.Sprintf("submitter: %v", err))
	} else if unsent > 0 {
		out = append(out, fmt.Sprintf("submitter: %d claims or batches not sent", unsent))
	}
	for _, d := range []string{"outbound", "inbound"} {
		entries, err := os.ReadDir(filepath.Join(p.mailbox, d))
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				out = append(out, "mailbox "+d+"/"+e.Name()+" waiting")
			}
		}
	}
	return out
}

// waitSettled waits until every accepted visit has gone as far as it can
// (scrubbed; if passed, acknowledged; if accepted, reconciled) and nothing
// is in flight any more, then returns the streams as they are.
func (p *pipeline) waitSettled(t *testing.T, visits map[string]string, timeout time.Duration) *snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	var last string
	for {
		// Not derived from ctx: the last look must not fail for want of
		// time, or the failure would name the deadline, not what is stuck.
		rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
		snap, err := takeSnapshot(rctx, p.js)
		var waiting []string
		if err != nil {
			waiting = append(waiting, err.Error())
		} else {
			o := snap.outcome(visits)
			if n := len(visits) - len(o.scrubbed); n > 0 {
				waiting = append(waiting, fmt.Sprintf("%d visits not scrubbed", n))
			}
			if n := len(o.passed) - len(o.acked); n > 0 {
				waiting = append(waiting, fmt.Sprintf("%d claims not acknowledged", n))
			}
			if n := len(o.accepted) - len(o.reconciled); n > 0 {
				waiting = append(waiting, fmt.Sprintf("%d claims not reconciled", n))
			}
			if len(waiting) == 0 {
				waiting = p.busy(rctx)
			}
		}
		rcancel()
		if len(waiting) == 0 {
			t.Logf("settled %v after the load", time.Since(start).Round(100*time.Millisecond))
			return snap
		}
		last = strings.Join(waiting, "; ")
		select {
		case <-ctx.Done():
			p.logClusterState(t)
			t.Fatalf("pipeline not settled after %v: %s", timeout, last)
		case <-time.After(time.Second):
		}
	}
}

// logClusterState logs where each stream and consumer stands, for a test
// that failed.
func (p *pipeline) logClusterState(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, st := range events.Streams {
		s, err := p.js.Stream(ctx, st.Name)
		if err != nil {
			t.Logf("stream %s: %v", st.Name, err)
			continue
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Logf("stream %s: %v", st.Name, err)
			continue
		}
		t.Logf("stream %s: %d messages, replicas %d, cluster %s", st.Name, info.State.Msgs, info.Config.Replicas, clusterWords(info.Cluster))
	}
	for _, c := range consumers {
		cons, err := p.js.Consumer(ctx, c.Stream, c.Durable)
		if err != nil {
			t.Logf("consumer %s on %s: %v", c.Durable, c.Stream, err)
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			t.Logf("consumer %s on %s: %v", c.Durable, c.Stream, err)
			continue
		}
		t.Logf("consumer %s on %s: %d pending, %d unacknowledged, %d waiting pulls, cluster %s", c.Durable, c.Stream,
			info.NumPending, info.NumAckPending, info.NumWaiting, clusterWords(info.Cluster))
	}
	for service, procs := range p.procs {
		for _, pr := range procs {
			if !pr.running() && service != "" {
				t.Logf("process %s has exited", pr.name)
			}
		}
	}
}

func clusterWords(c *jetstream.ClusterInfo) string {
	if c == nil {
		return "none"
	}
	var peers []string
	for _, r := range c.Replicas {
		state := "current"
		if !r.Current {
			state = "behind"
		}
		if r.Offline {
			state = "offline"
		}
		peers = append(peers, r.Name+" "+state)
	}
	return fmt.Sprintf("leader %q, peers [%s]", c.Leader, strings.Join(peers, ", "))
}

// checkExactlyOnce proves that each accepted visit (id → visit.recorded
// event id) went through every stage exactly once: in the streams, where
// JetStream's de-duplication would hide a copy re-sent under the same
// Nats-Msg-Id, and in the services' tables, where the effect of a handler
// run twice would show whatever ids its events got. poison names the
// correlation-id prefix of test-made poison messages, which are left out.
func (p *pipeline) checkExactlyOnce(t *testing.T, snap *snapshot, visits map[string]string, poison string) outcome {
	t.Helper()
	o := snap.outcome(visits)

	// Streams: one message per Nats-Msg-Id, which is the event's id.
	for name, msgs := range snap.streams {
		ids := map[string]uint64{}
		for _, m := range msgs {
			if prev, dup := ids[m.msgID]; dup {
				t.Errorf("stream %s: Nats-Msg-Id %s stored twice (sequences %d and %d)", name, m.msgID, prev, m.seq)
			}
			ids[m.msgID] = m.seq
			// A dead letter has an id of its own, not its event's.
			if m.valid && name != events.StreamDeadLetter && m.msgID != m.env.ID {
				t.Errorf("stream %s sequence %d: Nats-Msg-Id %s but event id %s", name, m.seq, m.msgID, m.env.ID)
			}
		}
	}
	// No event for a visit nobody posted (or a poison message that got
	// through as if valid).
	for typ, byVisit := range snap.byType {
		if typ == events.TypeRemitReceived {
			continue // a payment's correlation id is the remittance, not a visit
		}
		for v := range byVisit {
			if _, ok := visits[v]; !ok && (poison == "" || !strings.HasPrefix(v, poison)) {
				t.Errorf("%d %s events for visit %s, which was never accepted", len(byVisit[v]), typ, v)
			}
		}
	}

	exactly := func(typ, v string, want int) []events.Envelope {
		got := snap.events(typ, v)
		if len(got) != want {
			ids := make([]string, len(got))
			for i, e := range got {
				ids[i] = e.ID
			}
			t.Errorf("visit %s: %d %s events, want %d %v", v, len(got), typ, want, ids)
		}
		return got
	}
	for v, recordedID := range visits {
		if rec := exactly(events.TypeVisitRecorded, v, 1); len(rec) == 1 && rec[0].ID != recordedID {
			t.Errorf("visit %s: visit.recorded %s, but intake's receipt said %s", v, rec[0].ID, recordedID)
		}
		if cod := exactly(events.TypeVisitCoded, v, 1); len(cod) == 1 && cod[0].CausationID != recordedID {
			t.Errorf("visit %s: visit.coded caused by %s, want %s", v, cod[0].CausationID, recordedID)
		}
		exactly(events.TypeClaimScrubbed, v, 1)
		if !o.passed[v] {
			exactly(events.TypeClaimSubmitted, v, 0)
			continue
		}
		for _, e := range exactly(events.TypeClaimSubmitted, v, 1) {
			var d events.ClaimSubmitted
			if err := e.DecodeData(&d); err != nil || d.Submission != 1 || d.Frequency != events.FrequencyOriginal {
				t.Errorf("visit %s: claim.submitted %s is not the first original submission", v, e.ID)
			}
		}
		exactly(events.TypeClaimAcknowledged, v, 2) // a 999 and a 277CA
		if !o.accepted[v] {
			exactly(events.TypeClaimReconciled, v, 0)
			continue
		}
		for _, e := range exactly(events.TypeClaimReconciled, v, 1) {
			var d events.ClaimReconciled
			if err := e.DecodeData(&d); err != nil || d.Submission != 1 {
				t.Errorf("visit %s: claim.reconciled %s is not for the first submission", v, e.ID)
			}
		}
	}

	p.checkTables(t, snap, visits, o)
	t.Logf("%d visits accepted: %d claims passed the scrubber, %d held; %d acknowledged and accepted, %d reconciled exactly once",
		len(visits), len(o.passed), len(visits)-len(o.passed), len(o.accepted), len(o.reconciled))
	return o
}

// checkTables reads each service's own tables: a handler that ran twice
// for one input would leave two rows, or a revision 2, behind.
func (p *pipeline) checkTables(t *testing.T, snap *snapshot, visits map[string]string, o outcome) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	count := func(q string, args ...any) int {
		var n int
		if err := p.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	ids := make([]string, 0, len(visits))
	claims := make([]string, 0, len(visits))
	for v := range visits {
		ids = append(ids, v)
		claims = append(claims, submitter.ClaimID(v))
	}
	sort.Strings(ids)
	want := len(visits)

	// intake: one head and one revision per visit.
	if n := count(`SELECT count(*) FROM intake.visits WHERE visit_id = ANY($1)`, ids); n != want {
		t.Errorf("intake.visits: %d of %d visits", n, want)
	}
	if n := count(`SELECT count(*) FROM intake.revisions`); n != want {
		t.Errorf("intake.revisions: %d rows for %d visits (one revision each)", n, want)
	}
	// coder: each visit coded once, at revision 1.
	if n := count(`SELECT count(*) FROM coder.visits WHERE visit_id = ANY($1) AND coded_revision = 1 AND visit_revision = 1`, ids); n != want {
		t.Errorf("coder.visits: %d of %d visits coded exactly once (coded_revision 1)", n, want)
	}
	if n := count(`SELECT count(*) FROM coder.visits WHERE NOT (visit_id = ANY($1))`, ids); n != 0 {
		t.Errorf("coder.visits: %d codings of unknown visits", n)
	}
	if n := count(`SELECT count(*) FROM coder.inbox WHERE consumer = $1`, coder.Consumer); n != want {
		t.Errorf("coder.inbox: %d visit.recorded handled, want %d", n, want)
	}
	// submitter: one claim per visit, built once from coding 1, sent at
	// most once; each passed claim in exactly one sent batch, its lines
	// recorded once.
	if n := count(`SELECT count(*) FROM submitter.claims WHERE visit_id = ANY($1) AND submission = 1 AND coded_revision = 1`, ids); n != want {
		t.Errorf("submitter.claims: %d of %d claims built once for submission 1", n, want)
	}
	passed := make([]string, 0, len(o.passed))
	for v := range o.passed {
		passed = append(passed, submitter.ClaimID(v))
	}
	if n := count(`SELECT count(*) FROM submitter.claims WHERE claim_id = ANY($1) AND status = 'submitted' AND batch_id IS NOT NULL`, passed); n != len(passed) {
		t.Errorf("submitter.claims: %d of %d passed claims submitted", n, len(passed))
	}
	if n := count(`SELECT count(*) FROM submitter.claims WHERE NOT (claim_id = ANY($1)) AND status <> 'held'`, passed); n != 0 {
		t.Errorf("submitter.claims: %d claims the scrubber held are not held", n)
	}
	if n := count(`SELECT coalesce(sum(claims), 0) FROM submitter.batches WHERE status = 'sent'`); n != len(passed) {
		t.Errorf("submitter.batches: %d claims in sent batches, want %d (each passed claim once)", n, len(passed))
	}
	wantLines := 0
	for v := range o.passed {
		for _, e := range snap.events(events.TypeClaimSubmitted, v) {
			var d events.ClaimSubmitted
			if e.DecodeData(&d) == nil {
				wantLines += len(d.Lines)
			}
		}
	}
	if n := count(`SELECT count(*) FROM submitter.submitted_lines`); n != wantLines {
		t.Errorf("submitter.submitted_lines: %d rows, want %d (the submitted claims' lines, once each)", n, wantLines)
	}
	// denials: one reconciliation per accepted claim, from one remittance,
	// nothing left unmatched.
	accepted := make([]string, 0, len(o.accepted))
	for v := range o.accepted {
		accepted = append(accepted, submitter.ClaimID(v))
	}
	rows, err := p.pool.Query(ctx, `SELECT claim_id, count(*), count(DISTINCT remit_id) FROM denials.reconciliations GROUP BY claim_id`)
	if err != nil {
		t.Fatal(err)
	}
	recon := map[string]bool{}
	for rows.Next() {
		var id string
		var n, remits int
		if err := rows.Scan(&id, &n, &remits); err != nil {
			t.Fatal(err)
		}
		recon[id] = true
		if n != 1 || remits != 1 {
			t.Errorf("denials.reconciliations: claim %s reconciled %d times from %d remittances, want once", id, n, remits)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range accepted {
		if !recon[c] {
			t.Errorf("denials.reconciliations: accepted claim %s not reconciled", c)
		}
	}
	if len(recon) != len(accepted) {
		t.Errorf("denials.reconciliations: %d claims reconciled, want %d", len(recon), len(accepted))
	}
	if n := count(`SELECT count(*) FROM (SELECT claim_id FROM denials.postings GROUP BY claim_id HAVING count(DISTINCT remit_id) > 1) x`); n != 0 {
		t.Errorf("denials.postings: %d claims posted from more than one remittance", n)
	}
	if n := count(`SELECT coalesce(sum(claim_count), 0) FROM denials.remits`); n != len(accepted) {
		t.Errorf("denials.remits: %d claims in posted remittances, want %d", n, len(accepted))
	}
	if n := count(`SELECT count(*) FROM denials.exceptions`); n != 0 {
		t.Errorf("denials.exceptions: %d remittance lines matched nothing", n)
	}
	if n := count(`SELECT count(*) FROM denials.claims WHERE claim_id = ANY($1) AND outcome <> '' AND submission = 1`, accepted); n != len(accepted) {
		t.Errorf("denials.claims: %d of %d accepted claims have an outcome for submission 1", n, len(accepted))
	}
	if n := count(`SELECT count(*) FROM denials.claims WHERE NOT (claim_id = ANY($1))`, claims); n != 0 {
		t.Errorf("denials.claims: %d claims of unknown visits", n)
	}
	if n := count(`SELECT count(*) FROM (SELECT claim_id FROM denials.work_items GROUP BY claim_id HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("denials.work_items: %d claims with more than one denial work item", n)
	}
}

// requireNoDeadLetters fails the test if anything was dead-lettered: the
// visits are valid, so a dead letter is a message the pipeline lost.
func requireNoDeadLetters(t *testing.T, snap *snapshot) {
	t.Helper()
	for _, m := range snap.dead {
		// The reason is an error text, which the services keep free of
		// patient data; the payload is not printed.
		t.Errorf("dead letter on %s (message %s): %s", m.subject, m.msgID, m.header.Get("reason_poisoned"))
	}
}
