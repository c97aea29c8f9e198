package billing

import (
	"slices"
	"sync"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// CodeRequest is one visit to code and what the coding depends on beyond the
// visit itself.
type CodeRequest struct {
	Visit *events.Visit
	Rules *Rules
	// Method overrides the payer profile's unit method ("cms" or "ama");
	// empty keeps the profile's.
	Method string
	// YTDAllowedCents is the patient's allowed amount so far in the visit's
	// year and threshold bucket with this payer, not counting this visit.
	YTDAllowedCents int64
}

// Coding is the result of CodeVisit: the lines and every decision behind them.
type Coding struct {
	UnitMethod        string
	TotalTimedMinutes int
	TotalTimedUnits   int
	ChargeCents       int64
	// AllowedCents is what the visit adds to the patient's threshold total.
	AllowedCents int64
	// Bucket and Year locate the visit's threshold total; Bucket is empty
	// when the payer applies no threshold.
	Bucket    string
	Year      int
	Threshold *events.ThresholdStatus
	Lines     []events.CodedLine
	// Issues an error among them holds the claim; they name the line.
	Issues       []events.Edit
	Explanations []events.Explanation
}

// Held reports whether any issue is an error.
func (c *Coding) Held() bool {
	for _, is := range c.Issues {
		if is.Severity == events.SeverityError {
			return true
		}
	}
	return false
}

// Sources cited in explanations.
const (
	srcModifiers = "CMS MCPM Ch. 5 §20.1"
	srcKX        = "CMS MCPM Ch. 5 §10.3; rules kx_thresholds.csv"
	srcNCCI      = "NCCI PTP edits, rules ncci_ptp.txt"
	srcAssistant = "CY2022 PFS final rule (86 FR 64996); CMS CQ/CO billing examples"
)

// service is one billable procedure after duplicate codes are merged: the
// EMR may report two blocks of the same timed code, and a timed code goes on
// one line per date of service.
type service struct {
	code      *Code  // the catalog's, shared
	addOnCode string // the catalog's add-on code after code, if any
	raw       string // the code as the visit spelled it, which merging matches
	therapist int    // minutes incl. joint time
	assistant int    // assistant's own minutes
	// pointers and requested are the visit's own slices, clipped so that a
	// merge's append copies them instead of writing into the visit.
	pointers   []int
	requested  []string
	distinct   bool
	firstIndex int // in the visit's services
}

func (s *service) minutes() int { return s.therapist + s.assistant }

// lineWork is a line being made. Its modifiers and explanations are kept as
// records in the scratch, owned by the line's index, until finish gives
// every line its share of one array of each.
type lineWork struct {
	line  events.CodedLine // Modifiers, Explanations and DiagnosisPointers unset
	svc   *service
	order int // the service's place in the visit, the lines' sort key
	id    int // the line's index before sorting
	nmods int
	// finish's: the number of explanations, and the ends of the line's
	// explanations and modifiers in their arrays while it fills them.
	nexpl           int
	explEnd, modEnd int
}

// modifier is one modifier of a line, in the order they are added.
type modifier struct {
	owner int // line index
	mod   string
}

// issue is an events.Edit whose texts are in the writer.
type issue struct {
	code, severity string
	line           int
	msg, fix       span
}

// scratch is the working memory of one CodeVisit call. It is pooled, so a
// call allocates little besides its result. The coder works on it in
// place: appending one element to a slice in place, or reslicing it, stores
// only the slice's length unless it grows, so no pointer and no GC write
// barrier (copying the scratch onto the stack and back, as the coder once
// did, cost a barrier for each of its slices while the GC marked).
type scratch struct {
	w       noteWriter
	timed   []service
	untimed []service
	in      []TimedMinutes
	units   []int
	addOn   []AddOnUnits
	lines   []lineWork
	mods    []modifier
	issues  []issue
	perm    []int
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// truncate empties the scratch for the next call. What it still refers to
// of the visit and the rules is overwritten by that call, or dropped with
// the pool's contents at the next garbage collections; clearing it would
// cost more than it saves.
func (s *scratch) truncate() {
	s.w.reset()
	s.timed, s.untimed, s.in, s.units = s.timed[:0], s.untimed[:0], s.in[:0], s.units[:0]
	s.addOn, s.lines, s.mods, s.issues, s.perm = s.addOn[:0], s.lines[:0], s.mods[:0], s.issues[:0], s.perm[:0]
}

// small reports whether the scratch is worth pooling: an odd huge visit
// should not pin its buffers.
func (s *scratch) small() bool { return s.w.small() && cap(s.lines) <= 1024 }

// coder holds one CodeVisit call's context beside the result it builds.
// It lives on CodeVisit's stack.
type coder struct {
	Coding
	rules *Rules
	visit *events.Visit
	payer PayerProfile
	// allowed are the payer's fee tables, found once for all lines.
	allowed allowedTables
	*scratch
	// notesFrom is the first note of the unit allocation; notes of a service
	// are looked for from there.
	notesFrom int
	// The text every assistant line of the visit shares, written once.
	assistantText span
	assistantDone bool
	// threshold is Coding.Threshold's value until finish gives it a home.
	threshold    events.ThresholdStatus
	hasThreshold bool
}

// resultBlock holds a typical visit's result in one allocation: its lines,
// their explanations, modifiers and diagnosis pointers, and the threshold
// status. Allocating them apart cost five allocations, and with them most of
// the coder's time in malloc and GC. A visit too big for an array gets that
// part from make. The sizes are a four-service visit's, with the block
// (1360 bytes) just under a malloc size class (1408) so little is wasted.
// A caller that keeps any part of the result keeps the whole block, which is
// small.
type resultBlock struct {
	lines     [4]events.CodedLine
	expl      [12]events.Explanation
	mods      [6]string
	ptrs      [8]int
	threshold events.ThresholdStatus
}

// CodeVisit turns a visit into billable lines. It is pure: the same request
// always gives the same result, which is what lets a replay under unchanged
// rules change nothing. The result shares no memory with the request.
func CodeVisit(req CodeRequest) Coding {
	v := req.Visit
	r := req.Rules
	c := &coder{rules: r, visit: v, scratch: scratches.Get().(*scratch)}
	c.truncate()
	plan := planKey(v.Coverage.PlanType)
	c.payer, _ = r.payer(v.Coverage.PayerID, plan)
	c.allowed = r.allowedTables(v.Coverage.PayerID, plan)
	payer := &c.payer
	w := &c.w
	c.UnitMethod = payer.UnitMethod
	if req.Method != "" {
		c.UnitMethod = req.Method
		w.s("unit method ")
		w.s(req.Method)
		w.s(" chosen by the caller instead of the payer profile's ")
		w.s(payer.UnitMethod)
		c.explain(ownerVisit, rUnitsMethod, sNone)
	} else {
		w.s("unit method ")
		w.s(methodName(payer.UnitMethod))
		w.s(" from payer profile ")
		w.s(payer.Key)
		c.explain(ownerVisit, rUnitsMethod, sPayers)
	}
	dos, year := parseDate(v.DateOfService)
	c.Year = year

	c.collect(v, r)
	timed, untimed := c.timed, c.untimed

	// Units of the timed services.
	for i := range timed {
		s := &timed[i]
		c.in = append(c.in, TimedMinutes{Code: s.code.Code, Minutes: s.minutes(), AddOnTo: s.code.AddOnTo, InitialMinutes: s.code.InitialMinutes,
			AddOnCode: s.addOnCode})
	}
	c.units = append(c.units[:0], make([]int, len(timed))...)
	c.notesFrom = len(w.meta)
	alloc := allocateInto(c.in, c.UnitMethod == events.UnitMethodAMA, c.units, c.addOn, w)
	c.addOn = alloc.AddOn
	c.TotalTimedMinutes, c.TotalTimedUnits = alloc.TotalMinutes, alloc.TotalUnits
	for i := c.notesFrom; i < len(w.meta); i++ {
		if w.meta[i].service < 0 {
			w.meta[i].owner = ownerVisit
		}
	}

	discipline := v.RenderingProvider.Discipline
	for i := range timed {
		s := &timed[i]
		units := alloc.Units[i]
		if units == 0 {
			// The service's notes stay pending and are dropped with it.
			w.s(s.code.Code)
			w.s(": ")
			w.num(s.minutes())
			w.s(" timed minutes yield no unit, so no line")
			c.explain(ownerVisit, rUnitsNoLine, sCMSUnits)
			continue
		}
		c.addTimedLines(discipline, s, units, i)
		for _, a := range alloc.AddOn {
			if a.Service == i && a.Units > 0 {
				if _, ok := r.Catalog.Lookup(a.Code); !ok {
					w.s(s.code.Code)
					w.s(" earned ")
					w.num(a.Units)
					w.s(" more unit(s) but the catalog names no add-on code for it")
					msg := w.span()
					w.s("report the add-on code in the EMR, or add it to codes.csv (add_on_to ")
					w.s(s.code.Code)
					w.s(")")
					c.issue("units.addon_unknown", events.SeverityError, 0, msg)
					continue
				}
				w.s(a.Code)
				w.s(" ×")
				w.num(a.Units)
				w.s(" for the minutes past ")
				w.s(s.code.Code)
				w.s("'s first unit")
				c.explain(len(c.lines), rUnitsAddOn, sCMSUnits)
				c.addLine(events.CodedLine{Code: a.Code, Timed: true, Units: a.Units}, discipline, s, "")
			}
		}
	}
	for i := range untimed {
		s := &untimed[i]
		next := len(c.lines)
		assistantMod := ""
		if payer.AssistantModifiers && s.assistant > 0 {
			from := len(w.meta)
			if untimedAssistant(w, s.therapist, s.assistant) {
				assistantMod = assistantModifier(discipline)
			}
			for j := from; j < len(w.meta); j++ {
				w.meta[j].owner = next
			}
		}
		w.s(s.code.Code)
		w.s(" is untimed: 1 unit whatever its length; its minutes do not count towards timed units")
		c.explain(next, rUnitsUntimed, sCMSUnits)
		c.addLine(events.CodedLine{Code: s.code.Code, Units: 1}, discipline, s, assistantMod)
	}
	c.sortLines()

	c.applyNCCI(r, payer, dos)
	c.applyTelehealth(payer, v)
	c.applyABN(payer, v)
	c.applyKX(r, payer, v, req.YTDAllowedCents)
	for i := range c.lines {
		l := &c.lines[i]
		l.line.Line = i + 1
		c.passThrough(i)
		if l.nmods > 4 {
			w.s(l.line.Code)
			w.s(" has ")
			w.num(l.nmods)
			w.s(" modifiers (")
			first := true
			for _, m := range c.mods {
				if m.owner == i {
					if !first {
						w.s(", ")
					}
					first = false
					w.s(m.mod)
				}
			}
			w.s("); a claim line carries at most 4")
			msg := w.span()
			w.s("drop a requested modifier in the EMR or move informational modifiers per the payer's instructions")
			c.issue("modifier.too_many", events.SeverityError, l.line.Line, msg)
		}
		c.ChargeCents += l.line.ChargeCents
		c.AllowedCents += l.line.AllowedCents
	}
	if len(c.lines) == 0 && !c.held() {
		w.s("no service of this visit yields a billable unit")
		msg := w.span()
		w.s("check the minutes documented in the EMR; a visit with nothing to bill needs no claim and can be voided")
		c.issue("visit.no_billable_lines", events.SeverityError, 0, msg)
	}
	c.finish()
	if c.small() {
		scratches.Put(c.scratch)
	}
	return c.Coding
}

// parseDate is time.Parse(time.DateOnly, s), the zero time if s is not a
// date, and its year, without the general parser for the usual well-formed
// date.
func parseDate(s string) (time.Time, int) {
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, okY := atoiDigits(s[:4])
		m, okM := atoiDigits(s[5:7])
		d, okD := atoiDigits(s[8:])
		// time.Date would roll a day past the month's end over to the
		// next month, where time.Parse refuses it: such a date falls
		// through.
		if okY && okM && okD && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y) {
			return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), y
		}
	}
	t, _ := time.Parse(time.DateOnly, s)
	return t, t.Year()
}

