package payersim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/rcm-health/rcm/pkg/x12"
)

// Version835 is the 835 implementation guide the simulator answers with.
const Version835 = x12.Version835

// AdjudicateConfig sets the payer's behaviour for the 835. The zero value
// pays every line at 60% of its charge, less Medicare coinsurance and
// sequestration, and denies nothing but duplicates, missing therapy
// modifiers on Medicare, bundled pairs and claims past 365 days.
type AdjudicateConfig struct {
	// Seed makes the outcomes reproducible: payer claim numbers (as in
	// the 277CA, via PayerClaimNumber), the CO-50 and deductible draws,
	// trace and control numbers depend on it.
	Seed int64
	// Now is the adjudication date: the 835's dates and the end of the
	// timely-filing window. Zero uses the 837's own creation time, so
	// that the answer is a function of the file.
	Now time.Time
	// Allowed returns the fee schedule amount per unit for a payer (NM1*PR
	// NM109) and code. Nil or not ok allows 60% of the line's charge.
	Allowed func(payerID, code string) (cents int64, ok bool)
	// AuthRequired reports whether a payer needs prior authorization
	// (REF*G1) on commercial and Medicaid claims; nil needs none.
	AuthRequired func(payerID string) bool
	// InactiveMembers are member ids (NM1*IL NM109) whose coverage has
	// ended: their claims are denied CO-27.
	InactiveMembers map[string]bool
	// TimelyFilingDays is the filing limit: a line whose date of service
	// lies further before Now is denied CO-29. Zero means 365, Medicare's
	// one calendar year (BILLING.md §7).
	TimelyFilingDays int
	// DenyRate is the share of otherwise payable lines denied CO-50 (not
	// medically necessary), from 0 to 1.
	DenyRate float64
	// DeductibleRate is the share of claims, from 0 to 1, on which
	// DeductibleCents of the annual deductible remain to be met (PR-1).
	DeductibleRate  float64
	DeductibleCents int64
	// CopayCents is the copay (PR-3) per claim on plans other than
	// Medicare Part B and Medicaid; zero for none.
	CopayCents int64
	// ControlNumber is ISA13 and GS06 of the 835. Zero derives it from the
	// seed and the 837's sender and ISA13. At most 999999999.
	ControlNumber int
}

func (c *AdjudicateConfig) validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"DenyRate", c.DenyRate}, {"DeductibleRate", c.DeductibleRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("payersim: %s must be between 0 and 1", r.name)
		}
	}
	switch {
	case c.TimelyFilingDays < 0:
		return fmt.Errorf("payersim: TimelyFilingDays must not be negative")
	case c.DeductibleCents < 0 || c.CopayCents < 0:
		return fmt.Errorf("payersim: DeductibleCents and CopayCents must not be negative")
	case c.ControlNumber < 0 || c.ControlNumber > 999999999:
		return fmt.Errorf("payersim: ControlNumber must be 0–999999999, got %d", c.ControlNumber)
	}
	return nil
}

// Summary835 describes an 835 without patient data.
type Summary835 struct {
	Payments     int // transaction sets: one per payer and billing provider
	Claims       []ClaimRemit
	Skipped      []SkippedClaim // claims left out of the 835
	ClaimsPaid   int            // CLP02 1
	ClaimsDenied int            // CLP02 4
	ChargeCents  int64
	PaidCents    int64 // Σ BPR02
	PatientCents int64 // Σ CLP05
}

// ClaimRemit is the 835 answer for one claim.
type ClaimRemit struct {
	ControlNumber    string // CLP01 = CLM01
	PayerClaimNumber string // CLP07
	Status           string // CLP02: 1 processed as primary, 4 denied
	ChargeCents      int64
	PaidCents        int64
	PatientCents     int64
	Lines            []LineRemit
}

// LineRemit is the 835 answer for one service line.
type LineRemit struct {
	ControlNumber string // REF*6R
	Code          string
	ChargeCents   int64
	AllowedCents  int64
	PaidCents     int64
	Denied        bool
	Adjustments   []x12.Adjustment
	Remarks       []string
}

// SkippedClaim is a claim the simulator could not adjudicate, with why.
type SkippedClaim struct {
	ControlNumber string
	Reason        string
}

