package x12

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Version835 is the HIPAA-adopted 835 implementation guide: GS08 and ST03
// (BILLING.md §6.1).
const Version835 = "005010X221A1"

// ErrUnbalanced is wrapped by the *RemitError Write835 returns when a
// line, a claim or a payment does not balance (BILLING.md §6.5).
var ErrUnbalanced = errors.New("x12: 835 does not balance")

// Remit835 is one 835 interchange: one functional group (GS01 HP) holding
// one transaction set per payment, that is per payer and payee.
type Remit835 struct {
	SenderQualifier   string // ISA05, "ZZ" when empty
	SenderID          string // ISA06 and GS02: the payer or clearinghouse
	ReceiverQualifier string // ISA07, "ZZ" when empty
	ReceiverID        string // ISA08 and GS03: the provider's submitter id
	// Separators default to DefaultSeparators when zero.
	Separators         Separators
	InterchangeControl int    // ISA13/IEA02, 1–999999999
	GroupControl       int    // GS06/GE02, 1–999999999
	Usage              string // ISA15: P production, T test
	Created            time.Time
	// LineBreaks puts a line feed after every segment terminator.
	LineBreaks bool

	Payments []Payment835
}

// Payment835 is one 835 transaction set: one payment (or notice of no
// payment) from a payer to a payee, with the claims it settles.
type Payment835 struct {
	// Handling is BPR01: C payment with remittance, I remittance only
	// (the money moves separately), H notification only, used when the
	// payment is zero (TR3 [memory]; BILLING.md §6.5).
	Handling string
	// TotalPaidCents is BPR02, the total actual provider payment. It must
	// equal Σ CLP04 − Σ PLB (BILLING.md §6.5).
	TotalPaidCents int64
	// Method is BPR04: ACH, CHK (check), BOP, FWT or NON (no payment).
	Method string
	// PayerBank and PayeeBank are BPR06–BPR09 and BPR12–BPR15, required
	// for ACH and left out otherwise.
	PayerBank, PayeeBank BankAccount
	// OriginatorID is BPR10 (ACH) and TRN03: "1" followed by the payer's
	// EIN, ten characters.
	OriginatorID string
	PaymentDate  time.Time // BPR16: the EFT effective or check date
	// TraceNumber is TRN02, the EFT trace or check number that
	// reassociates the remittance with the money (BILLING.md §6.5).
	TraceNumber    string
	ProductionDate time.Time // DTM*405; the payment date when zero

	Payer PayerInfo
	Payee PayeeInfo

	Claims []Claim835
	// Adjustments are the provider-level adjustments (PLB). A positive
	// amount reduces the payment (BILLING.md §6.5).
	Adjustments []ProviderAdjustment
	// FiscalPeriodEnd is PLB02; December 31 of the payment date's year
	// when zero.
	FiscalPeriodEnd time.Time
}

// BankAccount is a DFI routing number and account number (qualifiers 01
// ABA and DA demand deposit).
type BankAccount struct {
	RoutingNumber string
	AccountNumber string
}

// PayerInfo is loop 1000A.
type PayerInfo struct {
	Name    string  // N102
	ID      string  // REF*2U, the payer id claims are sent to; optional
	Address Address // N3/N4, written when set
	// Contact is PER*BL, the payer's technical contact; at least one of
	// Phone, Email and URL is required by the TR3.
	Contact Contact835
}

// Contact835 is a PER segment's content.
type Contact835 struct {
	Name  string
	Phone string // TE
	Email string // EM
	URL   string // UR
}

// PayeeInfo is loop 1000B.
type PayeeInfo struct {
	Name    string  // N102
	NPI     string  // N104 with qualifier XX
	TIN     string  // REF*TJ, optional
	Address Address // N3/N4, written when set
}