// daysIn is the number of days of month m (1-12) of year y in the Gregorian
// calendar, as time uses it.
func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// atoiDigits reads a string of ASCII digits only.
func atoiDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// collect validates the services against the catalog and merges repeated
// codes into c.timed and c.untimed. Problems become issues: the visit is
// still coded so the biller sees what was billable.
func (c *coder) collect(v *events.Visit, r *Rules) {
	w := &c.w
	discipline := disciplineByName(v.RenderingProvider.Discipline)
	for i := range v.Services {
		s := &v.Services[i]
		entry, ok := r.Catalog.entry(s.Code)
		if !ok {
			w.s("service ")
			w.num(i + 1)
			w.s(": ")
			w.s(s.Code)
			w.s(" is not in the therapy code catalog (rules ")
			w.s(r.Version)
			w.s(")")
			msg := w.span()
			w.s("correct the code in the EMR, or add it to codes.csv in the rules directory")
			c.issue("code.unknown", events.SeverityError, 0, msg)
			continue
		}
		code := &entry.code
		if code.Timed && s.Minutes+s.AssistantMinutes <= 0 {
			w.s("service ")
			w.num(i + 1)
			w.s(": timed code ")
			w.s(s.Code)
			w.s(" has no minutes")
			msg := w.span()
			w.s("document the minutes of the service in the EMR and send an amended visit")
			c.issue("units.minutes_missing", events.SeverityError, 0, msg)
			continue
		}
		if !code.Disciplines.has(discipline) {
			w.s(s.Code)
			w.s(" is not usually billed by ")
			w.s(v.RenderingProvider.Discipline)
			msg := w.span()
			w.s("check the code and the rendering discipline")
			c.issue("code.discipline_mismatch", events.SeverityWarning, 0, msg)
		}
		if code.Timed {
			if m := c.timedService(s.Code); m != nil {
				m.therapist += s.Minutes
				m.assistant += s.AssistantMinutes
				m.distinct = m.distinct || s.DistinctTimeBlock
				for _, p := range s.DiagnosisPointers {
					if !slices.Contains(m.pointers, p) && len(m.pointers) < 4 {
						m.pointers = append(m.pointers, p)
					}
				}
				m.requested = appendNew(m.requested, s.RequestedModifiers...)
				w.s(s.Code)
				w.s(" was reported more than once; its minutes are added on one line, as timed codes are billed one line per date of service")
				c.explain(ownerVisit, rUnitsMerged, sMerged)
				continue
			}
		}
		svc := service{code: code, addOnCode: entry.addOnCode, raw: s.Code, therapist: s.Minutes, assistant: s.AssistantMinutes,
			pointers: slices.Clip(s.DiagnosisPointers), distinct: s.DistinctTimeBlock,
			requested: slices.Clip(s.RequestedModifiers), firstIndex: i}
		if code.Timed {
			c.timed = append(c.timed, svc)
		} else {
			c.untimed = append(c.untimed, svc)
		}
	}
}

