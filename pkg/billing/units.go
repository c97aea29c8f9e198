package billing

// Note is one decision in words, for explanations. Service is the index of
// the input service it concerns, or -1 for the visit as a whole.
type Note struct {
	Rule    string // stable dotted code, such as RuleUnitsTotal
	Text    string // with the numbers, for a biller
	Source  string // where the rule comes from, such as SourceCMSUnits
	Service int
}

// Rule codes of the unit and assistant notes. They are stable: billers'
// reports and tests match on them, never on the text.
const (
	RuleUnitsTotal      = "units.total"      // the visit's minutes and units
	RuleUnitsAllocation = "units.allocation" // one service's units and why
	RuleUnitsTie        = "units.tie"        // equal leftovers; the clinician may choose otherwise
	RuleUnitsBelow8     = "units.below_8"    // services under 8 minutes
	RuleUnitsAddOn      = "units.addon"      // base and add-on codes of one family
	RuleUnitsMinutes    = "units.minutes"    // minutes out of range, corrected

	RuleAssistantWhole         = "assistant.whole"          // the assistant furnished all of it
	RuleAssistantFullBlock     = "assistant.full_block"     // a full 15 minutes by one person
	RuleAssistantRemainingUnit = "assistant.remaining_unit" // a unit left after the full blocks
	RuleAssistantSplitPair     = "assistant.split_pair"     // two units left, 9-14 minutes each
	RuleAssistantDeMinimis     = "assistant.de_minimis"     // the assistant's part is 10% or less
	RuleAssistantUntimed       = "assistant.untimed"        // an untimed service done in part by the assistant
)

// Sources cited by the notes.
const (
	SourceCMSUnits = "CMS MCPM Ch. 5 §20.2"
	SourceAMAUnits = "AMA CPT time rule: a unit is attained when the midpoint is passed"
	// The 30-minute first unit's place in the CMS pool is our reading; no
	// CMS text on it was seen.
	SourceAddOn = "CPT descriptors of 97129/97130 and 97550/97551; MCPM Ch. 5 §20.2 [VERIFY]"
	SourceInput = "rcm input check"
)

// maxServiceMinutes caps one service's minutes at a day: more is a data
// error, and the cap keeps every sum far from integer overflow.
const maxServiceMinutes = 24 * 60

// TimedMinutes is one timed service of a visit: its code and all its
// minutes (therapist + assistant). Untimed services are never passed in:
// they bill one unit whatever their length and their minutes do not count
// toward the 8-minute rule (MCPM Ch. 5 §20.2).
//
// Give each code once: First Coast rejects a timed code reported on more
// than one line per date of service, and the per-code guarantees below are
// per input service.
type TimedMinutes struct {
	Code    string
	Minutes int
	// AddOnTo and InitialMinutes come from the catalog (Code.AddOnTo,
	// Code.InitialMinutes).
	AddOnTo        string
	InitialMinutes int
	// AddOnCode is the add-on that reports this base code's further units
	// (97129: 97130), from Catalog.AddOns. It is needed only when an EMR
	// sends the base code alone with all the family's minutes.
	AddOnCode string
}

// AddOnUnits are add-on units owed to a base code that was sent without its
// add-on: the coder makes a line of Code with Units units.
type AddOnUnits struct {
	Service int    // the base service whose minutes earned them
	Code    string // the add-on code; "" when TimedMinutes.AddOnCode was empty, which the coder must hold
	Units   int
}

// Allocation is the units of each input service, in input order.
//
// The sum of Units and of AddOn units is TotalUnits, and TotalUnits is
// UnitsForMinutes(UnitMinutes) under the CMS method.
type Allocation struct {
	// TotalMinutes are the timed minutes counted: every service's minutes
	// except those of an add-on sent without its base.
	TotalMinutes int
	// UnitMinutes are TotalMinutes with each first unit longer than 15
	// minutes (97550: 30) counted as 15, the scale the unit table reads.
	// They equal TotalMinutes unless such a code is billed.
	UnitMinutes int
	TotalUnits  int
	Units       []int
	AddOn       []AddOnUnits // nil unless a base code was sent without its add-on and earned more than one unit
	Notes       []Note
}

// AddOns maps each base code of the catalog to its add-on (97129 → 97130),
// the first in file order if there were several. Build it once per catalog
// and fill TimedMinutes.AddOnCode from it.
func (c *Catalog) AddOns() map[string]string {
	c.addOnsOnce.Do(func() { c.addOns = c.buildAddOns() })
	return c.addOns
}