// Claim835 is one claim payment (loop 2100).
type Claim835 struct {
	ControlNumber string // CLP01: our CLM01
	// Status is CLP02: 1, 2, 3 processed as primary, secondary, tertiary;
	// 4 denied; 19–21 processed and forwarded; 22 reversal of a previous
	// payment (BILLING.md §6.5).
	Status           string
	ChargeCents      int64  // CLP03
	PaidCents        int64  // CLP04
	PatientCents     int64  // CLP05: must equal the PR adjustments
	FilingCode       string // CLP06: MB, MC, CI, BL, 16…
	PayerClaimNumber string // CLP07, the ICN the payer needs on a replacement
	FacilityCode     string // CLP08, the place of service
	Frequency        string // CLP09, optional
	Adjustments      []Adjustment
	Patient          Name835  // NM1*QC
	Insured          *Name835 // NM1*IL, when the insured is not the patient
	StatementFrom    time.Time
	StatementTo      time.Time // DTM*232/233, written when set
	ReceivedDate     time.Time // DTM*050, written when set
	Lines            []Line835
}

// Name835 is a person in loop 2100, with the member id when known.
type Name835 struct {
	Last, First, Middle string
	MemberID            string // NM109 with qualifier MI
}

// Line835 is one service line payment (loop 2110).
type Line835 struct {
	Code           string   // SVC01-2, HCPCS/CPT as adjudicated
	Modifiers      []string // SVC01-3…6
	ChargeCents    int64    // SVC02
	PaidCents      int64    // SVC03
	Units          int      // SVC05, units paid
	SubmittedUnits int      // SVC07, written when it differs from Units
	DateOfService  time.Time
	Adjustments    []Adjustment
	// ControlNumber is REF*6R, the line item control number of the 837,
	// which the payer must return (BILLING.md §6.5).
	ControlNumber string
	// AllowedCents is AMT*B6, written when positive.
	AllowedCents int64
	Remarks      []string // LQ*HE remark codes (RARC)
}

// Adjustment is one CAS triplet. Group is CO, PR, OA, PI or CR; Reason a
// CARC (BILLING.md §7).
type Adjustment struct {
	Group       string
	Reason      string
	AmountCents int64
	Quantity    int // written when non-zero
}

// ProviderAdjustment is one PLB adjustment: Reason (e.g. WO, FB, L6, 72)
// with an optional Reference, such as the claim the recovery concerns.
type ProviderAdjustment struct {
	Reason      string
	Reference   string
	AmountCents int64
}

// RemitError reports invalid input to Write835. Payment, Claim and Line are
// indexes, -1 when the problem is above that level. Messages name fields
// and amounts, never patient data.
type RemitError struct {
	Payment       int
	Claim         int
	ControlNumber string // CLP01 of the claim, to find it
	Line          int
	LineControl   string // REF*6R of the line
	Field         string
	Msg           string
	Unbalanced    bool // the error wraps ErrUnbalanced
}

func (e *RemitError) Error() string {
	where := "x12: 835"
	if e.Payment >= 0 {
		where += fmt.Sprintf(" payment %d", e.Payment)
	}
	if e.Claim >= 0 {
		where += fmt.Sprintf(" claim %d (CLP01 %q)", e.Claim, e.ControlNumber)
	}
	if e.Line >= 0 {
		where += fmt.Sprintf(" line %d (REF*6R %q)", e.Line, e.LineControl)
	}
	return where + ": " + e.Field + ": " + e.Msg
}

// Unwrap returns ErrUnbalanced for a balancing error.
func (e *RemitError) Unwrap() error {
	if e.Unbalanced {
		return ErrUnbalanced
	}
	return nil
}

// Write835 writes r as one 835 interchange. r is checked first, including
// every balancing rule of BILLING.md §6.5:
//
//   - line: SVC02 − Σ line CAS = SVC03;
//   - claim: CLP03 − Σ(claim CAS + line CAS) = CLP04, CLP03 = Σ SVC02 when
//     there are lines, and CLP05 = Σ PR amounts;
//   - payment: Σ CLP04 − Σ PLB = BPR02.
//
// An unbalanced remittance is never written: the error is a *RemitError
// naming the payment, claim and line, wrapping ErrUnbalanced. Nothing is
// written on any error.
func Write835(w io.Writer, r Remit835) error {
	buf, err := Append835(nil, r)
	if err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}

