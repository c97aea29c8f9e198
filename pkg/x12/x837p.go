package x12

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Version837P is the HIPAA-adopted 837P implementation guide: GS08 and
// ST03 (BILLING.md §6.1).
const Version837P = "005010X222A1"

// Address is a street address. Line1 must be a street, not a PO box, for
// the billing provider (BILLING.md §5).
type Address struct {
	Line1, Line2 string // N301, N302
	City         string // N401
	State        string // N402, two letters
	ZIP          string // N403, 5 or 9 digits; 9 for the billing provider
}

func (a Address) empty() bool { return a == Address{} }

// Person is a subscriber or patient.
type Person struct {
	Last, First, Middle string
	Address             Address
	BirthDate           time.Time // DMG02
	Sex                 string    // DMG03: F, M or U
}

// Subscriber is the insured (loop 2000B/2010BA).
type Subscriber struct {
	Person
	MemberID    string // NM109 with qualifier MI; the MBI for Medicare
	GroupNumber string // SBR03
}

// Patient is the patient when not the subscriber (loops 2000C/2010CA).
type Patient struct {
	Person
	// Relationship is PAT01, the patient's relationship to the insured:
	// 01 spouse, 19 child, 20 employee, 21 unknown, 39 organ donor,
	// 40 cadaver donor, 53 life partner, G8 other. 18 (self) is expressed
	// by leaving Claim837.Patient nil.
	Relationship string
}

// Provider is an individual provider: the referring (certifying)
// physician or the rendering therapist.
type Provider struct {
	Last, First string
	NPI         string // NM109 with qualifier XX
	Taxonomy    string // PRV03, rendering only (e.g. 225X00000X for OT)
}

// BillingProvider is the organisation that bills (loop 2010AA).
type BillingProvider struct {
	Name     string
	NPI      string
	TIN      string // REF*EI, nine digits
	Taxonomy string // PRV*BI*PXC, optional
	Address  Address
}

// Contact is the submitter's EDI contact (1000A PER). At least one of
// Phone and Email is required.
type Contact struct {
	Name  string
	Phone string // digits only, area code first
	Email string
}

// Line837 is one service line (loop 2400).
type Line837 struct {
	Code              string   // HCPCS/CPT, SV101-2
	Modifiers         []string // SV101-3…6, at most 4
	ChargeCents       int64    // SV102
	Units             int      // SV104, unit qualifier UN
	DiagnosisPointers []int    // SV107, 1–4 positions in Claim837.Diagnoses, 1-based
	DateOfService     time.Time
	// ControlNumber is the line item control number, REF*6R, unique within
	// the claim and at most 30 characters (some clearinghouses cut longer
	// ones; BILLING.md §5). Payers return it in the 835 to match lines.
	ControlNumber string
}

// Claim837 is one professional claim (loops 2000B–2400).
type Claim837 struct {
	// ControlNumber is the patient control number, CLM01, at most 20
	// characters. Keeping it to 17 (some payers truncate) is the
	// scrubber's concern, not the writer's.
	ControlNumber    string
	TotalChargeCents int64  // CLM02; must equal the sum of the lines
	PlaceOfService   string // CLM05-1, two digits: 11 office, 02/10 telehealth
	// Frequency is CLM05-3: 1 original (also when empty), 7 replacement,
	// 8 void. 7 and 8 need OriginalRef.
	Frequency   string
	OriginalRef string // REF*F8: the payer's claim control number (CLP07)
	PriorAuth   string // REF*G1
	// Diagnoses are ICD-10-CM codes without the dot, principal first; at
	// most 12 on an 837P (BILLING.md §5).
	Diagnoses       []string
	BillingProvider BillingProvider
	Subscriber      Subscriber
	PayerName       string
	PayerID         string // NM109 with qualifier PI
	// ClaimFilingCode is SBR09: MB Medicare Part B, MC Medicaid,
	// CI commercial, BL Blue Cross Blue Shield, 16 Medicare Advantage HMO.
	ClaimFilingCode string
	Patient         *Patient  // nil when the patient is the subscriber
	Referring       *Provider // 2310A NM1*DN: the plan-of-care certifier
	Rendering       *Provider // 2310B NM1*82 with PRV*PE
	Lines           []Line837
}

