package x12

import (
	"fmt"
	"strings"
)

// This file reads the 277CA Health Care Claim Acknowledgment (005010X214,
// BILLING.md §6.4). Unlike a 999, a 277CA answers claim by claim: the
// clearinghouse or payer says whether each claim entered adjudication,
// matched to our claims by TRN02 = CLM01. Names and member ids in the NM1
// segments are never copied; only organisation and provider identifiers
// are.

// Action is what a claim status means for the claim: whether it goes on
// or must be fixed.
type Action int

// The actions, derived from claim status category codes (STC01-1) by
// categoryActions.
const (
	ActionUnknown  Action = iota // category not in our table: a person must look
	ActionReceived               // received or forwarded, not yet accepted for adjudication
	ActionAccepted               // accepted into adjudication
	ActionPending                // the payer could not answer now; no decision yet
	ActionRejected               // rejected: fix and resubmit as a new original claim
)

// Accepted reports whether the claim goes on. A received claim (A0/A1)
// counts: a clearinghouse took it and passed it on, so resending it would
// duplicate it; the payer's own 277CA or 835 may still reject it later.
func (a Action) Accepted() bool { return a == ActionAccepted || a == ActionReceived }

// Rejected reports whether the claim was refused and never entered
// adjudication.
func (a Action) Rejected() bool { return a == ActionRejected }

func (a Action) String() string {
	switch a {
	case ActionReceived:
		return "received"
	case ActionAccepted:
		return "accepted"
	case ActionPending:
		return "pending"
	case ActionRejected:
		return "rejected"
	}
	return "unknown"
}

// categoryAction is one row of the category table.
type categoryAction struct {
	action Action
	words  string
}

// categoryActions decides the action per claim status category (code list
// 507). Only the acknowledgement (A) and error (E) categories that a 277CA
// uses are listed; any other category (pending P, finalized F, data
// reporting DR…) yields ActionUnknown, so the claim is held for a person
// rather than guessed at.
//
//	A0 forwarded to another entity      received
//	A1 received, not yet accepted       received
//	A2 accepted into adjudication       accepted
//	A3 returned as unprocessable        rejected
//	A4 not found                        rejected
//	A5 split on acceptance              accepted
//	A6 rejected for missing information rejected
//	A7 rejected for invalid information rejected
//	A8 rejected for a relational error  rejected
//	E0 error in the submitted data      rejected
//	E1 payer system unavailable         pending
//	E2 information holder not answering pending
//	E3 correction required (relational) rejected
//	E4 trading partner requirement unmet rejected
var categoryActions = map[string]categoryAction{
	"A0": {ActionReceived, "forwarded to another entity"},
	"A1": {ActionReceived, "received (not yet accepted for adjudication)"},
	"A2": {ActionAccepted, "accepted into adjudication"},
	"A3": {ActionRejected, "rejected as unprocessable"},
	"A4": {ActionRejected, "rejected: claim not found"},
	"A5": {ActionAccepted, "accepted and split into several claims"},
	"A6": {ActionRejected, "rejected for missing information"},
	"A7": {ActionRejected, "rejected for invalid information"},
	"A8": {ActionRejected, "rejected for a relational field in error"},
	"E0": {ActionRejected, "rejected: error in the submitted data"},
	"E1": {ActionPending, "no answer possible: payer system unavailable"},
	"E2": {ActionPending, "no answer possible: information holder not responding"},
	"E3": {ActionRejected, "correction required: related fields in error"},
	"E4": {ActionRejected, "rejected: trading partner requirement not met"},
}

