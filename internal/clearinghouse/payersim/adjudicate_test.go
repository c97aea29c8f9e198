package payersim

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/pkg/x12"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// adjudicateNow is the adjudication date of the tests: two weeks after
// fileTime.
var adjudicateNow = time.Date(2026, 3, 19, 9, 0, 0, 0, time.UTC)

// fees is a synthetic fee schedule per unit, in cents.
var fees = map[string]int64{
	"97165": 10512, "97530": 3875, "97140": 3102, "97110": 2941, "92507": 8320,
}

func testAdjudicateConfig() AdjudicateConfig {
	return AdjudicateConfig{
		Seed: 42, Now: adjudicateNow,
		Allowed: func(payerID, code string) (int64, bool) {
			c, ok := fees[code]
			if payerID == "60054" {
				c = c * 110 / 100 // the commercial plan pays 10% more
			}
			return c, ok
		},
		AuthRequired:    func(payerID string) bool { return payerID == "60054" },
		InactiveMembers: map[string]bool{"9ZZ9ZZ9ZZ99": true},
		DeductibleRate:  0.3, DeductibleCents: 5000,
		CopayCents: 2500,
	}
}

// medicareLine is a line of a Medicare claim.
func medicareLine(pcn string, n int, code string, cents int64, units int, dos time.Time, mods ...string) x12.Line837 {
	return x12.Line837{Code: code, Modifiers: mods, ChargeCents: cents, Units: units,
		DiagnosisPointers: []int{1}, DateOfService: dos, ControlNumber: fmt.Sprintf("%s-%d", pcn, n)}
}

// medicareClaim is selfClaim with other lines and member.
func medicareClaim(pcn, member string, lines ...x12.Line837) x12.Claim837 {
	c := selfClaim(pcn, member)
	c.Lines = lines
	c.TotalChargeCents = 0
	for _, l := range lines {
		c.TotalChargeCents += l.ChargeCents
	}
	return c
}

// representative returns the claims of the golden batch and, for each,
// the adjustments expected per line ("" for a line only priced).
func representative() ([]x12.Claim837, map[string][]string) {
	ot := medicareClaim("OT260302K", "1EG4TE5MK73",
		medicareLine("OT260302K", 1, "97165", 17500, 1, day(2), "GO"),
		medicareLine("OT260302K", 2, "97530", 24000, 2, day(2), "GO", "KX"))
	pair := medicareClaim("PT260303B", "2FH5UF6NL84",
		medicareLine("PT260303B", 1, "97530", 24000, 2, day(3), "GP"),
		medicareLine("PT260303B", 2, "97140", 11000, 1, day(3), "GP"))
	noGO := medicareClaim("OT260304M", "3GJ6VG7PM95",
		medicareLine("OT260304M", 1, "97110", 12000, 1, day(4)))
	inactive := medicareClaim("PT260304I", "9ZZ9ZZ9ZZ99",
		medicareLine("PT260304I", 1, "97110", 12000, 1, day(4), "GP"))
	old := medicareClaim("PT241201T", "4HK7WH8QN06",
		medicareLine("PT241201T", 1, "97110", 12000, 1, time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), "GP"))
	noAuth := childClaim("SLP260303N")
	withAuth := childClaim("SLP260310A")
	withAuth.PriorAuth = "AUTH55012"
	for i := range withAuth.Lines {
		withAuth.Lines[i].DateOfService = day(10 + i)
	}
	medicaid := childClaim("SLP260311C")
	medicaid.PayerName, medicaid.PayerID, medicaid.ClaimFilingCode = "STATE MEDICAID", "77027", "MC"
	medicaid.Subscriber.MemberID = "MCD000111222"
	claims := []x12.Claim837{ot, pair, noGO, inactive, old, noAuth, withAuth, medicaid}
	want := map[string][]string{
		"PT260303B-2":  {"CO-97"},
		"OT260304M-1":  {"CO-4"},
		"PT260304I-1":  {"CO-27"},
		"PT241201T-1":  {"CO-29"},
		"SLP260303N-1": {"CO-197"},
		"SLP260303N-2": {"CO-197"},
	}
	return claims, want
}

// remit835 is an 835 read back by summing its segments.
type remit835 struct {
	claims map[string]*claimRead // by CLP01
	order  []string
}

type claimRead struct {
	status             string
	charge, paid, resp int64
	prSum              int64 // Σ PR amounts, claim and line CAS
	icn                string
	lines              []lineRead
}

