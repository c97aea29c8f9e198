package x12

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRead277CASamples checks the copied 277CAs, values read off the files
// by hand once: the accepted one has batch STC*A1:20 with QTY*90*1 and
// AMT*YU*125.0 and claim 5781 at STC*A2:20; the rejected one (component
// separator |) has claim 3920394930203 at STC*A7|562|85 with REF*1K.
func TestRead277CASamples(t *testing.T) {
	t.Parallel()
	type claim struct {
		pcn, payerNumber, from string
		action                 Action
		codes                  string
		reason                 string
	}
	tests := []struct {
		file, batchRef, batchCodes string
		accepted                   int
		acceptedCents              int64
		npi                        string
		claims                     []claim
	}{
		{"imsweb__x12_277CA_accepted.txt", "000000674", "A1:20:", 1, 12500, "1234567890",
			[]claim{{"5781", "1107000000014420", "10010101", ActionAccepted, "A2:20:", "A2:20 accepted into adjudication: accepted for processing"}}},
		{"imsweb__x12_277CA_rejected.txt", "11200001", "A1:20:", 1, 19914, "123456789",
			[]claim{{"3920394930203", "1107000000001120", "20090311", ActionRejected, "A7:562:85", "A7:562:85 rejected for invalid information: the entity's NPI (billing provider)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data := readSample(t, tt.file)
			acks, err := Read277CA(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(acks) != 1 || len(acks[0].Batches) != 1 || len(acks[0].Providers) != 1 || len(acks[0].Sources) != 1 {
				t.Fatalf("shape: %+v", acks)
			}
			a := acks[0]
			if s := a.Sources[0]; s.Name != "NYSDOH" || s.ID != "141797357" || s.ReceivedDate != "20110311" {
				t.Errorf("source %+v", s)
			}
			b := a.Batches[0]
			if b.Reference != tt.batchRef || statusCodes(b.Statuses) != tt.batchCodes || b.AcceptedCount != tt.accepted || b.AcceptedCents != tt.acceptedCents || b.RejectedCount != 0 {
				t.Errorf("batch %+v", b)
			}
			if combine(b.Statuses) != ActionReceived {
				t.Errorf("batch action %v", combine(b.Statuses))
			}
			if a.Providers[0].NPI != tt.npi {
				t.Errorf("provider %+v", a.Providers[0])
			}
			if len(a.Claims) != len(tt.claims) {
				t.Fatalf("%d claims", len(a.Claims))
			}
			for i, c := range a.Claims {
				got := claim{c.PatientControlNumber, c.PayerClaimNumber, c.ServiceFrom, c.Action, statusCodes(c.Statuses), c.Reason()}
				if got != tt.claims[i] {
					t.Errorf("claim\n got %+v\nwant %+v", got, tt.claims[i])
				}
				if c.Accepted() != (tt.claims[i].action == ActionAccepted) {
					t.Error("Accepted disagrees with the action")
				}
			}
			// Patient names and member ids are never copied.
			if got := fmt.Sprintf("%+v", acks); strings.Contains(got, "PATIENT") || strings.Contains(got, "CLILNAME") || strings.Contains(got, "99999X") {
				t.Errorf("patient data copied: %s", got)
			}
			if _, err := Read999(data); err == nil {
				t.Error("Read999 accepted a 277CA")
			}
		})
	}
}

func statusCodes(sts []Status277) string {
	var out []string
	for _, s := range sts {
		for _, c := range s.Codes {
			out = append(out, c.Category+":"+c.Code+":"+c.Entity)
		}
	}
	return strings.Join(out, ",")
}

// hand277 is a 277CA for one batch of three claims: accepted, rejected
// with an STC10 composite, and rejected at line level.
var hand277 = []string{
	"BHT*0085*08*RCM277001*20260306*0930*TH",
	"HL*1**20*1",
	"NM1*PR*2*EXAMPLE CLEARINGHOUSE*****46*CLEARHOUSE01",
	"TRN*1*20260306001",
	"DTP*050*D8*20260306",
	"DTP*009*D8*20260306",
	"HL*2*1*21*1",
	"NM1*41*2*RIVERSIDE THERAPY GROUP*****46*RCMCLINIC01",
	"TRN*2*B0000101",
	"STC*A1:19:PR*20260306*WQ*1305",
	"QTY*90*1",
	"QTY*AA*2",
	"AMT*YU*475",
	"AMT*YY*830",
	"HL*3*2*19*1",
	"NM1*85*2*RIVERSIDE THERAPY GROUP*****XX*1234567893",
	"TRN*1*0",
	"QTY*QA*1",
	"QTY*QC*2",
	"AMT*YU*475.00",
	"AMT*YY*830.00",
	"HL*4*3*PT",
	"NM1*QC*1*DOE*MARGARET****MI*1EG4TE5MK73",
	"TRN*2*OT260302A",
	"STC*A2:20*20260306*WQ*475",
	"REF*1K*PAYER0001",
	"DTP*472*D8*20260302",
	"HL*5*3*PT",
	"NM1*QC*1*ROE*RICHARD****MI*XJ99999999",
	"TRN*2*PT260303B",
	"STC*A7:21:IL*20260306*U*415******A7:164:IL",
	"DTP*472*RD8*20260303-20260304",
	"HL*6*3*PT",
	"NM1*QC*1*POE*EDGAR****MI*ZZ12345678",
	"TRN*2*SLP260305C",
	"STC*A2:20*20260306*WQ*415",
	"REF*1K*PAYER0003",
	"DTP*472*D8*20260305",
	"SVC*HC:92507:GN*175*****1",
	"STC*A3:454*20260306*U*175",
	"REF*FJ*SLP260305C-1",
	"DTP*472*D8*20260305",
	"SVC*HC:97530:GN:KX*240*****3",
	"REF*FJ*SLP260305C-2",
}

func TestRead277CAHand(t *testing.T) {
	t.Parallel()
	acks, err := Read277CA(ackFile("HN", "277", "005010X214", hand277))
	if err != nil {
		t.Fatal(err)
	}
	a := acks[0]
	if a.Reference != "RCM277001" || a.Date != "20260306" || a.InterchangeControl != "000000501" {
		t.Errorf("header %+v", a)
	}
	b := a.Batches[0]
	if b.Reference != "B0000101" || b.AcceptedCount != 1 || b.RejectedCount != 2 || b.AcceptedCents != 47500 || b.RejectedCents != 83000 || b.Statuses[0].ChargeCents != 130500 {
		t.Errorf("batch %+v", b)
	}
	p := a.Providers[0]
	if p.NPI != "1234567893" || p.Trace != "0" || p.AcceptedCount != 1 || p.RejectedCount != 2 || p.RejectedCents != 83000 {
		t.Errorf("provider %+v", p)
	}
	tests := []struct {
		pcn      string
		action   Action
		from, to string
		codes    string
		reason   string
		lines    string // control:procedure:modifiers:action
	}{
		{"OT260302A", ActionAccepted, "20260302", "20260302", "A2:20:", "A2:20 accepted into adjudication: accepted for processing", ""},
		{"PT260303B", ActionRejected, "20260303", "20260304", "A7:21:IL,A7:164:IL",
			"A7:21:IL rejected for invalid information: missing or invalid information (subscriber); A7:164:IL rejected for invalid information: the entity's contract or member number (subscriber)", ""},
		{"SLP260305C", ActionRejected, "20260305", "20260305", "A2:20:",
			"A2:20 accepted into adjudication: accepted for processing; line SLP260305C-1 (92507): A3:454 rejected as unprocessable: procedure code",
			"SLP260305C-1:92507:GN:rejected:17500:1,SLP260305C-2:97530:GN KX:unknown:24000:3"},
	}
	if len(a.Claims) != len(tests) {
		t.Fatalf("%d claims", len(a.Claims))
	}
	for i, tt := range tests {
		c := a.Claims[i]
		var lines []string
		for _, l := range c.Lines {
			lines = append(lines, fmt.Sprintf("%s:%s:%s:%v:%d:%s", l.ControlNumber, l.Procedure, strings.Join(l.Modifiers, " "), l.Action, l.ChargeCents, l.Units))
		}
		if c.PatientControlNumber != tt.pcn || c.Action != tt.action || c.ServiceFrom != tt.from || c.ServiceTo != tt.to ||
			statusCodes(c.Statuses) != tt.codes || c.Reason() != tt.reason || strings.Join(lines, ",") != tt.lines || c.Provider != 0 {
			t.Errorf("claim %d:\n got %s %v %s-%s %s\n %q\n %s\nwant %+v", i, c.PatientControlNumber, c.Action, c.ServiceFrom, c.ServiceTo,
				statusCodes(c.Statuses), c.Reason(), strings.Join(lines, ","), tt)
		}
	}
	if got := fmt.Sprintf("%+v", acks); strings.Contains(got, "MARGARET") || strings.Contains(got, "1EG4TE5MK73") || strings.Contains(got, "XJ99999999") {
		t.Error("patient data copied")
	}
	if _, err := Read999(ackFile("HN", "277", "005010X214", hand277)); err == nil {
		t.Error("Read999 accepted a 277CA")
	}
}

func TestRead277CAErrors(t *testing.T) {
	t.Parallel()
	// edit replaces hand277's segment i (0-based) by seg, or drops it.
	edit := func(i int, seg ...string) []byte {
		out := append([]string{}, hand277[:i]...)
		out = append(out, seg...)
		return ackFile("HN", "277", "005010X214", append(out, hand277[i+1:]...))
	}
	// Segment numbers: ISA 1, GS 2, ST 3, hand277[i] is segment i+4.
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"no BHT", edit(0), "x12: BHT at segment 4: the 277 must start with BHT"},
		{"claim status response", edit(0, "BHT*0010*08*X*20260306*0930*DG"), `type:x12: BHT at segment 4: found "0010:08" (a 277 claim status response) where a 277CA (BHT*0085*08) was expected`},
		{"no HL", ackFile("HN", "277", "005010X214", hand277[:1]), "x12: BHT at segment 4: the 277CA has no HL levels"},
		{"before HL", edit(1, "NM1*PR*2*X", hand277[1]), `x12: NM1 at segment 5: "NM1" before the first HL`},
		{"duplicate HL", edit(6, "HL*1*1*21*1"), "x12: HL at segment 10: HL01 repeats an earlier HL id"},
		{"unknown parent", edit(6, "HL*2*9*21*1"), "x12: HL at segment 10: HL02 does not name an earlier HL"},
		{"wrong parent", edit(21, "HL*4*2*PT"), "x12: HL at segment 25: level PT must hang from level 19, not 21"},
		{"unknown level", edit(21, "HL*4*3*23"), `x12: HL at segment 25: HL03 "23" is not a 277CA level (20, 21, 19 or PT)`},
		{"source with parent", edit(1, "HL*1*1*20*1"), "x12: HL at segment 5: an information source (level 20) has no parent"},
		{"no TRN*2", edit(23), "x12: HL at segment 25: the patient level has no TRN*2 (patient control number)"},
		{"no STC", edit(24), "x12: HL at segment 25: the patient level has no STC (claim status)"},
		{"last claim no STC", edit(35), "x12: HL at segment 36: the patient level has no STC (claim status)"},
		{"two TRN*2", edit(23, hand277[23], hand277[23]), "x12: TRN at segment 28: a second TRN*2 in one claim"},
		{"STC01 empty", edit(24, "STC**20260306*WQ*475"), "x12: STC at segment 28: STC01 (claim status) is missing"},
		{"STC01 no code", edit(24, "STC*A2*20260306*WQ*475"), "x12: STC at segment 28: STC01 needs a category and a status code"},
		{"STC10 no code", edit(30, "STC*A7:21:IL*20260306*U*415******A7"), "x12: STC at segment 34: STC10 needs a category and a status code"},
		{"STC02 bad", edit(24, "STC*A2:20*2026036*WQ*475"), "x12: STC at segment 28: STC02 is not a CCYYMMDD date"},
		{"STC04 bad", edit(24, "STC*A2:20*20260306*WQ*4,75"), "x12: STC at segment 28: STC04 is not a decimal amount"},
		{"STC04 rounding", edit(24, "STC*A2:20*20260306*WQ*4.755"), "x12: STC at segment 28: STC04 is not a decimal amount"},
		{"AMT missing", edit(12, "AMT*YU"), "x12: AMT at segment 16: AMT02 (amount) is missing"},
		{"QTY fraction", edit(10, "QTY*90*1.5"), "x12: QTY at segment 14: QTY02 is not a whole count"},
		{"DTP qualifier", edit(26, "DTP*472*D6*260302"), "x12: DTP at segment 30: DTP02 must be D8 or RD8"},
		{"DTP range", edit(31, "DTP*472*RD8*20260303"), "x12: DTP at segment 35: DTP03 is not a date in the DTP02 format"},
		{"SVC outside PT", edit(17, "SVC*HC:97530*240"), "x12: SVC at segment 21: SVC outside a patient (PT) level"},
		{"SVC no code", edit(38, "SVC*HC*175"), "x12: SVC at segment 42: SVC01-2 (procedure code) is missing"},
		{"STC in source", edit(3, "STC*A1:19*20260306"), "x12: STC at segment 7: STC in the information source level"},
		{"QTY in claim", edit(25, "QTY*90*1"), "x12: QTY at segment 29: QTY in a patient (PT) level"},
		{"TRN in line", edit(41, "TRN*2*X"), "x12: TRN at segment 45: TRN inside a service line loop"},
		{"999", readSample(t, "imsweb__x12_999_rejected.txt"), `type:x12: GS at segment 2: found "FA" (a 999 or 997 acknowledgement) where a 277CA was expected`},
		{"276", ackFile("HN", "276", "005010X212", hand277), `type:x12: ST at segment 3: found "276" where a 277CA was expected`},
		{"837", ackFile("HC", "837", "005010X222A1", hand277), `type:x12: GS at segment 2: found "HC" (an 837 claim) where a 277CA was expected`},
		{"envelope", []byte("ISA*00"), "x12: ISA at segment 1: the input ends 6 bytes into the ISA segment, which has 106"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			acks, err := Read277CA(tt.data)
			checkAckError(t, acks == nil, err, tt.want)
		})
	}
}

func TestClaimStatusActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		codes []StatusCode
		want  Action
	}{
		{[]StatusCode{{"A0", "16", "PR"}}, ActionReceived},
		{[]StatusCode{{"A1", "19", "PR"}}, ActionReceived},
		{[]StatusCode{{"A1", "19", "PR"}, {"A2", "20", ""}}, ActionAccepted},
		{[]StatusCode{{"A5", "20", ""}}, ActionAccepted},
		{[]StatusCode{{"A2", "20", ""}, {"A6", "187", ""}}, ActionRejected},
		{[]StatusCode{{"A3", "21", ""}}, ActionRejected},
		{[]StatusCode{{"A4", "35", ""}}, ActionRejected},
		{[]StatusCode{{"A8", "21", ""}}, ActionRejected},
		{[]StatusCode{{"E0", "24", "41"}}, ActionRejected},
		{[]StatusCode{{"E1", "484", ""}}, ActionPending},
		{[]StatusCode{{"P1", "20", ""}}, ActionUnknown},
		{[]StatusCode{{"P1", "20", ""}, {"E2", "0", ""}}, ActionPending},
		{nil, ActionUnknown},
	}
	for _, tt := range tests {
		got := combine([]Status277{{Codes: tt.codes}})
		if got != tt.want {
			t.Errorf("%v: got %v, want %v", tt.codes, got, tt.want)
		}
		if got.Accepted() == got.Rejected() && (got == ActionAccepted || got == ActionRejected) {
			t.Errorf("%v: Accepted and Rejected agree", got)
		}
	}
	if w := (StatusCode{"Q9", "9999", "ZZ"}).Words(); w != "Q9:9999:ZZ category not in our table: status code 9999 (entity ZZ)" {
		t.Errorf("unknown codes: %q", w)
	}
}

// FuzzRead277CA checks that Read277CA never panics, fails only with the
// package's error types, and that every claim it returns can be matched
// and decided. The committed corpus in testdata/fuzz/FuzzRead277CA holds
// the sample 277CAs and the hand-built case.
func FuzzRead277CA(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		acks, err := Read277CA(data)
		if err != nil {
			var se *SyntaxError
			var te *TransactionTypeError
			if acks != nil || !errors.As(err, &se) && !errors.As(err, &te) {
				t.Fatalf("error %v (%T) with %d acks", err, err, len(acks))
			}
			return
		}
		for _, a := range acks {
			for _, c := range a.Claims {
				if c.PatientControlNumber == "" || len(c.Statuses) == 0 {
					t.Fatal("claim without TRN*2 or STC accepted")
				}
				if c.Provider < 0 || c.Provider >= len(a.Providers) {
					t.Fatal("claim points outside the providers")
				}
				_ = c.Reason()
				for _, s := range c.Statuses {
					for _, code := range s.Codes {
						if code.Action() == ActionRejected && c.Action != ActionRejected {
							t.Fatal("a rejected status did not reject its claim")
						}
					}
				}
			}
		}
	})
}
