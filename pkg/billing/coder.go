package billing

import (
	"slices"
	"strconv"
	"strings"
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
	srcUnits     = "CMS MCPM Ch. 5 §20.2"
	srcModifiers = "CMS MCPM Ch. 5 §20.1"
	srcKX        = "CMS MCPM Ch. 5 §10.3; rules kx_thresholds.csv"
	srcNCCI      = "NCCI PTP edits, rules ncci_ptp.txt"
	srcAssistant = "CY2022 PFS final rule (86 FR 64996); CMS CQ/CO billing examples"
)

// service is one billable procedure after duplicate codes are merged: the
// EMR may report two blocks of the same timed code, and a timed code goes on
// one line per date of service.
type service struct {
	code       Code
	therapist  int // minutes incl. joint time
	assistant  int // assistant's own minutes
	pointers   []int
	distinct   bool
	requested  []string
	firstIndex int // in the visit's services
}

func (s *service) minutes() int { return s.therapist + s.assistant }

// coder holds one CodeVisit call's context beside the result it builds.
type coder struct {
	Coding
	rules *Rules
	visit *events.Visit
	payer PayerProfile
	// Per line, in step with Coding.Lines: the order key (the service's
	// place in the visit) and the service behind it.
	order    []int
	services []*service
}

// CodeVisit turns a visit into billable lines. It is pure: the same request
// always gives the same result, which is what lets a replay under unchanged
// rules change nothing.
func CodeVisit(req CodeRequest) Coding {
	v := req.Visit
	r := req.Rules
	payer, _ := r.Payer(v.Coverage.PayerID, v.Coverage.PlanType)
	c := &coder{rules: r, visit: v, payer: payer}
	c.UnitMethod = payer.UnitMethod
	if req.Method != "" {
		c.UnitMethod = req.Method
		c.explain("units.method", "unit method "+req.Method+" chosen by the caller instead of the payer profile's "+payer.UnitMethod, "")
	} else {
		c.explain("units.method", "unit method "+methodName(payer.UnitMethod)+" from payer profile "+payer.Key, "rules payers.csv")
	}
	dos, _ := time.Parse(time.DateOnly, v.DateOfService)
	c.Year = dos.Year()

	timed, untimed := c.collect(v, r)

	// Units of the timed services.
	in := make([]TimedMinutes, len(timed))
	for i, s := range timed {
		in[i] = TimedMinutes{Code: s.code.Code, Minutes: s.minutes(), AddOnTo: s.code.AddOnTo, InitialMinutes: s.code.InitialMinutes,
			AddOnCode: r.Catalog.AddOns()[s.code.Code]}
	}
	var alloc Allocation
	if c.UnitMethod == events.UnitMethodAMA {
		alloc = AllocateAMA(in)
	} else {
		alloc = AllocateCMS(in)
	}
	c.TotalTimedMinutes, c.TotalTimedUnits = alloc.TotalMinutes, alloc.TotalUnits
	for _, n := range alloc.Notes {
		if n.Service < 0 {
			c.Explanations = append(c.Explanations, events.Explanation{Rule: n.Rule, Text: n.Text, Source: n.Source})
		}
	}

	discipline := v.RenderingProvider.Discipline
	for i, s := range timed {
		units := alloc.Units[i]
		notes := notesFor(alloc.Notes, i)
		if units == 0 {
			c.explain("units.no_line", s.code.Code+": "+strconv.Itoa(s.minutes())+" timed minutes yield no unit, so no line", srcUnits)
			continue
		}
		c.addTimedLines(payer, discipline, s, units, notes, i)
		for _, a := range alloc.AddOn {
			if a.Service == i && a.Units > 0 {
				addOn, ok := r.Catalog.Lookup(a.Code)
				if !ok {
					c.issue("units.addon_unknown", events.SeverityError, 0, s.code.Code+" earned "+strconv.Itoa(a.Units)+" more unit(s) but the catalog names no add-on code for it",
						"report the add-on code in the EMR, or add it to codes.csv (add_on_to "+s.code.Code+")")
					continue
				}
				extra := s
				extra.code = addOn
				c.addLine(events.CodedLine{Code: a.Code, Timed: true, Units: a.Units, DiagnosisPointers: s.pointers},
					payer, discipline, &extra, []Note{{Rule: "units.addon", Text: a.Code + " ×" + strconv.Itoa(a.Units) + " for the minutes past " + s.code.Code + "'s first unit", Source: srcUnits}}, "")
			}
		}
	}
	for i := range untimed {
		s := &untimed[i]
		assistantMod := ""
		var notes []Note
		if payer.AssistantModifiers && s.assistant > 0 {
			if yes, n := UntimedNeedsAssistantModifier(s.therapist, s.assistant); yes {
				assistantMod = assistantModifier(discipline)
				notes = append(notes, n)
			} else {
				notes = append(notes, n)
			}
		}
		notes = append(notes, Note{Rule: "units.untimed", Text: s.code.Code + " is untimed: 1 unit whatever its length; its minutes do not count towards timed units", Source: srcUnits})
		c.addLine(events.CodedLine{Code: s.code.Code, Units: 1, DiagnosisPointers: s.pointers}, payer, discipline, s, notes, assistantMod)
	}
	c.sortLines()

	c.applyNCCI(r, payer, dos)
	c.applyTelehealth(payer, v)
	c.applyABN(payer, v)
	c.applyKX(r, payer, v, req.YTDAllowedCents)
	for i := range c.Lines {
		l := &c.Lines[i]
		l.Line = i + 1
		c.passThrough(i)
		if len(l.Modifiers) > 4 {
			c.issue("modifier.too_many", events.SeverityError, l.Line, l.Code+" has "+strconv.Itoa(len(l.Modifiers))+" modifiers ("+strings.Join(l.Modifiers, ", ")+"); a claim line carries at most 4",
				"drop a requested modifier in the EMR or move informational modifiers per the payer's instructions")
		}
		c.ChargeCents += l.ChargeCents
		c.AllowedCents += l.AllowedCents
	}
	if len(c.Lines) == 0 && !c.Held() {
		c.issue("visit.no_billable_lines", events.SeverityError, 0, "no service of this visit yields a billable unit", "check the minutes documented in the EMR; a visit with nothing to bill needs no claim and can be voided")
	}
	return c.Coding
}