// Batch837 is one file of claims: one interchange, one functional group
// and one transaction set.
type Batch837 struct {
	SenderQualifier   string // ISA05, "ZZ" when empty
	SenderID          string // ISA06, GS02 and 1000A NM109; ≤ 15
	SenderName        string // 1000A NM103
	ReceiverQualifier string // ISA07, "ZZ" when empty
	ReceiverID        string // ISA08, GS03 and 1000B NM109; ≤ 15
	ReceiverName      string // 1000B NM103
	Contact           Contact

	InterchangeControl int    // ISA13/IEA02, 1–999999999, unique per sender
	GroupControl       int    // GS06/GE02, 1–999999999
	Usage              string // ISA15: P production, T test
	AckRequested       bool   // ISA14: ask for a TA1
	Created            time.Time
	// Reference is BHT03, the originator's batch reference; the
	// interchange control number when empty.
	Reference string
	// LineBreaks puts a line feed after every segment terminator.
	LineBreaks bool

	Claims []Claim837
}

// ClaimError reports invalid input to Write837P. Claim is the index in
// Batch837.Claims, or -1 for a batch-level field. Messages name fields and
// lengths, never values, which may be protected health information.
type ClaimError struct {
	Claim         int
	ControlNumber string // CLM01, to find the claim; empty for the batch
	Field         string // e.g. "Lines[1].Modifiers"
	Msg           string
}

func (e *ClaimError) Error() string {
	if e.Claim < 0 {
		return fmt.Sprintf("x12: batch: %s: %s", e.Field, e.Msg)
	}
	return fmt.Sprintf("x12: claim %d (CLM01 %q): %s: %s", e.Claim, e.ControlNumber, e.Field, e.Msg)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Write837P writes b as one 837P interchange. The file is built in memory
// and written in one call, so invalid input writes nothing: the error, a
// *ClaimError, names the claim and the field.
//
// Claims sharing a billing provider are grouped under one 2000A HL, in the
// order the providers first appear, keeping the claims' order within each
// provider; each claim gets its own subscriber HL (2000B) and, when the
// patient is not the subscriber, its own patient HL (2000C). The TR3
// allows several claims under one subscriber, but one per claim keeps each
// claim self-contained for a clearinghouse that splits files.
func Write837P(w io.Writer, b Batch837) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf, err := Append837P((*bp)[:0], b)
	*bp = buf
	if err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}

