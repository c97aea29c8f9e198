package billing

// Sources of the CQ/CO notes. The policy and the 10% standard are on CMS
// pages; the unit-by-unit steps were read only in secondary accounts of the
// CY2022 PFS final rule (VERIFICATION.md §2).
const (
	SourceCQDeMinimis = "MCPM Ch. 5 §20.1; CMS Therapy Services Spotlight (10% de minimis, CY2022 PFS)"
	SourceCQSteps     = "CY2022 PFS final rule, 86 FR 64996 (unit steps as relayed by pt-management and therapycomply) [VERIFY]"
)

// AssistantSplit says how many of a timed service's units carry CQ/CO.
type AssistantSplit struct {
	AssistantUnits int // units billed with CQ/CO
	TherapistUnits int // units without
	Notes          []Note
}

// SplitTimed applies the CY2022 steps to one timed service billed units
// units, where therapistMinutes include time done jointly (joint time counts
// as the therapist's) and assistantMinutes are the assistant's alone. The
// Notes concern the given service index.
//
// [VERIFY] The steps come from secondary sources (VERIFICATION.md §2):
//
//  1. The units are given, by the 8-minute rule (AllocateCMS or AllocateAMA).
//  2. Each full 15 minutes goes to whoever furnished it: the assistant's
//     alone carry CQ/CO, the therapist's do not. If the units were fewer than
//     the full blocks, which the 8-minute rule never yields, the assistant's
//     come first, so CQ/CO is never under-reported.
//  3. One unit left goes to whoever has more of the minutes the full blocks
//     did not use; a tie goes to the therapist, our choice. A second reading
//     in circulation bills it without CQ/CO whenever the therapist alone gave
//     8 minutes or more; the note says when the two disagree.
//  4. Two units left where each gave 9-14 minutes: one with CQ/CO, one
//     without. Other cases of two or more left, which only pooling leftovers
//     under the CMS method makes, are given one at a time as in step 3, each
//     winner's leftover then spent: our generalisation, which agrees with 4.
//
// De minimis: the assistant's part of a unit that is 10% of its 15 minutes
// or less (1 minute; 1.5 is not a whole minute) does not make it CQ/CO.
//
// Reproduces CMS Scenario 1 as relayed: PTA 23 min and PT 13 min of 97110
// billed 2 units give 1 unit with CQ (the PTA's full 15) and 1 without (13
// remaining therapist minutes beat 8).
func SplitTimed(code string, units, therapistMinutes, assistantMinutes int, service int) AssistantSplit {
	w, home := getNoteWriter()
	s := splitTimed(&w, code, units, therapistMinutes, assistantMinutes, service)
	s.Notes = w.release(home)
	return s
}