// collect validates the services against the catalog and merges repeated
// codes. Problems become issues: the visit is still coded so the biller sees
// what was billable.
func (c *coder) collect(v *events.Visit, r *Rules) (timed, untimed []service) {
	byCode := map[string]int{}
	for i, s := range v.Services {
		code, ok := r.Catalog.Lookup(s.Code)
		if !ok {
			c.issue("code.unknown", events.SeverityError, 0, "service "+strconv.Itoa(i+1)+": "+s.Code+" is not in the therapy code catalog (rules "+r.Version+")", "correct the code in the EMR, or add it to codes.csv in the rules directory")
			continue
		}
		if code.Timed && s.Minutes+s.AssistantMinutes <= 0 {
			c.issue("units.minutes_missing", events.SeverityError, 0, "service "+strconv.Itoa(i+1)+": timed code "+s.Code+" has no minutes", "document the minutes of the service in the EMR and send an amended visit")
			continue
		}
		if !code.Disciplines.Includes(v.RenderingProvider.Discipline) {
			c.issue("code.discipline_mismatch", events.SeverityWarning, 0, s.Code+" is not usually billed by "+v.RenderingProvider.Discipline, "check the code and the rendering discipline")
		}
		list := &untimed
		if code.Timed {
			list = &timed
			if j, seen := byCode[s.Code]; seen {
				m := &timed[j]
				m.therapist += s.Minutes
				m.assistant += s.AssistantMinutes
				m.distinct = m.distinct || s.DistinctTimeBlock
				for _, p := range s.DiagnosisPointers {
					if !slices.Contains(m.pointers, p) && len(m.pointers) < 4 {
						m.pointers = append(m.pointers, p)
					}
				}
				m.requested = appendNew(m.requested, s.RequestedModifiers...)
				c.explain("units.merged", s.Code+" was reported more than once; its minutes are added on one line, as timed codes are billed one line per date of service", "First Coast, timed codes one line per DOS")
				continue
			}
			byCode[s.Code] = len(timed)
		}
		*list = append(*list, service{code: code, therapist: s.Minutes, assistant: s.AssistantMinutes,
			pointers: slices.Clone(s.DiagnosisPointers), distinct: s.DistinctTimeBlock,
			requested: slices.Clone(s.RequestedModifiers), firstIndex: i})
	}
	return timed, untimed
}