// Append837P appends b as one 837P interchange to dst, as Write837P
// writes it. On error dst is returned unchanged.
func Append837P(dst []byte, b Batch837) ([]byte, error) {
	if err := b.validate(); err != nil {
		return dst, err
	}
	w := Writer{sep: DefaultSeparators, newline: b.LineBreaks, buf: dst}
	w.ISA(InterchangeHeader{
		SenderQualifier: b.SenderQualifier, SenderID: b.SenderID,
		ReceiverQualifier: b.ReceiverQualifier, ReceiverID: b.ReceiverID,
		Created: b.Created, ControlNumber: b.InterchangeControl,
		AckRequested: b.AckRequested, Usage: b.Usage,
	})
	w.GS("HC", b.SenderID, b.ReceiverID, b.Created, b.GroupControl, Version837P)
	w.ST("837", 1, Version837P)

	// BHT: 0019 information source/receiver structure, 00 original,
	// CH chargeable (BILLING.md §6.2).
	w.Begin("BHT")
	w.Elem("0019")
	w.Elem("00")
	if b.Reference != "" {
		w.Elem(b.Reference)
	} else {
		w.Int(int64(b.InterchangeControl))
	}
	w.Date(b.Created)
	w.elem++
	w.startElem()
	w.buf = appendPad(w.buf, b.Created.Hour(), 2)
	w.buf = appendPad(w.buf, b.Created.Minute(), 2)
	w.Elem("CH")
	w.End()

	// 1000A submitter, 1000B receiver.
	w.nm1("41", "2", b.SenderName, "", "", "46", b.SenderID)
	w.Begin("PER")
	w.Elem("IC")
	w.Elem(b.Contact.Name)
	if b.Contact.Phone != "" {
		w.Elem("TE")
		w.Elem(b.Contact.Phone)
	}
	if b.Contact.Email != "" {
		w.Elem("EM")
		w.Elem(b.Contact.Email)
	}
	w.End()
	w.nm1("40", "2", b.ReceiverName, "", "", "46", b.ReceiverID)

	hl := 0
	for _, group := range providerGroups(b.Claims) {
		bp := &b.Claims[group[0]].BillingProvider
		hl++
		parent := hl
		w.hl(hl, 0, "20", true)
		if bp.Taxonomy != "" {
			w.Segment("PRV", "BI", "PXC", bp.Taxonomy)
		}
		w.nm1("85", "2", bp.Name, "", "", "XX", bp.NPI)
		w.address(bp.Address)
		w.Segment("REF", "EI", bp.TIN)
		for _, i := range group {
			hl = w.claim(&b.Claims[i], parent, hl)
		}
	}
	w.SE()
	w.GE()
	w.IEA()
	if w.err != nil {
		return dst, w.err
	}
	return w.buf, nil
}

