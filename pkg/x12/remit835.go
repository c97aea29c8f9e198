package x12

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file reads 835 Health Care Claim Payment/Advice transaction sets
// (005010X221A1). Segment roles, the CLP02 status codes, the CAS groups and
// the balancing rules follow BILLING.md §6.5, which records them from TR3
// knowledge and the shared samples (LinuxForHealth, edi-835-parser,
// tastypackets, pyx12). The types mirror the writer model of x835w.go
// (Payment835, Claim835, Line835) field for field where the two overlap,
// and reuse Adjustment, ProviderAdjustment, Address and BankAccount, so
// that Remit.Payment835 turns what was read back into what Write835 wrote.

// ClaimStatus is CLP02, the claim status code.
type ClaimStatus string

// CLP02 codes of 5010 (BILLING.md §6.5; https://stedi.com/edi/x12-004060/element/1029).
const (
	StatusPrimary            ClaimStatus = "1"  // processed as primary
	StatusSecondary          ClaimStatus = "2"  // processed as secondary
	StatusTertiary           ClaimStatus = "3"  // processed as tertiary
	StatusDenied             ClaimStatus = "4"  // denied
	StatusPrimaryForwarded   ClaimStatus = "19" // processed as primary, forwarded to additional payer(s)
	StatusSecondaryForwarded ClaimStatus = "20" // processed as secondary, forwarded
	StatusTertiaryForwarded  ClaimStatus = "21" // processed as tertiary, forwarded
	StatusReversal           ClaimStatus = "22" // reversal of previous payment
	StatusNotOurClaim        ClaimStatus = "23" // not our claim, forwarded to additional payer(s)
	StatusPredetermination   ClaimStatus = "25" // predetermination pricing only, no payment
)

var clpStatusWords = map[ClaimStatus]string{
	StatusPrimary:            "processed as primary",
	StatusSecondary:          "processed as secondary",
	StatusTertiary:           "processed as tertiary",
	StatusDenied:             "denied",
	StatusPrimaryForwarded:   "processed as primary, forwarded to additional payer",
	StatusSecondaryForwarded: "processed as secondary, forwarded to additional payer",
	StatusTertiaryForwarded:  "processed as tertiary, forwarded to additional payer",
	StatusReversal:           "reversal of previous payment",
	StatusNotOurClaim:        "not our claim, forwarded to additional payer",
	StatusPredetermination:   "predetermination pricing only, no payment",
}

// Words describes the status; "unknown status" for a code 5010 lacks.
func (s ClaimStatus) Words() string {
	if w, ok := clpStatusWords[s]; ok {
		return w
	}
	return "unknown status"
}

// Remit is one 835 transaction set: one payment, or notice of no payment,
// from a payer to a payee with the claims it settles.
type Remit struct {
	// Envelope.
	InterchangeControl string // ISA13
	SenderID           string // ISA06
	ReceiverID         string // ISA08
	GroupControl       string // GS06
	Version            string // ST03, or GS08 when ST03 is empty
	ControlNumber      string // ST02
	Segment            int    // position of the ST in the file

	// BPR, financial information.
	Handling       string // BPR01: C, D, H, I, P
	TotalPaidCents int64  // BPR02, the total actual provider payment
	CreditDebit    string // BPR03: C or D
	Method         string // BPR04: ACH, BOP, CHK, FWT, NON
	Format         string // BPR05: CCP, CTX
	// PayerBank is BPR06–BPR09, PayeeBank BPR12–BPR15; the qualifiers are
	// BPR06/BPR08 and BPR12/BPR14 (01 ABA, DA demand deposit…).
	PayerBank, PayeeBank                         BankAccount
	PayerDFIQualifier, PayerAccountQualifier     string
	PayeeDFIQualifier, PayeeAccountQualifier     string
	OriginatorID                                 string    // BPR10
	OriginatorSupplement                         string    // BPR11
	PaymentDate                                  time.Time // BPR16, zero when absent
	TraceType                                    string    // TRN01
	TraceNumber                                  string    // TRN02, the reassociation key
	TraceOriginatorID, TraceOriginatorSupplement string    // TRN03, TRN04
	Currency                                     string    // CUR02, when sent
	Refs                                         []Ref     // header REF: EV receiver, F2 version
	ProductionDate                               time.Time // DTM*405
	Payer                                        Party     // loop 1000A
	Payee                                        Party     // loop 1000B
	Headers                                      []Header  // LX with TS3/TS2
	Claims                                       []Claim
	PLB                                          []PLB
}

// Ref is a REF segment: qualifier and value.
type Ref struct {
	Qualifier string
	Value     string
}

// PartyContact is a PER segment: PER01 function (CX claims, BL technical, IC
// website) and the communication numbers.
type PartyContact struct {
	Function                          string
	Name                              string
	Phone, Extension, Email, URL, Fax string
}

// Party is the payer (1000A, N1*PR) or payee (1000B, N1*PE).
type Party struct {
	Name        string // N102
	IDQualifier string // N103: XV, XX, FI…
	ID          string // N104
	Address     Address
	Country     string // N404
	Refs        []Ref
	Contacts    []PartyContact
}

// Header is loop 2000: LX with the optional TS3 and TS2 provider summaries.
type Header struct {
	Number  string // LX01
	Segment int
	TS3     *Summary
	TS2     *Summary
}

// Summary is a TS3 or TS2 segment. Amounts holds each monetary element in
// cents, keyed by its name (TS305, TS309…); Quantities the counts as sent.
// Keys rather than fields because senders still use the 4010 positions
// (LinuxForHealth medicare-part-a.835 puts amounts in TS309 and TS311).
type Summary struct {
	ProviderID      string // TS301
	FacilityCode    string // TS302
	FiscalPeriodEnd time.Time
	Amounts         map[string]int64
	Quantities      map[string]string
}

