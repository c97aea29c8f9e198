package billing

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestSplitTimed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		units, ther, asst  int
		wantAsst, wantTher int
		rules              []string
		textHas            string
	}{
		// VERIFICATION.md §2, CMS Scenario 1 as relayed: 97110 PTA 23 + PT
		// 13 min, 2 units.
		{name: "CMS scenario 1", units: 2, ther: 13, asst: 23, wantAsst: 1, wantTher: 1,
			rules:   []string{RuleAssistantFullBlock, RuleAssistantRemainingUnit},
			textHas: "the therapist's 13 min remaining exceed the assistant's 8 min: billed without CQ/CO. The other reading in circulation (no CQ/CO when the therapist alone gave 8 min or more) agrees"},
		{name: "no assistant", units: 3, ther: 38, wantTher: 3},
		{name: "assistant did it all", units: 3, asst: 38, wantAsst: 3, rules: []string{RuleAssistantWhole}},
		{name: "step 4: 12 and 12", units: 2, ther: 12, asst: 12, wantAsst: 1, wantTher: 1, rules: []string{RuleAssistantSplitPair}},
		{name: "step 4: 9 and 14", units: 2, ther: 9, asst: 14, wantAsst: 1, wantTher: 1, rules: []string{RuleAssistantSplitPair}},
		{name: "step 4 after full blocks", units: 4, ther: 24, asst: 26, wantAsst: 2, wantTher: 2, rules: []string{RuleAssistantFullBlock, RuleAssistantSplitPair}},
		{name: "step 3: assistant more", units: 1, ther: 8, asst: 12, wantAsst: 1,
			textHas: "[VERIFY] The other reading in circulation (no CQ/CO when the therapist alone gave 8 min or more) would bill it without CQ/CO"},
		{name: "step 3: therapist more, both under 8", units: 1, ther: 7, asst: 3, wantTher: 1,
			textHas: "would bill it with CQ/CO"},
		{name: "step 3: tie to therapist", units: 1, ther: 10, asst: 10, wantTher: 1, textHas: "a tie goes to the therapist"},
		{name: "full blocks each", units: 3, ther: 30, asst: 15, wantAsst: 1, wantTher: 2},
		{name: "assistant blocks, therapist rest", units: 3, ther: 8, asst: 30, wantAsst: 2, wantTher: 1},
		{name: "de minimis", units: 2, ther: 15, asst: 1, wantTher: 2, rules: []string{RuleAssistantDeMinimis}},
		{name: "2 minutes is more than 10%", units: 2, ther: 15, asst: 2, wantAsst: 1, wantTher: 1},
		{name: "two left, not 9-14 each", units: 2, ther: 14, asst: 5, wantAsst: 1, wantTher: 1},
		{name: "two left, assistant de minimis", units: 2, ther: 14, asst: 1, wantTher: 2, rules: []string{RuleAssistantDeMinimis}},
		{name: "leftover minutes earn no unit", units: 2, ther: 20, asst: 16, wantAsst: 1, wantTher: 1},
		{name: "fewer units than full blocks", units: 2, ther: 30, asst: 30, wantAsst: 2, textHas: "capped at the units billed"},
		{name: "more units than minutes", units: 5, ther: 10, asst: 10, wantAsst: 1, wantTher: 4},
		{name: "no units", units: 0, ther: 10, asst: 10},
		{name: "negative units", units: -2, ther: 10, asst: 10},
		{name: "negative minutes", units: 1, ther: -5, asst: 10, wantAsst: 1, rules: []string{RuleAssistantWhole}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := SplitTimed("97110", tt.units, tt.ther, tt.asst, 3)
			if s.AssistantUnits != tt.wantAsst || s.TherapistUnits != tt.wantTher {
				t.Errorf("SplitTimed(%d units, PT %d, PTA %d) = %d with CQ, %d without; want %d, %d",
					tt.units, tt.ther, tt.asst, s.AssistantUnits, s.TherapistUnits, tt.wantAsst, tt.wantTher)
			}
			for _, r := range tt.rules {
				if !hasRule(s.Notes, r) {
					t.Errorf("no %s note", r)
				}
			}
			if tt.textHas != "" && !slices.ContainsFunc(s.Notes, func(n Note) bool { return strings.Contains(n.Text, tt.textHas) }) {
				t.Errorf("no note with %q", tt.textHas)
			}
			checkSplit(t, tt.units, tt.ther, tt.asst, s)
			if t.Failed() {
				for _, n := range s.Notes {
					t.Logf("%s: %s", n.Rule, n.Text)
				}
			}
		})
	}
}