// timedService finds the timed service of a code as the visit spelled it.
// A visit has a handful of services, which a scan finds faster than a map
// is built; the NCCI check is quadratic in the lines anyway.
func (c *coder) timedService(raw string) *service {
	for j := range c.timed {
		if c.timed[j].raw == raw {
			return &c.timed[j]
		}
	}
	return nil
}

// addTimedLines bills timed service i's units, split into a line with CQ/CO
// and one without when an assistant furnished part of it. The service's
// notes go to its first line.
func (c *coder) addTimedLines(discipline string, s *service, units, i int) {
	base := events.CodedLine{Code: s.code.Code, Timed: true}
	if !c.payer.AssistantModifiers || s.assistant == 0 {
		base.Units, base.Minutes = units, s.minutes()
		c.claimNotes(i)
		c.addLine(base, discipline, s, "")
		return
	}
	split := splitTimed(&c.w, s.code.Code, units, s.therapist, s.assistant, i)
	// Split lines carry each clinician's minutes; a single line all of them.
	therapistMin, assistantMin := s.therapist, s.assistant
	if split.TherapistUnits == 0 || split.AssistantUnits == 0 {
		therapistMin, assistantMin = s.minutes(), s.minutes()
	}
	if split.TherapistUnits > 0 {
		l := base
		l.Units, l.Minutes = split.TherapistUnits, therapistMin
		c.claimNotes(i)
		c.addLine(l, discipline, s, "")
	}
	if split.AssistantUnits > 0 {
		l := base
		l.Units, l.Minutes = split.AssistantUnits, assistantMin
		c.claimNotes(i) // if the therapist line took them, none are left
		c.addLine(l, discipline, s, assistantModifier(discipline))
	}
}