// statusWords is a partial table of claim status codes (code list 508),
// the ones a therapy clinic's 277CAs commonly carry, in our own words.
// The list has over 700 codes: an unlisted code is shown by number, and
// the raw codes are always kept in StatusCode.
var statusWords = map[string]string{
	"0":   "no further status available electronically",
	"16":  "forwarded to the entity",
	"19":  "the entity acknowledges receipt",
	"20":  "accepted for processing",
	"21":  "missing or invalid information",
	"23":  "returned to the entity",
	"24":  "entity not approved as an electronic submitter",
	"26":  "entity not found",
	"27":  "policy cancelled",
	"29":  "subscriber and policy number do not match",
	"30":  "subscriber and subscriber id do not match",
	"33":  "subscriber and subscriber id not found",
	"35":  "claim not found",
	"54":  "duplicate of a claim already processed",
	"78":  "duplicate of a claim awaiting processing",
	"97":  "patient eligibility not found with the entity",
	"116": "claim sent to the wrong payer",
	"128": "the entity's tax id",
	"145": "the entity's specialty or taxonomy code",
	"153": "the entity's id number",
	"158": "the entity's date of birth",
	"163": "the entity's policy or group number",
	"164": "the entity's contract or member number",
	"187": "date(s) of service",
	"247": "line information",
	"252": "the entity's prior authorization number",
	"254": "principal diagnosis code",
	"255": "diagnosis code",
	"400": "claim is out of balance",
	"453": "procedure code modifier(s)",
	"454": "procedure code",
	"476": "units of service missing or invalid",
	"477": "diagnosis code pointer missing or invalid",
	"496": "submitter not approved to send claims for this entity",
	"500": "the entity's postal code",
	"503": "the entity's street address",
	"510": "future date",
	"511": "invalid character",
	"562": "the entity's NPI",
}

// entityWords names the entity codes (STC01-3) a 277CA commonly uses.
var entityWords = map[string]string{
	"03": "dependent", "40": "receiver", "41": "submitter", "77": "service location",
	"82": "rendering provider", "85": "billing provider", "87": "pay-to provider",
	"DK": "ordering provider", "DN": "referring provider", "IL": "subscriber",
	"PR": "payer", "QC": "patient",
}

// StatusCode is one claim status composite: STC01, STC10 or STC11.
type StatusCode struct {
	Category string // -1: claim status category, code list 507
	Code     string // -2: claim status code, code list 508
	Entity   string // -3: entity identifier code, e.g. 85 billing provider
}

// Action returns the action of the status's category.
func (c StatusCode) Action() Action { return categoryActions[c.Category].action }

// Words renders the status in plain words with the raw codes, e.g.
// "A7:562:85 rejected for invalid information: the entity's NPI (billing
// provider)".
func (c StatusCode) Words() string {
	var b strings.Builder
	b.WriteString(c.Category + ":" + c.Code)
	if c.Entity != "" {
		b.WriteString(":" + c.Entity)
	}
	if ca, ok := categoryActions[c.Category]; ok {
		b.WriteString(" " + ca.words)
	} else {
		b.WriteString(" category not in our table")
	}
	if w, ok := statusWords[c.Code]; ok {
		b.WriteString(": " + w)
	} else if c.Code != "" {
		b.WriteString(": status code " + c.Code)
	}
	if c.Entity != "" {
		if w, ok := entityWords[c.Entity]; ok {
			b.WriteString(" (" + w + ")")
		} else {
			b.WriteString(" (entity " + c.Entity + ")")
		}
	}
	return b.String()
}

// Status277 is one STC segment.
type Status277 struct {
	Codes       []StatusCode // STC01, then STC10 and STC11 when present
	Date        string       // STC02, CCYYMMDD
	ActionCode  string       // STC03: WQ accepted, U rejected (as sent; Action decides)
	ChargeCents int64        // STC04: total charge the status applies to
	Segment     int          // position of the STC in the file
}

// Totals are the counts and amounts of a summary level (21 or 19).
type Totals struct {
	Statuses      []Status277
	AcceptedCount int   // QTY*90 (level 21) or QTY*QA (level 19)
	RejectedCount int   // QTY*AA (level 21) or QTY*QC (level 19)
	AcceptedCents int64 // AMT*YU
	RejectedCents int64 // AMT*YY
}

// Ack277 is one 277CA transaction set. Its HL levels are kept flat, each
// pointing to its parent by index.
type Ack277 struct {
	ControlNumber      string // ST02 of the 277CA
	Version            string // ST03, or GS08 when ST03 is empty
	InterchangeControl string // ISA13
	Reference          string // BHT03: the 277CA's own reference
	Date, Time         string // BHT04, BHT05
	Segment            int    // position of the ST in the file

	Sources   []Source277   // HL level 20
	Batches   []Batch277    // HL level 21
	Providers []Provider277 // HL level 19
	Claims    []Claim277    // HL level PT
}