func TestUntimedNeedsAssistantModifier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ther, asst int
		want       bool
		rule, text string
	}{
		{ther: 30, asst: 0, want: false},
		{ther: 27, asst: 3, want: false, rule: RuleAssistantDeMinimis, text: "The assistant alone gave 3 min of 30 min (10%), 10% or less: no CQ/CO"},
		{ther: 30, asst: 4, want: true, rule: RuleAssistantUntimed, text: "The assistant alone gave 4 min of 34 min (11.7%), more than 10%: CQ/CO"},
		{ther: 0, asst: 20, want: true, rule: RuleAssistantUntimed},
		{ther: -4, asst: -4, want: false},
		{ther: math.MaxInt, asst: math.MaxInt, want: true, rule: RuleAssistantUntimed},
	}
	for _, tt := range tests {
		got, n := UntimedNeedsAssistantModifier(tt.ther, tt.asst)
		if got != tt.want || n.Rule != tt.rule || (tt.text != "" && n.Text != tt.text) || n.Service != -1 {
			t.Errorf("UntimedNeedsAssistantModifier(%d, %d) = %v, %+v; want %v, %s %q", tt.ther, tt.asst, got, n, tt.want, tt.rule, tt.text)
		}
	}
}

// checkSplit asserts what holds for any split.
func checkSplit(t *testing.T, units, ther, asst int, s AssistantSplit) {
	t.Helper()
	units = max(units, 0)
	if s.AssistantUnits < 0 || s.TherapistUnits < 0 || s.AssistantUnits+s.TherapistUnits != units {
		t.Errorf("%d units split %d with CQ/CO + %d without", units, s.AssistantUnits, s.TherapistUnits)
	}
	a, th := clampMinutes(asst), clampMinutes(ther)
	if a == 0 && s.AssistantUnits != 0 {
		t.Errorf("CQ/CO without assistant minutes")
	}
	if a > 0 && th == 0 && s.AssistantUnits != units {
		t.Errorf("assistant alone, but %d units without CQ/CO", s.TherapistUnits)
	}
	// The assistant's full blocks always carry CQ/CO.
	if s.AssistantUnits < min(a/15, units) {
		t.Errorf("assistant's %d full blocks, only %d CQ/CO units", a/15, s.AssistantUnits)
	}
	// Under the 8-minute rule's units, the therapist's full blocks never do.
	if units <= UnitsForMinutes(a+th) && s.TherapistUnits < min(th/15, units-min(a/15, units)) {
		t.Errorf("therapist's %d full blocks, only %d units without CQ/CO", th/15, s.TherapistUnits)
	}
	for _, n := range s.Notes {
		if n.Rule == "" || n.Text == "" || n.Source == "" || n.Service != 3 {
			t.Errorf("bad note %+v", n)
		}
	}
}

func TestSplitTimedPropertyRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		ther, asst := r.IntN(90), r.IntN(90)
		if r.IntN(5) == 0 {
			ther = 0
		}
		units := UnitsForMinutes(ther + asst)
		switch r.IntN(4) {
		case 0: // CMS pooling can add one unit past the code's own table units
			units = (ther+asst)/15 + 1
		case 1:
			units = r.IntN(10) - 2
		}
		s := SplitTimed("97110", units, ther, asst, 3)
		checkSplit(t, units, ther, asst, s)
		if t.Failed() {
			t.Fatalf("units %d, PT %d, PTA %d: %+v", units, ther, asst, s)
		}
	}
}

func FuzzSplitTimed(f *testing.F) {
	f.Fuzz(func(t *testing.T, units, ther, asst int) {
		checkSplit(t, units, ther, asst, SplitTimed("97110", units, ther, asst, 3))
		need, n := UntimedNeedsAssistantModifier(ther, asst)
		if need && clampMinutes(asst) == 0 || (n.Rule == "") != (clampMinutes(asst) == 0) {
			t.Errorf("UntimedNeedsAssistantModifier(%d, %d) = %v, %+v", ther, asst, need, n)
		}
	})
}

func BenchmarkSplitTimed(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = SplitTimed("97110", 2, 13, 23, 1)
	}
}