// Adjudicator answers 837P files with 835s, remembering the lines it has
// paid so that a later file repeating one is denied as a duplicate. The
// memory lasts as long as the Adjudicator (a restarted simulator forgets)
// and grows with every line paid. It is safe for concurrent use.
//
// Each line of a claim gets the first of these denials that applies, in
// this order (claim-wide reasons first):
//
//   - CO-27 coverage ended: the member id is in InactiveMembers.
//   - CO-29 past timely filing: the date of service is more than
//     TimelyFilingDays before Now; with RARC N211 (not appealable) on
//     Medicare (BILLING.md §7).
//   - CO-197 no prior authorization: a plan other than Medicare Part B
//     whose AuthRequired says so, and no REF*G1.
//   - CO-18 duplicate: the member, code and date of service were paid in
//     an earlier file, or on another claim earlier in this file. X12's CARC
//     list suggests OA with 18 (BILLING.md §7), but Medicare contractors
//     and the issue this simulates send CO-18; either way it is not
//     billable to the patient. Replacements (frequency 7) are not checked.
//   - CO-4 missing therapy modifier: Medicare Part B (SBR09 MB), a therapy
//     code, and none of GO, GP, GN.
//   - CO-97 bundled, with RARC M15: the line's code is column 2 of an NCCI
//     therapy pair (97530 with 97140 or 97116, PT evaluations 97161–97163
//     with 97140, 97164 with 97530 or 97150) whose column-1 code is on
//     another line of the claim with the same date, and the line has no
//     59 or X{EPSU} modifier.
//   - CO-50 not medically necessary, with RARC N115: a DenyRate share,
//     drawn per line from the seed, CLM01 and REF*6R.
//
// A denied line's whole charge is the adjustment. A paid line's allowed
// amount is the fee schedule per unit times the units, at most the charge
// (60% of the charge without a fee), and CO-45 the rest; then, except on
// Medicaid (SBR09 MC), PR-1 takes what is left of the claim's deductible
// when the claim drew one; on Medicare Part B PR-2 20%
// coinsurance and CO-253 2% sequestration of the payment (BILLING.md §7),
// on plans other than Medicare Part B and Medicaid PR-3 what is left of
// the claim's copay. Rounding is to the nearest cent, halves up. The claim
// is status 4 when every line is denied, 1 otherwise.
//
// Claims that cannot be priced (lines not adding up to CLM02, a line
// without a date, a billing NPI that is not 10 digits) and voids
// (frequency 8, which would need a reversal) are left out and listed in
// Summary835.Skipped.
type Adjudicator struct {
	Config AdjudicateConfig

	mu   sync.Mutex
	seen map[lineKey]string // line → the file (content hash) that was paid for it
}

// lineKey identifies a service for duplicate detection: member, code and
// date of service (BILLING.md §7, CO-18).
type lineKey struct{ member, code, dos string }

// Adjudicate answers one 837P file with an 835, with no memory of earlier
// files; see Adjudicator.Adjudicate.
func Adjudicate(file837 []byte, cfg AdjudicateConfig) ([]byte, Summary835, error) {
	a := Adjudicator{Config: cfg}
	return a.Adjudicate(file837)
}

// Adjudicate answers every claim of the 837P file's 837 transaction sets
// with one 835 interchange holding one transaction set per payer and
// billing provider (an 835 pays one payee from one payer), or returns nil
// bytes when no claim could be adjudicated. See Adjudicator for the
// rules. The same file, configuration and memory give the same bytes; a
// file adjudicated again is not a duplicate of itself.
func (a *Adjudicator) Adjudicate(file837 []byte) ([]byte, Summary835, error) {
	return a.adjudicate(file837, nil)
}