// Source277 is an information source (HL level 20): the clearinghouse or
// payer answering.
type Source277 struct {
	Name          string // NM103 (an organisation)
	ID            string // NM109
	ReceivedDate  string // DTP*050
	ProcessedDate string // DTP*009
	Segment       int    // position of the HL
}

// Batch277 is an information receiver (HL level 21): the acknowledgement
// of one batch we submitted.
type Batch277 struct {
	Reference string // TRN02 with TRN01 = 2: the BHT03 of our 837
	Totals
	Source  int // index in Ack277.Sources
	Segment int // position of the HL
}

// Provider277 is a billing provider (HL level 19).
type Provider277 struct {
	NPI   string // NM109 when NM108 = XX
	Trace string // TRN02 with TRN01 = 1
	Totals
	Batch   int // index in Ack277.Batches
	Segment int // position of the HL
}

// Claim277 is the acknowledgement of one claim (HL level PT).
type Claim277 struct {
	PatientControlNumber string // TRN02 with TRN01 = 2: our CLM01
	Statuses             []Status277
	// Action combines the claim's and its lines' statuses: rejected if any
	// status is, because a held claim costs a look while a missed
	// rejection costs the payment; otherwise the most advanced of
	// accepted, received, pending, unknown.
	Action           Action
	PayerClaimNumber string // REF*1K
	ServiceFrom      string // DTP*472, CCYYMMDD
	ServiceTo        string // equal to ServiceFrom for a single date
	Lines            []Line277
	Provider         int // index in Ack277.Providers
	Segment          int // position of the HL
}

// Accepted reports whether the claim goes on (see Action.Accepted).
func (c *Claim277) Accepted() bool { return c.Action.Accepted() }

// Reason gives the claim's statuses in plain words with their raw codes,
// lines included, for example "A7:562:85 rejected for invalid
// information: the entity's NPI (billing provider)".
func (c *Claim277) Reason() string {
	var parts []string
	for _, s := range c.Statuses {
		for _, code := range s.Codes {
			parts = append(parts, code.Words())
		}
	}
	for _, l := range c.Lines {
		for _, s := range l.Statuses {
			for _, code := range s.Codes {
				parts = append(parts, fmt.Sprintf("line %s (%s): %s", or(l.ControlNumber, "?"), or(l.Procedure, "?"), code.Words()))
			}
		}
	}
	return strings.Join(parts, "; ")
}

// Line277 is one service line status (SVC loop in a PT level).
type Line277 struct {
	Qualifier     string   // SVC01-1, HC for CPT/HCPCS
	Procedure     string   // SVC01-2
	Modifiers     []string // SVC01-3 … SVC01-6
	ChargeCents   int64    // SVC02
	Units         string   // SVC07
	Statuses      []Status277
	Action        Action // combined like Claim277.Action
	ControlNumber string // REF*FJ: our line item control number (REF*6R)
	ServiceFrom   string // DTP*472
	ServiceTo     string
	Segment       int // position of the SVC
}

// Read277CA reads every 277CA transaction set in data. The envelope is
// checked by Parse; Read277CA then walks the HL levels (20 → 21 → 19 →
// PT, each parent existing and of the level above) and checks that every
// claim has its TRN*2 and an STC, and that codes, amounts and dates are
// well formed. Segments a 277CA may carry that rcm does not need are
// skipped. Malformed input gives a *SyntaxError naming the segment;
// another transaction type (GS01 not HN, ST01 not 277, BHT not 0085/08)
// gives a *TransactionTypeError. Read277CA never panics.
func Read277CA(data []byte) ([]Ack277, error) {
	return readSets(data, "HN", "277", "277CA", read277, func(a *Ack277, ic Interchange, g Group) {
		a.InterchangeControl = ic.Header.ControlNumber
		if a.Version == "" {
			a.Version = g.GS.Element(8)
		}
	})
}

// hlNode remembers an HL's level and its index in the slice of that level.
type hlNode struct {
	level string
	index int
}

// hlParents says which level each level must hang from.
var hlParents = map[string]string{"20": "", "21": "20", "19": "21", "PT": "19"}