// Append835 appends r as one 835 interchange to dst, as Write835 writes
// it. On error dst is returned unchanged.
func Append835(dst []byte, r Remit835) ([]byte, error) {
	sep := r.Separators
	if sep == (Separators{}) {
		sep = DefaultSeparators
	}
	if err := r.validate(sep); err != nil {
		return dst, err
	}
	w := Writer{sep: sep, newline: r.LineBreaks, buf: dst}
	w.ISA(InterchangeHeader{
		SenderQualifier: r.SenderQualifier, SenderID: r.SenderID,
		ReceiverQualifier: r.ReceiverQualifier, ReceiverID: r.ReceiverID,
		Created: r.Created, ControlNumber: r.InterchangeControl, Usage: r.Usage,
	})
	w.GS("HP", r.SenderID, r.ReceiverID, r.Created, r.GroupControl, Version835)
	for i := range r.Payments {
		w.payment835(i+1, &r.Payments[i])
	}
	w.GE()
	w.IEA()
	if w.err != nil {
		return dst, w.err
	}
	return w.buf, nil
}

func (w *Writer) payment835(n int, p *Payment835) {
	w.ST("835", n, Version835)

	// BPR: handling, amount, C (credit), method; for ACH the CCP format
	// with the payer's and the payee's bank accounts (01 ABA routing, DA
	// demand deposit) and the originating company id; BPR16 the date
	// (BILLING.md §6.5; layout of the shared 835 samples).
	w.Begin("BPR")
	w.Elem(p.Handling)
	w.Money(p.TotalPaidCents)
	w.Elem("C")
	w.Elem(p.Method)
	if p.Method == "ACH" {
		w.Elem("CCP")
		w.Elem("01")
		w.Elem(p.PayerBank.RoutingNumber)
		w.Elem("DA")
		w.Elem(p.PayerBank.AccountNumber)
		w.Elem(p.OriginatorID)
		w.Elem("")
		w.Elem("01")
		w.Elem(p.PayeeBank.RoutingNumber)
		w.Elem("DA")
		w.Elem(p.PayeeBank.AccountNumber)
	} else {
		for range 11 {
			w.Elem("") // BPR05–BPR15
		}
	}
	w.Date(p.PaymentDate)
	w.End()
	w.Segment("TRN", "1", p.TraceNumber, p.OriginatorID)
	prod := p.ProductionDate
	if prod.IsZero() {
		prod = p.PaymentDate
	}
	w.Begin("DTM")
	w.Elem("405")
	w.Date(prod)
	w.End()

	// 1000A payer: N1, N3/N4, REF*2U, PER*BL.
	w.Segment("N1", "PR", p.Payer.Name)
	w.address(p.Payer.Address)
	if p.Payer.ID != "" {
		w.Segment("REF", "2U", p.Payer.ID)
	}
	c := p.Payer.Contact
	w.Begin("PER")
	w.Elem("BL")
	w.Elem(c.Name)
	for _, q := range [...][2]string{{"TE", c.Phone}, {"EM", c.Email}, {"UR", c.URL}} {
		if q[1] != "" {
			w.Elem(q[0])
			w.Elem(q[1])
		}
	}
	w.End()

	// 1000B payee: N1*PE with the NPI, N3/N4, REF*TJ (tax id).
	w.Segment("N1", "PE", p.Payee.Name, "XX", p.Payee.NPI)
	w.address(p.Payee.Address)
	if p.Payee.TIN != "" {
		w.Segment("REF", "TJ", p.Payee.TIN)
	}

	if len(p.Claims) > 0 {
		// One header number for all claims: LX groups claims for the
		// payee's own sorting, which a professional remittance rarely needs.
		w.Segment("LX", "1")
	}
	for i := range p.Claims {
		w.claim835(&p.Claims[i])
	}

	if len(p.Adjustments) > 0 {
		fp := p.FiscalPeriodEnd
		if fp.IsZero() {
			fp = time.Date(p.PaymentDate.Year(), 12, 31, 0, 0, 0, 0, time.UTC)
		}
		// PLB carries up to six adjustments; more continue in another
		// PLB with the same provider and date.
		for start := 0; start < len(p.Adjustments); start += 6 {
			w.Begin("PLB")
			w.Elem(p.Payee.NPI)
			w.Date(fp)
			for _, a := range p.Adjustments[start:min(start+6, len(p.Adjustments))] {
				w.Comp(a.Reason, a.Reference)
				w.Money(a.AmountCents)
			}
			w.End()
		}
	}
	w.SE()
}