// addTimedLines bills a timed service's units, split into a line with CQ/CO
// and one without when an assistant furnished part of it.
func (c *coder) addTimedLines(payer PayerProfile, discipline string, s service, units int, notes []Note, idx int) {
	base := events.CodedLine{Code: s.code.Code, Timed: true, DiagnosisPointers: s.pointers}
	if !payer.AssistantModifiers || s.assistant == 0 {
		base.Units, base.Minutes = units, s.minutes()
		c.addLine(base, payer, discipline, &s, notes, "")
		return
	}
	split := SplitTimed(s.code.Code, units, s.therapist, s.assistant, idx)
	notes = append(notes, split.Notes...)
	// Split lines carry each clinician's minutes; a single line all of them.
	therapistMin, assistantMin := s.therapist, s.assistant
	if split.TherapistUnits == 0 || split.AssistantUnits == 0 {
		therapistMin, assistantMin = s.minutes(), s.minutes()
	}
	if split.TherapistUnits > 0 {
		l := base
		l.Units, l.Minutes = split.TherapistUnits, therapistMin
		c.addLine(l, payer, discipline, &s, notes, "")
		notes = nil
	}
	if split.AssistantUnits > 0 {
		l := base
		l.Units, l.Minutes = split.AssistantUnits, assistantMin
		c.addLine(l, payer, discipline, &s, notes, assistantModifier(discipline))
	}
}

// addLine prices a line and adds the modifiers every line of the payer
// gets. Line holds the service's position in the visit until CodeVisit numbers
// the lines, so lines keep the EMR's order.
func (c *coder) addLine(l events.CodedLine, payer PayerProfile, discipline string, s *service, notes []Note, assistantMod string) {
	for _, n := range notes {
		l.Explanations = append(l.Explanations, events.Explanation{Rule: n.Rule, Text: n.Text, Source: n.Source})
	}
	if payer.DisciplineModifiers {
		if m := disciplineModifier(discipline); m != "" {
			l.Modifiers = append(l.Modifiers, m)
			l.Explanations = append(l.Explanations, events.Explanation{Rule: "modifier.discipline", Text: m + ": service under the " + discipline + " plan of care", Source: srcModifiers})
		}
	}
	if assistantMod != "" {
		l.Modifiers = append(l.Modifiers, assistantMod)
		l.AssistantPaymentPercent = payer.AssistantPaymentPercent
		l.Explanations = append(l.Explanations, events.Explanation{Rule: "modifier.assistant",
			Text: assistantMod + ": furnished in whole or in part by an assistant; paid at " + strconv.Itoa(payer.AssistantPaymentPercent) + "% of the fee schedule", Source: srcAssistant})
	}
	c.price(&l, payer)
	c.Lines = append(c.Lines, l)
	c.order = append(c.order, s.firstIndex)
	c.services = append(c.services, s)
}

func (c *coder) price(l *events.CodedLine, payer PayerProfile) {
	charge, ok := c.rules.ChargeCents(l.Code)
	if !ok {
		c.issue("fee.charge_missing", events.SeverityError, 0, l.Code+" has no charge in the fee schedule", "add the code to fees.csv in the rules directory")
	}
	l.ChargeCents = charge * int64(l.Units)
	allowed, ok := c.rules.AllowedCents(c.visit.Coverage.PayerID, c.visit.Coverage.PlanType, l.Code)
	if !ok {
		c.issue("fee.allowed_missing", events.SeverityWarning, 0, l.Code+" has no expected allowed amount for payer "+payer.Key+"; threshold totals will be low", "add the code to allowed.csv in the rules directory")
	}
	total := allowed * int64(l.Units)
	if l.AssistantPaymentPercent > 0 {
		// Integer cents, rounded half up.
		total = (total*int64(l.AssistantPaymentPercent) + 50) / 100
	}
	l.AllowedCents = total
}