// claimNotes gives the pending notes of timed service i, from the unit
// allocation and the assistant split, to the next line.
func (c *coder) claimNotes(i int) {
	next := len(c.lines)
	for j := c.notesFrom; j < len(c.w.meta); j++ {
		if m := &c.w.meta[j]; m.owner == ownerPending && m.service == i {
			m.owner = next
		}
	}
}

// addLine prices a line and adds the modifiers every line of the payer
// gets. Its notes are already written: a line's explanations keep the order
// in which they were written.
func (c *coder) addLine(l events.CodedLine, discipline string, s *service, assistantMod string) {
	i := len(c.lines)
	// The line is appended once it is whole: copying it into the scratch
	// pays a write barrier per pointer field while the GC runs.
	lw := lineWork{svc: s, order: s.firstIndex, id: i}
	w := &c.w
	if c.payer.DisciplineModifiers {
		if m := disciplineModifier(discipline); m != "" {
			c.mods = append(c.mods, modifier{owner: i, mod: m})
			lw.nmods++
			w.add(noteMeta{rule: rModifierDiscipline, source: sModifiers, owner: i, fixed: disciplineNote(discipline)})
		}
	}
	if assistantMod != "" {
		c.mods = append(c.mods, modifier{owner: i, mod: assistantMod})
		lw.nmods++
		l.AssistantPaymentPercent = c.payer.AssistantPaymentPercent
		if !c.assistantDone {
			w.s(assistantMod)
			w.s(": furnished in whole or in part by an assistant; paid at ")
			w.num(c.payer.AssistantPaymentPercent)
			w.s("% of the fee schedule")
			c.assistantText, c.assistantDone = w.span(), true
		}
		w.add(noteMeta{rule: rModifierAssistant, source: sAssistant, owner: i, text: c.assistantText})
	}
	c.price(&l)
	lw.line = l
	c.lines = append(c.lines, lw)
}

