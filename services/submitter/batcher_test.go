package submitter_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
	"github.com/rcm-health/rcm/services/submitter"
)

// failingMailbox refuses every put, as a mailbox does while its disk or
// SFTP server is down.
type failingMailbox struct{ clearinghouse.Transport }

func (failingMailbox) Put(context.Context, string, []byte) error { return errors.New("mailbox down") }

// TestBatchSentOnceAcrossAFailedPut: ready claims go into one 837P file; a
// put that fails leaves the batch prepared, and the next step puts the same
// file and announces each claim once.
func TestBatchSentOnceAcrossAFailedPut(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	startSubmitter(t, d) // no mailbox: claims are scrubbed and left ready
	clean := codedExample(t, "visit-ot-medicare.json")
	publishCoded(t, d, clean, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-1")
	second := codedExample(t, "visit-pt-commercial-prior-auth.json")
	publishCoded(t, d, second, time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC), "coded-2")
	got := scrubbed(t, d, 2, 15*time.Second)
	passed := 0
	for _, s := range got {
		if s.Status == events.ScrubPassed {
			passed++
		}
	}
	if passed == 0 {
		t.Fatalf("no claim passed the scrubber: %+v", got)
	}

	root := t.TempDir()
	mailbox, err := clearinghouse.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := platform.NewOutbox(platform.OutboxConfig{Schema: submitter.Schema}, d.Pool, d.JS, d.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := func() time.Time { return time.Date(2025, 5, 21, 9, 0, 0, 0, time.UTC) }
	down := &submitter.Batcher{Pool: d.Pool, Outbox: outbox, Mailbox: failingMailbox{mailbox}, Log: d.Log, Now: now}
	if _, err := down.Step(ctx); err == nil {
		t.Fatal("a failed put was not reported")
	}
	up := &submitter.Batcher{Pool: d.Pool, Outbox: outbox, Mailbox: mailbox, Log: d.Log, Now: now}
	n, err := up.Step(ctx)
	if err != nil || n != passed {
		t.Fatalf("step submitted %d (%v); want %d", n, err, passed)
	}
	if n, err := up.Step(ctx); err != nil || n != 0 {
		t.Fatalf("second step submitted %d (%v); want 0", n, err)
	}
	if _, err := outbox.Sweep(ctx, 0); err != nil {
		t.Fatal(err)
	}

	files, err := filepath.Glob(filepath.Join(root, "outbound", "*.837"))
	if err != nil || len(files) != 1 {
		t.Fatalf("outbound files %v (%v); want exactly one", files, err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	ics, err := x12.Parse(data)
	if err != nil {
		t.Fatalf("the 837P does not parse: %v", err)
	}
	var clm01s []string
	for _, s := range ics[0].Groups[0].Transactions[0].Segments {
		if s.ID == "CLM" {
			clm01s = append(clm01s, s.Element(1))
		}
	}
	if len(clm01s) != passed {
		t.Fatalf("file holds %d claims; want %d", len(clm01s), passed)
	}

	var submitted []events.ClaimSubmitted
	for _, e := range ptest.Events(t, d.JS, events.StreamSubmitter, 2+passed, 10*time.Second) {
		if e.Type != events.TypeClaimSubmitted {
			continue
		}
		var s events.ClaimSubmitted
		if err := e.DecodeData(&s); err != nil {
			t.Fatal(err)
		}
		submitted = append(submitted, s)
	}
	if len(submitted) != passed {
		t.Fatalf("%d claim.submitted; want %d", len(submitted), passed)
	}
	for _, s := range submitted {
		if !strings.HasSuffix(files[0], s.FileName) || s.ISAControlNumber == "" || len(s.Lines) == 0 || s.TotalChargeCents <= 0 {
			t.Errorf("claim.submitted %+v", s)
		}
		found := false
		for _, c := range clm01s {
			found = found || c == s.ControlNumber
		}
		if !found {
			t.Errorf("claim %s announced but not in the file", s.ControlNumber)
		}
	}
}

// TestDuplicateOfASentLineIsHeld: a second visit billing the same service
// for the same member on the same day as a claim already sent is held as a
// duplicate before the payer denies it (CO-18).
func TestDuplicateOfASentLineIsHeld(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	startSending(t, d)
	first := codedExample(t, "visit-ot-medicare.json")
	publishCoded(t, d, first, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-first")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var status string
		_ = d.Pool.QueryRow(context.Background(), `SELECT status FROM submitter.claims WHERE visit_id = $1`, first.VisitID).Scan(&status)
		if status == submitter.StatusSubmitted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first claim not submitted (status %q)", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	again := *first
	again.VisitID = "another-visit-same-service"
	publishCoded(t, d, &again, time.Date(2025, 5, 21, 12, 0, 0, 0, time.UTC), "coded-again")
	var held *events.ClaimScrubbed
	for held == nil {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the second claim was not scrubbed")
		}
		for _, s := range scrubbed(t, d, 0, 0) {
			if s.VisitID == again.VisitID {
				held = &s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if held.Status != events.ScrubHeld || editCodes(*held)["duplicate.submitted"] != events.SeverityError {
		t.Fatalf("second claim: status %s edits %v; want held as duplicate.submitted", held.Status, editCodes(*held))
	}
}