// Entity is one NM1: QC patient, IL insured, 74 corrected patient, 82
// rendering provider, TT crossover carrier, PR corrected priority payer.
type Entity struct {
	Kind                string // NM102: 1 person, 2 organisation
	Last, First, Middle string
	Suffix              string
	IDQualifier         string // NM108: MI, HN, MR, XX, BS…
	ID                  string // NM109
}

// Inpatient is MIA. Amounts and quantities are keyed by element name.
type Inpatient struct {
	Amounts    map[string]int64
	Quantities map[string]string
	Remarks    []string // MIA05, MIA20–MIA23
}

// Outpatient is MOA.
type Outpatient struct {
	ReimbursementRate string // MOA01, a percentage as sent
	HCPCSPayableCents int64  // MOA02
	Remarks           []string
	ESRDCents         int64 // MOA08
	NonPayableCents   int64 // MOA09
}

// Amount is an AMT segment.
type Amount struct {
	Qualifier string
	Cents     int64
}

// Quantity is a QTY segment; the quantity is kept as sent.
type Quantity struct {
	Qualifier string
	Value     string
}

// Date is a DTM segment without a field of its own.
type Date struct {
	Qualifier string
	Date      time.Time
}

// Claim is loop 2100, one claim payment.
type Claim struct {
	Segment          int    // position of the CLP
	HeaderNumber     string // LX01 of the enclosing loop 2000
	ControlNumber    string // CLP01: our CLM01
	Status           ClaimStatus
	ChargeCents      int64  // CLP03
	PaidCents        int64  // CLP04
	PatientCents     int64  // CLP05
	FilingCode       string // CLP06
	PayerClaimNumber string // CLP07
	FacilityCode     string // CLP08
	Frequency        string // CLP09
	DRG              string // CLP11
	DRGWeight        string // CLP12
	DischargeFrac    string // CLP13
	Adjustments      []Adjustment
	Patient          Entity  // NM1*QC
	Insured          *Entity // NM1*IL
	CorrectedPatient *Entity // NM1*74
	Rendering        *Entity // NM1*82
	Crossover        *Entity // NM1*TT
	CorrectedPayer   *Entity // NM1*PR
	Inpatient        *Inpatient
	Outpatient       *Outpatient
	Refs             []Ref
	StatementFrom    time.Time      // DTM*232
	StatementTo      time.Time      // DTM*233
	ReceivedDate     time.Time      // DTM*050
	Dates            []Date         // other DTM (036 coverage expiry…)
	Contacts         []PartyContact // PER*CX
	Amounts          []Amount       // AMT*AU, D8, DY, F5, I, NL, T, T2, ZK…
	Quantities       []Quantity
	Lines            []Line
}

// Procedure is a composite procedure identifier (SVC01, SVC06).
type Procedure struct {
	Qualifier   string // HC, AD, ER, IV, N4, NU, WK…
	Code        string
	Modifiers   []string
	Description string
}

// Line is loop 2110, one service line payment.
type Line struct {
	Segment     int    // position of the SVC
	Qualifier   string // SVC01-1
	Code        string // SVC01-2 as adjudicated
	Modifiers   []string
	ChargeCents int64  // SVC02
	PaidCents   int64  // SVC03
	RevenueCode string // SVC04
	Units       int    // SVC05; a whole number of units
	// Original is SVC06, the procedure as submitted when the payer
	// re-coded it (BILLING.md §6.5: match on it as a fallback).
	Original       *Procedure
	SubmittedUnits int       // SVC07
	DateOfService  time.Time // DTM*472
	ServiceFrom    time.Time // DTM*150
	ServiceTo      time.Time // DTM*151
	Adjustments    []Adjustment
	ControlNumber  string // REF*6R
	Refs           []Ref  // other REF
	AllowedCents   int64  // AMT*B6
	Amounts        []Amount
	Quantities     []Quantity
	Remarks        []string // LQ*HE, RARC
	NCPDPRejects   []string // LQ*RX
}

// PLB is one provider-level adjustment segment.
type PLB struct {
	Segment         int
	ProviderID      string    // PLB01
	FiscalPeriodEnd time.Time // PLB02
	Adjustments     []ProviderAdjustment
}

// Read835 reads every 835 transaction set in data, in file order. The
// envelope is checked by Parse (separators from each ISA, several ISA and
// ST, line breaks between segments). Read835 then reads each set's loops
// and checks that amounts are X12 decimals with at most two decimal
// places, dates are CCYYMMDD, codes are known and segments sit in a loop
// that can hold them. Malformed input gives a *SyntaxError naming the
// segment position and element, never a value; a group that is not an
// 835 gives a *TransactionTypeError. Imbalances are not errors: see
// Remit.Check. Read835 never panics.
func Read835(data []byte) ([]Remit, error) {
	return readSets(data, "HP", "835", "835", read835, func(r *Remit, ic Interchange, g Group) {
		r.InterchangeControl = ic.Header.ControlNumber
		r.SenderID, r.ReceiverID = ic.Header.SenderID, ic.Header.ReceiverID
		r.GroupControl = g.GS.Element(6)
		if r.Version == "" {
			r.Version = g.GS.Element(8)
		}
	})
}

// Loop levels of an 835 in the order they may appear.
const (
	lvHeader = iota
	lvPayer
	lvPayee
	lvClaim
	lvLine
	lvPLB
)

type reader835 struct {
	r      *Remit
	level  int
	party  *Party
	header *Header
	claim  *Claim
	line   *Line
	hasTRN bool

	// Each claim's lines, each claim's or line's adjustments, each
	// procedure's modifiers and each line's remarks are runs of these
	// (see slab): a remittance of thousands of claims would otherwise
	// allocate several times for every line. A run of lines, adjustments
	// or remarks is closed where its owner ends, at the next CLP or SVC.
	lines   slab[Line]
	adjs    slab[Adjustment]
	mods    slab[string]
	remarks slab[string]
}