func (c *coder) price(l *events.CodedLine) {
	w := &c.w
	charge, ok := c.rules.ChargeCents(l.Code)
	if !ok {
		w.s(l.Code)
		w.s(" has no charge in the fee schedule")
		msg := w.span()
		w.s("add the code to fees.csv in the rules directory")
		c.issue("fee.charge_missing", events.SeverityError, 0, msg)
	}
	l.ChargeCents = charge * int64(l.Units)
	allowed, ok := c.allowed.cents(l.Code)
	if !ok {
		w.s(l.Code)
		w.s(" has no expected allowed amount for payer ")
		w.s(c.payer.Key)
		w.s("; threshold totals will be low")
		msg := w.span()
		w.s("add the code to allowed.csv in the rules directory")
		c.issue("fee.allowed_missing", events.SeverityWarning, 0, msg)
	}
	total := allowed * int64(l.Units)
	if l.AssistantPaymentPercent > 0 {
		// Integer cents, rounded half up.
		total = (total*int64(l.AssistantPaymentPercent) + 50) / 100
	}
	l.AllowedCents = total
}

// sortLines puts lines in the visit's service order; a service's own lines
// (therapist, assistant, add-on) keep the order they were made in. The
// lines are made timed services first, then untimed, so they are often in
// order already. Notes and modifiers then follow their lines to the new
// places.
func (c *coder) sortLines() {
	sorted := true
	for i := 1; i < len(c.lines) && sorted; i++ {
		sorted = c.lines[i-1].order <= c.lines[i].order
	}
	if sorted {
		return
	}
	slices.SortStableFunc(c.lines, func(a, b lineWork) int { return a.order - b.order })
	c.perm = slices.Grow(c.perm[:0], len(c.lines))[:len(c.lines)]
	for to := range c.lines {
		c.perm[c.lines[to].id] = to
		c.lines[to].id = to
	}
	for j := range c.w.meta {
		if m := &c.w.meta[j]; m.owner >= 0 {
			m.owner = c.perm[m.owner]
		}
	}
	for j := range c.mods {
		c.mods[j].owner = c.perm[c.mods[j].owner]
	}
}