// sortLines puts lines in the visit's service order; a service's own lines
// (therapist, assistant, add-on) keep the order they were made in.
func (c *coder) sortLines() {
	idx := make([]int, len(c.Lines))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return c.order[a] - c.order[b] })
	lines := make([]events.CodedLine, len(idx))
	svcs := make([]*service, len(idx))
	order := make([]int, len(idx))
	for to, from := range idx {
		lines[to], svcs[to], order[to] = c.Lines[from], c.services[from], c.order[from]
	}
	c.Lines, c.services, c.order = lines, svcs, order
}

// applyNCCI looks at every pair of codes on the visit. An indicator-1 pair
// is payable with a distinct-service modifier on the column-2 code when the
// visit says the services were done in separate time blocks; otherwise, and
// always for indicator 0, the column-2 line is flagged: the payer would deny
// it (CO-97/CO-236), and papering over that is not the coder's call.
func (c *coder) applyNCCI(r *Rules, payer PayerProfile, dos time.Time) {
	distinct := payer.DistinctModifier
	if distinct == "" || distinct == "X" {
		distinct = "XU"
	}
	if payer.DistinctModifier == "59" {
		distinct = "59"
	}
	for i := range c.Lines {
		for j := range c.Lines {
			a, b := &c.Lines[i], &c.Lines[j]
			if i >= j || a.Code == b.Code {
				continue
			}
			edit, ok := r.PTPFor(a.Code, b.Code, dos)
			if !ok || edit.Indicator == 9 {
				continue
			}
			col2, col2Svc := b, c.services[j]
			if edit.Column2 == a.Code {
				col2, col2Svc = a, c.services[i]
			}
			pair := edit.Column1 + "/" + edit.Column2
			switch {
			case edit.Indicator == 1 && col2Svc.distinct:
				if !slices.Contains(col2.Modifiers, distinct) {
					col2.Modifiers = append(col2.Modifiers, distinct)
				}
				col2.Explanations = append(col2.Explanations, events.Explanation{Rule: "modifier.distinct",
					Text: distinct + ": NCCI pair " + pair + " (modifier indicator 1) with " + edit.Column2 + " done in a distinct time block, as the visit documents", Source: srcNCCI + " " + edit.Source})
			case edit.Indicator == 1:
				c.issue("ncci.bundled", events.SeverityError, 0, edit.Column2+" is bundled into "+edit.Column1+" (NCCI pair "+pair+", modifier indicator 1) and the visit does not mark it as a distinct time block",
					"if the services were done in separate time blocks, mark the service as distinct in the EMR and send an amended visit; otherwise remove "+edit.Column2)
			default:
				c.issue("ncci.not_separately_payable", events.SeverityError, 0, edit.Column2+" is not payable with "+edit.Column1+" on the same day (NCCI pair "+pair+", modifier indicator 0: no modifier bypasses it)",
					"bill only "+edit.Column1+", or check the codes in the EMR")
			}
		}
	}
}

// applyTelehealth adds the payer's telehealth modifier and checks the place
// of service against the payer's telehealth codes.
func (c *coder) applyTelehealth(payer PayerProfile, v *events.Visit) {
	if !v.Telehealth {
		return
	}
	if payer.TelehealthModifier != "" {
		for i := range c.Lines {
			l := &c.Lines[i]
			l.Modifiers = append(l.Modifiers, payer.TelehealthModifier)
			l.Explanations = append(l.Explanations, events.Explanation{Rule: "modifier.telehealth", Text: payer.TelehealthModifier + ": furnished via telehealth (payer profile " + payer.Key + ")", Source: "rules payers.csv"})
		}
	}
	if v.PlaceOfService != payer.TelehealthPOSHome && v.PlaceOfService != payer.TelehealthPOSOther {
		c.issue("telehealth.place_of_service", events.SeverityError, 0, "a telehealth visit is billed with place of service "+payer.TelehealthPOSHome+" (patient at home) or "+payer.TelehealthPOSOther+" (elsewhere) for this payer, not "+v.PlaceOfService,
			"correct the place of service in the EMR")
	}
}