// adjudicate is Adjudicate limited to the claims include accepts (all when
// nil): the Mailbox passes the claims its 277CA accepted.
func (a *Adjudicator) adjudicate(file []byte, include func(clm01 string) bool) ([]byte, Summary835, error) {
	cfg := a.Config
	if err := cfg.validate(); err != nil {
		return nil, Summary835{}, err
	}
	ics, err := x12.Parse(file)
	if err != nil {
		return nil, Summary835{}, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	sep := answerSeparators(ics[0].Separators)
	in := &input{sep: sep}
	var claims []rclaim
	var created time.Time
	var firstGroup *x12.Group
	for _, ic := range ics {
		for gi := range ic.Groups {
			g := &ic.Groups[gi]
			if g.GS.Element(1) != "HC" {
				continue
			}
			if firstGroup == nil {
				firstGroup = g
				created = created837(g, ics[0].Header)
			}
			for _, tx := range g.Transactions {
				if tx.ST.Element(1) == "837" {
					claims = append(claims, readClaims(tx, in.clean)...)
				}
			}
		}
	}
	now := cfg.Now
	if now.IsZero() {
		now = created
	}
	sum := Summary835{}
	if firstGroup == nil {
		return nil, sum, nil
	}

	h := sha256.Sum256(file)
	fileID := hex.EncodeToString(h[:16])
	a.mu.Lock()
	defer a.mu.Unlock()
	adj := adjudication{cfg: &cfg, now: now, received: created, fileID: fileID, seen: a.seen, local: map[lineKey]string{}}

	type payKey struct{ payer, npi string }
	index := map[payKey]int{}
	var pays []x12.Payment835
	for i := range claims {
		c := &claims[i]
		if include != nil && !include(c.pcn) {
			continue
		}
		switch {
		case c.bad != "":
		case c.freq == "8":
			// A void asks the payer to reverse an earlier payment (CLP02
			// 22 with negated amounts, BILLING.md §6.5), which needs that
			// payment; the simulator keeps none.
			c.bad = "void (frequency 8): reversals are not simulated"
		case len(c.provider.npi) != 10 || !digits(c.provider.npi):
			c.bad = "billing provider NPI is not 10 digits"
		case c.payerID == "":
			c.bad = "payer id (NM1*PR NM109) missing"
		}
		if c.bad != "" {
			sum.Skipped = append(sum.Skipped, SkippedClaim{ControlNumber: c.pcn, Reason: c.bad})
			continue
		}
		k := payKey{c.payerID, c.provider.npi}
		p, ok := index[k]
		if !ok {
			p = len(pays)
			index[k] = p
			pays = append(pays, a.payment(c, ics[0].Header, now))
		}
		cl, cr := adj.claim(c)
		pays[p].Claims = append(pays[p].Claims, cl)
		pays[p].TotalPaidCents += cl.PaidCents
		sum.Claims = append(sum.Claims, cr)
		sum.ChargeCents += cr.ChargeCents
		sum.PaidCents += cr.PaidCents
		sum.PatientCents += cr.PatientCents
		if cr.Status == "4" {
			sum.ClaimsDenied++
		} else {
			sum.ClaimsPaid++
		}
	}
	if len(pays) == 0 {
		return nil, sum, nil
	}
	for i := range pays {
		if pays[i].TotalPaidCents == 0 {
			// BPR01 H: notification only, for a zero payment (TR3 [memory]).
			pays[i].Handling, pays[i].Method = "H", "NON"
			pays[i].PayerBank, pays[i].PayeeBank = x12.BankAccount{}, x12.BankAccount{}
		}
	}
	sum.Payments = len(pays)

	hd := ics[0].Header
	ctl := cfg.ControlNumber
	if ctl == 0 {
		ctl = int(draw(cfg.Seed, "835isa", hd.SenderID, hd.ControlNumber)%999999999) + 1
	}
	usage := "T"
	if hd.Usage == "P" {
		usage = "P"
	}
	// Addressed back to the 837's sender. The ISA ids serve for GS02/GS03
	// too: the 837's GS ids are not checked for length.
	r := x12.Remit835{
		SenderQualifier: in.clean(hd.ReceiverQualifier), SenderID: in.clean(hd.ReceiverID),
		ReceiverQualifier: in.clean(hd.SenderQualifier), ReceiverID: in.clean(hd.SenderID),
		Separators:         sep,
		InterchangeControl: ctl, GroupControl: ctl, Usage: usage,
		Created: now, LineBreaks: lineBreaks(file),
		Payments: pays,
	}
	out, err := x12.Append835(nil, r)
	if err != nil {
		return nil, Summary835{}, fmt.Errorf("payersim: write 835: %w", err)
	}
	// Remember the lines paid only once the answer exists.
	if a.seen == nil {
		a.seen = map[lineKey]string{}
	}
	for k := range adj.local {
		if _, ok := a.seen[k]; !ok {
			a.seen[k] = fileID
		}
	}
	return out, sum, nil
}

// payment starts the 835 transaction set for c's payer and billing
// provider. Bank accounts, the payer's EIN and the trace number are
// synthetic, derived from the seed so that the answer is reproducible.
func (a *Adjudicator) payment(c *rclaim, h x12.ISAHeader, now time.Time) x12.Payment835 {
	seed := a.Config.Seed
	payerName := c.payerName
	if payerName == "" {
		payerName = "PAYER " + c.payerID
	}
	payeeName := c.provider.name
	if payeeName == "" {
		payeeName = "PROVIDER " + c.provider.npi
	}
	return x12.Payment835{
		Handling: "C", Method: "ACH",
		PayerBank:    x12.BankAccount{RoutingNumber: routing(seed, "payer", c.payerID), AccountNumber: number(seed, 10, "payeracct", c.payerID)},
		PayeeBank:    x12.BankAccount{RoutingNumber: routing(seed, "payee", c.provider.npi), AccountNumber: number(seed, 10, "payeeacct", c.provider.npi)},
		OriginatorID: "1" + number(seed, 9, "ein", c.payerID), // TRN03: 1 + the payer's EIN
		PaymentDate:  now,
		// TRN02 reassociates the remittance with the deposit, so it is
		// unique per payment: interchange, payer and payee.
		TraceNumber: number(seed, 10, "trn", h.SenderID, h.ControlNumber, c.payerID, c.provider.npi),
		Payer: x12.PayerInfo{
			Name: payerName, ID: c.payerID,
			Contact: x12.Contact835{Name: "PAYERSIM EDI SUPPORT", Phone: "8005550199"},
		},
		Payee: x12.PayeeInfo{Name: payeeName, NPI: c.provider.npi, TIN: c.provider.tin, Address: c.provider.addr},
	}
}

// number returns n digits drawn from the seed and parts.
func number(seed int64, n int, tag string, parts ...string) string {
	v := draw(seed, tag, parts...)
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b)
}