// applyNCCI looks at every pair of codes on the visit. An indicator-1 pair
// is payable with a distinct-service modifier on the column-2 code when the
// visit says the services were done in separate time blocks; otherwise, and
// always for indicator 0, the column-2 line is flagged: the payer would deny
// it (CO-97/CO-236), and papering over that is not the coder's call.
//
// day is the date of service at midnight UTC, as parseDate gives it and
// ptpFor wants it.
func (c *coder) applyNCCI(r *Rules, payer *PayerProfile, day time.Time) {
	if len(r.PTP) == 0 {
		return
	}
	distinct := payer.DistinctModifier
	if distinct == "" || distinct == "X" {
		distinct = "XU"
	}
	if payer.DistinctModifier == "59" {
		distinct = "59"
	}
	w := &c.w
	for i := range c.lines {
		for j := i + 1; j < len(c.lines); j++ {
			a, b := &c.lines[i].line, &c.lines[j].line
			if a.Code == b.Code {
				continue
			}
			edit, ok := r.ptpFor(a.Code, b.Code, day)
			if !ok || edit.Indicator == 9 {
				continue
			}
			col2 := j
			if edit.Column2 == a.Code {
				col2 = i
			}
			switch {
			case edit.Indicator == 1 && c.lines[col2].svc.distinct:
				if !c.hasModifier(col2, distinct) {
					c.addModifier(col2, distinct)
				}
				w.s(srcNCCI)
				w.s(" ")
				w.s(edit.Source)
				src := w.span()
				w.s(distinct)
				w.s(": NCCI pair ")
				c.pair(edit)
				w.s(" (modifier indicator 1) with ")
				w.s(edit.Column2)
				w.s(" done in a distinct time block, as the visit documents")
				w.add(noteMeta{rule: rModifierDistinct, source: sText, owner: col2, text: w.span(), src: src})
			case edit.Indicator == 1:
				w.s(edit.Column2)
				w.s(" is bundled into ")
				w.s(edit.Column1)
				w.s(" (NCCI pair ")
				c.pair(edit)
				w.s(", modifier indicator 1) and the visit does not mark it as a distinct time block")
				msg := w.span()
				w.s("if the services were done in separate time blocks, mark the service as distinct in the EMR and send an amended visit; otherwise remove ")
				w.s(edit.Column2)
				c.issue("ncci.bundled", events.SeverityError, 0, msg)
			default:
				w.s(edit.Column2)
				w.s(" is not payable with ")
				w.s(edit.Column1)
				w.s(" on the same day (NCCI pair ")
				c.pair(edit)
				w.s(", modifier indicator 0: no modifier bypasses it)")
				msg := w.span()
				w.s("bill only ")
				w.s(edit.Column1)
				w.s(", or check the codes in the EMR")
				c.issue("ncci.not_separately_payable", events.SeverityError, 0, msg)
			}
		}
	}
}

// pair writes an edit's pair: "97530/97140".
func (c *coder) pair(edit PTPEdit) {
	c.w.s(edit.Column1)
	c.w.s("/")
	c.w.s(edit.Column2)
}

// applyTelehealth adds the payer's telehealth modifier and checks the place
// of service against the payer's telehealth codes.
func (c *coder) applyTelehealth(payer *PayerProfile, v *events.Visit) {
	if !v.Telehealth {
		return
	}
	w := &c.w
	if payer.TelehealthModifier != "" && len(c.lines) > 0 {
		w.s(payer.TelehealthModifier)
		w.s(": furnished via telehealth (payer profile ")
		w.s(payer.Key)
		w.s(")")
		text := w.span()
		for i := range c.lines {
			c.addModifier(i, payer.TelehealthModifier)
			w.add(noteMeta{rule: rModifierTelehealth, source: sPayers, owner: i, text: text})
		}
	}
	if v.PlaceOfService != payer.TelehealthPOSHome && v.PlaceOfService != payer.TelehealthPOSOther {
		w.s("a telehealth visit is billed with place of service ")
		w.s(payer.TelehealthPOSHome)
		w.s(" (patient at home) or ")
		w.s(payer.TelehealthPOSOther)
		w.s(" (elsewhere) for this payer, not ")
		w.s(v.PlaceOfService)
		msg := w.span()
		w.s("correct the place of service in the EMR")
		c.issue("telehealth.place_of_service", events.SeverityError, 0, msg)
	}
}

// applyABN adds GA, GY or GZ from the visit's ABN data.
func (c *coder) applyABN(payer *PayerProfile, v *events.Visit) {
	if !payer.ABNModifiers || v.ABN == nil || len(c.lines) == 0 {
		return
	}
	var mod, why string
	switch v.ABN.Status {
	case "signed":
		mod, why = "GA", "an ABN (waiver of liability) is on file"
	case "not_covered_benefit":
		mod, why = "GY", "the service is statutorily excluded or not a benefit"
	case "not_obtained":
		mod, why = "GZ", "the service is expected to be denied as not reasonable and necessary and no ABN is on file"
	default:
		return
	}
	c.w.s(mod)
	c.w.s(": ")
	c.w.s(why)
	text := c.w.span()
	for i := range c.lines {
		c.addModifier(i, mod)
		c.w.add(noteMeta{rule: rModifierABN, source: sABN, owner: i, text: text})
	}
}

