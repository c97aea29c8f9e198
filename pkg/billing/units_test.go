package billing

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"
)

func TestUnitsForMinutes(t *testing.T) {
	t.Parallel()
	// The table of MCPM Ch. 5 §20.2 (BILLING.md §1.1), edges of every row.
	tests := []struct{ minutes, units int }{
		{math.MinInt, 0}, {-1, 0}, {0, 0}, {1, 0}, {7, 0},
		{8, 1}, {22, 1}, {23, 2}, {37, 2}, {38, 3}, {52, 3}, {53, 4}, {67, 4},
		{68, 5}, {82, 5}, {83, 6}, {97, 6}, {98, 7}, {112, 7}, {113, 8}, {127, 8},
		{128, 9}, {150, 10}, {1440, 96},
		{math.MaxInt, (math.MaxInt-8)/15 + 1},
	}
	for _, tt := range tests {
		if got := UnitsForMinutes(tt.minutes); got != tt.units {
			t.Errorf("UnitsForMinutes(%d) = %d, want %d", tt.minutes, got, tt.units)
		}
	}
}

func TestUnitsForMinutesRows(t *testing.T) {
	t.Parallel()
	// Row n of the table runs from 15n-7 to 15n+7, however long the visit.
	row := func(n uint16) bool {
		k := int(n) + 1
		return UnitsForMinutes(15*k-7) == k && UnitsForMinutes(15*k+7) == k &&
			UnitsForMinutes(15*k-8) == k-1 && UnitsForMinutes(15*k+8) == k+1
	}
	if err := quick.Check(row, nil); err != nil {
		t.Error(err)
	}
}

// svc builds an input service; add-on facts as in rules/codes.csv.
func svc(code string, minutes int) TimedMinutes {
	s := TimedMinutes{Code: code, Minutes: minutes}
	switch code {
	case "97129":
		s.AddOnCode = "97130"
	case "97130":
		s.AddOnTo = "97129"
	case "97550":
		s.InitialMinutes, s.AddOnCode = 30, "97551"
	case "97551":
		s.AddOnTo = "97550"
	}
	return s
}

func visit(codeMinutes ...any) []TimedMinutes {
	var v []TimedMinutes
	for i := 0; i < len(codeMinutes); i += 2 {
		v = append(v, svc(codeMinutes[i].(string), codeMinutes[i+1].(int)))
	}
	return v
}

func hasRule(notes []Note, rule string) bool {
	return slices.ContainsFunc(notes, func(n Note) bool { return n.Rule == rule })
}

type unitCase struct {
	name  string
	in    []TimedMinutes
	units []int
	addOn []AddOnUnits
	total int      // TotalUnits
	rules []string // notes that must be present
	text  string   // a note text that must be present, if set
}