// routing returns a nine-digit ABA routing number with a valid check
// digit (weights 3, 7, 1).
func routing(seed int64, tag, part string) string {
	s := []byte(number(seed, 8, tag, part))
	w := [8]int{3, 7, 1, 3, 7, 1, 3, 7}
	sum := 0
	for i, c := range s {
		sum += int(c-'0') * w[i]
	}
	return string(append(s, byte('0'+(10-sum%10)%10)))
}

// created837 returns the 837's creation time from GS04/GS05 or ISA09/ISA10.
func created837(g *x12.Group, h x12.ISAHeader) time.Time {
	return created(group{date: g.GS.Element(4), time: g.GS.Element(5)}, h)
}

// adjudication is the state of one file's adjudication.
type adjudication struct {
	cfg      *AdjudicateConfig
	now      time.Time
	received time.Time
	fileID   string
	seen     map[lineKey]string // earlier files; read only
	local    map[lineKey]string // lines paid in this file → CLM01
}

// therapyPairs are the NCCI procedure-to-procedure pairs the simulated
// payer enforces, column 1 → column 2 codes, all with modifier indicator 1
// (59 or X{EPSU} on the column-2 line bypasses the edit). They are the
// therapy pairs of BILLING.md §4.2 whose column order public sources
// describe, with 97140 as column 2 of 97530 as pkg/billing's seed table
// has it; a real payer loads the quarterly CMS file.
var therapyPairs = map[string][]string{
	"97161": {"97140"},
	"97162": {"97140"},
	"97163": {"97140"},
	"97164": {"97530", "97150"},
	"97530": {"97140", "97116"},
}

// distinctModifiers bypass an indicator-1 NCCI edit (BILLING.md §3).
var distinctModifiers = map[string]bool{"59": true, "XE": true, "XS": true, "XP": true, "XU": true}

