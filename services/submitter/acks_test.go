package submitter_test

import (
	"context"
	"testing"
	"time"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/clearinghouse/payersim"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/submitter"
)

// TestSubmittedClaimsAreAcknowledged runs the submitter against a directory
// mailbox answered by the payer simulator: every sent claim comes back as
// claim.acknowledged from the 999 and from the 277CA, and a claim the payer
// does not know the member of is rejected and held with the reason.
func TestSubmittedClaimsAreAcknowledged(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	root := t.TempDir()
	mailbox, err := clearinghouse.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	startSubmitterWith(t, d, submitter.Config{Mailbox: mailbox, Batch: submitter.BatchConfig{Interval: 100 * time.Millisecond}})

	known := codedExample(t, "visit-ot-medicare.json")
	unknown := codedExample(t, "visit-pt-commercial-prior-auth.json")
	publishCoded(t, d, known, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-known")
	publishCoded(t, d, unknown, time.Date(2025, 4, 10, 12, 0, 0, 0, time.UTC), "coded-unknown")

	peer, err := clearinghouse.NewDirPeer(root)
	if err != nil {
		t.Fatal(err)
	}
	sim := &payersim.Mailbox{Peer: peer, Log: d.Log, Config: payersim.Config{Seed: 7,
		KnownMember: func(_, member string) bool { return member != unknown.Visit.Coverage.MemberID }}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acks := map[string][]events.ClaimAcknowledged{}
	for len(acks[known.VisitID]) < 2 || len(acks[unknown.VisitID]) < 2 {
		if ctx.Err() != nil {
			t.Fatalf("acknowledgements so far: %+v", acks)
		}
		if _, err := sim.Step(ctx); err != nil {
			t.Fatal(err)
		}
		acks = map[string][]events.ClaimAcknowledged{}
		for _, e := range ptest.Events(t, d.JS, events.StreamSubmitter, 0, 0) {
			if e.Type != events.TypeClaimAcknowledged {
				continue
			}
			var a events.ClaimAcknowledged
			if err := e.DecodeData(&a); err != nil {
				t.Fatal(err)
			}
			acks[e.CorrelationID] = append(acks[e.CorrelationID], a)
		}
		time.Sleep(100 * time.Millisecond)
	}
	status := func(visit, source string) events.ClaimAcknowledged {
		for _, a := range acks[visit] {
			if a.Source == source {
				return a
			}
		}
		t.Fatalf("no %s acknowledgement for a claim", source)
		return events.ClaimAcknowledged{}
	}
	if a := status(known.VisitID, events.Ack999); a.Status != events.AckAccepted {
		t.Errorf("999 for the known member: %+v", a)
	}
	if a := status(known.VisitID, events.Ack277CA); a.Status != events.AckAccepted || a.PayerClaimControlNumber == "" || a.ControlNumber != submitter.ControlNumber(known.VisitID, 1) {
		t.Errorf("277CA for the known member: %+v", a)
	}
	a := status(unknown.VisitID, events.Ack277CA)
	if a.Status != events.AckRejected || a.Reason == "" || len(a.Codes) == 0 || a.Codes[0].Code != "A3" {
		t.Fatalf("277CA for the unknown member: %+v", a)
	}
	var held string
	if err := d.Pool.QueryRow(context.Background(), `SELECT status FROM submitter.claims WHERE visit_id = $1`, unknown.VisitID).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != submitter.StatusHeld {
		t.Fatalf("rejected claim status %s; want held", held)
	}
	// Nothing is acknowledged twice however often the mailbox is polled.
	for range 3 {
		if _, err := sim.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	n := 0
	for _, e := range ptest.Events(t, d.JS, events.StreamSubmitter, 0, 0) {
		if e.Type == events.TypeClaimAcknowledged {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d claim.acknowledged; want 4 (999 and 277CA for each claim)", n)
	}
}
