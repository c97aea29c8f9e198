package submitter_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/submitter"
)

// submittedClaims reads the claim.submitted events of the stream.
func submittedClaims(t *testing.T, d platform.Deps) []events.ClaimSubmitted {
	t.Helper()
	var out []events.ClaimSubmitted
	for _, e := range ptest.Events(t, d.JS, events.StreamSubmitter, 0, 0) {
		if e.Type != events.TypeClaimSubmitted {
			continue
		}
		var c events.ClaimSubmitted
		if err := e.DecodeData(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestCorrectionSendsAReplacement: a biller's correction request for a sent
// claim becomes submission 2, frequency 7 with REF*F8, the corrected
// modifiers and units and a new control number, in a new 837P file.
func TestCorrectionSendsAReplacement(t *testing.T) {
	t.Parallel()
	d := ptest.Deps(t)
	root := startSending(t, d)
	coded := codedExample(t, "visit-ot-medicare.json")
	publishCoded(t, d, coded, time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC), "coded-1")

	var first events.ClaimSubmitted
	waitFor(t, func() bool {
		s := submittedClaims(t, d)
		if len(s) == 1 {
			first = s[0]
		}
		return len(s) == 1
	})
	line := first.Lines[0]
	mods := append(slices.Clone(line.Modifiers), "59")
	req := events.ClaimCorrectionRequested{ClaimID: first.ClaimID, WorkItemID: "wi-1", Frequency: events.FrequencyReplacement,
		Reason: "distinct time block", RequestedBy: "ann", PayerClaimControlNumber: "ICN123",
		Lines: []events.LineCorrection{{Line: line.Line, Modifiers: mods, Units: line.Units + 1}}}
	env, err := events.New("correction-1", events.TypeClaimCorrectionRequested, events.SourceDenials, first.ClaimID, time.Now(), req)
	if err != nil {
		t.Fatal(err)
	}
	env.CorrelationID = first.VisitID
	b, _ := json.Marshal(env)
	m := nats.NewMsg(events.SubjectClaimCorrectionRequested)
	m.Data = b
	m.Header.Set(nats.MsgIdHdr, env.ID)
	if _, err := d.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	var second events.ClaimSubmitted
	waitFor(t, func() bool {
		s := submittedClaims(t, d)
		if len(s) == 2 {
			second = s[1]
		}
		return len(s) == 2
	})
	if second.Submission != 2 || second.Frequency != events.FrequencyReplacement || second.OriginalReference != "ICN123" ||
		second.ControlNumber == first.ControlNumber || second.ControlNumber != submitter.ControlNumber(first.VisitID, 2) {
		t.Fatalf("replacement: submission %d frequency %s F8 %q control %s", second.Submission, second.Frequency, second.OriginalReference, second.ControlNumber)
	}
	got := second.Lines[0]
	perUnit := line.ChargeCents / int64(line.Units)
	if got.Units != line.Units+1 || !slices.Equal(got.Modifiers, mods) || got.ChargeCents != perUnit*int64(line.Units+1) {
		t.Errorf("corrected line: %+v", got)
	}
	if second.TotalChargeCents != first.TotalChargeCents+perUnit {
		t.Errorf("total charge %d, want %d", second.TotalChargeCents, first.TotalChargeCents+perUnit)
	}
	data, err := os.ReadFile(filepath.Join(root, "outbound", second.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CLM*" + second.ControlNumber + "*", ":B:7*", "REF*F8*ICN123~", "REF*6R*" + second.ControlNumber + "-1~"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("837P lacks %q", want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