func TestAllocateCMS(t *testing.T) {
	t.Parallel()
	tests := []unitCase{
		// VERIFICATION.md §1, the manual's five examples.
		{name: "example 1", in: visit("97112", 24, "97110", 23), units: []int{2, 1}, total: 3,
			text: "97112 24 min + 97110 23 min = 47 timed minutes = 3 units (8-minute rule, 38-52 min)"},
		{name: "example 2 tie", in: visit("97112", 20, "97110", 20), units: []int{2, 1}, total: 3,
			rules: []string{RuleUnitsTie}},
		{name: "example 3", in: visit("97110", 33, "97140", 7), units: []int{2, 1}, total: 3,
			text: "97110 33 min + 97140 7 min = 40 timed minutes = 3 units (8-minute rule, 38-52 min)"},
		{name: "example 4", in: visit("97110", 18, "97140", 13, "97116", 10, "97035", 8), units: []int{1, 1, 1, 0}, total: 3},
		{name: "example 5 tie", in: visit("97112", 7, "97110", 7, "97140", 7), units: []int{1, 0, 0}, total: 1,
			rules: []string{RuleUnitsTie, RuleUnitsBelow8}},

		// From the rule text.
		{name: "single service under 8", in: visit("97110", 7), units: []int{0}, total: 0,
			rules: []string{RuleUnitsBelow8}, text: "A single timed service under 8 minutes is not billed"},
		{name: "single service of 8", in: visit("97110", 8), units: []int{1}, total: 1},
		{name: "single service of 15 and 30", in: visit("97110", 30), units: []int{2}, total: 2},
		{name: "two under 8, most minutes wins", in: visit("97110", 5, "97140", 4), units: []int{1, 0}, total: 1,
			rules: []string{RuleUnitsBelow8}},
		{name: "most minutes wins when later", in: visit("97110", 3, "97140", 6), units: []int{0, 1}, total: 1},
		{name: "together under 8", in: visit("97110", 3, "97140", 4), units: []int{0, 0}, total: 0,
			text: "The timed services together ran under 8 minutes: nothing is billed"},
		{name: "four of 7 make 2", in: visit("97110", 7, "97112", 7, "97140", 7, "97530", 7), units: []int{1, 1, 0, 0}, total: 2,
			rules: []string{RuleUnitsTie}},
		// An evaluation (untimed) is never passed in, so 7 timed minutes
		// stay alone and bill nothing.
		{name: "untimed not passed in", in: visit("97110", 7), units: []int{0}, total: 0},
		{name: "past two hours", in: visit("97110", 130, "97530", 20), units: []int{9, 1}, total: 10,
			text: "97110 130 min + 97530 20 min = 150 timed minutes = 10 units (8-minute rule, 143-157 min)"},
		{name: "zero minutes", in: visit("97110", 0, "97140", 8), units: []int{0, 1}, total: 1},
		{name: "equal leftovers, more minutes in all", in: visit("97112", 8, "97110", 23), units: []int{0, 2}, total: 2,
			rules: []string{RuleUnitsTie}},
		// 97530's 8 leftover minutes tie with 97535's 8; 97530 has more in all.
		{name: "typical visit", in: visit("97530", 23, "97110", 15, "97112", 10, "97535", 8), units: []int{2, 1, 1, 0}, total: 4,
			rules: []string{RuleUnitsTie}},
		{name: "no tie note without a tie", in: visit("97530", 24, "97110", 15, "97112", 10, "97535", 8), units: []int{2, 1, 1, 0}, total: 4},
		{name: "15k minutes keep their units", in: visit("97110", 45, "97140", 14, "97112", 14), units: []int{3, 1, 1}, total: 5},
		{name: "empty visit", in: nil, units: nil, total: 0},
		{name: "negative minutes", in: visit("97110", -5, "97140", 10), units: []int{0, 1}, total: 1,
			rules: []string{RuleUnitsMinutes}},
		{name: "more than a day", in: visit("97110", 5000), units: []int{96}, total: 96, rules: []string{RuleUnitsMinutes}},

		// Add-on families.
		{name: "97129 and 97130 sent apart", in: visit("97129", 10, "97130", 20), units: []int{1, 1}, total: 2,
			rules: []string{RuleUnitsAddOn}},
		{name: "97129 and 97130 sent apart, long", in: visit("97129", 15, "97130", 38), units: []int{1, 3}, total: 4},
		{name: "97129 alone with all minutes", in: visit("97129", 40), units: []int{1}, total: 3,
			addOn: []AddOnUnits{{Service: 0, Code: "97130", Units: 2}}, rules: []string{RuleUnitsAddOn}},
		{name: "97129 alone, one unit", in: visit("97129", 20), units: []int{1}, total: 1},
		// Without AddOnCode a base is known only by an add-on beside it or
		// a long first unit; the coder must fill AddOnCode.
		{name: "97129 alone, not known as a base", in: []TimedMinutes{{Code: "97129", Minutes: 40}},
			units: []int{3}, total: 3},
		{name: "97550 alone, add-on unknown", in: []TimedMinutes{{Code: "97550", Minutes: 38, InitialMinutes: 30}},
			units: []int{1}, total: 2, addOn: []AddOnUnits{{Service: 0, Code: "", Units: 1}},
			text: "97550 was sent alone with all the minutes, 38 min: 97550 ×1 for the first 30 min (once a day), and 1 unit for each further 15 min on an add-on code that is not known: hold the visit"},
		{name: "97130 without its base", in: visit("97130", 20, "97110", 10), units: []int{0, 1}, total: 1,
			rules: []string{RuleUnitsAddOn}, text: "97130 20 min is an add-on to 97129, which is not in the visit: 0 units, and its minutes are not counted"},
		{name: "add-on before its base", in: visit("97130", 20, "97129", 10), units: []int{1, 1}, total: 2},
		{name: "two add-on services", in: visit("97129", 15, "97130", 15, "97130", 15), units: []int{1, 2, 0}, total: 3},
		{name: "family pools with others", in: visit("97129", 10, "97130", 10, "97110", 10), units: []int{1, 0, 1}, total: 2},
		{name: "97550 alone 15 min", in: visit("97550", 15), units: []int{0}, total: 0},
		{name: "97550 alone 16 min", in: visit("97550", 16), units: []int{1}, total: 1},
		{name: "97550 alone 37 min", in: visit("97550", 37), units: []int{1}, total: 1},
		{name: "97550 alone 38 min", in: visit("97550", 38), units: []int{1}, total: 2,
			addOn: []AddOnUnits{{Service: 0, Code: "97551", Units: 1}}},
		{name: "97550 and 97551 apart", in: visit("97550", 30, "97551", 15), units: []int{1, 1}, total: 2,
			text: "97550 30 min + 97551 15 min = 45 timed minutes, counted as 30 (a 30-minute first unit counts as one 15-minute unit) = 2 units (8-minute rule, 23-37 min)"},
		{name: "97550 pooled", in: visit("97550", 45, "97110", 10), units: []int{1, 1}, total: 3,
			addOn: []AddOnUnits{{Service: 0, Code: "97551", Units: 1}}},
		{name: "97551 without 97550", in: visit("97551", 30), units: []int{0}, total: 0},
	}
	runUnitCases(t, AllocateCMS, tests)
}