func (c *Catalog) buildAddOns() map[string]string {
	m := make(map[string]string)
	for _, code := range c.order {
		if k := c.codes[code]; k.AddOnTo != "" {
			if _, dup := m[k.AddOnTo]; !dup {
				m[k.AddOnTo] = code
			}
		}
	}
	return m
}

// UnitsForMinutes is the CMS table of MCPM Ch. 5 §20.2: 0 units under 8
// minutes, then 1 unit for 8-22, 2 for 23-37, ..., n for 15n-7 to 15n+7,
// continuing past 2 hours. Negative minutes are 0 units.
func UnitsForMinutes(total int) int {
	if total < 8 {
		return 0
	}
	// (total+7)/15 without the overflow of total+7 near math.MaxInt.
	return (total-8)/15 + 1
}

// AllocateCMS gives units to the timed services of one visit by the CMS
// total-time method (MCPM Ch. 5 §20.2):
//
//  1. The total of all timed minutes gives the visit's units N by the
//     8-minute table, so a service under 8 minutes may still be billed when
//     the visit's leftovers pool up; a single service under 8 minutes is not.
//  2. Each service gets one unit per full 15 minutes, which is how "a service
//     of 15 minutes gets at least 1 unit, of 30 minutes at least 2" holds.
//  3. The R = N − Σ full units left go one each to the services with the
//     largest leftover minutes (minutes mod 15). That reproduces all five
//     manual examples (VERIFICATION.md §1), including several services of
//     7 minutes or less making one unit for the one with the most minutes.
//  4. Equal leftovers are a tie the clinician may settle either way (MCPM
//     examples 2 and 5). We give the unit to the service with more minutes
//     in all, then to the earlier one in the visit, and say so in a
//     "units.tie" note.
//
// The two guarantees — Σ units = UnitsForMinutes(Σ minutes), and k units for
// a service of 15k minutes or more — never conflict. With minutes m_i =
// 15f_i + r_i (0 ≤ r_i ≤ 14) and M = Σm_i ≥ 8,
// N = ⌊(M+7)/15⌋ = Σf_i + ⌊(Σr_i + 7)/15⌋, so R = ⌊(Σr_i + 7)/15⌋ ≥ 0; and
// with k services having r_i > 0, Σr_i ≤ 14k, so R ≤ ⌊(14k+7)/15⌋ ≤ k. Under
// 8 minutes N = 0 and every f_i = 0. Hence the full units never exceed N, and
// there are always R services with a leftover to take the extra units: no
// service is ever cut below its full units. TestCMSPropertyRandom checks it.
//
// Add-on families (97129 + 97130, 97550 + 97551) are one service for the
// pool, whether the EMR sent base and add-on separately or the base alone
// with all the minutes: the add-on's minutes are the same treatment
// continued. The family's units are then split: the base gets the first
// unit (it is "first 15/30 minutes", billed once a day) and the add-on the
// rest, on the add-on's input service or, when there is none, in
// Allocation.AddOn. A first unit of 30 minutes (Code.InitialMinutes) counts
// in the pool as 15 minutes, with its midpoint (16 minutes) scaled to 8, and
// the minutes past it count as usual, so the table's midpoints hold for both
// codes: 97550+97551 for 16-37 minutes is 1 unit, 38-52 is 2 (30 + 8 past).
// An add-on without its base in the visit gets 0 units, and its minutes are
// left out, since it cannot be billed alone.
func AllocateCMS(svcs []TimedMinutes) Allocation { return allocate(svcs, false) }

// AllocateAMA gives units by the AMA/CPT per-code method: each service on
// its own minutes by the same table, without pooling leftovers, so a service
// under 8 minutes gets nothing whatever the others had. Add-on families are
// one service, as in AllocateCMS.
func AllocateAMA(svcs []TimedMinutes) Allocation { return allocate(svcs, true) }

// svcState is the working state of one input service. Services are grouped
// into entities: a plain service is its own entity; an add-on belongs to its
// base's entity (head).
type svcState struct {
	minutes  int  // clamped minutes of this input
	head     int  // index of the entity head; -1 for an add-on without its base
	family   bool // head of an add-on family
	addOnSvc int  // head: the add-on input carrying the add-on units, or -1
	fam      int  // head: actual minutes of the entity
	eq       int  // head: minutes on the unit table's scale
	eu       int  // head: the entity's units
	extra    bool // CMS head: took one of the R leftover units
	units    int  // this input service's units
}

// smallVisit is how many services are worked on the stack; a visit rarely
// has more than 6 timed codes.
const smallVisit = 12