func (c *claimRead) lineCAS() int64 {
	var n int64
	for _, l := range c.lines {
		n += l.cas
	}
	return n
}

type lineRead struct {
	control       string
	charge, paid  int64
	cas           int64    // Σ line CAS amounts
	adjustments   []string // GROUP-REASON
	remarks       []string
	allowed       int64
	code          string
	unitsPaid     string
	originalUnits string
}

// money reads an X12 decimal, negative amounts included, as cents.
func money(v string) (int64, error) {
	neg := strings.HasPrefix(v, "-")
	c, ok := parseMoney(strings.TrimPrefix(v, "-"))
	if !ok {
		return 0, fmt.Errorf("%q is not an amount", v)
	}
	if neg {
		c = -c
	}
	return c, nil
}

// readRemit parses an 835 with x12.Parse and checks by summing its
// segments that every line, claim and payment balances (BILLING.md §6.5).
func readRemit(data []byte) (*remit835, error) {
	ics, err := x12.Parse(data)
	if err != nil {
		return nil, err
	}
	r := &remit835{claims: map[string]*claimRead{}}
	for _, ic := range ics {
		for _, g := range ic.Groups {
			if g.GS.Element(1) != "HP" || g.GS.Element(8) != x12.Version835 {
				return nil, fmt.Errorf("GS %v is not an 835 group", g.GS)
			}
			for _, tx := range g.Transactions {
				if err := readPayment(r, tx); err != nil {
					return nil, err
				}
			}
		}
	}
	return r, nil
}

func readPayment(r *remit835, tx x12.Transaction) error {
	if tx.ST.Element(1) != "835" || tx.ST.Element(3) != x12.Version835 {
		return fmt.Errorf("ST %v", tx.ST)
	}
	var bpr, clp, plb int64
	var c *claimRead
	var l *lineRead
	var claimCAS int64
	finish := func() error {
		if c == nil {
			return nil
		}
		var charged int64
		for _, ln := range c.lines {
			charged += ln.charge
		}
		adj, pr := claimCAS+c.lineCAS(), c.prSum
		if len(c.lines) > 0 && charged != c.charge {
			return fmt.Errorf("claim %s: CLP03 %d, lines %d", c.icn, c.charge, charged)
		}
		if c.charge-adj != c.paid {
			return fmt.Errorf("claim %s: CLP03 %d − CAS %d ≠ CLP04 %d", c.icn, c.charge, adj, c.paid)
		}
		if pr != c.resp {
			return fmt.Errorf("claim %s: CLP05 %d ≠ Σ PR %d", c.icn, c.resp, pr)
		}
		return nil
	}
	for _, s := range tx.Segments {
		var err error
		switch s.ID {
		case "BPR":
			bpr, err = money(s.Element(2))
		case "CLP":
			if err := finish(); err != nil {
				return err
			}
			c, l, claimCAS = &claimRead{status: s.Element(2), icn: s.Element(7)}, nil, 0
			var e1, e2, e3 error
			c.charge, e1 = money(s.Element(3))
			c.paid, e2 = money(s.Element(4))
			if s.Element(5) != "" {
				c.resp, e3 = money(s.Element(5))
			}
			err = errors.Join(e1, e2, e3)
			clp += c.paid
			r.claims[s.Element(1)] = c
			r.order = append(r.order, s.Element(1))
		case "SVC":
			if c == nil {
				return fmt.Errorf("SVC before CLP")
			}
			c.lines = append(c.lines, lineRead{code: s.Component(1, 2), unitsPaid: s.Element(5), originalUnits: s.Element(7)})
			l = &c.lines[len(c.lines)-1]
			var e1, e2 error
			l.charge, e1 = money(s.Element(2))
			l.paid, e2 = money(s.Element(3))
			err = errors.Join(e1, e2)
		case "CAS":
			if c == nil {
				return fmt.Errorf("CAS before CLP")
			}
			var sum int64
			for k := 2; k+1 <= len(s.Elements); k += 3 {
				if s.Element(k) == "" {
					continue
				}
				a, e := money(s.Element(k + 1))
				if e != nil {
					return e
				}
				sum += a
				if s.Element(1) == "PR" {
					c.prSum += a
				}
				if l != nil {
					l.adjustments = append(l.adjustments, s.Element(1)+"-"+s.Element(k))
				}
			}
			if l == nil {
				claimCAS += sum
			} else {
				l.cas += sum
			}
		case "REF":
			if s.Element(1) == "6R" && l != nil {
				l.control = s.Element(2)
			}
		case "AMT":
			if s.Element(1) == "B6" && l != nil {
				l.allowed, err = money(s.Element(2))
			}
		case "LQ":
			if l != nil {
				l.remarks = append(l.remarks, s.Element(2))
			}
		case "PLB":
			for k := 4; k <= len(s.Elements); k += 2 {
				a, e := money(s.Element(k))
				if e != nil {
					return e
				}
				plb += a
			}
		}
		if err != nil {
			return fmt.Errorf("segment %d %s: %w", s.Index, s.ID, err)
		}
	}
	if err := finish(); err != nil {
		return err
	}
	for _, id := range r.order {
		for _, ln := range r.claims[id].lines {
			if ln.charge-ln.cas != ln.paid {
				return fmt.Errorf("claim %s line %s: SVC02 %d − CAS %d ≠ SVC03 %d", id, ln.control, ln.charge, ln.cas, ln.paid)
			}
		}
	}
	if clp-plb != bpr {
		return fmt.Errorf("BPR02 %d ≠ Σ CLP04 %d − Σ PLB %d", bpr, clp, plb)
	}
	return nil
}

