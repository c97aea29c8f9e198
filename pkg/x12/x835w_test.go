package x12

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testRemit is a balanced remittance: a paid Medicare claim with seven
// line adjustments in one group (two CAS segments), a denied line, and a
// PLB recovering an overpayment.
func testRemit() Remit835 {
	d := day(2026, 3, 19)
	return Remit835{
		SenderID: "CLEARHOUSE01", ReceiverID: "RCMCLINIC01",
		InterchangeControl: 900, GroupControl: 900, Usage: "T",
		Created: time.Date(2026, 3, 19, 9, 0, 0, 0, time.UTC), LineBreaks: true,
		Payments: []Payment835{{
			Handling: "C", Method: "ACH", TotalPaidCents: 6076 + 2000 - 1500,
			PayerBank:    BankAccount{RoutingNumber: "011000015", AccountNumber: "1234567890"},
			PayeeBank:    BankAccount{RoutingNumber: "021000021", AccountNumber: "9876543210"},
			OriginatorID: "1123456789", PaymentDate: d, TraceNumber: "0000000042",
			Payer: PayerInfo{Name: "MEDICARE PART B", ID: "00952",
				Address: Address{Line1: "PO BOX 1", City: "CHICAGO", State: "IL", ZIP: "60601"},
				Contact: Contact835{Name: "EDI", Phone: "8005550199"}},
			Payee: PayeeInfo{Name: "RIVERSIDE THERAPY GROUP", NPI: "1234567893", TIN: "123456789"},
			Claims: []Claim835{{
				ControlNumber: "OT260302K", Status: "1", ChargeCents: 24000 + 11000 + 5000,
				PaidCents: 6076 + 2000, PatientCents: 1550, FilingCode: "MB",
				PayerClaimNumber: "7998206312110", FacilityCode: "11", Frequency: "1",
				Adjustments:  []Adjustment{{Group: "OA", Reason: "23", AmountCents: 3000}},
				Patient:      Name835{Last: "DOE", First: "MARGARET", MemberID: "1EG4TE5MK73"},
				ReceivedDate: day(2026, 3, 5),
				Lines: []Line835{
					{Code: "97530", Modifiers: []string{"GO", "KX"}, ChargeCents: 24000, PaidCents: 6076, Units: 2,
						DateOfService: day(2026, 3, 2), ControlNumber: "OT260302K-1", AllowedCents: 7750,
						Adjustments: []Adjustment{
							{Group: "CO", Reason: "45", AmountCents: 15950},
							{Group: "CO", Reason: "45", AmountCents: 100},
							{Group: "CO", Reason: "45", AmountCents: 50},
							{Group: "PR", Reason: "2", AmountCents: 1550},
							{Group: "CO", Reason: "45", AmountCents: 50},
							{Group: "CO", Reason: "45", AmountCents: 25},
							{Group: "CO", Reason: "45", AmountCents: 25},
							{Group: "CO", Reason: "45", AmountCents: 50, Quantity: 1},
							{Group: "CO", Reason: "253", AmountCents: 124},
						}},
					{Code: "97140", Modifiers: []string{"GO"}, ChargeCents: 11000, Units: 0, SubmittedUnits: 1,
						DateOfService: day(2026, 3, 2), ControlNumber: "OT260302K-2",
						Adjustments: []Adjustment{{Group: "CO", Reason: "97", AmountCents: 11000}}, Remarks: []string{"M15"}},
					{Code: "97110", Modifiers: []string{"GO"}, ChargeCents: 5000, PaidCents: 5000, Units: 1,
						DateOfService: day(2026, 3, 2), ControlNumber: "OT260302K-3", AllowedCents: 5000},
				},
			}},
			Adjustments: []ProviderAdjustment{{Reason: "WO", Reference: "OLDICN1", AmountCents: 1500}},
		}},
	}
}

func TestWrite835Golden(t *testing.T) {
	var buf bytes.Buffer
	if err := Write835(&buf, testRemit()); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	ics, err := Parse(out)
	if err != nil {
		t.Fatalf("the 835 does not parse: %v\n%s", err, out)
	}
	tx := ics[0].Groups[0].Transactions[0]
	if g := ics[0].Groups[0].GS; g.Element(1) != "HP" || g.Element(8) != Version835 {
		t.Errorf("GS %v", g)
	}
	if len(out) < 106 || strings.IndexByte(string(out), '~') != 105 {
		t.Errorf("ISA is not 106 characters")
	}
	cas := 0
	for _, s := range tx.Segments {
		if s.ID == "CAS" && s.Element(1) == "CO" && s.Element(2) == "45" {
			cas++
			if len(s.Elements) > 19 {
				t.Errorf("CAS with more than six triplets: %v", s)
			}
		}
	}
	if cas != 2 {
		t.Errorf("%d CAS*CO segments for seven CO adjustments on line 1, want 2", cas)
	}
	path := filepath.Join("testdata", "golden", "remit_plb.835")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out, golden) {
		t.Errorf("output differs from %s (run with -update and review the diff):\n%s", path, out)
	}
}

func TestWrite835Unbalanced(t *testing.T) {
	tests := []struct {
		name        string
		change      func(r *Remit835)
		claim, line int
		field       string
		unbalanced  bool
	}{
		{"line", func(r *Remit835) { r.Payments[0].Claims[0].Lines[0].PaidCents++ }, 0, 0, "PaidCents", true},
		{"claim", func(r *Remit835) { r.Payments[0].Claims[0].Adjustments[0].AmountCents++ }, 0, -1, "PaidCents", true},
		{"claim charge", func(r *Remit835) { r.Payments[0].Claims[0].ChargeCents++ }, 0, -1, "ChargeCents", true},
		{"patient", func(r *Remit835) { r.Payments[0].Claims[0].PatientCents = 0 }, 0, -1, "PatientCents", true},
		{"file", func(r *Remit835) { r.Payments[0].Adjustments[0].AmountCents = 0 }, -1, -1, "TotalPaidCents", true},
		{"separator", func(r *Remit835) { r.Payments[0].Claims[0].Lines[1].ControlNumber = "A*B" }, 0, 1, "ControlNumber", false},
		{"group", func(r *Remit835) {
			r.Payments[0].Claims[0].Lines[2].Adjustments = []Adjustment{{Group: "XX", Reason: "1"}}
		}, 0, 2, "Adjustments[0].Group", false},
		{"denied pays", func(r *Remit835) { r.Payments[0].Claims[0].Status = "4" }, 0, -1, "PaidCents", false},
		{"zero H", func(r *Remit835) { r.Payments[0].Handling = "H" }, -1, -1, "Handling", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRemit()
			tt.change(&r)
			var buf bytes.Buffer
			err := Write835(&buf, r)
			var re *RemitError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a *RemitError", err)
			}
			if re.Claim != tt.claim || re.Line != tt.line || re.Field != tt.field || errors.Is(err, ErrUnbalanced) != tt.unbalanced {
				t.Errorf("got claim %d line %d field %s unbalanced %v (%v), want %d %d %s %v",
					re.Claim, re.Line, re.Field, errors.Is(err, ErrUnbalanced), err, tt.claim, tt.line, tt.field, tt.unbalanced)
			}
			if buf.Len() != 0 {
				t.Error("something was written")
			}
		})
	}
}
