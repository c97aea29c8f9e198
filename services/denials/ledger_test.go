package denials

import (
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// TestCodedTimelineLeavesTheVisitOut: the timeline's line for a coding
// explains the units and modifiers but carries nothing of the visit's PHI,
// which is left undecoded.
func TestCodedTimelineLeavesTheVisitOut(t *testing.T) {
	t.Parallel()
	coded := events.VisitCoded{VisitID: "visit-1", Revision: 2, RulesVersion: "2026.11.2", UnitMethod: "cms", ChargeCents: 16500,
		Lines: []events.CodedLine{{Line: 1, Code: "97530", Units: 2, Modifiers: []string{"GO", "KX"}}}}
	coded.Visit.Patient.LastName = "Zebedee-PHI"
	env, err := events.New("coded-1", events.TypeVisitCoded, events.SourceCoder, "visit-1", time.Now(), coded)
	if err != nil {
		t.Fatal(err)
	}
	var d codedForTimeline
	if err := env.DecodeData(&d); err != nil {
		t.Fatal(err)
	}
	if d.VisitID != "visit-1" || d.Revision != 2 || len(d.Lines) != 1 || d.Lines[0].Units != 2 {
		t.Fatalf("decoded %+v; want the coding's fields", d.VisitCoded)
	}
	if d.VisitCoded.Visit.Patient.LastName != "" {
		t.Error("the visit was decoded") // its value stays out of test output
	}
	want := "coded (revision 2, CMS method, rules 2026.11.2): 97530×2 GO KX; charge $165.00"
	switch got := codedSummary(&d.VisitCoded); {
	case strings.Contains(got, "Zebedee"):
		t.Error("the summary carries the patient's name") // its text stays out of test output
	case got != want:
		t.Errorf("summary %q; want %q", got, want)
	}
}