// applyABN adds GA, GY or GZ from the visit's ABN data.
func (c *coder) applyABN(payer PayerProfile, v *events.Visit) {
	if !payer.ABNModifiers || v.ABN == nil {
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
	for i := range c.Lines {
		l := &c.Lines[i]
		l.Modifiers = append(l.Modifiers, mod)
		l.Explanations = append(l.Explanations, events.Explanation{Rule: "modifier.abn", Text: mod + ": " + why, Source: "CMS ABN instructions (Form CMS-R-131)"})
	}
}

// applyKX compares the patient's year-to-date allowed amount with the year's
// threshold and adds KX to every therapy line once the visit takes the
// patient past it: lines above the threshold without KX are denied.
func (c *coder) applyKX(r *Rules, payer PayerProfile, v *events.Visit, before int64) {
	if !payer.KX {
		return
	}
	c.Bucket = events.ThresholdPTSLP
	if v.RenderingProvider.Discipline == events.DisciplineOT {
		c.Bucket = events.ThresholdOT
	}
	var visitAllowed int64
	for _, l := range c.Lines {
		visitAllowed += l.AllowedCents
	}
	th, ok := r.Threshold(c.Year, c.Bucket)
	if !ok {
		c.issue("kx.threshold_missing", events.SeverityWarning, 0, "no therapy threshold for "+strconv.Itoa(c.Year)+" ("+c.Bucket+") in rules "+r.Version+"; KX cannot be decided",
			"add the year to kx_thresholds.csv in the rules directory")
		return
	}
	after := before + visitAllowed
	c.Threshold = &events.ThresholdStatus{Year: c.Year, Bucket: c.Bucket, ThresholdCents: th.Cents, BeforeCents: before, AfterCents: after}
	text := "year-to-date allowed " + dollars(before) + " + this visit " + dollars(visitAllowed) + " = " + dollars(after)
	if after <= th.Cents {
		c.explain("modifier.kx", "no KX: "+text+", not above the "+strconv.Itoa(c.Year)+" threshold of "+dollars(th.Cents)+" ("+c.Bucket+")", srcKX)
		return
	}
	for i := range c.Lines {
		l := &c.Lines[i]
		l.Modifiers = append(l.Modifiers, "KX")
		l.Explanations = append(l.Explanations, events.Explanation{Rule: "modifier.kx",
			Text: "KX: " + text + ", above the " + strconv.Itoa(c.Year) + " threshold of " + dollars(th.Cents) + " (" + c.Bucket + "); the therapy is medically necessary as documented", Source: srcKX})
	}
}

// decided are the modifiers the coder itself decides; a requested one of
// these is not copied through.
var decided = map[string]bool{"GO": true, "GP": true, "GN": true, "CO": true, "CQ": true, "59": true, "XE": true, "XS": true, "XP": true, "XU": true,
	"KX": true, "95": true, "GT": true, "93": true, "GA": true, "GY": true, "GZ": true}

// passThrough copies the clinician's requested modifiers that the coder
// does not decide itself, and explains the ones it did not follow.
func (c *coder) passThrough(i int) {
	l := &c.Lines[i]
	for _, m := range c.services[i].requested {
		switch {
		case slices.Contains(l.Modifiers, m):
		case decided[m]:
			l.Explanations = append(l.Explanations, events.Explanation{Rule: "modifier.requested", Text: "requested " + m + " not applied: the coder decides " + m + " from the visit and the payer's rules, and they do not call for it here"})
		default:
			l.Modifiers = append(l.Modifiers, m)
			l.Explanations = append(l.Explanations, events.Explanation{Rule: "modifier.requested", Text: m + ": requested by the clinician"})
		}
	}
}

func (c *coder) explain(rule, text, source string) {
	c.Explanations = append(c.Explanations, events.Explanation{Rule: rule, Text: text, Source: source})
}

func (c *coder) issue(code, severity string, line int, msg, fix string) {
	c.Issues = append(c.Issues, events.Edit{Code: code, Severity: severity, Line: line, Message: msg, Fix: fix})
}

func notesFor(notes []Note, service int) []Note {
	var out []Note
	for _, n := range notes {
		if n.Service == service {
			out = append(out, n)
		}
	}
	return out
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

// dollars formats cents as $1,234.56 without floating point.
func dollars(cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteByte('$')
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	frac := cents % 100
	b.WriteByte('.')
	b.WriteByte(byte('0' + frac/10))
	b.WriteByte(byte('0' + frac%10))
	return b.String()
}