func read277(tx Transaction) (Ack277, error) {
	a := Ack277{ControlNumber: tx.ST.Element(2), Version: tx.ST.Element(3), Segment: tx.ST.Index}
	bht := 0 // position of the BHT, once read
	r := reader277{a: &a, hls: map[string]hlNode{}}
	for i, s := range tx.segments() {
		if i > 0 {
			if err := r.segment(s); err != nil {
				return Ack277{}, err
			}
			continue
		}
		if s.ID != "BHT" {
			break
		}
		if kind := s.Element(1) + ":" + s.Element(2); kind != "0085:08" {
			return Ack277{}, &TransactionTypeError{Segment: s.Index, ID: "BHT", Got: kind, Want: "277CA (BHT*0085*08)"}
		}
		bht = s.Index
		a.Reference, a.Date, a.Time = s.Element(3), s.Element(4), s.Element(5)
	}
	if bht == 0 {
		return Ack277{}, &SyntaxError{Segment: tx.ST.Index + 1, ID: "BHT", Msg: "the 277 must start with BHT"}
	}
	if err := r.closeClaim(); err != nil {
		return Ack277{}, err
	}
	if len(r.hls) == 0 {
		return Ack277{}, &SyntaxError{Segment: bht, ID: "BHT", Msg: "the 277CA has no HL levels"}
	}
	return a, nil
}

// reader277 walks the segments of one 277CA.
type reader277 struct {
	a      *Ack277
	hls    map[string]hlNode
	cur    hlNode   // the open level; level "" before the first HL
	line   *Line277 // open SVC loop of the open claim
	claim  *Claim277
	hasTRN bool // the open claim has its TRN*2
}

func (r *reader277) segment(s Segment) error {
	if s.ID == "HL" {
		return r.hl(s)
	}
	switch r.cur.level {
	case "":
		return segError(s, 0, "%s before the first HL", quoteShort(s.ID))
	case "20":
		src := &r.a.Sources[r.cur.index]
		switch s.ID {
		case "NM1":
			src.Name, src.ID = s.Element(3), s.Element(9)
		case "DTP":
			switch s.Element(1) {
			case "050":
				src.ReceivedDate = s.Element(3)
			case "009":
				src.ProcessedDate = s.Element(3)
			}
		case "STC", "SVC", "QTY", "AMT":
			return segError(s, 0, "%s in the information source level", s.ID)
		}
	case "21":
		b := &r.a.Batches[r.cur.index]
		if s.ID == "TRN" && s.Element(1) == "2" {
			b.Reference = s.Element(2)
			return nil
		}
		return r.totals(s, &b.Totals, "90", "AA")
	case "19":
		p := &r.a.Providers[r.cur.index]
		switch {
		case s.ID == "NM1" && s.Element(8) == "XX":
			p.NPI = s.Element(9)
		case s.ID == "TRN" && s.Element(1) == "1":
			p.Trace = s.Element(2)
		default:
			return r.totals(s, &p.Totals, "QA", "QC")
		}
	case "PT":
		return r.claimSegment(s)
	}
	return nil
}

// totals reads the STC, QTY and AMT of a summary level.
func (r *reader277) totals(s Segment, t *Totals, acceptedQty, rejectedQty string) error {
	switch s.ID {
	case "STC":
		st, err := readSTC(s)
		if err != nil {
			return err
		}
		t.Statuses = append(t.Statuses, st)
	case "QTY":
		n, err := quantity(s)
		if err != nil {
			return err
		}
		switch s.Element(1) {
		case acceptedQty:
			t.AcceptedCount = n
		case rejectedQty:
			t.RejectedCount = n
		}
	case "AMT":
		c, err := money(s, 2, true)
		if err != nil {
			return err
		}
		switch s.Element(1) {
		case "YU":
			t.AcceptedCents = c
		case "YY":
			t.RejectedCents = c
		}
	case "SVC":
		return segError(s, 0, "SVC outside a patient (PT) level")
	}
	return nil
}