func allocate(svcs []TimedMinutes, ama bool) Allocation {
	var units []int
	if len(svcs) > 0 {
		units = make([]int, len(svcs))
	}
	w, home := getNoteWriter()
	a := allocateInto(svcs, ama, units, nil, &w)
	a.Notes = w.release(home)
	return a
}

// allocateInto is AllocateCMS or AllocateAMA with the caller's buffers, so
// that CodeVisit allocates nothing for them: Units is units (of len(svcs)),
// AddOn is appended to addOn[:0], and the notes are written to w, Notes left
// nil.
func allocateInto(svcs []TimedMinutes, ama bool, units []int, addOn []AddOnUnits, w *noteWriter) Allocation {
	n := len(svcs)
	var stack [smallVisit]svcState
	st := stack[:0]
	if n > smallVisit {
		st = make([]svcState, 0, n)
	}
	st = st[:n]

	a := Allocation{Units: units, AddOn: addOn[:0]}
	for i := range svcs {
		st[i] = svcState{minutes: clampMinutes(svcs[i].Minutes), head: i, addOnSvc: -1}
	}
	for i := range svcs {
		s := &svcs[i]
		if s.AddOnTo == "" {
			st[i].family = st[i].family || s.AddOnCode != "" || initialMinutes(s.InitialMinutes) != 15
			continue
		}
		st[i].head = -1
		for j := range svcs {
			if j != i && svcs[j].AddOnTo == "" && svcs[j].Code == s.AddOnTo {
				st[i].head = j
				st[j].family = true
				if st[j].addOnSvc < 0 {
					st[j].addOnSvc = i
				}
				break
			}
		}
	}
	for i := range st {
		if h := st[i].head; h >= 0 {
			st[h].fam += st[i].minutes
		}
	}
	for i := range st {
		if st[i].head == i {
			st[i].eq = unitMinutes(st[i].fam, initialMinutes(svcs[i].InitialMinutes))
			a.TotalMinutes += st[i].fam
			a.UnitMinutes += st[i].eq
		}
	}

	left := 0 // CMS: units left after the full units
	if ama {
		for i := range st {
			if st[i].head == i {
				st[i].eu = UnitsForMinutes(st[i].eq)
				a.TotalUnits += st[i].eu
			}
		}
	} else {
		a.TotalUnits = UnitsForMinutes(a.UnitMinutes)
		left = a.TotalUnits
		for i := range st {
			if st[i].head == i {
				st[i].eu = st[i].eq / 15
				left -= st[i].eu
			}
		}
		for range left {
			best := -1
			for i := range st {
				if st[i].head == i && !st[i].extra && st[i].eq%15 > 0 && (best < 0 || leftoverBefore(&st[i], &st[best])) {
					best = i
				}
			}
			if best < 0 {
				break // impossible: R ≤ services with leftovers (see AllocateCMS)
			}
			st[best].extra = true
			st[best].eu++
		}
	}

	for i := range st {
		if st[i].head != i {
			continue
		}
		u := st[i].eu
		if !st[i].family {
			st[i].units = u
			continue
		}
		base := min(u, 1)
		st[i].units = base
		if rest := u - base; rest > 0 {
			if ao := st[i].addOnSvc; ao >= 0 {
				st[ao].units = rest
			} else {
				a.AddOn = append(a.AddOn, AddOnUnits{Service: i, Code: svcs[i].AddOnCode, Units: rest})
			}
		}
	}

	for i := range st {
		a.Units[i] = st[i].units
	}
	explainUnits(w, svcs, st, &a, ama, left)
	return a
}

// leftoverBefore orders services for the leftover units: larger leftover
// first; on equal leftovers, more minutes in all; then the earlier service,
// which the caller's ascending scan gives.
func leftoverBefore(x, y *svcState) bool {
	if rx, ry := x.eq%15, y.eq%15; rx != ry {
		return rx > ry
	}
	return x.eq > y.eq
}

func clampMinutes(m int) int { return min(max(m, 0), maxServiceMinutes) }

// initialMinutes is the length of a code's first unit; the catalog's 0
// means the usual 15.
func initialMinutes(m int) int {
	if m <= 0 {
		return 15
	}
	return min(m, maxServiceMinutes)
}

// unitMinutes puts m minutes of a code whose first unit lasts initial
// minutes on the 15-minute scale of the unit table: the first unit's time
// counts as 15 and the rest as is. Inside the first unit minutes are scaled,
// keeping "past the midpoint" exactly at 8 so the first unit is earned just
// as CPT's time rule says.
func unitMinutes(m, initial int) int {
	switch {
	case initial == 15:
		return m
	case m > initial:
		return m - initial + 15
	case 2*m > initial:
		return max(m*15/initial, 8)
	default:
		return min(m*15/initial, 7)
	}
}