func read835(tx Transaction) (Remit, error) {
	r := Remit{ControlNumber: tx.ST.Element(2), Version: tx.ST.Element(3), Segment: tx.ST.Index}
	// Size the claims, lines and adjustments from a count of their
	// segments, so that reading a large set does not grow them: a CAS
	// holds at least one adjustment.
	var claims, lines, adjs int
	for id := range tx.ids() {
		switch id {
		case "CLP":
			claims++
		case "SVC":
			lines++
		case "CAS":
			adjs++
		}
	}
	r.Claims = make([]Claim, 0, claims)
	rd := reader835{r: &r, lines: makeSlab[Line](lines), adjs: makeSlab[Adjustment](adjs)}
	hasBPR := false
	for i, s := range tx.segments() {
		if i > 0 {
			if err := rd.segment(s); err != nil {
				return Remit{}, err
			}
			continue
		}
		if s.ID != "BPR" {
			break
		}
		if err := r.bpr(s); err != nil {
			return Remit{}, err
		}
		hasBPR = true
	}
	if !hasBPR {
		return Remit{}, &SyntaxError{Segment: tx.ST.Index + 1, ID: "BPR", Msg: "the 835 must start with BPR"}
	}
	switch {
	case !rd.hasTRN:
		return Remit{}, &SyntaxError{Segment: tx.SE.Index, ID: "TRN", Msg: "the 835 has no TRN (reassociation trace number)"}
	case r.Payer.Name == "" && r.Payer.ID == "" && rd.level < lvPayer:
		return Remit{}, &SyntaxError{Segment: tx.SE.Index, ID: "N1", Msg: "the 835 has no payer (N1*PR)"}
	case rd.level < lvPayee:
		return Remit{}, &SyntaxError{Segment: tx.SE.Index, ID: "N1", Msg: "the 835 has no payee (N1*PE)"}
	}
	return r, nil
}