func (w *Writer) claim835(c *Claim835) {
	w.Begin("CLP")
	w.Elem(c.ControlNumber)
	w.Elem(c.Status)
	w.Money(c.ChargeCents)
	w.Money(c.PaidCents)
	if c.PatientCents != 0 {
		w.Money(c.PatientCents)
	} else {
		w.Elem("") // CLP05 is sent only when there is patient responsibility
	}
	w.Elem(c.FilingCode)
	w.Elem(c.PayerClaimNumber)
	w.Elem(c.FacilityCode)
	w.Elem(c.Frequency)
	w.End()
	w.cas(c.Adjustments)
	n := &c.Patient
	w.nm1("QC", "1", n.Last, n.First, n.Middle, qualifier(n.MemberID), n.MemberID)
	if n := c.Insured; n != nil {
		w.nm1("IL", "1", n.Last, n.First, n.Middle, qualifier(n.MemberID), n.MemberID)
	}
	// 2100 DTM order in the TR3: statement dates, then claim received.
	if !c.StatementFrom.IsZero() {
		w.Begin("DTM")
		w.Elem("232")
		w.Date(c.StatementFrom)
		w.End()
	}
	if !c.StatementTo.IsZero() {
		w.Begin("DTM")
		w.Elem("233")
		w.Date(c.StatementTo)
		w.End()
	}
	if !c.ReceivedDate.IsZero() {
		w.Begin("DTM")
		w.Elem("050")
		w.Date(c.ReceivedDate)
		w.End()
	}
	for i := range c.Lines {
		l := &c.Lines[i]
		w.Begin("SVC")
		var proc [6]string
		proc[0], proc[1] = "HC", l.Code
		k := 2 + copy(proc[2:], l.Modifiers)
		w.Comp(proc[:k]...)
		w.Money(l.ChargeCents)
		w.Money(l.PaidCents)
		w.Elem("") // SVC04: revenue code, institutional
		w.Int(int64(l.Units))
		if l.SubmittedUnits != 0 && l.SubmittedUnits != l.Units {
			w.Elem("") // SVC06: only when the payer changed the code
			w.Int(int64(l.SubmittedUnits))
		}
		w.End()
		if !l.DateOfService.IsZero() {
			w.Begin("DTM")
			w.Elem("472")
			w.Date(l.DateOfService)
			w.End()
		}
		w.cas(l.Adjustments)
		if l.ControlNumber != "" {
			w.Segment("REF", "6R", l.ControlNumber)
		}
		if l.AllowedCents > 0 {
			w.Begin("AMT")
			w.Elem("B6")
			w.Money(l.AllowedCents)
			w.End()
		}
		for _, rk := range l.Remarks {
			w.Segment("LQ", "HE", rk)
		}
	}
}

func qualifier(id string) string {
	if id == "" {
		return ""
	}
	return "MI"
}