// unitRange writes the table row of n units: "38-52 min".
func (w *noteWriter) unitRange(n int) {
	if n == 0 {
		w.s("under 8 min")
		return
	}
	w.num(15*n - 7)
	w.s("-")
	w.num(15*n + 7)
	w.s(" min")
}

// name writes the entity's codes: "97129+97130".
func (w *noteWriter) name(svcs []TimedMinutes, st []svcState, h int) {
	w.s(svcs[h].Code)
	if !st[h].family {
		return // an add-on in the visit makes its base's entity a family
	}
	for i := range st {
		if i != h && st[i].head == h {
			w.s("+")
			w.s(svcs[i].Code)
		}
	}
}

// entityMinutes writes "45 min" or, for a long first unit, "45 min, counted as 30".
func (w *noteWriter) entityMinutes(s *svcState) {
	w.mins(s.fam)
	if s.eq != s.fam {
		w.s(", counted as ")
		w.num(s.eq)
	}
}

func explainUnits(w *noteWriter, svcs []TimedMinutes, st []svcState, a *Allocation, ama bool, left int) {
	src := sCMSUnits
	if ama {
		src = sAMAUnits
	}

	heads, maxEq := 0, 0
	for i := range st {
		if st[i].head == i {
			heads++
			maxEq = max(maxEq, st[i].eq)
		}
	}

	// units.total
	if len(svcs) > 0 {
		first := true
		for i := range svcs {
			if st[i].head < 0 {
				continue
			}
			if !first {
				w.s(" + ")
			}
			first = false
			w.s(svcs[i].Code)
			w.s(" ")
			w.mins(st[i].minutes)
		}
		if first {
			w.s("no countable timed service")
		}
		w.s(" = ")
		w.num(a.TotalMinutes)
		w.s(" timed minutes")
		if a.UnitMinutes != a.TotalMinutes {
			w.s(", counted as ")
			w.num(a.UnitMinutes)
			w.s(" (a 30-minute first unit counts as one 15-minute unit)")
		}
		if ama {
			w.s("; per-code method, no pooling: ")
			w.count(a.TotalUnits, " unit", " units")
			w.s(" in all")
		} else {
			w.s(" = ")
			w.count(a.TotalUnits, " unit", " units")
			w.s(" (8-minute rule, ")
			w.unitRange(a.TotalUnits)
			w.s(")")
		}
		w.end(rUnitsTotal, src, -1)
	}

	// units.below_8 for the visit (CMS); AMA says it per service.
	if !ama && a.TotalMinutes > 0 {
		switch {
		case a.TotalUnits == 0 && heads == 1:
			w.s("A single timed service under 8 minutes is not billed")
			w.end(rUnitsBelow8, src, -1)
		case a.TotalUnits == 0:
			w.s("The timed services together ran under 8 minutes: nothing is billed")
			w.end(rUnitsBelow8, src, -1)
		case maxEq <= 7:
			w.s("Each timed service ran 7 minutes or less, but together they reach ")
			w.mins(a.UnitMinutes)
			w.s(": ")
			w.count(a.TotalUnits, " unit, for the service with the most minutes", " units, for the services with the most minutes")
			w.end(rUnitsBelow8, src, -1)
		}
	}

	// units.allocation, one per entity.
	minWon := 15 // smallest leftover that took a unit (CMS)
	for i := range st {
		s := &st[i]
		if s.head != i {
			continue
		}
		if s.extra {
			minWon = min(minWon, s.eq%15)
		}
		w.name(svcs, st, i)
		w.s(" ")
		w.entityMinutes(s)
		w.s(": ")
		w.count(s.eu, " unit", " units")
		if ama {
			if s.eu == 0 && s.eq > 0 {
				w.s(" (under 8 min; the per-code method does not pool minutes)")
				w.end(rUnitsBelow8, src, i)
				continue
			}
			w.s(" (8-minute table on this code alone, ")
			w.unitRange(s.eu)
			w.s(")")
			w.end(rUnitsAllocation, src, i)
			continue
		}
		full, rem := s.eq/15, s.eq%15
		switch {
		case full > 0 && s.extra:
			w.s(": ")
			w.count(full, " full 15-min block", " full 15-min blocks")
			w.s(" + 1 for its ")
			w.mins(rem)
			w.s(" left over")
		case full > 0:
			w.s(" for ")
			w.count(full, " full 15-min block", " full 15-min blocks")
			if rem > 0 {
				w.s("; its ")
				w.mins(rem)
				w.s(" left over lost to larger leftovers")
			}
		case s.extra:
			w.s(" for its ")
			w.mins(rem)
			w.s(", one of the largest leftovers")
		case rem > 0 && a.TotalUnits > 0:
			w.s("; its ")
			w.mins(rem)
			w.s(" lost to larger leftovers")
		}
		w.end(rUnitsAllocation, src, i)
	}

	// units.tie: a service lost a leftover unit to an equal leftover.
	if !ama && left > 0 {
		tied := false
		for i := range st {
			if st[i].head == i && !st[i].extra && st[i].eq%15 == minWon {
				tied = true
			}
		}
		if tied {
			won, lost := 0, 0
			for i := range st {
				if st[i].head == i && st[i].eq%15 == minWon {
					if won+lost > 0 {
						w.s(", ")
					}
					w.s(svcs[i].Code)
					if st[i].extra {
						won++
					} else {
						lost++
					}
				}
			}
			w.s(" each have ")
			w.mins(minWon)
			w.s(" left over for ")
			w.count(won, " unit: ", " units: ")
			first := true
			for i := range st {
				if st[i].head == i && st[i].extra && st[i].eq%15 == minWon {
					if !first {
						w.s(", ")
					}
					first = false
					w.s(svcs[i].Code)
				}
			}
			w.s(" got it, having more minutes in all or coming earlier in the visit. The clinician may choose otherwise (MCPM examples 2 and 5)")
			w.end(rUnitsTie, src, -1)
		}
	}

	explainAddOns(w, svcs, st, a)
	explainClamps(w, svcs)
}