// applyKX compares the patient's year-to-date allowed amount with the year's
// threshold and adds KX to every therapy line once the visit takes the
// patient past it: lines above the threshold without KX are denied.
func (c *coder) applyKX(r *Rules, payer *PayerProfile, v *events.Visit, before int64) {
	if !payer.KX {
		return
	}
	c.Bucket = events.ThresholdPTSLP
	if v.RenderingProvider.Discipline == events.DisciplineOT {
		c.Bucket = events.ThresholdOT
	}
	var visitAllowed int64
	for i := range c.lines {
		visitAllowed += c.lines[i].line.AllowedCents
	}
	w := &c.w
	th, ok := r.Threshold(c.Year, c.Bucket)
	if !ok {
		w.s("no therapy threshold for ")
		w.num(c.Year)
		w.s(" (")
		w.s(c.Bucket)
		w.s(") in rules ")
		w.s(r.Version)
		w.s("; KX cannot be decided")
		msg := w.span()
		w.s("add the year to kx_thresholds.csv in the rules directory")
		c.issue("kx.threshold_missing", events.SeverityWarning, 0, msg)
		return
	}
	after := before + visitAllowed
	// finish places it in the result's block rather than allocating it here.
	c.threshold = events.ThresholdStatus{Year: c.Year, Bucket: c.Bucket, ThresholdCents: th.Cents, BeforeCents: before, AfterCents: after}
	c.hasThreshold = true
	sums := func() {
		w.s("year-to-date allowed ")
		w.dollars(before)
		w.s(" + this visit ")
		w.dollars(visitAllowed)
		w.s(" = ")
		w.dollars(after)
	}
	threshold := func() {
		w.s(" threshold of ")
		w.dollars(th.Cents)
		w.s(" (")
		w.s(c.Bucket)
		w.s(")")
	}
	if after <= th.Cents {
		w.s("no KX: ")
		sums()
		w.s(", not above the ")
		w.num(c.Year)
		threshold()
		c.explain(ownerVisit, rModifierKX, sKX)
		return
	}
	if len(c.lines) == 0 {
		return
	}
	w.s("KX: ")
	sums()
	w.s(", above the ")
	w.num(c.Year)
	threshold()
	w.s("; the therapy is medically necessary as documented")
	text := w.span()
	for i := range c.lines {
		c.addModifier(i, "KX")
		w.add(noteMeta{rule: rModifierKX, source: sKX, owner: i, text: text})
	}
}

// decided reports whether the coder itself decides a modifier; a requested
// one of these is not copied through.
func decided(m string) bool {
	switch m {
	case "GO", "GP", "GN", "CO", "CQ", "59", "XE", "XS", "XP", "XU", "KX", "95", "GT", "93", "GA", "GY", "GZ":
		return true
	}
	return false
}

// passThrough copies the clinician's requested modifiers that the coder
// does not decide itself, and explains the ones it did not follow.
func (c *coder) passThrough(i int) {
	w := &c.w
	for _, m := range c.lines[i].svc.requested {
		switch {
		case c.hasModifier(i, m):
		case decided(m):
			w.s("requested ")
			w.s(m)
			w.s(" not applied: the coder decides ")
			w.s(m)
			w.s(" from the visit and the payer's rules, and they do not call for it here")
			c.explain(i, rModifierRequested, sNone)
		default:
			c.addModifier(i, m)
			w.s(m)
			w.s(": requested by the clinician")
			c.explain(i, rModifierRequested, sNone)
		}
	}
}

func (c *coder) addModifier(line int, m string) {
	c.mods = append(c.mods, modifier{owner: line, mod: m})
	c.lines[line].nmods++
}

func (c *coder) hasModifier(line int, m string) bool {
	for _, x := range c.mods {
		if x.owner == line && x.mod == m {
			return true
		}
	}
	return false
}

// explain closes the text written since the last note or span as an
// explanation of owner: a line index or ownerVisit.
func (c *coder) explain(owner int, rule ruleID, source sourceID) {
	c.w.add(noteMeta{rule: rule, source: source, service: -1, owner: owner, text: c.w.span()})
}

// issue records an issue whose message is msg and whose fix is the text
// written since.
func (c *coder) issue(code, severity string, line int, msg span) {
	c.issues = append(c.issues, issue{code: code, severity: severity, line: line, msg: msg, fix: c.w.span()})
}

func (c *coder) held() bool {
	for i := range c.issues {
		if c.issues[i].severity == events.SeverityError {
			return true
		}
	}
	return false
}

