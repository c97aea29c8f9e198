package x12

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleWant is what a shared 835 sample holds, checked by hand once
// against the file (amounts added up on paper) and asserted after.
type sampleWant struct {
	// Either an error: the segment position, ID and element of the
	// *SyntaxError.
	errSeg  int
	errID   string
	errElem int
	// Or the remittances read.
	remits   int
	bpr02    int64
	statuses []ClaimStatus // of the first remittance
	check    func(t *testing.T, r []Remit)
}

func TestRead835Samples(t *testing.T) {
	profee := []ClaimStatus{StatusPrimary, StatusSecondary, StatusSecondary}
	checkProfee := func(t *testing.T, rs []Remit) {
		for i, r := range rs {
			c := r.Claims
			if len(c) != 3 || c[0].PaidCents != 3425 || c[1].PaidCents != 0 || c[2].PaidCents != 1150 ||
				len(c[0].Lines) != 4 || len(c[1].Lines) != 2 || len(c[2].Lines) != 4 {
				t.Fatalf("remit %d: claims %+v", i, c)
			}
			if l := c[2].Lines[3]; l.Code != "S0580" || l.ChargeCents != 2000 || l.PaidCents != 0 ||
				!reflect.DeepEqual(l.Adjustments, []Adjustment{{Group: "CO", Reason: "251", AmountCents: 2000}}) ||
				!reflect.DeepEqual(l.Remarks, []string{"N206"}) {
				t.Errorf("remit %d claim 3 line 4: %+v", i, l)
			}
			if l := c[0].Lines[0]; !reflect.DeepEqual(l.Modifiers, []string{"RB"}) || l.AllowedCents != 600 || l.Units != 1 {
				t.Errorf("remit %d claim 1 line 1: %+v", i, l)
			}
			if c[0].CorrectedPatient == nil || c[0].Patient.IDQualifier != "MI" || refValue(c[0].Refs, "EA") == "" {
				t.Errorf("remit %d claim 1: NM1*74, NM1*QC or REF*EA not read", i)
			}
			if r.TraceNumber != "10100000000" || r.Payer.Contacts[0].Function != "BL" || r.Payee.IDQualifier != "XX" ||
				refValue(r.Payee.Refs, "TJ") == "" || refValue(r.Refs, "EV") != "ETIN" || r.PaymentDate != day(2010, 1, 1) {
				t.Errorf("remit %d header: %+v", i, r)
			}
		}
	}
	tests := map[string]sampleWant{
		"keiron__united_healthcare_legacy_sample.txt": {remits: 1, bpr02: 34999,
			statuses: []ClaimStatus{StatusPrimary, StatusPrimary},
			check: func(t *testing.T, rs []Remit) {
				r := rs[0]
				c := r.Claims[1]
				if c.ChargeCents != 81624 || c.PaidCents != 26107 || c.PatientCents != 11513 || len(c.Lines) != 3 {
					t.Errorf("claim 2: %+v", c)
				}
				// CAS*PR*2*5.13**1*110: two triplets in one segment.
				want := []Adjustment{{Group: "PR", Reason: "2", AmountCents: 513}, {Group: "PR", Reason: "1", AmountCents: 11000},
					{Group: "CO", Reason: "45", AmountCents: 18432}}
				if l := c.Lines[2]; !reflect.DeepEqual(l.Adjustments, want) || l.ControlNumber != "123456789014" || l.AllowedCents != 14418 || l.Units != 178 {
					t.Errorf("claim 2 line 3: %+v", l)
				}
				if r.PayeeBank.AccountNumber != "218857199" || r.Format != "CCP" || r.PaymentDate != day(2021, 2, 4) ||
					r.ProductionDate != day(2021, 2, 1) || len(r.Payer.Contacts) != 2 || r.Payer.Contacts[0].Function != "CX" {
					t.Errorf("header: %+v", r)
				}
				if c.Lines[0].Qualifier != "HC" || c.Lines[0].Code != "B4154" || c.CorrectedPatient == nil || len(c.Amounts) != 1 ||
					c.Amounts[0] != (Amount{"AU", 37620}) || c.StatementFrom != day(2020, 12, 18) || c.ReceivedDate != day(2021, 1, 14) {
					t.Errorf("claim 2 details: %+v", c)
				}
			}},
		// ISA16 declares ':' but the SVC composites use '>'.
		"lfh__cob-contractural-adjustment.835": {errSeg: 21, errID: "SVC", errElem: 1},
		// BPR16 is 20002316: month 23.
		"lfh__managed-care.835": {errSeg: 4, errID: "BPR", errElem: 16},
		"lfh__medicare-part-a.835": {remits: 1, bpr02: 15000000,
			statuses: []ClaimStatus{StatusPrimary, StatusPrimary},
			check: func(t *testing.T, rs []Remit) {
				r := rs[0]
				// Σ CLP04 149998.73 − PLB −1.27 = 150000.00.
				if len(r.PLB) != 1 || !reflect.DeepEqual(r.PLB[0].Adjustments, []ProviderAdjustment{{Reason: "CV", Reference: "CP", AmountCents: -127}}) ||
					r.PLB[0].FiscalPeriodEnd != day(2002, 12, 31) {
					t.Errorf("PLB %+v", r.PLB)
				}
				if len(r.Headers) != 2 || r.Headers[0].TS3 == nil || r.Headers[0].TS2 == nil ||
					r.Headers[0].TS3.Amounts["TS305"] != 21136697 || r.Headers[1].TS3.Amounts["TS311"] != 301967 ||
					r.Headers[0].TS2.Amounts["TS201"] != 217845 || r.Claims[1].HeaderNumber != "130212" {
					t.Errorf("LX/TS3/TS2 %+v", r.Headers)
				}
				c := r.Claims[0]
				if c.Inpatient == nil || c.Inpatient.Quantities["MIA01"] != "0" || c.Inpatient.Amounts["MIA04"] != 13801840 ||
					len(c.Quantities) != 1 || c.Quantities[0] != (Quantity{"CA", "8.00"}) || c.Patient.IDQualifier != "HN" {
					t.Errorf("claim 1 MIA/QTY/NM1: %+v", c)
				}
				if o := r.Claims[1].Outpatient; o == nil || !reflect.DeepEqual(o.Remarks, []string{"MA02"}) {
					t.Errorf("claim 2 MOA %+v", o)
				}
				if r.Format != "CTX" || r.Handling != "C" || r.OriginatorID != "1512345678" {
					t.Errorf("BPR %+v", r)
				}
			}},
		// SVC*HC>12345>26 with ISA16 ':'.
		"lfh__secondary-payment.835": {errSeg: 29, errID: "SVC", errElem: 1},
		// SVC*HC*24599.00*…: the code is where the charge belongs.
		"lfh__tertiary-payment.835": {errSeg: 20, errID: "SVC", errElem: 1},
		"pyx12__835_mult_loops.txt": {remits: 1, bpr02: 0, statuses: []ClaimStatus{StatusDenied},
			check: func(t *testing.T, rs []Remit) {
				r := rs[0]
				c := r.Claims[0]
				if r.Handling != "H" || r.Method != "NON" || c.ChargeCents != 91539 || len(c.Lines) != 3 ||
					c.Lines[1].ServiceFrom != day(2003, 10, 30) || c.Lines[1].ServiceTo != day(2003, 10, 30) ||
					c.Lines[2].Adjustments[0] != (Adjustment{Group: "OA", Reason: "A7", AmountCents: 28755}) ||
					c.Lines[0].Units != 68 || c.Rendering == nil || r.Headers[0].TS3.Quantities["TS304"] != "1" {
					t.Errorf("%+v", r)
				}
			}},
		// The segment terminator is a newline (ISA16 ':' then '\n').
		"tastypackets__multi-line-not-delimited.edi": {remits: 1, bpr02: 4575, statuses: profee, check: checkProfee},
		// 156 copies of profee.edi with the same ISA13.
		"tastypackets__profee-multiple.edi": {remits: 156, bpr02: 4575, statuses: profee, check: checkProfee},
		"tastypackets__profee-one-line.edi": {remits: 1, bpr02: 4575, statuses: profee, check: checkProfee},
		"tastypackets__profee.edi":          {remits: 1, bpr02: 4575, statuses: profee, check: checkProfee},
	}
	files, err := filepath.Glob("testdata/835/*")
	if err != nil || len(files) != len(tests) {
		t.Fatalf("%d files in testdata/835, %d expected (%v)", len(files), len(tests), err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		want, ok := tests[name]
		if !ok {
			t.Errorf("%s has no expected result", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := Read835(data)
			if want.errSeg != 0 {
				var se *SyntaxError
				if !errors.As(err, &se) || se.Segment != want.errSeg || se.ID != want.errID || se.Element != want.errElem || rs != nil {
					t.Fatalf("got %v (%#v), want a SyntaxError at %s segment %d element %d", err, err, want.errID, want.errSeg, want.errElem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != want.remits {
				t.Fatalf("%d remittances, want %d", len(rs), want.remits)
			}
			for i := range rs {
				r := &rs[i]
				if r.TotalPaidCents != want.bpr02 || r.Version != Version835 {
					t.Errorf("remit %d: BPR02 %d version %s", i, r.TotalPaidCents, r.Version)
				}
				var st []ClaimStatus
				for _, c := range r.Claims {
					st = append(st, c.Status)
				}
				if !reflect.DeepEqual(st, want.statuses) {
					t.Errorf("remit %d: statuses %v, want %v", i, st, want.statuses)
				}
				// Every readable sample balances: checked by hand.
				if im := r.Check(); len(im) != 0 {
					t.Errorf("remit %d: imbalances %v", i, im)
				}
			}
			want.check(t, rs)
		})
	}
}

// TestRead835RoundTrip reads back what Write835 writes: the test remittance
// of x835w_test.go and its committed golden file.
func TestRead835RoundTrip(t *testing.T) {
	src := testRemit()
	out, err := Append835(nil, src)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "remit_plb.835"))
	if err != nil {
		t.Fatal(err)
	}
	want := src.Payments[0]
	// The writer's defaults, made explicit.
	want.ProductionDate = want.PaymentDate
	want.FiscalPeriodEnd = day(want.PaymentDate.Year(), 12, 31)
	// The writer emits one CAS per group, in the order the groups first
	// appear, so adjustments read back grouped that way.
	for i := range want.Claims {
		c := &want.Claims[i]
		c.Adjustments = groupedCAS(c.Adjustments)
		for j := range c.Lines {
			c.Lines[j].Adjustments = groupedCAS(c.Lines[j].Adjustments)
		}
	}
	for name, data := range map[string][]byte{"written": out, "golden": golden} {
		rs, err := Read835(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(rs) != 1 {
			t.Fatalf("%s: %d remittances", name, len(rs))
		}
		r := rs[0]
		if got := r.Payment835(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s reads back as\n%+v\nwant\n%+v", name, got, want)
		}
		if im := r.Check(); len(im) != 0 {
			t.Errorf("%s: imbalances %v", name, im)
		}
		if r.SenderID != src.SenderID || r.ReceiverID != src.ReceiverID || r.InterchangeControl != "000000900" ||
			r.GroupControl != "900" || r.Claims[0].Status.Words() != "processed as primary" {
			t.Errorf("%s: envelope %+v", name, r)
		}
	}
}

func groupedCAS(adjs []Adjustment) []Adjustment {
	var out []Adjustment
	var groups []string
	for _, a := range adjs {
		seen := false
		for _, g := range groups {
			seen = seen || g == a.Group
		}
		if !seen {
			groups = append(groups, a.Group)
		}
	}
	for _, g := range groups {
		for _, a := range adjs {
			if a.Group == g {
				out = append(out, a)
			}
		}
	}
	return out
}

// mini835 wraps claim and PLB segments (one per line, '*' ':' '~') in a
// complete 835 with a correct SE count.
func mini835(bpr02 string, body ...string) []byte {
	segs := append([]string{
		"BPR*I*" + bpr02 + "*C*CHK************20260319",
		"TRN*1*CHK0001*1123456789",
		"DTM*405*20260319",
		"N1*PR*PAYER",
		"PER*BL*EDI*TE*8005550199",
		"N1*PE*CLINIC*XX*1234567893",
		"LX*1",
	}, body...)
	var b strings.Builder
	b.WriteString("ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         *260319*0900*^*00501*000000001*0*T*:~\n")
	b.WriteString("GS*HP*PAYER*CLINIC*20260319*0900*1*X*005010X221A1~\nST*835*0001~\n")
	for _, s := range segs {
		b.WriteString(s + "~\n")
	}
	fmt.Fprintf(&b, "SE*%d*0001~\nGE*1*1~\nIEA*1*000000001~\n", len(segs)+2)
	return []byte(b.String())
}

func TestRead835CAS(t *testing.T) {
	tests := []struct {
		name string
		cas  []string
		want []Adjustment
		err  int // element of the SyntaxError, -1 for none
	}{
		{"one", []string{"CAS*CO*45*10"}, []Adjustment{{"CO", "45", 1000, 0}}, -1},
		{"six triplets", []string{"CAS*CO*45*1*1*253*2**97*3*2*A2*1.5**B7*.5**16*0.05"},
			[]Adjustment{{"CO", "45", 100, 1}, {"CO", "253", 200, 0}, {"CO", "97", 300, 2}, {"CO", "A2", 150, 0}, {"CO", "B7", 50, 0}, {"CO", "16", 5, 0}}, -1},
		{"seven triplets", []string{"CAS*CO*1*1**2*1**3*1**4*1**5*1**6*1**7*1"}, nil, 20},
		{"several segments and groups", []string{"CAS*PR*1*5", "CAS*OA*23*1", "CAS*PI*2*1", "CAS*CR*3*-1", "CAS*PR*2*2.5"},
			[]Adjustment{{"PR", "1", 500, 0}, {"OA", "23", 100, 0}, {"PI", "2", 100, 0}, {"CR", "3", -100, 0}, {"PR", "2", 250, 0}}, -1},
		{"gap", []string{"CAS*CO*45*1*****97*2"}, []Adjustment{{"CO", "45", 100, 0}, {"CO", "97", 200, 0}}, -1},
		{"bad group", []string{"CAS*XX*45*1"}, nil, 1},
		{"three decimals", []string{"CAS*CO*45*1.005"}, nil, 3},
		{"three zero decimals", []string{"CAS*CO*45*1.000"}, nil, 3},
		{"missing amount", []string{"CAS*CO*45"}, nil, 3},
		{"amount without reason", []string{"CAS*CO*45*1**" + "*2"}, nil, 5},
		{"fractional quantity", []string{"CAS*CO*45*1*1.5"}, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var total int64
			for _, a := range tt.want {
				total += a.AmountCents
			}
			body := append([]string{"CLP*A1*1*" + dec(total) + "*0**12*ICN1", "NM1*QC*1*DOE*JANE****MI*M1"}, tt.cas...)
			rs, err := Read835(mini835("0", body...))
			if tt.err >= 0 {
				var se *SyntaxError
				if !errors.As(err, &se) || se.ID != "CAS" || se.Element != tt.err || se.Segment != 13 {
					t.Fatalf("got %v (%#v), want a CAS SyntaxError at element %d of segment 13", err, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := rs[0].Claims[0]
			if !reflect.DeepEqual(c.Adjustments, tt.want) {
				t.Errorf("got %+v, want %+v", c.Adjustments, tt.want)
			}
		})
	}
}

func TestRead835PLB(t *testing.T) {
	claim := []string{"CLP*A1*1*100*100**12*ICN1", "NM1*QC*1*DOE*JANE"}
	tests := []struct {
		name  string
		bpr02 string
		plb   []string
		want  [][]ProviderAdjustment
		err   int // element, -1 none, 0 = imbalance expected instead
	}{
		{"pairs", "59", []string{"PLB*1234567893*20261231*WO:ICN9*50*L6*-14*72:X*5"},
			[][]ProviderAdjustment{{{"WO", "ICN9", 5000}, {"L6", "", -1400}, {"72", "X", 500}}}, -1},
		{"two segments", "100", []string{"PLB*1234567893*20261231*FB:A*10", "PLB*1234567893*20261231*FB:B*-10"},
			[][]ProviderAdjustment{{{"FB", "A", 1000}}, {{"FB", "B", -1000}}}, -1},
		{"unbalanced", "100", []string{"PLB*1234567893*20261231*WO*1"}, [][]ProviderAdjustment{{{"WO", "", 100}}}, 0},
		{"missing amount", "100", []string{"PLB*1234567893*20261231*WO"}, nil, 4},
		{"missing date", "100", []string{"PLB*1234567893**WO*1"}, nil, 2},
		{"bad amount", "100", []string{"PLB*1234567893*20261231*WO*1.234"}, nil, 4},
		{"seven pairs", "100", []string{"PLB*1*20261231*A*1*B*1*C*1*D*1*E*1*F*1*G*1"}, nil, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Read835(mini835(tt.bpr02, append(claim, tt.plb...)...))
			if tt.err > 0 {
				var se *SyntaxError
				if !errors.As(err, &se) || se.ID != "PLB" || se.Element != tt.err {
					t.Fatalf("got %v, want a PLB SyntaxError at element %d", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [][]ProviderAdjustment
			for _, p := range rs[0].PLB {
				got = append(got, p.Adjustments)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			im := rs[0].Check()
			if tt.err == 0 {
				if len(im) != 1 || im[0].Rule != "file" || im[0].Reported != 10000 || im[0].Computed != 9900 || im[0].Segment != 4 {
					t.Errorf("imbalances %+v", im)
				}
			} else if len(im) != 0 {
				t.Errorf("imbalances %+v", im)
			}
		})
	}
}

// TestRead835Reversal reads a reversal (CLP02 22, negated amounts) followed
// by the corrected claim (BILLING.md §6.5), and a re-coded line (SVC06).
func TestRead835Reversal(t *testing.T) {
	data := mini835("20.00",
		"CLP*OT1*22*-150*-100*-20*MB*ICN1*11*1",
		"CAS*CO*45*-30",
		"NM1*QC*1*DOE*JANE****MI*M1",
		"SVC*HC:97110:GP*-150*-100**-1",
		"CLP*OT1*1*150*120*20*MB*ICN2*11*1",
		"NM1*QC*1*DOE*JANE****MI*M1",
		"NM1*IL*1*DOE*JOHN****MI*M0",
		"SVC*HC:97110:GP*150*120**2*HC:97530:GP:KX*3",
		"DTM*472*20260302",
		"CAS*CO*45*10",
		"CAS*PR*2*20",
		"REF*6R*OT1-1",
		"AMT*B6*140",
		"LQ*HE*M15",
		"LQ*RX*70",
	)
	_, err := Read835(data)
	var se *SyntaxError
	// SVC05 -1 is not a whole non-negative quantity.
	if !errors.As(err, &se) || se.ID != "SVC" || se.Element != 5 || se.Segment != 14 {
		t.Fatalf("negative units: %v", err)
	}
	data = []byte(strings.Replace(string(data), "SVC*HC:97110:GP*-150*-100**-1", "SVC*HC:97110:GP*-150*-100**1", 1))
	rs, err := Read835(data)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	rev, cor := r.Claims[0], r.Claims[1]
	if rev.Status != StatusReversal || rev.Status.Words() != "reversal of previous payment" ||
		rev.ChargeCents != -15000 || rev.PaidCents != -10000 || rev.PatientCents != -2000 {
		t.Errorf("reversal %+v", rev)
	}
	l := cor.Lines[0]
	if l.Original == nil || l.Original.Code != "97530" || !reflect.DeepEqual(l.Original.Modifiers, []string{"GP", "KX"}) ||
		l.SubmittedUnits != 3 || l.Units != 2 || l.ControlNumber != "OT1-1" || l.AllowedCents != 14000 ||
		!reflect.DeepEqual(l.Remarks, []string{"M15"}) || !reflect.DeepEqual(l.NCPDPRejects, []string{"70"}) ||
		l.DateOfService != day(2026, 3, 2) || cor.Insured == nil || cor.Insured.First != "JOHN" {
		t.Errorf("corrected line %+v", l)
	}
	// The reversal's line: -150 − 0 ≠ -100; its claim: -150 − (-30) ≠ -100
	// and CLP05 -20 with no PR: three imbalances, all reported.
	im := r.Check()
	var rules []string
	for _, i := range im {
		rules = append(rules, fmt.Sprintf("%s/%d/%d/%d", i.Rule, i.Claim, i.Line, i.Segment))
	}
	want := []string{"line/0/0/14", "claim/0/-1/11", "patient/0/-1/11"}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("imbalances %v, want %v\n%v", rules, want, im)
	}
	if im[0].Reported != -10000 || im[0].Computed != -15000 || !strings.Contains(im[0].String(), "SVC03 is -100.00") {
		t.Errorf("line imbalance %+v", im[0])
	}
}

// TestRead835Errors checks malformed input gives a SyntaxError naming the
// segment and element, and that no message repeats a value from the file.
func TestRead835Errors(t *testing.T) {
	claim := "CLP*SECRETPCN*1*100*100**12*ICN1"
	tests := []struct {
		name string
		data []byte
		id   string
		seg  int
		elem int
	}{
		{"three decimals", mini835("100", "CLP*SECRETPCN*1*100.001*100**12*ICN1"), "CLP", 11, 3},
		{"bad status", mini835("100", "CLP*SECRETPCN*99*100*100**12*ICN1"), "CLP", 11, 2},
		{"money letters", mini835("1O0", claim), "BPR", 4, 2},
		{"bad date", mini835("100", claim, "DTM*232*SECRET99"), "DTM", 12, 2},
		{"SVC outside claim", mini835("100", "SVC*HC:97110*1*1"), "SVC", 11, 0},
		{"NM1 unknown", mini835("100", claim, "NM1*ZZ*1*SECRETNAME"), "NM1", 12, 1},
		{"segment after PLB", mini835("100", claim, "PLB*1*20261231*WO*1", "CLP*X*1*1*1"), "CLP", 13, 0},
		{"no code", mini835("100", claim, "SVC*HC*100*100"), "SVC", 12, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read835(tt.data)
			var se *SyntaxError
			if !errors.As(err, &se) || se.ID != tt.id || se.Segment != tt.seg || se.Element != tt.elem {
				t.Fatalf("got %v (%#v), want %s at segment %d element %d", err, err, tt.id, tt.seg, tt.elem)
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "1O0") {
				t.Errorf("message repeats a value: %v", err)
			}
		})
	}
	_, err := Read835([]byte(strings.Replace(string(mini835("0")), "GS*HP", "GS*HC", 1)))
	var te *TransactionTypeError
	if !errors.As(err, &te) || te.Want != "835" {
		t.Errorf("837 group: %v", err)
	}
}

// TestCalendarDate compares calendarDate with the time.Parse it replaces,
// over every month and day field of years with and without February 29.
func TestCalendarDate(t *testing.T) {
	for _, y := range []string{"0000", "1900", "2000", "2024", "2026", "9999"} {
		for m := 0; m < 100; m++ {
			for d := 0; d < 100; d++ {
				v := fmt.Sprintf("%s%02d%02d", y, m, d)
				want, err := time.Parse("20060102", v)
				got, ok := calendarDate(v)
				if ok != (err == nil) || ok && got != want {
					t.Fatalf("calendarDate(%s) = %v, %v; time.Parse: %v, %v", v, got, ok, want, err)
				}
			}
		}
	}
}

// FuzzRead835 checks that Read835 never panics, fails only with the
// package's error types, and that Check works on whatever it accepts. The
// committed corpus in testdata/fuzz/FuzzRead835 holds the 835 samples
// (but profee-multiple, 156 copies of profee.edi); f.Add adds the golden
// 835 and the hand-built remittance.
func FuzzRead835(f *testing.F) {
	if g, err := os.ReadFile(filepath.Join("testdata", "golden", "remit_plb.835")); err == nil {
		f.Add(g)
	}
	f.Add(mini835("20.00", "CLP*OT1*22*-150*-100*-20*MB*ICN1*11*1", "CAS*PR*2*-20", "NM1*QC*1*A",
		"SVC*HC:97110:GP*-150*-100**1*HC:97530*1", "CAS*CO*45*-30", "PLB*1*20261231*WO:X*1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Read835(data)
		if err != nil {
			var se *SyntaxError
			var te *TransactionTypeError
			if rs != nil || !errors.As(err, &se) && !errors.As(err, &te) {
				t.Fatalf("error %v (%T) with %d remittances", err, err, len(rs))
			}
			return
		}
		if len(rs) == 0 {
			t.Fatal("no error and no remittance")
		}
		for i := range rs {
			r := &rs[i]
			if r.TraceNumber == "" {
				t.Fatal("835 without TRN02 accepted")
			}
			for _, im := range r.Check() {
				if im.Reported == im.Computed {
					t.Fatalf("imbalance that balances: %+v", im)
				}
			}
			_ = r.Payment835()
			for _, c := range r.Claims {
				if c.Status.Words() == "unknown status" {
					t.Fatal("unknown CLP02 accepted")
				}
			}
		}
	})
}

func BenchmarkRead835(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "835", "tastypackets__profee-multiple.edi"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read835(data); err != nil {
			b.Fatal(err)
		}
	}
}

// largeRemit is a payer-sized remittance: payments of n claims each, every
// claim of four lines, each line with DTM*472, a CAS holding a contractual
// and a deductible adjustment, REF*6R, AMT*B6 and LQ*HE, which is what a
// busy clinic's weekly Medicare 835 looks like. Lines have none, one or
// two modifiers and every fifth claim a claim-level CAS, so that the
// lists read back differ in length from one line or claim to the next.
func largeRemit(payments, n int) Remit835 {
	dos := day(2026, 3, 2)
	r := Remit835{SenderID: "CLEARHOUSE01", ReceiverID: "RCMCLINIC01", InterchangeControl: 900, GroupControl: 900,
		Usage: "P", Created: time.Date(2026, 3, 19, 9, 0, 0, 0, time.UTC)}
	codes := [4]string{"97110", "97140", "97530", "97112"}
	mods := [3][]string{nil, {"GP"}, {"GP", "KX"}}
	for pi := range payments {
		p := Payment835{
			Handling: "C", Method: "ACH",
			PayerBank:    BankAccount{RoutingNumber: "011000015", AccountNumber: "1234567890"},
			PayeeBank:    BankAccount{RoutingNumber: "021000021", AccountNumber: "9876543210"},
			OriginatorID: "1123456789", PaymentDate: day(2026, 3, 19), TraceNumber: fmt.Sprintf("%010d", pi+1),
			Payer: PayerInfo{Name: "MEDICARE PART B", ID: "00952",
				Address: Address{Line1: "PO BOX 1", City: "CHICAGO", State: "IL", ZIP: "60601"},
				Contact: Contact835{Name: "EDI", Phone: "8005550199"}},
			Payee:  PayeeInfo{Name: "RIVERSIDE THERAPY GROUP", NPI: "1234567893", TIN: "123456789"},
			Claims: make([]Claim835, n),
		}
		p.ProductionDate = p.PaymentDate
		for i := range p.Claims {
			pcn := fmt.Sprintf("PT%02d%08d", pi, i)
			c := Claim835{
				ControlNumber: pcn, Status: "1", FilingCode: "MB", FacilityCode: "11", Frequency: "1",
				PayerClaimNumber: fmt.Sprintf("79982063%05d", i),
				Patient:          Name835{Last: "DOE", First: "MARGARET", MemberID: "1EG4TE5MK73"},
				StatementFrom:    dos, StatementTo: dos, ReceivedDate: day(2026, 3, 5),
			}
			if i%5 == 0 {
				c.Adjustments = []Adjustment{{Group: "OA", Reason: "23", AmountCents: 100}}
				c.PaidCents -= 100
			}
			for k, code := range codes {
				l := Line835{Code: code, Modifiers: mods[(i+k)%3], ChargeCents: 15000, PaidCents: 9750,
					Units: 2, DateOfService: dos, ControlNumber: fmt.Sprintf("%s-%d", pcn, k+1), AllowedCents: 12000,
					Adjustments: []Adjustment{{Group: "CO", Reason: "45", AmountCents: 3000}, {Group: "PR", Reason: "2", AmountCents: 2250}},
					Remarks:     []string{"N130"}}
				c.Lines = append(c.Lines, l)
				c.ChargeCents += l.ChargeCents
				c.PaidCents += l.PaidCents
				c.PatientCents += 2250
			}
			p.Claims[i] = c
			p.TotalPaidCents += c.PaidCents
		}
		r.Payments = append(r.Payments, p)
	}
	return r
}

// TestRead835Large reads back a remittance of several sets, each of more
// claims, lines and adjustments than the reader's first backing arrays
// hold.
func TestRead835Large(t *testing.T) {
	src := largeRemit(3, 500)
	data, err := Append835(nil, src)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Read835(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(src.Payments) {
		t.Fatalf("%d remittances, want %d", len(rs), len(src.Payments))
	}
	for i := range rs {
		got, want := rs[i].Payment835(), src.Payments[i]
		if !reflect.DeepEqual(got, want) {
			for j := range want.Claims {
				if !reflect.DeepEqual(got.Claims[j], want.Claims[j]) {
					t.Fatalf("remit %d claim %d reads back as\n%+v\nwant\n%+v", i, j, got.Claims[j], want.Claims[j])
				}
			}
			t.Fatalf("remit %d reads back as\n%+v\nwant\n%+v", i, got, want)
		}
		if im := rs[i].Check(); len(im) != 0 {
			t.Errorf("remit %d: imbalances %v", i, im)
		}
	}
}

// BenchmarkRead835Large reads a 10,000-claim 835, the size a payer's
// weekly file reaches, where BenchmarkRead835 reads many small sets.
func BenchmarkRead835Large(b *testing.B) {
	data, err := Append835(nil, largeRemit(1, 10000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read835(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "claims/s")
}
