package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rcm-health/rcm/internal/demo"
	"github.com/rcm-health/rcm/pkg/events"
)

// poisonPrefix starts the correlation id of every test-made poison event,
// so that the exactly-once checks can tell them from visits.
const poisonPrefix = "poison-"

// poison is a message no stage can handle, and the stages that must
// dead-letter it.
type poison struct {
	subject string
	msgID   string
	data    []byte
	// services must each dead-letter it once; a stage not named here
	// consumes the subject and must handle the message without complaint.
	services []string
}

// poisonRound makes one of each kind of poison, on every stage's input.
func poisonRound(round int) []poison {
	id := func(kind string) string { return fmt.Sprintf("%s%d-%s", poisonPrefix, round, kind) }
	env := func(kind, typ, subject string, data any) []byte {
		raw, _ := json.Marshal(data)
		e := events.Envelope{ID: id(kind), Type: typ, Source: "rcm/fault-test", Subject: subject, Time: time.Now().UTC(),
			CorrelationID: id(kind), Data: raw}
		b, _ := json.Marshal(e)
		return b
	}
	return []poison{
		// Not an event at all, where the coder reads.
		{subject: events.SubjectVisitRecorded, msgID: id("garbage-recorded"), data: []byte(id("garbage-recorded") + ` {"id": "half an event`), services: []string{"coder"}},
		// A valid envelope whose data the coder refuses (no visit id).
		{subject: events.SubjectVisitRecorded, msgID: id("recorded-no-visit"), services: []string{"coder"},
			data: env("recorded-no-visit", events.TypeVisitRecorded, "none", map[string]any{"visit_id": "", "revision": 1})},
		// The submitter refuses a coding without a revision; denials, which
		// reads the same subject for its timeline, takes it as it is.
		{subject: events.SubjectVisitCoded, msgID: id("coded-no-revision"), services: []string{"submitter"},
			data: env("coded-no-revision", events.TypeVisitCoded, id("coded-no-revision"), map[string]any{"visit_id": id("coded-no-revision"), "revision": 0})},
		// Garbage read by two stages: each must keep its own dead letter.
		{subject: events.SubjectVisitCoded, msgID: id("garbage-coded"), data: []byte(id("garbage-coded") + "\x00\x01 not json"), services: []string{"submitter", "denials"}},
		// A correction for a claim the submitter never made.
		{subject: events.SubjectClaimCorrectionRequested, msgID: id("correction-unknown-claim"), services: []string{"submitter"},
			data: env("correction-unknown-claim", events.TypeClaimCorrectionRequested, "no-such-claim",
				events.ClaimCorrectionRequested{ClaimID: "no-such-claim", WorkItemID: "no-such-item", Frequency: events.FrequencyReplacement})},
		// A claim.submitted whose data is not a claim, for the ledger.
		{subject: events.SubjectClaimSubmitted, msgID: id("submitted-not-a-claim"), services: []string{"denials"},
			data: env("submitted-not-a-claim", events.TypeClaimSubmitted, "no-such-claim", "not a claim")},
		{subject: events.SubjectClaimScrubbed, msgID: id("garbage-scrubbed"), data: []byte(`["` + id("garbage-scrubbed") + `"]`), services: []string{"denials"}},
	}
}

func (p *pipeline) publishPoison(t *testing.T, ps []poison) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, pm := range ps {
		m := nats.NewMsg(pm.subject)
		m.Data = pm.data
		m.Header.Set(nats.MsgIdHdr, pm.msgID)
		if _, err := p.js.PublishMsg(ctx, m); err != nil {
			t.Errorf("publish poison %s: %v", pm.msgID, err)
		}
	}
}

// TestPoisonMessages puts poison on every stage's input, before the load
// (first in each stream, ahead of every visit) and half-way through it.
// Each must reach the DEADLETTER stream once per stage that gave up on it,
// on rcm.dlq.<service> with its payload intact and the reason, and must not
// hold up the visits behind it, which still go through exactly once.
func TestPoisonMessages(t *testing.T) {
	r := startFaultRun(t)
	var all []poison
	first := poisonRound(1)
	all = append(all, first...)
	r.p.publishPoison(t, first)

	const n, rate = 150, 50.0
	visits := demo.Visits(64, n, time.Now())
	demo.WithProblems(visits, 0.1, 64)
	start := time.Now()
	second := poisonRound(2)
	all = append(all, second...)
	res := r.p.post(context.Background(), visits, rate, time.Minute, func() { r.p.publishPoison(t, second) })
	t.Logf("posted %d visits and %d poison messages in %v", n, len(all), time.Since(start).Round(100*time.Millisecond))
	requireAllAccepted(t, res, n)

	visitIDs := res.visitIDs()
	snap := r.p.waitSettled(t, visitIDs, 2*time.Minute)
	r.p.checkExactlyOnce(t, snap, visitIDs, poisonPrefix)

	// Each poison message once in each named stage's dead letters, found
	// by its payload, which must arrive unchanged for rcm dlq to re-drive.
	want := 0
	for _, pm := range all {
		for _, service := range pm.services {
			want++
			subject := events.SubjectDeadLetterPrefix + service
			found := 0
			for _, d := range snap.dead {
				if d.subject == subject && bytes.Equal(d.data, pm.data) {
					found++
					if reason := d.header.Get("reason_poisoned"); reason == "" {
						t.Errorf("dead letter of %s on %s carries no reason", pm.msgID, subject)
					}
				}
			}
			if found != 1 {
				t.Errorf("poison %s on %s: %d dead letters on %s, want 1", pm.msgID, pm.subject, found, subject)
			}
		}
	}
	if len(snap.dead) != want {
		var got []string
		for _, d := range snap.dead {
			got = append(got, d.subject+" "+d.msgID)
		}
		t.Errorf("%d dead letters, want %d: %s", len(snap.dead), want, strings.Join(got, ", "))
	}
	t.Logf("%d dead letters, %d expected; total %v", len(snap.dead), want, time.Since(start).Round(100*time.Millisecond))
}