func (r *Remit) bpr(s Segment) error {
	var err error
	r.Handling = s.Element(1)
	if !oneOf(r.Handling, "C", "D", "H", "I", "P", "U", "X") {
		return segError(s, 1, "BPR01 is not a transaction handling code")
	}
	if r.TotalPaidCents, err = amount835(s, 2, true); err != nil {
		return err
	}
	r.CreditDebit, r.Method, r.Format = s.Element(3), s.Element(4), s.Element(5)
	if !oneOf(r.CreditDebit, "C", "D") {
		return segError(s, 3, "BPR03 is not C or D")
	}
	if !oneOf(r.Method, "ACH", "BOP", "CHK", "FWT", "NON") {
		return segError(s, 4, "BPR04 is not a payment method (ACH, BOP, CHK, FWT, NON)")
	}
	r.PayerDFIQualifier, r.PayerBank.RoutingNumber = s.Element(6), s.Element(7)
	r.PayerAccountQualifier, r.PayerBank.AccountNumber = s.Element(8), s.Element(9)
	r.OriginatorID, r.OriginatorSupplement = s.Element(10), s.Element(11)
	r.PayeeDFIQualifier, r.PayeeBank.RoutingNumber = s.Element(12), s.Element(13)
	r.PayeeAccountQualifier, r.PayeeBank.AccountNumber = s.Element(14), s.Element(15)
	// BPR16 is required by the TR3, but several published "5010" 835s
	// lack it (shared samples SOURCES.md): absent reads as a zero date.
	r.PaymentDate, err = date835(s, 16, false)
	return err
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (rd *reader835) segment(s Segment) error {
	r := rd.r
	if rd.level == lvPLB && s.ID != "PLB" {
		return segError(s, 0, "%s after PLB, which ends the 835", s.ID)
	}
	switch s.ID {
	case "TRN":
		if rd.level != lvHeader || rd.hasTRN {
			return segError(s, 0, "TRN must appear once, in the header")
		}
		rd.hasTRN = true
		r.TraceType, r.TraceNumber = s.Element(1), s.Element(2)
		r.TraceOriginatorID, r.TraceOriginatorSupplement = s.Element(3), s.Element(4)
		if r.TraceNumber == "" {
			return segError(s, 2, "TRN02 (trace number) is missing")
		}
	case "CUR":
		if rd.level != lvHeader {
			return segError(s, 0, "CUR outside the header")
		}
		r.Currency = s.Element(2)
	case "N1":
		return rd.n1(s)
	case "N3", "N4", "RDM":
		if rd.level != lvPayer && rd.level != lvPayee {
			return segError(s, 0, "%s outside the payer or payee loop", s.ID)
		}
		switch s.ID {
		case "N3":
			rd.party.Address.Line1, rd.party.Address.Line2 = s.Element(1), s.Element(2)
		case "N4":
			rd.party.Address.City, rd.party.Address.State, rd.party.Address.ZIP = s.Element(1), s.Element(2), s.Element(3)
			rd.party.Country = s.Element(4)
		}
	case "PER":
		c, err := per(s)
		if err != nil {
			return err
		}
		switch rd.level {
		case lvPayer, lvPayee:
			rd.party.Contacts = append(rd.party.Contacts, c)
		case lvClaim:
			rd.claim.Contacts = append(rd.claim.Contacts, c)
		default:
			return segError(s, 0, "PER outside the payer loop or a claim")
		}
	case "REF":
		ref := Ref{Qualifier: s.Element(1), Value: s.Element(2)}
		if ref.Qualifier == "" {
			return segError(s, 1, "REF01 is missing")
		}
		switch rd.level {
		case lvHeader:
			r.Refs = append(r.Refs, ref)
		case lvPayer, lvPayee:
			rd.party.Refs = append(rd.party.Refs, ref)
		case lvClaim:
			rd.claim.Refs = append(rd.claim.Refs, ref)
		case lvLine:
			if ref.Qualifier == "6R" {
				rd.line.ControlNumber = ref.Value
			} else {
				rd.line.Refs = append(rd.line.Refs, ref)
			}
		}
	case "DTM":
		return rd.dtm(s)
	case "LX":
		if rd.level < lvPayee {
			return segError(s, 0, "LX before the payee loop (N1*PE)")
		}
		r.Headers = append(r.Headers, Header{Number: s.Element(1), Segment: s.Index})
		rd.header = &r.Headers[len(r.Headers)-1]
		rd.level, rd.claim, rd.line = lvPayee, nil, nil
		if rd.header.Number == "" {
			return segError(s, 1, "LX01 is missing")
		}
	case "TS3", "TS2":
		if rd.header == nil || rd.claim != nil {
			return segError(s, 0, "%s outside an LX before its claims", s.ID)
		}
		sum, err := summary(s)
		if err != nil {
			return err
		}
		if s.ID == "TS3" {
			rd.header.TS3 = sum
		} else {
			rd.header.TS2 = sum
		}
	case "CLP":
		if rd.level < lvPayee {
			return segError(s, 0, "CLP before the payee loop (N1*PE)")
		}
		c, err := clp(s)
		if err != nil {
			return err
		}
		if rd.header != nil {
			c.HeaderNumber = rd.header.Number
		}
		r.Claims = append(r.Claims, c)
		rd.claim, rd.line, rd.level = &r.Claims[len(r.Claims)-1], nil, lvClaim
		rd.lines.close()
		rd.adjs.close()
		rd.remarks.close()
	case "CAS":
		if err := cas(s, &rd.adjs); err != nil {
			return err
		}
		switch rd.level {
		case lvClaim:
			rd.claim.Adjustments = rd.adjs.open()
		case lvLine:
			rd.line.Adjustments = rd.adjs.open()
		default:
			return segError(s, 0, "CAS outside a claim")
		}
	case "NM1":
		if rd.level != lvClaim {
			return segError(s, 0, "NM1 outside a claim, or after its first SVC")
		}
		return rd.nm1(s)
	case "MIA", "MOA":
		if rd.level != lvClaim {
			return segError(s, 0, "%s outside a claim, or after its first SVC", s.ID)
		}
		if s.ID == "MIA" {
			m, err := mia(s)
			rd.claim.Inpatient = m
			return err
		}
		m, err := moa(s)
		rd.claim.Outpatient = m
		return err
	case "AMT":
		a, err := amt(s)
		if err != nil {
			return err
		}
		switch rd.level {
		case lvClaim:
			rd.claim.Amounts = append(rd.claim.Amounts, a)
		case lvLine:
			if a.Qualifier == "B6" {
				rd.line.AllowedCents = a.Cents
			} else {
				rd.line.Amounts = append(rd.line.Amounts, a)
			}
		default:
			return segError(s, 0, "AMT outside a claim")
		}
	case "QTY":
		q := Quantity{Qualifier: s.Element(1), Value: s.Element(2)}
		if q.Qualifier == "" || q.Value == "" {
			return segError(s, 2, "QTY01 or QTY02 is missing")
		}
		if err := decimal(s, 2, q.Value); err != nil {
			return err
		}
		switch rd.level {
		case lvClaim:
			rd.claim.Quantities = append(rd.claim.Quantities, q)
		case lvLine:
			rd.line.Quantities = append(rd.line.Quantities, q)
		default:
			return segError(s, 0, "QTY outside a claim")
		}
	case "SVC":
		if rd.level != lvClaim && rd.level != lvLine {
			return segError(s, 0, "SVC outside a claim")
		}
		l, err := svc(s, &rd.mods)
		if err != nil {
			return err
		}
		rd.lines.add(l)
		rd.claim.Lines = rd.lines.open()
		rd.line, rd.level = &rd.claim.Lines[len(rd.claim.Lines)-1], lvLine
		rd.adjs.close()
		rd.remarks.close()
	case "LQ":
		if rd.level != lvLine {
			return segError(s, 0, "LQ outside a service line")
		}
		v := s.Element(2)
		if v == "" {
			return segError(s, 2, "LQ02 is missing")
		}
		switch s.Element(1) {
		case "HE":
			rd.remarks.add(v)
			rd.line.Remarks = rd.remarks.open()
		case "RX":
			rd.line.NCPDPRejects = append(rd.line.NCPDPRejects, v)
		default:
			return segError(s, 1, "LQ01 is not HE or RX")
		}
	case "PLB":
		if rd.level < lvPayee {
			return segError(s, 0, "PLB before the payee loop")
		}
		p, err := plb(s)
		if err != nil {
			return err
		}
		r.PLB = append(r.PLB, p)
		rd.level, rd.claim, rd.line = lvPLB, nil, nil
	case "BPR":
		return segError(s, 0, "a second BPR in one 835")
	default:
		// Segments this reader has no field for (such as 4010 leftovers)
		// are skipped rather than refused: the money is in the segments
		// above, and refusing a payer's whole file over one would stop
		// posting.
	}
	return nil
}

func (rd *reader835) n1(s Segment) error {
	p := Party{Name: s.Element(2), IDQualifier: s.Element(3), ID: s.Element(4)}
	switch s.Element(1) {
	case "PR":
		if rd.level != lvHeader {
			return segError(s, 1, "N1*PR (payer) after the payer loop")
		}
		rd.r.Payer, rd.party, rd.level = p, &rd.r.Payer, lvPayer
	case "PE":
		if rd.level != lvPayer {
			return segError(s, 1, "N1*PE (payee) must follow the payer loop")
		}
		rd.r.Payee, rd.party, rd.level = p, &rd.r.Payee, lvPayee
	default:
		return segError(s, 1, "N101 is not PR or PE")
	}
	if p.Name == "" && p.ID == "" {
		return segError(s, 2, "N102 and N104 are both missing")
	}
	return nil
}

func (rd *reader835) dtm(s Segment) error {
	d, err := date835(s, 2, true)
	if err != nil {
		return err
	}
	q := s.Element(1)
	switch rd.level {
	case lvHeader:
		if q != "405" {
			return segError(s, 1, "DTM01 in the header is not 405 (production date)")
		}
		rd.r.ProductionDate = d
	case lvClaim:
		switch q {
		case "232":
			rd.claim.StatementFrom = d
		case "233":
			rd.claim.StatementTo = d
		case "050":
			rd.claim.ReceivedDate = d
		default:
			rd.claim.Dates = append(rd.claim.Dates, Date{Qualifier: q, Date: d})
		}
	case lvLine:
		switch q {
		case "472":
			rd.line.DateOfService = d
		case "150":
			rd.line.ServiceFrom = d
		case "151":
			rd.line.ServiceTo = d
		default:
			return segError(s, 1, "DTM01 of a service line is not 472, 150 or 151")
		}
	default:
		return segError(s, 0, "DTM in the payer or payee loop")
	}
	return nil
}

func (rd *reader835) nm1(s Segment) error {
	e := Entity{Kind: s.Element(2), Last: s.Element(3), First: s.Element(4), Middle: s.Element(5),
		Suffix: s.Element(7), IDQualifier: s.Element(8), ID: s.Element(9)}
	// new(e) rather than &e, so that e is not allocated for the patient,
	// which every claim has.
	c := rd.claim
	switch s.Element(1) {
	case "QC":
		c.Patient = e
	case "IL":
		c.Insured = new(e)
	case "74":
		c.CorrectedPatient = new(e)
	case "82":
		c.Rendering = new(e)
	case "TT":
		c.Crossover = new(e)
	case "PR":
		c.CorrectedPayer = new(e)
	default:
		return segError(s, 1, "NM101 is not QC, IL, 74, 82, TT or PR")
	}
	return nil
}

func per(s Segment) (PartyContact, error) {
	c := PartyContact{Function: s.Element(1), Name: s.Element(2)}
	if c.Function == "" {
		return c, segError(s, 1, "PER01 is missing")
	}
	for n := 3; n <= 7; n += 2 {
		q, v := s.Element(n), s.Element(n+1)
		if q == "" && v == "" {
			continue
		}
		if v == "" {
			return c, segError(s, n+1, "PER%02d is missing after its qualifier", n+1)
		}
		switch q {
		case "TE":
			c.Phone = v
		case "EX":
			c.Extension = v
		case "EM":
			c.Email = v
		case "UR":
			c.URL = v
		case "FX":
			c.Fax = v
		default:
			return c, segError(s, n, "PER%02d is not TE, EX, EM, UR or FX", n)
		}
	}
	return c, nil
}

func clp(s Segment) (Claim, error) {
	c := Claim{Segment: s.Index, ControlNumber: s.Element(1), Status: ClaimStatus(s.Element(2)),
		FilingCode: s.Element(6), PayerClaimNumber: s.Element(7), FacilityCode: s.Element(8),
		Frequency: s.Element(9), DRG: s.Element(11), DRGWeight: s.Element(12), DischargeFrac: s.Element(13)}
	if c.ControlNumber == "" {
		return c, segError(s, 1, "CLP01 (patient control number) is missing")
	}
	if _, ok := clpStatusWords[c.Status]; !ok {
		return c, segError(s, 2, "CLP02 is not a 5010 claim status code")
	}
	var err error
	if c.ChargeCents, err = amount835(s, 3, true); err != nil {
		return c, err
	}
	if c.PaidCents, err = amount835(s, 4, true); err != nil {
		return c, err
	}
	if c.PatientCents, err = amount835(s, 5, false); err != nil {
		return c, err
	}
	for _, n := range []int{12, 13} {
		if v := s.Element(n); v != "" {
			if err := decimal(s, n, v); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

// cas reads CAS01 and its up to six reason/amount/quantity triplets in
// CAS02–CAS19 (BILLING.md §6.5) and adds them to out. The group codes are
// CO, PR, OA, PI and CR; CR is legacy but parsed tolerantly, as §6.5 asks.
func cas(s Segment, out *slab[Adjustment]) error {
	g := s.Element(1)
	if !oneOf(g, "CO", "PR", "OA", "PI", "CR") {
		return segError(s, 1, "CAS01 is not CO, PR, OA, PI or CR")
	}
	if len(s.Elements) > 19 {
		return segError(s, 20, "CAS has more than six adjustment triplets")
	}
	var read int
	for t := 0; t < 6; t++ {
		n := 2 + 3*t
		reason, amt, qty := s.Element(n), s.Element(n+1), s.Element(n+2)
		if reason == "" {
			if amt != "" || qty != "" {
				return segError(s, n, "CAS%02d (reason) is missing before an amount", n)
			}
			continue
		}
		a := Adjustment{Group: g, Reason: reason}
		var err error
		if a.AmountCents, err = amount835(s, n+1, true); err != nil {
			return err
		}
		if a.Quantity, err = whole(s, n+2, false); err != nil {
			return err
		}
		out.add(a)
		read++
	}
	if read == 0 {
		return segError(s, 2, "CAS02 (reason) is missing")
	}
	return nil
}

func svc(s Segment, mods *slab[string]) (Line, error) {
	l := Line{Segment: s.Index, RevenueCode: s.Element(4)}
	p, err := procedure(s, 1, true, mods)
	if err != nil {
		return l, err
	}
	l.Qualifier, l.Code, l.Modifiers = p.Qualifier, p.Code, p.Modifiers
	if l.ChargeCents, err = amount835(s, 2, true); err != nil {
		return l, err
	}
	if l.PaidCents, err = amount835(s, 3, true); err != nil {
		return l, err
	}
	if l.Units, err = whole(s, 5, false); err != nil {
		return l, err
	}
	if s.Element(6) != "" {
		o, err := procedure(s, 6, false, mods)
		if err != nil {
			return l, err
		}
		l.Original = &o
	}
	if l.SubmittedUnits, err = whole(s, 7, false); err != nil {
		return l, err
	}
	return l, nil
}

// procedure reads a composite procedure identifier: qualifier, code, up to
// four modifiers, a description (C003). The code is required: a file whose
// SVC01 has none usually uses another component separator than its ISA16
// declares, and reading on would misplace every amount after it. The
// modifiers are a run of mods.
func procedure(s Segment, n int, required bool, mods *slab[string]) (Procedure, error) {
	var c [7]string
	s.components(n, c[:])
	p := Procedure{Qualifier: c[0], Code: c[1], Description: c[6]}
	if p.Qualifier == "" || p.Code == "" {
		if !required && s.Element(n) == "" {
			return p, nil
		}
		return p, segError(s, n, "%s%02d has no qualifier or no procedure code (is the component separator the one ISA16 declares?)", s.ID, n)
	}
	for _, m := range c[2:6] {
		if m != "" {
			mods.add(m)
		}
	}
	p.Modifiers = mods.run()
	return p, nil
}

func plb(s Segment) (PLB, error) {
	p := PLB{Segment: s.Index, ProviderID: s.Element(1)}
	if p.ProviderID == "" {
		return p, segError(s, 1, "PLB01 (provider identifier) is missing")
	}
	var err error
	if p.FiscalPeriodEnd, err = date835(s, 2, true); err != nil {
		return p, err
	}
	if len(s.Elements) > 14 {
		return p, segError(s, 15, "PLB has more than six adjustments")
	}
	for n := 3; n <= 13; n += 2 {
		if s.Element(n) == "" {
			if s.Element(n+1) != "" {
				return p, segError(s, n, "PLB%02d (reason) is missing before an amount", n)
			}
			continue
		}
		a := ProviderAdjustment{Reason: s.Component(n, 1), Reference: s.Component(n, 2)}
		if a.Reason == "" {
			return p, segError(s, n, "PLB%02d has no reason code", n)
		}
		if a.AmountCents, err = amount835(s, n+1, true); err != nil {
			return p, err
		}
		p.Adjustments = append(p.Adjustments, a)
	}
	if len(p.Adjustments) == 0 {
		return p, segError(s, 3, "PLB03 (adjustment) is missing")
	}
	return p, nil
}

func amt(s Segment) (Amount, error) {
	a := Amount{Qualifier: s.Element(1)}
	if a.Qualifier == "" {
		return a, segError(s, 1, "AMT01 is missing")
	}
	var err error
	a.Cents, err = amount835(s, 2, true)
	return a, err
}

// Element positions of TS3, TS2 and MIA that hold quantities or codes; the
// others from the first amount on are money (TR3 [memory]).
var (
	ts3Qty = map[int]bool{4: true, 23: true}
	ts2Qty = map[int]bool{7: true, 10: true, 11: true, 12: true, 13: true, 14: true, 16: true}
	miaQty = map[int]bool{1: true, 3: true, 15: true}
	miaRem = map[int]bool{5: true, 20: true, 21: true, 22: true, 23: true}
)

func summary(s Segment) (*Summary, error) {
	sum := &Summary{}
	first, qty := 1, ts2Qty
	if s.ID == "TS3" {
		sum.ProviderID, sum.FacilityCode = s.Element(1), s.Element(2)
		if sum.ProviderID == "" {
			return nil, segError(s, 1, "TS301 is missing")
		}
		var err error
		if sum.FiscalPeriodEnd, err = date835(s, 3, true); err != nil {
			return nil, err
		}
		first, qty = 4, ts3Qty
	}
	var err error
	sum.Amounts, sum.Quantities, err = amounts(s, first, qty, nil, nil)
	return sum, err
}

// amounts reads elements first… of s: quantities (kept as sent, checked
// as decimals), remark codes, and amounts in cents.
func amounts(s Segment, first int, qty, rem map[int]bool, remarks *[]string) (map[string]int64, map[string]string, error) {
	var am map[string]int64
	var qm map[string]string
	for n := first; n <= len(s.Elements); n++ {
		v := s.Element(n)
		if v == "" {
			continue
		}
		name := fmt.Sprintf("%s%02d", s.ID, n)
		switch {
		case rem[n]:
			*remarks = append(*remarks, v)
		case qty[n]:
			if err := decimal(s, n, v); err != nil {
				return nil, nil, err
			}
			if qm == nil {
				qm = map[string]string{}
			}
			qm[name] = v
		default:
			c, err := amount835(s, n, true)
			if err != nil {
				return nil, nil, err
			}
			if am == nil {
				am = map[string]int64{}
			}
			am[name] = c
		}
	}
	return am, qm, nil
}

func mia(s Segment) (*Inpatient, error) {
	m := &Inpatient{}
	var err error
	m.Amounts, m.Quantities, err = amounts(s, 1, miaQty, miaRem, &m.Remarks)
	return m, err
}

func moa(s Segment) (*Outpatient, error) {
	m := &Outpatient{ReimbursementRate: s.Element(1)}
	if m.ReimbursementRate != "" {
		if err := decimal(s, 1, m.ReimbursementRate); err != nil {
			return nil, err
		}
	}
	var err error
	if m.HCPCSPayableCents, err = amount835(s, 2, false); err != nil {
		return nil, err
	}
	m.Remarks = codes(s, 3, 7)
	if m.ESRDCents, err = amount835(s, 8, false); err != nil {
		return nil, err
	}
	if m.NonPayableCents, err = amount835(s, 9, false); err != nil {
		return nil, err
	}
	return m, nil
}

// amount835 reads element n, an X12 decimal (R type: optional minus,
// digits, optional point and fraction), as exact cents. Unlike money it
// refuses a third decimal place even when zero, so that no amount in a
// remittance is ever rounded or reinterpreted.
func amount835(s Segment, n int, required bool) (int64, error) {
	v := s.Element(n)
	if v == "" {
		if required {
			return 0, segError(s, n, "%s%02d (amount) is missing", s.ID, n)
		}
		return 0, nil
	}
	neg := v[0] == '-'
	if neg {
		v = v[1:]
	}
	whole, frac, _ := cutByte(v, '.')
	// 15 integer digits keep the cents within int64 and exceed the 18
	// characters X12 allows an R element.
	if whole == "" && frac == "" || len(whole) > 15 || whole != "" && !isDigits(whole) || frac != "" && !isDigits(frac) {
		return 0, segError(s, n, "%s%02d is not a decimal amount", s.ID, n)
	}
	if len(frac) > 2 {
		return 0, segError(s, n, "%s%02d has %d decimal places, at most 2 allowed for an amount", s.ID, n, len(frac))
	}
	var c int64
	for i := 0; i < len(whole); i++ {
		c = c*10 + int64(whole[i]-'0')
	}
	c *= 100
	if len(frac) > 0 {
		c += int64(frac[0]-'0') * 10
	}
	if len(frac) > 1 {
		c += int64(frac[1] - '0')
	}
	if neg {
		c = -c
	}
	return c, nil
}

// decimal checks that v is an X12 decimal number.
func decimal(s Segment, n int, v string) error {
	v = strings.TrimPrefix(v, "-")
	whole, frac, _ := cutByte(v, '.')
	if whole == "" && frac == "" || len(v) > 18 || whole != "" && !isDigits(whole) || frac != "" && !isDigits(frac) {
		return segError(s, n, "%s%02d is not a decimal number", s.ID, n)
	}
	return nil
}

// whole reads a quantity that must be a whole, non-negative number; X12
// sends units as decimals, so "2" and "2.00" both mean 2. A fraction is
// refused: rcm bills whole therapy units (BILLING.md), and truncating a
// payer's fractional units silently would misreport them.
func whole(s Segment, n int, required bool) (int, error) {
	v := s.Element(n)
	if v == "" {
		if required {
			return 0, segError(s, n, "%s%02d (quantity) is missing", s.ID, n)
		}
		return 0, nil
	}
	w, frac, _ := cutByte(v, '.')
	if !isDigits(w) || len(w) > 9 || frac != "" && !isDigits(frac) {
		return 0, segError(s, n, "%s%02d is not a whole non-negative quantity", s.ID, n)
	}
	if strings.Trim(frac, "0") != "" {
		return 0, segError(s, n, "%s%02d has a fraction; only whole units are read", s.ID, n)
	}
	q, _ := strconv.Atoi(w)
	return q, nil
}

// date835 reads a CCYYMMDD date.
func date835(s Segment, n int, required bool) (time.Time, error) {
	v := s.Element(n)
	if v == "" {
		if required {
			return time.Time{}, segError(s, n, "%s%02d (date) is missing", s.ID, n)
		}
		return time.Time{}, nil
	}
	if !isDate(v) {
		return time.Time{}, segError(s, n, "%s%02d is not a CCYYMMDD date", s.ID, n)
	}
	t, ok := calendarDate(v)
	if !ok {
		return time.Time{}, segError(s, n, "%s%02d is not a calendar date", s.ID, n)
	}
	return t, nil
}

// calendarDate reads eight digits as CCYYMMDD, reporting whether they are
// a date of the calendar. It does what time.Parse("20060102", v) does at a
// fraction of the cost, which matters with several dates per claim.
func calendarDate(v string) (time.Time, bool) {
	num := func(s string) (n int) {
		for i := 0; i < len(s); i++ {
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	y, m, d := num(v[:4]), time.Month(num(v[4:6])), num(v[6:8])
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	// time.Date normalizes month 13 or February 30 into a later date, and
	// day 0 into an earlier one: a changed month or day was no date.
	return t, t.Month() == m && t.Day() == d
}

// Imbalance is one broken balancing rule of BILLING.md §6.5. Claim and
// Line are 0-based indexes, -1 above that level; Segment is the position
// of the CLP, SVC or BPR whose amount disagrees. Reported is the amount in
// the file, Computed what the other amounts make it.
type Imbalance struct {
	Rule     string // "line", "claim", "patient" or "file"
	Claim    int
	Line     int
	Segment  int
	Reported int64
	Computed int64
	Detail   string // the arithmetic, in words and amounts, no patient data
}

func (i Imbalance) String() string {
	return fmt.Sprintf("%s imbalance at segment %d: %s", i.Rule, i.Segment, i.Detail)
}

// Check reports every imbalance of the remittance, in file order:
//
//   - line: SVC02 − Σ line CAS = SVC03;
//   - claim: CLP03 − Σ(claim CAS + line CAS) = CLP04;
//   - patient: CLP05 = Σ PR adjustments (claim and lines);
//   - file: Σ CLP04 − Σ PLB = BPR02.
//
// An imbalance does not stop reading: the payer's file is what it is, and
// posting decides what to do with it.
func (r *Remit) Check() []Imbalance {
	var out []Imbalance
	var paid int64
	for ci := range r.Claims {
		c := &r.Claims[ci]
		adj, pr := sumAdjustments(c.Adjustments)
		for li := range c.Lines {
			l := &c.Lines[li]
			la, lpr := sumAdjustments(l.Adjustments)
			if l.ChargeCents-la != l.PaidCents {
				out = append(out, Imbalance{Rule: "line", Claim: ci, Line: li, Segment: l.Segment,
					Reported: l.PaidCents, Computed: l.ChargeCents - la,
					Detail: fmt.Sprintf("SVC02 %s − Σ CAS %s = %s, but SVC03 is %s",
						dec(l.ChargeCents), dec(la), dec(l.ChargeCents-la), dec(l.PaidCents))})
			}
			adj += la
			pr += lpr
		}
		if c.ChargeCents-adj != c.PaidCents {
			out = append(out, Imbalance{Rule: "claim", Claim: ci, Line: -1, Segment: c.Segment,
				Reported: c.PaidCents, Computed: c.ChargeCents - adj,
				Detail: fmt.Sprintf("CLP03 %s − Σ CAS %s = %s, but CLP04 is %s",
					dec(c.ChargeCents), dec(adj), dec(c.ChargeCents-adj), dec(c.PaidCents))})
		}
		if pr != c.PatientCents {
			out = append(out, Imbalance{Rule: "patient", Claim: ci, Line: -1, Segment: c.Segment,
				Reported: c.PatientCents, Computed: pr,
				Detail: fmt.Sprintf("Σ PR adjustments %s, but CLP05 is %s", dec(pr), dec(c.PatientCents))})
		}
		paid += c.PaidCents
	}
	var plb int64
	for _, p := range r.PLB {
		for _, a := range p.Adjustments {
			plb += a.AmountCents
		}
	}
	if paid-plb != r.TotalPaidCents {
		out = append(out, Imbalance{Rule: "file", Claim: -1, Line: -1, Segment: r.Segment + 1,
			Reported: r.TotalPaidCents, Computed: paid - plb,
			Detail: fmt.Sprintf("Σ CLP04 %s − Σ PLB %s = %s, but BPR02 is %s",
				dec(paid), dec(plb), dec(paid-plb), dec(r.TotalPaidCents))})
	}
	return out
}

func sumAdjustments(adjs []Adjustment) (sum, pr int64) {
	for _, a := range adjs {
		sum += a.AmountCents
		if a.Group == "PR" {
			pr += a.AmountCents
		}
	}
	return sum, pr
}

// dec formats cents as an X12-style decimal with two places.
func dec(c int64) string {
	s := ""
	u := uint64(c)
	if c < 0 {
		s, u = "-", uint64(-c)
	}
	return fmt.Sprintf("%s%d.%02d", s, u/100, u%100)
}

// Payment835 returns the remittance in the writer's model, so that what
// Write835 wrote reads back equal: the PER*BL contact, REF*2U payer id,
// the payee's NPI (N104 with XX) and REF*TJ, and the PLB adjustments
// flattened with the first PLB's fiscal period. What the model has no
// field for (other REFs, SVC06, MIA…) is left out.
func (r *Remit) Payment835() Payment835 {
	p := Payment835{
		Handling: r.Handling, TotalPaidCents: r.TotalPaidCents, Method: r.Method,
		PayerBank: r.PayerBank, PayeeBank: r.PayeeBank, OriginatorID: r.OriginatorID,
		PaymentDate: r.PaymentDate, TraceNumber: r.TraceNumber, ProductionDate: r.ProductionDate,
		Payer: PayerInfo{Name: r.Payer.Name, ID: refValue(r.Payer.Refs, "2U"), Address: r.Payer.Address},
		Payee: PayeeInfo{Name: r.Payee.Name, TIN: refValue(r.Payee.Refs, "TJ"), Address: r.Payee.Address},
	}
	if p.OriginatorID == "" {
		p.OriginatorID = r.TraceOriginatorID
	}
	for _, c := range r.Payer.Contacts {
		if c.Function == "BL" {
			p.Payer.Contact = Contact835{Name: c.Name, Phone: c.Phone, Email: c.Email, URL: c.URL}
			break
		}
	}
	if r.Payee.IDQualifier == "XX" {
		p.Payee.NPI = r.Payee.ID
	}
	for i := range r.Claims {
		p.Claims = append(p.Claims, r.Claims[i].claim835())
	}
	for i, b := range r.PLB {
		if i == 0 {
			p.FiscalPeriodEnd = b.FiscalPeriodEnd
		}
		p.Adjustments = append(p.Adjustments, b.Adjustments...)
	}
	return p
}

func refValue(refs []Ref, q string) string {
	for _, r := range refs {
		if r.Qualifier == q {
			return r.Value
		}
	}
	return ""
}

func name835(e Entity) Name835 {
	return Name835{Last: e.Last, First: e.First, Middle: e.Middle, MemberID: e.ID}
}

func (c *Claim) claim835() Claim835 {
	out := Claim835{
		ControlNumber: c.ControlNumber, Status: string(c.Status), ChargeCents: c.ChargeCents,
		PaidCents: c.PaidCents, PatientCents: c.PatientCents, FilingCode: c.FilingCode,
		PayerClaimNumber: c.PayerClaimNumber, FacilityCode: c.FacilityCode, Frequency: c.Frequency,
		Adjustments: c.Adjustments, Patient: name835(c.Patient),
		StatementFrom: c.StatementFrom, StatementTo: c.StatementTo, ReceivedDate: c.ReceivedDate,
	}
	if c.Insured != nil {
		n := name835(*c.Insured)
		out.Insured = &n
	}
	for _, l := range c.Lines {
		out.Lines = append(out.Lines, Line835{
			Code: l.Code, Modifiers: l.Modifiers, ChargeCents: l.ChargeCents, PaidCents: l.PaidCents,
			Units: l.Units, SubmittedUnits: l.SubmittedUnits, DateOfService: l.DateOfService,
			Adjustments: l.Adjustments, ControlNumber: l.ControlNumber, AllowedCents: l.AllowedCents,
			Remarks: l.Remarks,
		})
	}
	return out
}