// line returns the CLP01 and the line whose REF*6R is control.
func (r *remit835) line(control string) (string, *lineRead) {
	for _, id := range r.order {
		c := r.claims[id]
		for i := range c.lines {
			if c.lines[i].control == control {
				return id, &c.lines[i]
			}
		}
	}
	return "", nil
}

func TestAdjudicate(t *testing.T) {
	t.Parallel()
	claims, want := representative()
	file := write837(t, batch(501, claims...))
	cfg := testAdjudicateConfig()
	out, sum, err := Adjudicate(file, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := readRemit(out)
	if err != nil {
		t.Fatalf("835 does not read back or balance: %v\n%s", err, out)
	}
	if len(sum.Skipped) != 0 {
		t.Errorf("skipped %v", sum.Skipped)
	}
	// Two payers and one billing provider: Medicare, the commercial plan
	// and Medicaid, one transaction set each.
	if sum.Payments != 3 || bytes.Count(out, []byte("ST*835*")) != 3 {
		t.Errorf("payments = %d, want 3", sum.Payments)
	}

	// Every line of the 837 comes back with its REF*6R, in order, and
	// with the expected denial or the pricing of a paid line.
	for _, c := range claims {
		got := r.claims[c.ControlNumber]
		if got == nil {
			t.Errorf("claim %s missing from the 835", c.ControlNumber)
			continue
		}
		if got.icn != PayerClaimNumber(cfg.Seed, c.ControlNumber) {
			t.Errorf("claim %s: CLP07 %s is not the 277CA's REF*1K", c.ControlNumber, got.icn)
		}
		if len(got.lines) != len(c.Lines) {
			t.Errorf("claim %s: %d SVC, want %d", c.ControlNumber, len(got.lines), len(c.Lines))
			continue
		}
		denied := 0
		for i, l := range c.Lines {
			gl := got.lines[i]
			if gl.control != l.ControlNumber {
				t.Errorf("claim %s line %d: REF*6R %q, want %q", c.ControlNumber, i, gl.control, l.ControlNumber)
			}
			if w, ok := want[l.ControlNumber]; ok {
				denied++
				if !slices.Equal(gl.adjustments, w) || gl.paid != 0 || gl.unitsPaid != "0" {
					t.Errorf("line %s: adjustments %v paid %d units %s, want %v paid 0 units 0", l.ControlNumber, gl.adjustments, gl.paid, gl.unitsPaid, w)
				}
				continue
			}
			if gl.paid <= 0 || gl.allowed <= 0 || gl.adjustments[0] != "CO-45" {
				t.Errorf("line %s: paid %d allowed %d adjustments %v, want a priced line", l.ControlNumber, gl.paid, gl.allowed, gl.adjustments)
			}
			switch c.ClaimFilingCode {
			case "MB":
				if !slices.Contains(gl.adjustments, "PR-2") || !slices.Contains(gl.adjustments, "CO-253") {
					t.Errorf("Medicare line %s: %v, want PR-2 coinsurance and CO-253 sequestration", l.ControlNumber, gl.adjustments)
				}
			case "MC":
				for _, a := range gl.adjustments {
					if strings.HasPrefix(a, "PR-") {
						t.Errorf("Medicaid line %s: patient responsibility %v", l.ControlNumber, gl.adjustments)
					}
				}
			}
		}
		wantStatus := "1"
		if denied == len(c.Lines) {
			wantStatus = "4"
		}
		if got.status != wantStatus {
			t.Errorf("claim %s: CLP02 %s, want %s", c.ControlNumber, got.status, wantStatus)
		}
	}
	// The commercial claim with authorization pays less its copay.
	if _, l := r.line("SLP260310A-1"); l == nil || !slices.Contains(l.adjustments, "PR-3") {
		t.Errorf("commercial line without PR-3 copay: %+v", l)
	}
	// RARCs: M15 with CO-97, N211 with a Medicare CO-29.
	if _, l := r.line("PT260303B-2"); l == nil || !slices.Equal(l.remarks, []string{"M15"}) {
		t.Errorf("CO-97 line remarks: %+v", l)
	}
	if _, l := r.line("PT241201T-1"); l == nil || !slices.Equal(l.remarks, []string{"N211"}) {
		t.Errorf("CO-29 line remarks: %+v", l)
	}
	// The summary agrees with the file.
	var paid int64
	for _, id := range r.order {
		paid += r.claims[id].paid
	}
	if sum.PaidCents != paid || sum.ClaimsDenied != 4 || sum.ClaimsPaid != 4 {
		t.Errorf("summary paid %d (file %d), denied %d, paid claims %d; want 4 and 4", sum.PaidCents, paid, sum.ClaimsDenied, sum.ClaimsPaid)
	}

	// Deterministic: same seed, same bytes; another seed, other numbers.
	again, _, err := Adjudicate(file, cfg)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("second run differs (err %v)", err)
	}
	cfg.Seed = 43
	other, _, _ := Adjudicate(file, cfg)
	if bytes.Equal(other, out) {
		t.Error("another seed gives the same 835")
	}

	path := filepath.Join("testdata", "golden", "representative.835")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out, golden) {
		t.Errorf("835 differs from %s (run with -update and review the diff):\n%s", path, out)
	}
}