// splitTimed is SplitTimed writing its notes to w; Notes is left nil.
func splitTimed(w *noteWriter, code string, units, therapistMinutes, assistantMinutes int, service int) AssistantSplit {
	units = max(units, 0)
	t, a := clampMinutes(therapistMinutes), clampMinutes(assistantMinutes)
	if a == 0 || units == 0 {
		return AssistantSplit{TherapistUnits: units}
	}
	var s AssistantSplit

	if t == 0 {
		s.AssistantUnits = units
		w.s(code)
		w.s(": the assistant furnished all ")
		w.mins(a)
		w.s(" alone, so all ")
		w.count(units, " unit carries", " units carry")
		w.s(" CQ/CO")
		w.end(rAssistantWhole, sCQDeMinimis, service)
		return s
	}

	// Step 2: full blocks.
	af, tf := a/15, t/15
	s.AssistantUnits = min(af, units)
	s.TherapistUnits = min(tf, units-s.AssistantUnits)
	ar, tr := a-15*af, t-15*tf
	left := units - s.AssistantUnits - s.TherapistUnits
	if af > 0 {
		fullBlockNote(w, code, "the assistant alone", a, af, s.AssistantUnits, " with CQ/CO", service)
	}
	if tf > 0 {
		fullBlockNote(w, code, "the therapist (joint time included)", t, tf, s.TherapistUnits, " without CQ/CO", service)
	}
	if left == 0 {
		return s
	}

	// Step 4.
	if left == 2 && tr >= 9 && tr <= 14 && ar >= 9 && ar <= 14 {
		s.AssistantUnits++
		s.TherapistUnits++
		w.s(code)
		w.s(": 2 units left after full blocks, and the therapist (")
		w.mins(tr)
		w.s(") and the assistant (")
		w.mins(ar)
		w.s(") each gave 9-14 of the remaining minutes: 1 unit with CQ/CO, 1 without")
		w.end(rAssistantSplitPair, sCQSteps, service)
		return s
	}

	// Step 3, one unit at a time.
	single := left == 1
	for left > 0 {
		if tr == 0 && ar == 0 {
			// More units than minutes: nobody's time is left to decide.
			s.TherapistUnits += left
			w.s(code)
			w.s(": ")
			w.count(left, " unit", " units")
			w.s(" left with no remaining minutes of either: billed without CQ/CO")
			w.end(rAssistantRemainingUnit, sCQSteps, service)
			break
		}
		left--
		rule, src := rAssistantRemainingUnit, sCQSteps
		w.s(code)
		w.s(": a unit left after full blocks; ")
		toAssistant := false
		switch {
		case ar > tr && ar*10 <= 15:
			w.s("the assistant's ")
			w.mins(ar)
			w.s(" of it is 10% of 15 minutes or less: billed without CQ/CO")
			rule, src = rAssistantDeMinimis, sCQDeMinimis
		case ar > tr:
			toAssistant = true
			w.s("the assistant's ")
			w.mins(ar)
			w.s(" remaining exceed the therapist's ")
			w.mins(tr)
			w.s(": billed with CQ/CO")
		case tr == ar:
			w.s("the therapist's and the assistant's remaining minutes are equal (")
			w.mins(tr)
			w.s("): a tie goes to the therapist (our choice [VERIFY]), billed without CQ/CO")
		default:
			w.s("the therapist's ")
			w.mins(tr)
			w.s(" remaining exceed the assistant's ")
			w.mins(ar)
			w.s(": billed without CQ/CO")
		}
		if single {
			// The unresolved second reading (VERIFICATION.md §2): the
			// therapist alone with 8 minutes or more bills it without CQ/CO.
			otherToAssistant := tr < 8 && ar*10 > 15
			if otherToAssistant == toAssistant {
				w.s(". The other reading in circulation (no CQ/CO when the therapist alone gave 8 min or more) agrees")
			} else {
				w.s(". [VERIFY] The other reading in circulation (no CQ/CO when the therapist alone gave 8 min or more) would bill it ")
				if otherToAssistant {
					w.s("with CQ/CO")
				} else {
					w.s("without CQ/CO")
				}
			}
		}
		w.end(rule, src, service)
		if toAssistant {
			s.AssistantUnits++
			ar = 0
		} else {
			s.TherapistUnits++
			if tr >= ar {
				tr = 0
			} else {
				ar = 0 // de minimis: the assistant's minute is spent without a modifier
			}
		}
	}
	return s
}

func fullBlockNote(w *noteWriter, code, who string, minutes, blocks, units int, mod string, service int) {
	w.s(code)
	w.s(": ")
	w.s(who)
	w.s(" furnished ")
	w.count(blocks, " full 15-min block", " full 15-min blocks")
	w.s(" (")
	w.num(15 * blocks)
	w.s(" of ")
	w.mins(minutes)
	w.s("): ")
	w.count(units, " unit", " units")
	w.s(mod)
	if units < blocks {
		w.s(", capped at the units billed")
	}
	w.end(rAssistantFullBlock, sCQSteps, service)
}

// UntimedNeedsAssistantModifier: an untimed service is "in part" by the
// assistant when the assistant's own minutes exceed 10% of the service's
// minutes (therapist's, joint time included, plus the assistant's alone).
// The Note's Service is -1; the caller sets it. With no assistant minutes the
// answer is false and the Note is empty.
func UntimedNeedsAssistantModifier(therapistMinutes, assistantMinutes int) (bool, Note) {
	if clampMinutes(assistantMinutes) == 0 {
		return false, Note{Service: -1}
	}
	w, home := getNoteWriter()
	need := untimedAssistant(&w, therapistMinutes, assistantMinutes)
	return need, w.release(home)[0]
}

// untimedAssistant is UntimedNeedsAssistantModifier writing its note, if
// any, to w.
func untimedAssistant(w *noteWriter, therapistMinutes, assistantMinutes int) bool {
	t, a := clampMinutes(therapistMinutes), clampMinutes(assistantMinutes)
	if a == 0 {
		return false
	}
	total := t + a
	need := a*10 > total
	w.s("The assistant alone gave ")
	w.mins(a)
	w.s(" of ")
	w.mins(total)
	w.s(" (")
	tenths := a * 1000 / total // per mille, shown as a percentage with one decimal
	w.num(tenths / 10)
	if tenths%10 != 0 {
		w.s(".")
		w.num(tenths % 10)
	}
	rule := rAssistantDeMinimis
	if need {
		w.s("%), more than 10%: CQ/CO")
		rule = rAssistantUntimed
	} else {
		w.s("%), 10% or less: no CQ/CO")
	}
	w.end(rule, sCQDeMinimis, -1)
	return need
}