func explainAddOns(w *noteWriter, svcs []TimedMinutes, st []svcState, a *Allocation) {
	for i := range st {
		s := &st[i]
		switch {
		case s.head < 0:
			w.s(svcs[i].Code)
			w.s(" ")
			w.mins(s.minutes)
			w.s(" is an add-on to ")
			w.s(svcs[i].AddOnTo)
			w.s(", which is not in the visit: 0 units, and its minutes are not counted")
			w.end(rUnitsAddOn, sAddOn, i)
		case s.head != i:
			if st[s.head].addOnSvc != i {
				w.s(svcs[i].Code)
				w.s(" ")
				w.mins(s.minutes)
				w.s(": its minutes count with ")
				w.s(svcs[s.head].Code)
				w.s(", and the add-on units are on ")
				w.s(svcs[st[s.head].addOnSvc].Code)
				w.s(" (service ")
				w.num(st[s.head].addOnSvc)
				w.s("): 0 units here")
				w.end(rUnitsAddOn, sAddOn, i)
			}
		case s.family && (s.addOnSvc >= 0 || s.eu > 1):
			base := svcs[i].Code
			w.s(base)
			if s.addOnSvc >= 0 {
				for j := range st {
					if j != i && st[j].head == i {
						w.s(" + ")
						w.s(svcs[j].Code)
					}
				}
				w.s(" are one service of ")
			} else {
				w.s(" was sent alone with all the minutes, ")
			}
			w.mins(s.fam)
			w.s(": ")
			w.s(base)
			w.s(" ×")
			w.num(min(s.eu, 1))
			w.s(" for the first ")
			w.mins(initialMinutes(svcs[i].InitialMinutes))
			w.s(" (once a day)")
			rest := max(s.eu-1, 0)
			switch addOn := svcs[i].AddOnCode; {
			case s.addOnSvc >= 0:
				w.s(", ")
				w.s(svcs[s.addOnSvc].Code)
				w.s(" ×")
				w.num(rest)
				w.s(" for each further 15 min")
			case addOn != "":
				w.s(", and add-on ")
				w.s(addOn)
				w.s(" ×")
				w.num(rest)
				w.s(" for each further 15 min")
			default:
				w.s(", and ")
				w.count(rest, " unit", " units")
				w.s(" for each further 15 min on an add-on code that is not known: hold the visit")
			}
			w.end(rUnitsAddOn, sAddOn, i)
		}
	}
}

func explainClamps(w *noteWriter, svcs []TimedMinutes) {
	for i := range svcs {
		m := svcs[i].Minutes
		if m >= 0 && m <= maxServiceMinutes {
			continue
		}
		w.s(svcs[i].Code)
		w.s(": ")
		w.num(m)
		if m < 0 {
			w.s(" minutes is impossible; counted as 0")
		} else {
			w.s(" minutes is more than a day; counted as ")
			w.num(maxServiceMinutes)
		}
		w.end(rUnitsMinutes, sInput, i)
	}
}