func TestAllocateAMA(t *testing.T) {
	t.Parallel()
	tests := []unitCase{
		{name: "three of 7: CMS 1, AMA 0", in: visit("97110", 7, "97140", 7, "97530", 7), units: []int{0, 0, 0}, total: 0,
			rules: []string{RuleUnitsBelow8}},
		{name: "example 1 per code", in: visit("97112", 24, "97110", 23), units: []int{2, 2}, total: 4},
		{name: "example 3 per code", in: visit("97110", 33, "97140", 7), units: []int{2, 0}, total: 2},
		{name: "example 4 per code", in: visit("97110", 18, "97140", 13, "97116", 10, "97035", 8), units: []int{1, 1, 1, 1}, total: 4},
		{name: "single 8", in: visit("97110", 8), units: []int{1}, total: 1,
			text: "97110 8 min: 1 unit (8-minute table on this code alone, 8-22 min)"},
		{name: "past two hours", in: visit("97110", 130, "97530", 20), units: []int{9, 1}, total: 10},
		{name: "97129 alone", in: visit("97129", 40), units: []int{1}, total: 3,
			addOn: []AddOnUnits{{Service: 0, Code: "97130", Units: 2}}},
		{name: "97550 38", in: visit("97550", 38), units: []int{1}, total: 2,
			addOn: []AddOnUnits{{Service: 0, Code: "97551", Units: 1}}},
		{name: "97550 and 97551 apart, short", in: visit("97550", 20, "97551", 10), units: []int{1, 0}, total: 1},
		{name: "orphan add-on", in: visit("97130", 30), units: []int{0}, total: 0, rules: []string{RuleUnitsAddOn}},
	}
	runUnitCases(t, AllocateAMA, tests)
}

func runUnitCases(t *testing.T, allocate func([]TimedMinutes) Allocation, tests []unitCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := allocate(tt.in)
			if !slices.Equal(a.Units, tt.units) || a.TotalUnits != tt.total || !slices.Equal(a.AddOn, tt.addOn) {
				t.Errorf("got units %v, add-ons %v, total %d; want %v, %v, %d", a.Units, a.AddOn, a.TotalUnits, tt.units, tt.addOn, tt.total)
			}
			for _, r := range tt.rules {
				if !hasRule(a.Notes, r) {
					t.Errorf("no %s note", r)
				}
			}
			if hasRule(a.Notes, RuleUnitsTie) && !slices.Contains(tt.rules, RuleUnitsTie) {
				t.Errorf("unexpected tie note")
			}
			if tt.text != "" && !slices.ContainsFunc(a.Notes, func(n Note) bool { return n.Text == tt.text }) {
				t.Errorf("no note %q", tt.text)
			}
			checkAllocation(t, tt.in, a, allocate)
			if t.Failed() {
				for _, n := range a.Notes {
					t.Logf("%s [%d]: %s", n.Rule, n.Service, n.Text)
				}
			}
		})
	}
}