func (r *reader277) claimSegment(s Segment) error {
	c := r.claim
	if s.ID == "SVC" {
		l := Line277{Qualifier: s.Component(1, 1), Procedure: s.Component(1, 2), Units: s.Element(7), Segment: s.Index}
		for k := 3; k <= 6; k++ {
			if m := s.Component(1, k); m != "" {
				l.Modifiers = append(l.Modifiers, m)
			}
		}
		if l.Procedure == "" {
			return segError(s, 1, "SVC01-2 (procedure code) is missing")
		}
		var err error
		if l.ChargeCents, err = money(s, 2, false); err != nil {
			return err
		}
		c.Lines = append(c.Lines, l)
		r.line = &c.Lines[len(c.Lines)-1]
		return nil
	}
	if r.line != nil {
		// Inside an SVC loop: STC, REF*FJ and DTP*472 describe the line.
		switch {
		case s.ID == "STC":
			st, err := readSTC(s)
			if err != nil {
				return err
			}
			r.line.Statuses = append(r.line.Statuses, st)
		case s.ID == "REF" && s.Element(1) == "FJ":
			r.line.ControlNumber = s.Element(2)
		case s.ID == "DTP" && s.Element(1) == "472":
			var err error
			r.line.ServiceFrom, r.line.ServiceTo, err = serviceDates(s)
			return err
		case s.ID == "TRN" || s.ID == "QTY" || s.ID == "AMT":
			return segError(s, 0, "%s inside a service line loop", s.ID)
		}
		return nil
	}
	switch {
	case s.ID == "TRN" && s.Element(1) == "2":
		if r.hasTRN {
			return segError(s, 0, "a second TRN*2 in one claim")
		}
		r.hasTRN = true
		c.PatientControlNumber = s.Element(2)
		if c.PatientControlNumber == "" {
			return segError(s, 2, "TRN02 (patient control number) is missing")
		}
	case s.ID == "STC":
		st, err := readSTC(s)
		if err != nil {
			return err
		}
		c.Statuses = append(c.Statuses, st)
	case s.ID == "REF" && s.Element(1) == "1K":
		c.PayerClaimNumber = s.Element(2)
	case s.ID == "DTP" && s.Element(1) == "472":
		var err error
		c.ServiceFrom, c.ServiceTo, err = serviceDates(s)
		return err
	case s.ID == "QTY" || s.ID == "AMT":
		return segError(s, 0, "%s in a patient (PT) level", s.ID)
	}
	return nil
}

func (r *reader277) hl(s Segment) error {
	if err := r.closeClaim(); err != nil {
		return err
	}
	id, parent, level := s.Element(1), s.Element(2), s.Element(3)
	if id == "" {
		return segError(s, 1, "HL01 (hierarchical id) is missing")
	}
	if _, dup := r.hls[id]; dup {
		return segError(s, 1, "HL01 repeats an earlier HL id")
	}
	wantParent, ok := hlParents[level]
	if !ok {
		return segError(s, 3, "HL03 %s is not a 277CA level (20, 21, 19 or PT)", quoteShort(level))
	}
	var pn hlNode
	if wantParent == "" {
		if parent != "" {
			return segError(s, 2, "an information source (level 20) has no parent")
		}
	} else {
		if pn, ok = r.hls[parent]; !ok {
			return segError(s, 2, "HL02 does not name an earlier HL")
		}
		if pn.level != wantParent {
			return segError(s, 2, "level %s must hang from level %s, not %s", level, wantParent, pn.level)
		}
	}
	n := hlNode{level: level}
	switch level {
	case "20":
		n.index = len(r.a.Sources)
		r.a.Sources = append(r.a.Sources, Source277{Segment: s.Index})
	case "21":
		n.index = len(r.a.Batches)
		r.a.Batches = append(r.a.Batches, Batch277{Source: pn.index, Segment: s.Index})
	case "19":
		n.index = len(r.a.Providers)
		r.a.Providers = append(r.a.Providers, Provider277{Batch: pn.index, Segment: s.Index})
	case "PT":
		n.index = len(r.a.Claims)
		r.a.Claims = append(r.a.Claims, Claim277{Provider: pn.index, Segment: s.Index})
		r.claim = &r.a.Claims[n.index]
	}
	r.hls[id] = n
	r.cur = n
	return nil
}