// TestAdjudicateAmounts checks the arithmetic of one Medicare line and one
// commercial line against hand-computed values.
func TestAdjudicateAmounts(t *testing.T) {
	t.Parallel()
	cfg := testAdjudicateConfig()
	cfg.DeductibleRate = 0
	med := medicareClaim("OT260302K", "1EG4TE5MK73", medicareLine("OT260302K", 1, "97530", 24000, 2, day(2), "GO", "KX"))
	com := childClaim("SLP260310A")
	com.PriorAuth = "AUTH55012"
	_, sum, err := Adjudicate(write837(t, batch(502, med, com)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Medicare: allowed 2 × 38.75 = 77.50; CO-45 162.50; coinsurance 20%
	// of 77.50 = 15.50; sequestration 2% of 62.00 = 1.24; paid 60.76.
	l := sum.Claims[0].Lines[0]
	wantAdj := []x12.Adjustment{{Group: "CO", Reason: "45", AmountCents: 16250}, {Group: "PR", Reason: "2", AmountCents: 1550}, {Group: "CO", Reason: "253", AmountCents: 124}}
	if l.AllowedCents != 7750 || l.PaidCents != 6076 || !slices.Equal(l.Adjustments, wantAdj) {
		t.Errorf("Medicare line: allowed %d paid %d %v", l.AllowedCents, l.PaidCents, l.Adjustments)
	}
	if sum.Claims[0].PatientCents != 1550 {
		t.Errorf("Medicare CLP05 %d, want 1550", sum.Claims[0].PatientCents)
	}
	// Commercial: allowed 83.20 × 1.1 = 91.52; CO-45 148.48; copay 25 on
	// the first line only.
	c := sum.Claims[1]
	if c.Lines[0].PaidCents != 9152-2500 || c.Lines[1].PaidCents != 9152 || c.PatientCents != 2500 {
		t.Errorf("commercial claim: %+v", c)
	}
}

func TestAdjudicateDuplicateAcrossFiles(t *testing.T) {
	t.Parallel()
	cfg := testAdjudicateConfig()
	first := write837(t, batch(601, medicareClaim("PT260305D", "5JL8XJ9RP17", medicareLine("PT260305D", 1, "97110", 12000, 1, day(5), "GP"))))
	second := write837(t, batch(602, medicareClaim("PT260305E", "5JL8XJ9RP17", medicareLine("PT260305E", 1, "97110", 12000, 1, day(5), "GP"))))
	a := &Adjudicator{Config: cfg}
	out1, sum1, err := a.Adjudicate(first)
	if err != nil || sum1.ClaimsPaid != 1 {
		t.Fatalf("first file: %v, %+v", err, sum1)
	}
	out2, sum2, err := a.Adjudicate(second)
	if err != nil {
		t.Fatal(err)
	}
	if c := sum2.Claims[0]; c.Status != "4" || c.Lines[0].Adjustments[0] != (x12.Adjustment{Group: "CO", Reason: "18", AmountCents: 12000}) {
		t.Errorf("second file: %+v, want CO-18", c)
	}
	if _, err := readRemit(out2); err != nil {
		t.Error(err)
	}
	// The first file answered again (a crash before archiving) is not a
	// duplicate of itself: same bytes.
	again, _, err := a.Adjudicate(first)
	if err != nil || !bytes.Equal(again, out1) {
		t.Errorf("re-adjudicating the first file changed the answer (err %v)", err)
	}
	// A replacement claim (frequency 7) is not a duplicate.
	repl := medicareClaim("PT260305D", "5JL8XJ9RP17", medicareLine("PT260305D", 1, "97110", 12000, 1, day(5), "GP", "59"))
	repl.Frequency, repl.OriginalRef = "7", PayerClaimNumber(cfg.Seed, "PT260305D")
	_, sum3, err := a.Adjudicate(write837(t, batch(603, repl)))
	if err != nil || sum3.ClaimsPaid != 1 {
		t.Errorf("replacement: %v, %+v", err, sum3)
	}
}

func TestAdjudicateDenyRateAndSkips(t *testing.T) {
	t.Parallel()
	cfg := testAdjudicateConfig()
	cfg.DenyRate = 1
	bad := medicareClaim("PT260306X", "6KM9YK0SQ28", medicareLine("PT260306X", 1, "97110", 12000, 1, day(6), "GP"))
	void := medicareClaim("PT260306V", "6KM9YK0SQ28", medicareLine("PT260306V", 1, "97110", 12000, 1, day(6), "GP"))
	void.Frequency, void.OriginalRef = "8", "1234567890123"
	file := write837(t, batch(701, bad, void))
	out, sum, err := Adjudicate(file, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c := sum.Claims[0]; c.Status != "4" || c.Lines[0].Adjustments[0].Reason != "50" || !slices.Equal(c.Lines[0].Remarks, []string{"N115"}) {
		t.Errorf("DenyRate 1: %+v", c)
	}
	if len(sum.Skipped) != 1 || sum.Skipped[0].ControlNumber != "PT260306V" {
		t.Errorf("skipped %+v, want the void", sum.Skipped)
	}
	// A denied-only payment is a notification: BPR*H*0*C*NON.
	if !bytes.Contains(out, []byte("BPR*H*0*C*NON")) {
		t.Errorf("zero payment not BPR H/NON:\n%s", out)
	}
	if _, err := readRemit(out); err != nil {
		t.Error(err)
	}

	if _, _, err := Adjudicate([]byte("garbage"), cfg); !errors.Is(err, ErrUnreadable) {
		t.Errorf("garbage: %v, want ErrUnreadable", err)
	}
	cfg.DenyRate = 2
	if _, _, err := Adjudicate(file, cfg); err == nil {
		t.Error("DenyRate 2 accepted")
	}
}

// FuzzAdjudicate checks that Adjudicate never panics and that any 835 it
// writes reads back and balances.
func FuzzAdjudicate(f *testing.F) {
	claims, _ := representative()
	valid := write837(f, batch(501, claims...))
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(bytes.ReplaceAll(valid, []byte("\n"), nil))
	f.Add(bytes.Replace(valid, []byte("SV1*HC:97530:GO:KX*240*UN*2"), []byte("SV1*HC:97530:GO:KX*240*UN*99999"), 1))
	f.Add(bytes.Replace(valid, []byte("DTP*472*D8*20260302"), []byte("DTP*472*D8*20260231"), 1))
	f.Add([]byte("ISA*00*          *00*          *ZZ*A              *ZZ*B              *260305*1415*^*00501*000000001*0*T*:~GS*HC*A*B*20260305*1415*1*X*005010X222A1~ST*837*1~CLM*X*1~SE*3*1~GE*1*1~IEA*1*000000001~"))
	f.Add([]byte("garbage"))
	cfg := testAdjudicateConfig()
	cfg.DenyRate = 0.2
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := Adjudicate(data, cfg)
		if err != nil || out == nil {
			return
		}
		if _, err := readRemit(out); err != nil {
			t.Fatalf("835 does not read back or balance: %v\n%s", err, out)
		}
	})
}