// providerGroups returns the claims' indexes grouped by billing provider.
func providerGroups(claims []Claim837) [][]int {
	same := true
	for i := range claims {
		if claims[i].BillingProvider != claims[0].BillingProvider {
			same = false
			break
		}
	}
	if same {
		all := make([]int, len(claims))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	index := make(map[BillingProvider]int)
	var groups [][]int
	for i := range claims {
		g, ok := index[claims[i].BillingProvider]
		if !ok {
			g = len(groups)
			index[claims[i].BillingProvider] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// claim writes loops 2000B to 2400 for c and returns the last HL number.
func (w *Writer) claim(c *Claim837, parent, hl int) int {
	self := c.Patient == nil
	hl++
	sub := hl
	w.hl(sub, parent, "22", !self)
	// SBR02 is 18 (self) only when the subscriber is the patient; SBR09
	// is the claim filing indicator.
	w.Begin("SBR")
	w.Elem("P")
	if self {
		w.Elem("18")
	} else {
		w.Elem("")
	}
	w.Elem(c.Subscriber.GroupNumber)
	for range 5 {
		w.Elem("") // SBR04–SBR08
	}
	w.Elem(c.ClaimFilingCode)
	w.End()
	s := &c.Subscriber
	w.nm1("IL", "1", s.Last, s.First, s.Middle, "MI", s.MemberID)
	w.address(s.Address)
	w.dmg(&s.Person)
	w.nm1("PR", "2", c.PayerName, "", "", "PI", c.PayerID)

	if !self {
		hl++
		w.hl(hl, sub, "23", false)
		w.Segment("PAT", c.Patient.Relationship)
		p := &c.Patient.Person
		w.nm1("QC", "1", p.Last, p.First, p.Middle, "", "")
		w.address(p.Address)
		w.dmg(p)
	}

	// 2300. CLM05 is place of service : B (the POS code set) : frequency;
	// CLM06–09 are provider signature on file, assignment accepted,
	// benefits assigned and release of information (BILLING.md §6.2).
	w.Begin("CLM")
	w.Elem(c.ControlNumber)
	w.Money(c.TotalChargeCents)
	w.Elem("")
	w.Elem("")
	w.Comp(c.PlaceOfService, "B", or(c.Frequency, "1"))
	w.Elem("Y")
	w.Elem("A")
	w.Elem("Y")
	w.Elem("Y")
	w.End()
	// The TR3 lists the 2300 REF usages with prior authorization (G1)
	// before the payer claim control number (F8).
	if c.PriorAuth != "" {
		w.Segment("REF", "G1", c.PriorAuth)
	}
	if c.OriginalRef != "" {
		w.Segment("REF", "F8", c.OriginalRef)
	}
	// HI: ABK principal diagnosis, then ABF other diagnoses (ICD-10-CM).
	w.Begin("HI")
	for i, d := range c.Diagnoses {
		if i == 0 {
			w.Comp("ABK", d)
		} else {
			w.Comp("ABF", d)
		}
	}
	w.End()
	// 2310A: the physician/NPP who certified the therapy plan of care is
	// the referring provider on a professional claim (VERIFICATION.md §7).
	if r := c.Referring; r != nil {
		w.nm1("DN", "1", r.Last, r.First, "", "XX", r.NPI)
	}
	if r := c.Rendering; r != nil {
		w.nm1("82", "1", r.Last, r.First, "", "XX", r.NPI)
		if r.Taxonomy != "" {
			w.Segment("PRV", "PE", "PXC", r.Taxonomy)
		}
	}

	for i := range c.Lines {
		l := &c.Lines[i]
		w.Begin("LX")
		w.Int(int64(i + 1))
		w.End()
		w.Begin("SV1")
		var proc [6]string
		proc[0], proc[1] = "HC", l.Code
		n := 2 + copy(proc[2:], l.Modifiers)
		w.Comp(proc[:n]...)
		w.Money(l.ChargeCents)
		w.Elem("UN")
		w.Int(int64(l.Units))
		w.Elem("") // SV105 place of service only when it differs from CLM05-1
		w.Elem("")
		var ptrs [4]string
		for k, p := range l.DiagnosisPointers {
			ptrs[k] = pointerText[p]
		}
		w.Comp(ptrs[:len(l.DiagnosisPointers)]...)
		w.End()
		w.Begin("DTP")
		w.Elem("472")
		w.Elem("D8")
		w.Date(l.DateOfService)
		w.End()
		w.Segment("REF", "6R", l.ControlNumber)
	}
	return hl
}

var pointerText = [...]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}

func (w *Writer) hl(id, parent int, level string, children bool) {
	w.Begin("HL")
	w.Int(int64(id))
	if parent > 0 {
		w.Int(int64(parent))
	} else {
		w.Elem("")
	}
	w.Elem(level)
	if children {
		w.Elem("1")
	} else {
		w.Elem("0")
	}
	w.End()
}

// nm1 writes NM1*entity*type*last*first*middle***qual*id.
func (w *Writer) nm1(entity, kind, last, first, middle, qual, id string) {
	w.Begin("NM1")
	w.Elem(entity)
	w.Elem(kind)
	w.Elem(last)
	w.Elem(first)
	w.Elem(middle)
	w.Elem("")
	w.Elem("")
	w.Elem(qual)
	w.Elem(id)
	w.End()
}

func (w *Writer) address(a Address) {
	if a.empty() {
		return
	}
	w.Segment("N3", a.Line1, a.Line2)
	w.Segment("N4", a.City, a.State, a.ZIP)
}

func (w *Writer) dmg(p *Person) {
	if p.BirthDate.IsZero() {
		return
	}
	w.Begin("DMG")
	w.Elem("D8")
	w.Date(p.BirthDate)
	w.Elem(p.Sex)
	w.End()
}

// validator collects the first problem with a batch.
//
// Field names are joined from prefix or line only when a check fails, so
// validating a good claim allocates nothing.
type validator struct {
	claim  int
	cn     string
	prefix string // e.g. "Subscriber."
	line   int    // index of the line being checked, or -1
	err    *ClaimError
}

func (v *validator) fail(field, format string, args ...any) {
	if v.err != nil {
		return
	}
	if v.line >= 0 {
		field = "Lines[" + strconv.Itoa(v.line) + "]." + field
	} else {
		field = v.prefix + field
	}
	v.err = &ClaimError{Claim: v.claim, ControlNumber: v.cn, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// text checks a free-text or code value: required or not, at most max
// bytes, and free of separators and control characters, which X12 cannot
// carry (there is no escape).
func (v *validator) text(field, s string, required bool, max int) {
	if v.err != nil {
		return
	}
	if s == "" {
		if required {
			v.fail(field, "missing")
		}
		return
	}
	if len(s) > max {
		v.fail(field, "%d characters, at most %d allowed", len(s), max)
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '*' || c == ':' || c == '^' || c == '~':
			v.fail(field, "contains the separator %q at position %d", c, i+1)
			return
		case c < ' ' || c == 0x7f:
			v.fail(field, "contains a control character at position %d", i+1)
			return
		}
	}
}

// digits checks a value that must be n digits (n may be one of two lengths).
func (v *validator) digits(field, s string, lengths ...int) {
	if v.err != nil {
		return
	}
	if s == "" {
		v.fail(field, "missing")
		return
	}
	ok := false
	for _, n := range lengths {
		ok = ok || len(s) == n
	}
	if !ok || !isDigits(s) {
		v.fail(field, "must be %s digits, got %d characters", lengthsText(lengths), len(s))
	}
}

func lengthsText(lengths []int) string {
	if len(lengths) == 1 {
		return strconv.Itoa(lengths[0])
	}
	return strconv.Itoa(lengths[0]) + " or " + strconv.Itoa(lengths[1])
}

// address checks an address; field names are relative to v.prefix, which
// the caller points at the address.
func (v *validator) address(a Address, zip9 bool) {
	v.text("Line1", a.Line1, true, 55)
	v.text("Line2", a.Line2, false, 55)
	v.text("City", a.City, true, 30)
	v.text("State", a.State, true, 2)
	if v.err == nil && len(a.State) != 2 {
		v.fail("State", "must be 2 letters")
	}
	if zip9 {
		// The billing provider's N403 must be the full ZIP+4 (BILLING.md §5).
		v.digits("ZIP", a.ZIP, 9)
	} else {
		v.digits("ZIP", a.ZIP, 5, 9)
	}
}

// person checks a subscriber or patient; prefix and addrPrefix are
// constants so that a good claim costs no string building.
func (v *validator) person(prefix, addrPrefix string, p *Person, needDemographics bool) {
	v.prefix = prefix
	v.text("Last", p.Last, true, 60)
	v.text("First", p.First, false, 35)
	v.text("Middle", p.Middle, false, 25)
	if needDemographics && p.BirthDate.IsZero() {
		v.fail("BirthDate", "missing")
	}
	if needDemographics || p.Sex != "" {
		if p.Sex != "F" && p.Sex != "M" && p.Sex != "U" {
			v.fail("Sex", "must be F, M or U")
		}
	}
	if needDemographics || !p.Address.empty() {
		v.prefix = addrPrefix
		v.address(p.Address, false)
	}
	v.prefix = ""
}

func (v *validator) npi(field, npi string) {
	// The check digit is the scrubber's concern (BILLING.md §5); the
	// writer needs the shape the NM109 XX qualifier promises.
	v.digits(field, npi, 10)
}

func (v *validator) provider(prefix string, p *Provider) {
	v.prefix = prefix
	v.text("Last", p.Last, true, 60)
	v.text("First", p.First, true, 35)
	v.npi("NPI", p.NPI)
	v.taxonomy("Taxonomy", p.Taxonomy)
	v.prefix = ""
}

func (v *validator) taxonomy(field, t string) {
	v.text(field, t, false, 10)
	if v.err == nil && t != "" && len(t) != 10 {
		v.fail(field, "must be 10 characters, got %d", len(t))
	}
}

func (b *Batch837) validate() error {
	v := validator{claim: -1, line: -1}
	v.text("SenderQualifier", b.SenderQualifier, false, 2)
	v.text("SenderID", b.SenderID, true, 15)
	v.text("SenderName", b.SenderName, true, 60)
	v.text("ReceiverQualifier", b.ReceiverQualifier, false, 2)
	v.text("ReceiverID", b.ReceiverID, true, 15)
	v.text("ReceiverName", b.ReceiverName, true, 60)
	v.text("Contact.Name", b.Contact.Name, false, 60)
	v.text("Contact.Phone", b.Contact.Phone, false, 256)
	v.text("Contact.Email", b.Contact.Email, false, 256)
	v.text("Reference", b.Reference, false, 50)
	switch {
	case v.err != nil:
	case b.Contact.Phone == "" && b.Contact.Email == "":
		v.fail("Contact", "a phone number or an email address is required (1000A PER)")
	case b.InterchangeControl < 1 || b.InterchangeControl > 999999999:
		v.fail("InterchangeControl", "must be 1–999999999, got %d", b.InterchangeControl)
	case b.GroupControl < 1 || b.GroupControl > 999999999:
		v.fail("GroupControl", "must be 1–999999999, got %d", b.GroupControl)
	case b.Usage != "P" && b.Usage != "T":
		v.fail("Usage", "must be P or T")
	case b.Created.IsZero():
		v.fail("Created", "missing")
	case len(b.Claims) == 0:
		v.fail("Claims", "no claims")
	}
	if v.err != nil {
		return v.err
	}
	for i := range b.Claims {
		if err := b.Claims[i].validate(i); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks one claim as Write837P would, before it is batched.
func (c *Claim837) Validate() error { return c.validate(0) }

func (c *Claim837) validate(index int) error {
	v := validator{claim: index, cn: c.ControlNumber, line: -1}
	if len(v.cn) > 20 {
		v.cn = v.cn[:20]
	}
	v.text("ControlNumber", c.ControlNumber, true, 20)
	if len(c.PlaceOfService) != 2 || !isDigits(c.PlaceOfService) {
		v.fail("PlaceOfService", "must be 2 digits")
	}
	switch c.Frequency {
	case "", "1":
		if c.OriginalRef != "" {
			v.fail("OriginalRef", "set on an original claim (frequency 1); REF*F8 is for 7 and 8")
		}
	case "7", "8":
		if c.OriginalRef == "" {
			v.fail("OriginalRef", "missing: frequency %s needs the payer's claim control number (REF*F8)", c.Frequency)
		}
	default:
		v.fail("Frequency", "must be 1, 7 or 8")
	}
	v.text("OriginalRef", c.OriginalRef, false, 50)
	v.text("PriorAuth", c.PriorAuth, false, 50)

	if len(c.Diagnoses) == 0 {
		v.fail("Diagnoses", "none; at least the principal diagnosis is required")
	} else if len(c.Diagnoses) > 12 {
		v.fail("Diagnoses", "%d codes, at most 12 on an 837P", len(c.Diagnoses))
	}
	for i, d := range c.Diagnoses {
		if v.err != nil {
			break
		}
		if !icd10(d) {
			v.fail(fmt.Sprintf("Diagnoses[%d]", i), "not an ICD-10-CM code without the dot (3–7 characters, letter, digit, then letters or digits)")
		}
	}

	bp := &c.BillingProvider
	v.prefix = "BillingProvider."
	v.text("Name", bp.Name, true, 60)
	v.npi("NPI", bp.NPI)
	v.digits("TIN", bp.TIN, 9)
	v.taxonomy("Taxonomy", bp.Taxonomy)
	v.prefix = "BillingProvider.Address."
	v.address(bp.Address, true)
	v.prefix = ""

	v.person("Subscriber.", "Subscriber.Address.", &c.Subscriber.Person, c.Patient == nil)
	v.text("Subscriber.MemberID", c.Subscriber.MemberID, true, 80)
	v.text("Subscriber.GroupNumber", c.Subscriber.GroupNumber, false, 50)
	v.text("PayerName", c.PayerName, true, 60)
	v.text("PayerID", c.PayerID, true, 80)
	v.text("ClaimFilingCode", c.ClaimFilingCode, true, 2)
	if p := c.Patient; p != nil {
		v.person("Patient.", "Patient.Address.", &p.Person, true)
		v.text("Patient.Relationship", p.Relationship, true, 2)
		if v.err == nil && p.Relationship == "18" {
			v.fail("Patient.Relationship", "18 (self): leave Patient nil when the patient is the subscriber")
		}
	}
	if c.Referring != nil {
		v.provider("Referring.", c.Referring)
		if v.err == nil && c.Referring.Taxonomy != "" {
			v.fail("Referring.Taxonomy", "not reported in 2310A")
		}
	}
	if c.Rendering != nil {
		v.provider("Rendering.", c.Rendering)
	}

	if len(c.Lines) == 0 {
		v.fail("Lines", "no service lines")
	} else if len(c.Lines) > 50 {
		v.fail("Lines", "%d lines, at most 50 on an 837P", len(c.Lines))
	}
	var sum int64
	for i := range c.Lines {
		if v.err != nil {
			break
		}
		v.line = i
		c.Lines[i].validate(&v, len(c.Diagnoses))
		for j := range i {
			if v.err == nil && c.Lines[j].ControlNumber == c.Lines[i].ControlNumber {
				v.fail("ControlNumber", "same as Lines[%d]; REF*6R must be unique within the claim", j)
			}
		}
		v.line = -1
		sum += c.Lines[i].ChargeCents
	}
	if v.err == nil && sum != c.TotalChargeCents {
		v.fail("TotalChargeCents", "%d cents, the lines add up to %d (CLM02 must equal the sum of SV102)", c.TotalChargeCents, sum)
	}
	if v.err != nil {
		return v.err
	}
	return nil
}

// validate checks a line; v.line says which.
func (l *Line837) validate(v *validator, ndx int) {
	v.text("Code", l.Code, true, 48)
	if v.err == nil && len(l.Code) != 5 {
		v.fail("Code", "must be a 5-character HCPCS/CPT code")
	}
	if len(l.Modifiers) > 4 {
		v.fail("Modifiers", "%d modifiers, at most 4", len(l.Modifiers))
	}
	for k, m := range l.Modifiers {
		if v.err == nil && (len(m) != 2 || !isAlnum(m[0]) || !isAlnum(m[1])) {
			v.fail("Modifiers["+strconv.Itoa(k)+"]", "must be 2 letters or digits")
		}
	}
	switch {
	case v.err != nil:
	case l.ChargeCents <= 0:
		v.fail("ChargeCents", "must be positive, got %d", l.ChargeCents)
	case l.Units <= 0:
		v.fail("Units", "must be positive, got %d", l.Units)
	case len(l.DiagnosisPointers) == 0:
		v.fail("DiagnosisPointers", "none; at least one is required")
	case len(l.DiagnosisPointers) > 4:
		v.fail("DiagnosisPointers", "%d pointers, at most 4", len(l.DiagnosisPointers))
	case l.DateOfService.IsZero():
		v.fail("DateOfService", "missing")
	}
	for k, p := range l.DiagnosisPointers {
		if v.err == nil && (p < 1 || p > ndx) {
			v.fail("DiagnosisPointers["+strconv.Itoa(k)+"]", "%d does not point at one of the claim's %d diagnoses", p, ndx)
		}
	}
	v.text("ControlNumber", l.ControlNumber, true, 30)
}

// icd10 reports whether d has the shape of an ICD-10-CM code as X12
// carries it: no dot, 3–7 characters, a letter, a digit, then letters or
// digits (BILLING.md §5). Whether the code is billable is the scrubber's
// concern.
func icd10(d string) bool {
	if len(d) < 3 || len(d) > 7 {
		return false
	}
	if d[0] < 'A' || d[0] > 'Z' || d[1] < '0' || d[1] > '9' {
		return false
	}
	for i := 2; i < len(d); i++ {
		if c := d[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