// alwaysTherapy are codes outside 97xxx that Medicare pays only under a
// therapy plan of care, so they need GO, GP or GN (BILLING.md §2, §3).
var alwaysTherapy = map[string]bool{
	"92507": true, "92508": true, "92521": true, "92522": true, "92523": true,
	"92524": true, "92526": true, "92610": true, "G0283": true,
}

func therapyCode(code string) bool {
	return len(code) == 5 && code[:2] == "97" || alwaysTherapy[code]
}

// claim adjudicates one claim by the rules in the Adjudicator's comment.
func (a *adjudication) claim(c *rclaim) (x12.Claim835, ClaimRemit) {
	cfg := a.cfg
	medicare := c.filing == "MB"
	cost := !medicare && c.filing != "MC" // plans with a copay
	icn := PayerClaimNumber(cfg.Seed, c.pcn)
	out := x12.Claim835{
		ControlNumber: c.pcn, ChargeCents: c.chargeCents,
		FilingCode: or(c.filing, "ZZ"), PayerClaimNumber: icn,
		FacilityCode: c.pos, Frequency: c.freq,
		ReceivedDate: a.received,
	}
	if len(out.FilingCode) > 2 {
		out.FilingCode = "ZZ" // mutually defined
	}
	if len(c.pos) != 2 || !digits(c.pos) {
		out.FacilityCode = ""
	}
	if len(c.freq) != 1 {
		out.Frequency = ""
	}
	if c.patient == nil {
		out.Patient = x12.Name835{Last: c.subscriber.last, First: c.subscriber.first, Middle: c.subscriber.middle, MemberID: c.memberID}
	} else {
		out.Patient = x12.Name835{Last: c.patient.last, First: c.patient.first, Middle: c.patient.middle}
		out.Insured = &x12.Name835{Last: or(c.subscriber.last, "UNKNOWN"), First: c.subscriber.first, Middle: c.subscriber.middle, MemberID: or(c.memberID, "UNKNOWN")}
	}
	if out.Patient.Last == "" {
		out.Patient.Last = "UNKNOWN"
	}
	res := ClaimRemit{ControlNumber: c.pcn, PayerClaimNumber: icn, ChargeCents: c.chargeCents}

	var deductible int64
	// Medicaid has no deductible or copay to speak of for the simulator.
	if c.filing != "MC" && cfg.DeductibleCents > 0 && cfg.DeductibleRate > 0 && unit(draw(cfg.Seed, "deductible", c.pcn)) < cfg.DeductibleRate {
		deductible = cfg.DeductibleCents
	}
	var copay int64
	if cost {
		copay = cfg.CopayCents
	}
	limit := cfg.TimelyFilingDays
	if limit == 0 {
		limit = 365
	}
	noAuth := !medicare && cfg.AuthRequired != nil && cfg.AuthRequired(c.payerID) && !c.priorAuth

	denied := 0
	for i := range c.lines {
		l := &c.lines[i]
		line := x12.Line835{
			Code: l.code, Modifiers: l.mods, ChargeCents: l.chargeCents,
			Units: l.units, DateOfService: parseDate(l.dos), ControlNumber: l.control,
		}
		key := lineKey{c.memberID, l.code, l.dos}
		group, reason, remark := "", "", ""
		switch {
		case cfg.InactiveMembers[c.memberID]:
			group, reason = "CO", "27"
		case line.DateOfService.AddDate(0, 0, limit).Before(calendarDay(a.now)):
			group, reason = "CO", "29"
			if medicare {
				remark = "N211"
			}
		case noAuth:
			group, reason = "CO", "197"
		case c.freq != "7" && a.duplicate(key, c.pcn):
			group, reason = "CO", "18"
		case medicare && therapyCode(l.code) && !hasAny(l.mods, "GO", "GP", "GN"):
			group, reason = "CO", "4"
		case bundled(c, i):
			group, reason, remark = "CO", "97", "M15"
		case cfg.DenyRate > 0 && unit(draw(cfg.Seed, "co50", c.pcn, l.control, strconv.Itoa(i))) < cfg.DenyRate:
			group, reason, remark = "CO", "50", "N115"
		}
		if reason != "" {
			denied++
			line.Units, line.SubmittedUnits = 0, l.units
			line.Adjustments = []x12.Adjustment{{Group: group, Reason: reason, AmountCents: l.chargeCents}}
			if remark != "" {
				line.Remarks = []string{remark}
			}
		} else {
			allowed := a.allowed(c.payerID, l)
			rest := allowed
			var adjs []x12.Adjustment
			add := func(g, r string, cents int64) {
				if cents > 0 {
					adjs = append(adjs, x12.Adjustment{Group: g, Reason: r, AmountCents: cents})
					rest -= cents
				}
			}
			if co45 := l.chargeCents - allowed; co45 > 0 {
				adjs = append(adjs, x12.Adjustment{Group: "CO", Reason: "45", AmountCents: co45})
			}
			ded := min(deductible, rest)
			deductible -= ded
			add("PR", "1", ded)
			if medicare {
				add("PR", "2", percent(rest, 20))
				add("CO", "253", percent(rest, 2))
			}
			cp := min(copay, rest)
			copay -= cp
			add("PR", "3", cp)
			line.PaidCents, line.AllowedCents, line.Adjustments = rest, allowed, adjs
			a.local[key] = c.pcn
		}
		for _, ad := range line.Adjustments {
			if ad.Group == "PR" {
				out.PatientCents += ad.AmountCents
			}
		}
		out.PaidCents += line.PaidCents
		out.Lines = append(out.Lines, line)
		res.Lines = append(res.Lines, LineRemit{
			ControlNumber: l.control, Code: l.code, ChargeCents: l.chargeCents,
			AllowedCents: line.AllowedCents, PaidCents: line.PaidCents, Denied: reason != "",
			Adjustments: line.Adjustments, Remarks: line.Remarks,
		})
	}
	out.Status = "1"
	if denied == len(c.lines) {
		out.Status = "4"
	}
	res.Status, res.PaidCents, res.PatientCents = out.Status, out.PaidCents, out.PatientCents
	return out, res
}