// TestNotesExplain shows the whole explanation of one visit, so that a
// change of wording is a deliberate one.
func TestNotesExplain(t *testing.T) {
	t.Parallel()
	a := AllocateCMS(visit("97112", 20, "97110", 20))
	want := []Note{
		{RuleUnitsTotal, "97112 20 min + 97110 20 min = 40 timed minutes = 3 units (8-minute rule, 38-52 min)", SourceCMSUnits, -1},
		{RuleUnitsAllocation, "97112 20 min: 2 units: 1 full 15-min block + 1 for its 5 min left over", SourceCMSUnits, 0},
		{RuleUnitsAllocation, "97110 20 min: 1 unit for 1 full 15-min block; its 5 min left over lost to larger leftovers", SourceCMSUnits, 1},
		{RuleUnitsTie, "97112, 97110 each have 5 min left over for 1 unit: 97112 got it, having more minutes in all or coming earlier in the visit. The clinician may choose otherwise (MCPM examples 2 and 5)", SourceCMSUnits, -1},
	}
	if !slices.Equal(a.Notes, want) {
		for _, n := range a.Notes {
			t.Logf("%#v", n)
		}
		t.Error("notes differ")
	}
	a = AllocateCMS(visit("97129", 40))
	if !slices.ContainsFunc(a.Notes, func(n Note) bool {
		return n.Rule == RuleUnitsAddOn && n.Service == 0 &&
			n.Text == "97129 was sent alone with all the minutes, 40 min: 97129 ×1 for the first 15 min (once a day), and add-on 97130 ×2 for each further 15 min"
	}) {
		t.Errorf("add-on note missing: %v", a.Notes)
	}
}

// checkAllocation asserts the invariants of any allocation.
func checkAllocation(t *testing.T, in []TimedMinutes, a Allocation, allocate func([]TimedMinutes) Allocation) {
	t.Helper()
	cms := !isAMA(allocate)
	if len(a.Units) != len(in) {
		t.Fatalf("%d units for %d services", len(a.Units), len(in))
	}
	sum := 0
	for i, u := range a.Units {
		if u < 0 {
			t.Errorf("service %d: negative units %d", i, u)
		}
		sum += u
	}
	for _, ao := range a.AddOn {
		if ao.Units <= 0 || ao.Service < 0 || ao.Service >= len(in) {
			t.Errorf("bad add-on units %+v", ao)
		}
		sum += ao.Units
	}
	if sum != a.TotalUnits {
		t.Errorf("units sum to %d, TotalUnits is %d", sum, a.TotalUnits)
	}
	if a.UnitMinutes > a.TotalMinutes || a.TotalMinutes < 0 {
		t.Errorf("UnitMinutes %d, TotalMinutes %d", a.UnitMinutes, a.TotalMinutes)
	}
	// Never more units than the minutes allow; per code, AMA may round
	// each up (example 1: 4 units from 47 minutes), which plain below checks.
	if cms && a.TotalUnits > (a.TotalMinutes+7)/15 {
		t.Errorf("%d units from %d minutes", a.TotalUnits, a.TotalMinutes)
	}
	if cms && a.TotalUnits != UnitsForMinutes(a.UnitMinutes) {
		t.Errorf("CMS: %d units, the table gives %d for %d minutes", a.TotalUnits, UnitsForMinutes(a.UnitMinutes), a.UnitMinutes)
	}

	// Per family (or plain service): the units its minutes guarantee.
	plain := true
	for i, s := range in {
		if s.AddOnTo != "" || s.AddOnCode != "" || s.InitialMinutes != 0 ||
			slices.ContainsFunc(in, func(o TimedMinutes) bool { return o.AddOnTo == s.Code }) {
			plain = false
			continue
		}
		m := clampMinutes(s.Minutes)
		if a.Units[i] < m/15 {
			t.Errorf("%s %d min got %d units, fewer than its full 15 minutes", s.Code, m, a.Units[i])
		}
		if !cms && a.Units[i] != UnitsForMinutes(m) {
			t.Errorf("AMA: %s %d min got %d units, the table gives %d", s.Code, m, a.Units[i], UnitsForMinutes(m))
		}
		if cms && a.Units[i] > m/15+1 {
			t.Errorf("%s %d min got %d units", s.Code, m, a.Units[i])
		}
	}
	if plain {
		total := 0
		for _, s := range in {
			total += clampMinutes(s.Minutes)
		}
		if a.TotalMinutes != total || a.UnitMinutes != total {
			t.Errorf("TotalMinutes %d, UnitMinutes %d, want %d", a.TotalMinutes, a.UnitMinutes, total)
		}
		if cms && a.TotalUnits != UnitsForMinutes(total) {
			t.Errorf("CMS: %d units for %d minutes", a.TotalUnits, total)
		}
	}
	for _, n := range a.Notes {
		if n.Rule == "" || n.Text == "" || n.Source == "" || n.Service < -1 || n.Service >= len(in) {
			t.Errorf("bad note %+v", n)
		}
	}
	if len(in) > 0 && (len(a.Notes) == 0 || a.Notes[0].Rule != RuleUnitsTotal) {
		t.Errorf("first note is not %s", RuleUnitsTotal)
	}
}