// cas writes adjustments as CAS segments: one per group, in the order the
// groups first appear, with up to six reason/amount/quantity triplets each
// and further segments for the same group beyond six (BILLING.md §6.5).
func (w *Writer) cas(adjs []Adjustment) {
	var done [8]string // groups written; there are five codes
	nd := 0
	for i := range adjs {
		g := adjs[i].Group
		seen := false
		for _, d := range done[:nd] {
			seen = seen || d == g
		}
		if seen {
			continue
		}
		if nd < len(done) {
			done[nd] = g
			nd++
		}
		k := 0
		for j := i; j < len(adjs); j++ {
			a := &adjs[j]
			if a.Group != g {
				continue
			}
			if k%6 == 0 {
				if k > 0 {
					w.End()
				}
				w.Begin("CAS")
				w.Elem(g)
			}
			w.Elem(a.Reason)
			w.Money(a.AmountCents)
			if a.Quantity != 0 {
				w.Int(int64(a.Quantity))
			} else {
				w.Elem("")
			}
			k++
		}
		w.End()
	}
}

// remitValidator collects the first problem with a remittance.
type remitValidator struct {
	sep     Separators
	payment int
	claim   int
	cn      string
	line    int
	lc      string
	err     *RemitError
}

func (v *remitValidator) fail(unbalanced bool, field, format string, args ...any) {
	if v.err != nil {
		return
	}
	v.err = &RemitError{Payment: v.payment, Claim: v.claim, ControlNumber: v.cn, Line: v.line, LineControl: v.lc,
		Field: field, Msg: fmt.Sprintf(format, args...), Unbalanced: unbalanced}
}

// text checks a value for presence, length and the separators, which X12
// cannot escape.
func (v *remitValidator) text(field, s string, required bool, max int) {
	if v.err != nil {
		return
	}
	if s == "" {
		if required {
			v.fail(false, field, "missing")
		}
		return
	}
	if len(s) > max {
		v.fail(false, field, "%d characters, at most %d allowed", len(s), max)
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == v.sep.Element || c == v.sep.Component || c == v.sep.Segment || c == v.sep.Repetition && c != 0 {
			v.fail(false, field, "contains the separator %q at position %d", c, i+1)
			return
		}
		if c < ' ' || c == 0x7f {
			v.fail(false, field, "contains a control character at position %d", i+1)
			return
		}
	}
}

func (v *remitValidator) oneOf(field, s string, allowed ...string) {
	if v.err != nil {
		return
	}
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.fail(false, field, "must be one of %v", allowed)
}

func (r *Remit835) validate(sep Separators) error {
	if !sep.valid() || sep.Repetition == 0 {
		return &RemitError{Payment: -1, Claim: -1, Line: -1, Field: "Separators", Msg: "not four distinct non-alphanumeric characters"}
	}
	v := remitValidator{sep: sep, payment: -1, claim: -1, line: -1}
	v.text("SenderQualifier", r.SenderQualifier, false, 2)
	v.text("SenderID", r.SenderID, true, 15)
	v.text("ReceiverQualifier", r.ReceiverQualifier, false, 2)
	v.text("ReceiverID", r.ReceiverID, true, 15)
	switch {
	case v.err != nil:
	case r.InterchangeControl < 1 || r.InterchangeControl > 999999999:
		v.fail(false, "InterchangeControl", "must be 1–999999999, got %d", r.InterchangeControl)
	case r.GroupControl < 1 || r.GroupControl > 999999999:
		v.fail(false, "GroupControl", "must be 1–999999999, got %d", r.GroupControl)
	case r.Usage != "P" && r.Usage != "T":
		v.fail(false, "Usage", "must be P or T")
	case r.Created.IsZero():
		v.fail(false, "Created", "missing")
	case len(r.Payments) == 0:
		v.fail(false, "Payments", "none")
	}
	for i := range r.Payments {
		if v.err != nil {
			break
		}
		v.payment = i
		r.Payments[i].validate(&v)
	}
	if v.err != nil {
		return v.err
	}
	return nil
}