// finish makes the result: one string for all texts, and one resultBlock
// for the lines, their explanations (the visit's first), their modifiers,
// their diagnosis pointers and the threshold status. Every line's slices are full slice
// expressions, so an append to one never overwrites the next.
func (c *coder) finish() {
	w := &c.w
	text := string(w.buf)
	str := func(s span) string { return text[s.start:s.end] }

	// Explanations: count each owner's, give each its place, then fill the
	// places in the order the notes were written.
	visitExpl := 0
	for i := range w.meta {
		switch m := &w.meta[i]; {
		case m.owner >= 0:
			c.lines[m.owner].nexpl++
		case m.owner == ownerVisit:
			visitExpl++
		}
	}
	nexpl, nmods, nptrs := visitExpl, 0, 0
	for i := range c.lines {
		l := &c.lines[i]
		l.explEnd, l.modEnd = nexpl, nmods
		nexpl += l.nexpl
		nmods += l.nmods
		nptrs += len(l.svc.pointers)
	}
	var b *resultBlock
	if nexpl > 0 || len(c.lines) > 0 || c.hasThreshold {
		b = new(resultBlock)
	}
	if c.hasThreshold {
		b.threshold = c.threshold
		c.Threshold = &b.threshold
	}
	var expl []events.Explanation
	switch {
	case nexpl > len(b.expl): // len of an array is a constant: b may be nil
		expl = make([]events.Explanation, nexpl)
	case nexpl > 0:
		expl = b.expl[:nexpl]
	}
	visitEnd := 0
	for i := range w.meta {
		m := &w.meta[i]
		var end *int
		switch {
		case m.owner >= 0:
			end = &c.lines[m.owner].explEnd
		case m.owner == ownerVisit:
			end = &visitEnd
		default:
			continue // a note of a service that made no line
		}
		e := &expl[*end]
		*end++
		e.Rule, e.Text, e.Source = ruleNames[m.rule], m.textIn(text), sourceNames[m.source]
		if m.source == sText {
			e.Source = str(m.src)
		}
	}
	if visitExpl > 0 {
		c.Explanations = expl[:visitExpl:visitExpl]
	}

	// Lines is never nil, even without lines: callers have always had an
	// empty list then, which encodes as [] rather than null. make gives it
	// without allocating.
	c.Lines = make([]events.CodedLine, 0)
	if len(c.lines) > 0 {
		if len(c.lines) <= len(b.lines) {
			c.Lines = b.lines[:len(c.lines):len(c.lines)]
		} else {
			c.Lines = make([]events.CodedLine, len(c.lines))
		}
		mods := b.mods[:]
		if nmods > len(mods) {
			mods = make([]string, nmods)
		}
		for _, m := range c.mods {
			l := &c.lines[m.owner]
			mods[l.modEnd] = m.mod
			l.modEnd++
		}
		// ptrs is non-nil even for no pointers, which a line of a service
		// with empty, non-nil pointers needs.
		ptrs := b.ptrs[:]
		if nptrs > len(ptrs) {
			ptrs = make([]int, nptrs)
		}
		ptrEnd := 0
		for i := range c.lines {
			l := &c.lines[i]
			out := l.line // completed here, then stored once
			if l.nexpl > 0 {
				out.Explanations = expl[l.explEnd-l.nexpl : l.explEnd : l.explEnd]
			}
			if l.nmods > 0 {
				out.Modifiers = mods[l.modEnd-l.nmods : l.modEnd : l.modEnd]
			}
			if p := l.svc.pointers; p != nil {
				start := ptrEnd
				ptrEnd += copy(ptrs[ptrEnd:], p)
				out.DiagnosisPointers = ptrs[start:ptrEnd:ptrEnd]
			}
			c.Lines[i] = out
		}
	}

	if len(c.issues) > 0 {
		c.Issues = make([]events.Edit, len(c.issues))
		for i, is := range c.issues {
			c.Issues[i] = events.Edit{Code: is.code, Severity: is.severity, Line: is.line, Message: str(is.msg), Fix: str(is.fix)}
		}
	}
}

func disciplineModifier(d string) string {
	switch d {
	case events.DisciplineOT:
		return "GO"
	case events.DisciplinePT:
		return "GP"
	case events.DisciplineSLP:
		return "GN"
	}
	return ""
}

// disciplineNote is the explanation of disciplineModifier(d), for a
// discipline that has one: "GO: service under the OT plan of care".
func disciplineNote(d string) fixedID {
	switch d {
	case events.DisciplineOT:
		return fDisciplineOT
	case events.DisciplinePT:
		return fDisciplinePT
	case events.DisciplineSLP:
		return fDisciplineSLP
	}
	return fNone
}

// assistantModifier is CO for an OTA and CQ for a PTA; SLP assistants have
// no Medicare modifier (intake refuses them).
func assistantModifier(d string) string {
	switch d {
	case events.DisciplineOT:
		return "CO"
	case events.DisciplinePT:
		return "CQ"
	}
	return ""
}

func methodName(m string) string {
	if m == events.UnitMethodAMA {
		return "ama (per code)"
	}
	return "cms (total time)"
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}