// closeClaim checks the open claim, if any, and settles its action.
func (r *reader277) closeClaim() error {
	c := r.claim
	if c == nil {
		return nil
	}
	r.claim, r.line, r.hasTRN = nil, nil, false
	if c.PatientControlNumber == "" {
		return &SyntaxError{Segment: c.Segment, ID: "HL", Msg: "the patient level has no TRN*2 (patient control number)"}
	}
	if len(c.Statuses) == 0 {
		return &SyntaxError{Segment: c.Segment, ID: "HL", Msg: "the patient level has no STC (claim status)"}
	}
	all := c.Statuses
	for i := range c.Lines {
		l := &c.Lines[i]
		l.Action = combine(l.Statuses)
		all = append(all[:len(all):len(all)], l.Statuses...)
	}
	c.Action = combine(all)
	return nil
}

// combine settles the action of several statuses: any rejection wins;
// otherwise the most advanced of accepted, received, pending, unknown.
func combine(sts []Status277) Action {
	best, seen := ActionUnknown, false
	rank := map[Action]int{ActionUnknown: 0, ActionPending: 1, ActionReceived: 2, ActionAccepted: 3}
	for _, st := range sts {
		for _, c := range st.Codes {
			a := c.Action()
			if a == ActionRejected {
				return ActionRejected
			}
			if !seen || rank[a] > rank[best] {
				best, seen = a, true
			}
		}
	}
	return best
}

func readSTC(s Segment) (Status277, error) {
	st := Status277{Date: s.Element(2), ActionCode: s.Element(3), Segment: s.Index}
	for _, n := range []int{1, 10, 11} {
		c := StatusCode{Category: s.Component(n, 1), Code: s.Component(n, 2), Entity: s.Component(n, 3)}
		if c == (StatusCode{}) {
			if n == 1 {
				return Status277{}, segError(s, 1, "STC01 (claim status) is missing")
			}
			continue
		}
		if c.Category == "" || c.Code == "" {
			return Status277{}, segError(s, n, "STC%02d needs a category and a status code", n)
		}
		st.Codes = append(st.Codes, c)
	}
	if st.Date != "" && !isDate(st.Date) {
		return Status277{}, segError(s, 2, "STC02 is not a CCYYMMDD date")
	}
	var err error
	if st.ChargeCents, err = money(s, 4, false); err != nil {
		return Status277{}, err
	}
	return st, nil
}

// serviceDates reads a DTP*472 with D8 (one date) or RD8 (a range).
func serviceDates(s Segment) (from, to string, err error) {
	v := s.Element(3)
	switch s.Element(2) {
	case "D8":
		if isDate(v) {
			return v, v, nil
		}
	case "RD8":
		from, to, ok := strings.Cut(v, "-")
		if ok && isDate(from) && isDate(to) {
			return from, to, nil
		}
	default:
		return "", "", segError(s, 2, "DTP02 must be D8 or RD8")
	}
	return "", "", segError(s, 3, "DTP03 is not a date in the DTP02 format")
}

// isDate checks the shape CCYYMMDD; the calendar is the sender's business.
func isDate(v string) bool { return len(v) == 8 && isDigits(v) }

// quantity reads QTY02 as a count. X12 sends it as a decimal, so "3" and
// "3.0" are both accepted.
func quantity(s Segment) (int, error) {
	c, err := money(s, 2, true)
	if err != nil || c%100 != 0 || c < 0 {
		return 0, segError(s, 2, "QTY02 is not a whole count")
	}
	return int(c / 100), nil
}

// money reads element n, an X12 decimal such as 125, 125.0 or 199.14, as
// cents. More than two decimals are allowed only when they are zeros, so no
// amount is silently rounded.
func money(s Segment, n int, required bool) (int64, error) {
	v := s.Element(n)
	if v == "" {
		if required {
			return 0, segError(s, n, "%s%02d (amount) is missing", s.ID, n)
		}
		return 0, nil
	}
	bad := segError(s, n, "%s%02d is not a decimal amount", s.ID, n)
	neg := strings.HasPrefix(v, "-")
	v = strings.TrimPrefix(v, "-")
	whole, frac, _ := strings.Cut(v, ".")
	if whole == "" && frac == "" || len(whole) > 13 || whole != "" && !isDigits(whole) || frac != "" && !isDigits(frac) {
		return 0, bad
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, bad
		}
		frac = frac[:2]
	}
	frac += strings.Repeat("0", 2-len(frac))
	var c int64
	for _, d := range whole + frac {
		c = c*10 + int64(d-'0')
	}
	if neg {
		c = -c
	}
	return c, nil
}