// duplicate reports whether the service was paid in an earlier file or on
// another claim earlier in this one.
func (a *adjudication) duplicate(k lineKey, pcn string) bool {
	if f, ok := a.seen[k]; ok && f != a.fileID {
		return true
	}
	if other, ok := a.local[k]; ok && other != pcn {
		return true
	}
	return false
}

// allowed prices a line: the fee schedule per unit times the units, at
// most the charge (a payer pays the lesser of the two), or 60% of the
// charge when the payer has no fee for the code.
func (a *adjudication) allowed(payerID string, l *rline) int64 {
	if f := a.cfg.Allowed; f != nil {
		if per, ok := f(payerID, l.code); ok && per >= 0 {
			if per > 0 && int64(l.units) > l.chargeCents/per {
				return l.chargeCents
			}
			return min(per*int64(l.units), l.chargeCents)
		}
	}
	return percent(l.chargeCents, 60)
}

// percent returns pct% of cents, rounded to the nearest cent, halves up.
// Amounts come from parseMoney (at most 13 digits of dollars), so the
// product does not overflow.
func percent(cents, pct int64) int64 {
	return (cents*pct + 50) / 100
}

// bundled reports whether line i is the column-2 code of a pair whose
// column-1 code is billed on another line of the claim on the same day,
// without a modifier that marks it distinct.
func bundled(c *rclaim, i int) bool {
	l := &c.lines[i]
	for _, m := range l.mods {
		if distinctModifiers[m] {
			return false
		}
	}
	for j := range c.lines {
		o := &c.lines[j]
		if j == i || o.dos != l.dos {
			continue
		}
		for _, col2 := range therapyPairs[o.code] {
			if col2 == l.code {
				return true
			}
		}
	}
	return false
}

func hasAny(mods []string, want ...string) bool {
	for _, m := range mods {
		for _, w := range want {
			if m == w {
				return true
			}
		}
	}
	return false
}

// parseDate reads CCYYMMDD, which serviceDates has checked for shape; an
// impossible date such as 20260231 gives the zero time.
func parseDate(v string) time.Time {
	t, err := time.Parse("20060102", v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// calendarDay truncates t to its calendar date in UTC.
func calendarDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