func isAMA(allocate func([]TimedMinutes) Allocation) bool {
	// 7+7+7 pools to 1 unit under CMS only.
	return allocate(visit("97110", 7, "97140", 7, "97530", 7)).TotalUnits == 0
}

var testCodes = []string{"97110", "97112", "97140", "97530", "97129", "97130", "97550", "97551"}

func randomVisit(r *rand.Rand, families bool) []TimedMinutes {
	n := r.IntN(7)
	v := make([]TimedMinutes, n)
	for i := range v {
		codes := testCodes[:4]
		if families {
			codes = testCodes
		}
		m := r.IntN(60)
		if r.IntN(4) == 0 {
			m = r.IntN(200)
		}
		v[i] = svc(codes[r.IntN(len(codes))], m)
	}
	return v
}

// TestCMSPropertyRandom checks, over random visits, that the CMS total is
// the table's units for the total minutes, that no service gets fewer than
// its full 15 minutes (so the two guarantees never conflict), that AMA gives
// each code its own table units, and that nothing is negative or more than
// the minutes allow.
func TestCMSPropertyRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(20, 2))
	for range 20000 {
		v := randomVisit(r, r.IntN(3) == 0)
		checkAllocation(t, v, AllocateCMS(v), AllocateCMS)
		checkAllocation(t, v, AllocateAMA(v), AllocateAMA)
		if t.Failed() {
			t.Fatalf("visit %+v", v)
		}
	}
}

// TestCMSLeftoverOrder checks the allocation against its definition on
// plain visits: the extra units go to the largest leftovers.
func TestCMSLeftoverOrder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		v := randomVisit(r, false)
		a := AllocateCMS(v)
		minWon, maxLost := 15, -1
		for i, s := range v {
			rem := s.Minutes % 15
			switch a.Units[i] - s.Minutes/15 {
			case 1:
				minWon = min(minWon, rem)
			case 0:
				if rem > 0 {
					maxLost = max(maxLost, rem)
				}
			}
		}
		if maxLost > minWon {
			t.Fatalf("%+v: a leftover of %d lost to one of %d: %v", v, maxLost, minWon, a.Units)
		}
		if (maxLost == minWon) != hasRule(a.Notes, RuleUnitsTie) {
			t.Fatalf("%+v: tie note %v, leftovers won %d lost %d", v, hasRule(a.Notes, RuleUnitsTie), minWon, maxLost)
		}
	}
}

func TestCatalogAddOns(t *testing.T) {
	t.Parallel()
	m := DefaultCatalog().AddOns()
	if m["97129"] != "97130" || m["97550"] != "97551" || len(m) != 2 {
		t.Errorf("AddOns() = %v", m)
	}
}

func FuzzAllocateCMS(f *testing.F) {
	f.Fuzz(func(t *testing.T, n, c0, c1, c2, c3 uint8, m0, m1, m2, m3 int) {
		codes, minutes := [4]uint8{c0, c1, c2, c3}, [4]int{m0, m1, m2, m3}
		v := make([]TimedMinutes, int(n)%5)
		for i := range v {
			v[i] = svc(testCodes[int(codes[i])%len(testCodes)], minutes[i])
			if codes[i] >= 128 {
				v[i].AddOnCode = "" // a coder that did not look the add-on up
			}
		}
		checkAllocation(t, v, AllocateCMS(v), AllocateCMS)
		checkAllocation(t, v, AllocateAMA(v), AllocateAMA)
	})
}

// benchVisit is a typical 4-service visit.
var benchVisit = visit("97530", 23, "97110", 15, "97112", 10, "97535", 8)

func BenchmarkAllocateCMS(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = AllocateCMS(benchVisit)
	}
}

func BenchmarkAllocateAMA(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = AllocateAMA(benchVisit)
	}
}

func TestAllocateAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("allocation counts are for the plain build")
	}
	if n := testing.AllocsPerRun(100, func() { _ = AllocateCMS(benchVisit) }); n > 3 {
		t.Errorf("AllocateCMS of a 4-service visit: %v allocations, want at most 3", n)
	}
}