func (p *Payment835) validate(v *remitValidator) {
	v.oneOf("Handling", p.Handling, "C", "D", "H", "I", "P")
	v.oneOf("Method", p.Method, "ACH", "BOP", "CHK", "FWT", "NON")
	switch {
	case v.err != nil:
	case p.TotalPaidCents < 0:
		// A payer with a net debt carries it forward with PLB FB rather
		// than sending a negative payment (BILLING.md §6.5).
		v.fail(false, "TotalPaidCents", "negative (%d)", p.TotalPaidCents)
	case p.Handling == "H" && p.TotalPaidCents != 0:
		v.fail(false, "Handling", "H (notification only) with a payment of %d cents", p.TotalPaidCents)
	case p.Handling == "H" && p.Method != "NON":
		v.fail(false, "Method", "must be NON with handling H")
	case p.Handling != "H" && p.Method == "NON" && p.TotalPaidCents != 0:
		v.fail(false, "Method", "NON with a payment of %d cents", p.TotalPaidCents)
	case p.PaymentDate.IsZero():
		v.fail(false, "PaymentDate", "missing (BPR16)")
	}
	if p.Method == "ACH" {
		v.text("PayerBank.RoutingNumber", p.PayerBank.RoutingNumber, true, 12)
		v.text("PayerBank.AccountNumber", p.PayerBank.AccountNumber, true, 35)
		v.text("PayeeBank.RoutingNumber", p.PayeeBank.RoutingNumber, true, 12)
		v.text("PayeeBank.AccountNumber", p.PayeeBank.AccountNumber, true, 35)
	}
	v.text("OriginatorID", p.OriginatorID, true, 10)
	v.text("TraceNumber", p.TraceNumber, true, 50)
	v.text("Payer.Name", p.Payer.Name, true, 60)
	v.text("Payer.ID", p.Payer.ID, false, 50)
	v.address835("Payer.Address", p.Payer.Address)
	c := p.Payer.Contact
	v.text("Payer.Contact.Name", c.Name, false, 60)
	v.text("Payer.Contact.Phone", c.Phone, false, 256)
	v.text("Payer.Contact.Email", c.Email, false, 256)
	v.text("Payer.Contact.URL", c.URL, false, 256)
	if v.err == nil && c.Phone == "" && c.Email == "" && c.URL == "" {
		v.fail(false, "Payer.Contact", "a phone, email or URL is required (1000A PER*BL)")
	}
	v.text("Payee.Name", p.Payee.Name, true, 60)
	v.text("Payee.NPI", p.Payee.NPI, true, 10)
	if v.err == nil && (len(p.Payee.NPI) != 10 || !isDigits(p.Payee.NPI)) {
		v.fail(false, "Payee.NPI", "must be 10 digits")
	}
	v.text("Payee.TIN", p.Payee.TIN, false, 50)
	v.address835("Payee.Address", p.Payee.Address)

	var paid int64
	for i := range p.Claims {
		if v.err != nil {
			return
		}
		v.claim, v.cn = i, p.Claims[i].ControlNumber
		p.Claims[i].validate(v)
		paid += p.Claims[i].PaidCents
	}
	v.claim, v.cn = -1, ""
	var plb int64
	for i, a := range p.Adjustments {
		f := fmt.Sprintf("Adjustments[%d]", i)
		v.text(f+".Reason", a.Reason, true, 2)
		v.text(f+".Reference", a.Reference, false, 50)
		plb += a.AmountCents
	}
	if v.err == nil && paid-plb != p.TotalPaidCents {
		v.fail(true, "TotalPaidCents", "BPR02 is %d cents but Σ CLP04 %d − Σ PLB %d = %d", p.TotalPaidCents, paid, plb, paid-plb)
	}
}

func (v *remitValidator) address835(field string, a Address) {
	if a.empty() {
		return
	}
	v.text(field+".Line1", a.Line1, true, 55)
	v.text(field+".Line2", a.Line2, false, 55)
	v.text(field+".City", a.City, true, 30)
	v.text(field+".State", a.State, false, 2)
	v.text(field+".ZIP", a.ZIP, false, 15)
}

