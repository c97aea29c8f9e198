package submitter_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
	root := startSending(t, d)

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

// TestAckEdgeCases: a 999 that rejects the file holds every claim in it; a
// file that is not an acknowledgement at all is set aside with the segment
// it failed at, and the next file is still read; a new coding of a claim
// already sent is held as a corrected claim, never sent again.
func TestAckEdgeCases(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	root := startSending(t, d)
	coded := codedExample(t, "visit-ot-medicare.json")
	publishCoded(t, d, coded, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-1")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sent events.ClaimSubmitted
	for sent.ClaimID == "" {
		if ctx.Err() != nil {
			t.Fatal("claim not submitted")
		}
		for _, e := range ptest.Events(t, d.JS, events.StreamSubmitter, 0, 0) {
			if e.Type == events.TypeClaimSubmitted {
				if err := e.DecodeData(&sent); err != nil {
					t.Fatal(err)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A coding that arrives after the claim was sent.
	again := *coded
	again.Revision = 2
	publishCoded(t, d, &again, time.Date(2025, 5, 22, 12, 0, 0, 0, time.UTC), "coded-2")

	// The clearinghouse's answers: garbage first, then a 999 rejecting the file.
	peer, err := clearinghouse.NewDirPeer(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Put(ctx, "0-garbage.999", []byte("ISA*00*this is not an interchange~")); err != nil {
		t.Fatal(err)
	}
	reject := "ISA*00*          *00*          *ZZ*PAYERSIM       *ZZ*RCMSUBMITTER   *250521*0900*^*00501*000000777*0*T*:~\n" +
		"GS*FA*PAYERSIM*RCMSUBMITTER*20250521*0900*777*X*005010X231A1~\n" +
		"ST*999*0001*005010X231A1~\nAK1*HC*" + sent.GSControlNumber + "*005010X222A1~\nAK2*837*0001*005010X222A1~\n" +
		"IK3*NM1*12*2010AA*8~\nIK5*R*5~\nAK9*R*1*1*0~\nSE*7*0001~\nGE*1*777~\nIEA*1*000000777~\n"
	if err := peer.Put(ctx, "1-reject.999", []byte(reject)); err != nil {
		t.Fatal(err)
	}

	var rejected events.ClaimAcknowledged
	var corrected bool
	for rejected.ClaimID == "" || !corrected {
		if ctx.Err() != nil {
			t.Fatalf("rejection seen %v, corrected-claim hold seen %v", rejected.ClaimID != "", corrected)
		}
		for _, e := range ptest.Events(t, d.JS, events.StreamSubmitter, 0, 0) {
			switch e.Type {
			case events.TypeClaimAcknowledged:
				if err := e.DecodeData(&rejected); err != nil {
					t.Fatal(err)
				}
			case events.TypeClaimScrubbed:
				var s events.ClaimScrubbed
				if err := e.DecodeData(&s); err != nil {
					t.Fatal(err)
				}
				for _, ed := range s.Edits {
					corrected = corrected || (ed.Code == "claim.corrected_claim_needed" && s.Status == events.ScrubHeld)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rejected.Status != events.AckRejected || rejected.Source != events.Ack999 || rejected.ControlNumber != sent.ControlNumber {
		t.Fatalf("acknowledgement %+v", rejected)
	}
	var status string
	if err := d.Pool.QueryRow(ctx, `SELECT status FROM submitter.claims WHERE claim_id = $1`, sent.ClaimID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != submitter.StatusHeld {
		t.Fatalf("claim in a rejected file: status %s; want held", status)
	}
	reason, err := os.ReadFile(filepath.Join(root, "inbound", "rejected", "0-garbage.999.reason.txt"))
	if err != nil || !strings.Contains(string(reason), "segment") {
		t.Fatalf("garbage file's reason %q (%v); want one naming the segment", reason, err)
	}
	// Exactly one 837P was ever written: the late coding was not sent.
	files, _ := filepath.Glob(filepath.Join(root, "outbound", "*.837"))
	if len(files) != 1 {
		t.Fatalf("%d 837P files; want 1", len(files))
	}
}