func (v *remitValidator) adjustments(field string, adjs []Adjustment) (sum, pr int64) {
	for i, a := range adjs {
		f := fmt.Sprintf("%s[%d]", field, i)
		v.oneOf(f+".Group", a.Group, "CO", "CR", "OA", "PI", "PR")
		v.text(f+".Reason", a.Reason, true, 5)
		if v.err == nil && a.Quantity < 0 {
			v.fail(false, f+".Quantity", "negative")
		}
		sum += a.AmountCents
		if a.Group == "PR" {
			pr += a.AmountCents
		}
	}
	return sum, pr
}

func (c *Claim835) validate(v *remitValidator) {
	v.text("ControlNumber", c.ControlNumber, true, 38)
	v.oneOf("Status", c.Status, "1", "2", "3", "4", "19", "20", "21", "22", "23", "25")
	v.text("FilingCode", c.FilingCode, true, 2)
	v.text("PayerClaimNumber", c.PayerClaimNumber, true, 50)
	v.text("FacilityCode", c.FacilityCode, false, 2)
	v.text("Frequency", c.Frequency, false, 1)
	v.text("Patient.Last", c.Patient.Last, true, 60)
	v.text("Patient.First", c.Patient.First, false, 35)
	v.text("Patient.Middle", c.Patient.Middle, false, 25)
	v.text("Patient.MemberID", c.Patient.MemberID, false, 80)
	if n := c.Insured; n != nil {
		v.text("Insured.Last", n.Last, true, 60)
		v.text("Insured.First", n.First, false, 35)
		v.text("Insured.Middle", n.Middle, false, 25)
		v.text("Insured.MemberID", n.MemberID, true, 80)
	}
	if v.err == nil && c.Status == "4" && c.PaidCents != 0 {
		v.fail(false, "PaidCents", "a denied claim (CLP02 4) pays %d cents", c.PaidCents)
	}
	adj, pr := v.adjustments("Adjustments", c.Adjustments)

	var charged int64
	for i := range c.Lines {
		if v.err != nil {
			return
		}
		l := &c.Lines[i]
		v.line, v.lc = i, l.ControlNumber
		v.text("Code", l.Code, true, 48)
		if len(l.Modifiers) > 4 {
			v.fail(false, "Modifiers", "%d modifiers, at most 4", len(l.Modifiers))
		}
		for k, m := range l.Modifiers {
			v.text(fmt.Sprintf("Modifiers[%d]", k), m, true, 2)
		}
		v.text("ControlNumber", l.ControlNumber, false, 50)
		for k, rk := range l.Remarks {
			v.text(fmt.Sprintf("Remarks[%d]", k), rk, true, 30)
		}
		if v.err == nil && (l.Units < 0 || l.SubmittedUnits < 0) {
			v.fail(false, "Units", "negative")
		}
		la, lpr := v.adjustments("Adjustments", l.Adjustments)
		if v.err == nil && l.ChargeCents-la != l.PaidCents {
			v.fail(true, "PaidCents", "SVC03 is %d cents but SVC02 %d − Σ CAS %d = %d", l.PaidCents, l.ChargeCents, la, l.ChargeCents-la)
		}
		adj += la
		pr += lpr
		charged += l.ChargeCents
	}
	v.line, v.lc = -1, ""
	switch {
	case v.err != nil:
	case len(c.Lines) > 0 && charged != c.ChargeCents:
		v.fail(true, "ChargeCents", "CLP03 is %d cents but the lines' SVC02 add up to %d", c.ChargeCents, charged)
	case c.ChargeCents-adj != c.PaidCents:
		v.fail(true, "PaidCents", "CLP04 is %d cents but CLP03 %d − Σ CAS %d = %d", c.PaidCents, c.ChargeCents, adj, c.ChargeCents-adj)
	case pr != c.PatientCents:
		v.fail(true, "PatientCents", "CLP05 is %d cents but the PR adjustments add up to %d", c.PatientCents, pr)
	}
}
