package denials

import (
	"slices"
	"testing"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// testPosting is a small fixed catalog, so that these tests check matching
// and posting, not the CARC data.
func testPosting(group, reason string) string {
	switch {
	case group == "PR":
		return events.PostingPatient
	case reason == "45" || reason == "253":
		return events.PostingContractual
	case reason == "23":
		return events.PostingOther
	}
	return events.PostingDenied
}

var dos = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func sentClaim() *events.ClaimSubmitted {
	return &events.ClaimSubmitted{
		ClaimID: "claim-1", VisitID: "visit-1", Submission: 1, ControlNumber: "ABC-1", PayerID: "00952", PlanType: events.PlanMedicarePartB,
		Lines: []events.ClaimLine{
			{Line: 1, LineItemControlNumber: "ABC-1-1", Code: "97165", Modifiers: []string{"GO"}, Units: 1, ChargeCents: 20000, DateOfService: "2026-03-02"},
			{Line: 2, LineItemControlNumber: "ABC-1-2", Code: "97530", Modifiers: []string{"GO"}, Units: 2, ChargeCents: 12000, DateOfService: "2026-03-02"},
			{Line: 3, LineItemControlNumber: "ABC-1-3", Code: "97140", Modifiers: []string{"GO", "59"}, Units: 1, ChargeCents: 5000, DateOfService: "2026-03-02"},
		},
	}
}

func adj(g, r string, c int64) x12.Adjustment {
	return x12.Adjustment{Group: g, Reason: r, AmountCents: c}
}

func TestReconcileClaim(t *testing.T) {
	t.Parallel()
	paidLine := func(ctrl, code string, mods []string, units int, charge, paid int64, adjs ...x12.Adjustment) x12.Line {
		return x12.Line{Code: code, Modifiers: mods, Units: units, ChargeCents: charge, PaidCents: paid, DateOfService: dos, ControlNumber: ctrl, Adjustments: adjs}
	}
	tests := []struct {
		name        string
		claim       x12.Claim
		outcome     string
		denied      int64
		matchedBy   []string // per row, in order
		lines       []int
		exceptions  int
		deniedCARCs []string
	}{{
		name: "paid in full, matched by REF*6R",
		claim: x12.Claim{ControlNumber: "ABC-1", Status: "1", ChargeCents: 37000, PaidCents: 20000, PatientCents: 5000, Lines: []x12.Line{
			paidLine("ABC-1-1", "97165", []string{"GO"}, 1, 20000, 10000, adj("CO", "45", 5000), adj("PR", "2", 5000)),
			paidLine("ABC-1-2", "97530", []string{"GO"}, 2, 12000, 6000, adj("CO", "45", 6000)),
			paidLine("ABC-1-3", "97140", []string{"GO", "59"}, 1, 5000, 4000, adj("CO", "45", 1000)),
		}},
		outcome: events.OutcomePaidInFull, matchedBy: []string{"line_item_control_number", "line_item_control_number", "line_item_control_number"}, lines: []int{1, 2, 3},
	}, {
		name: "partly paid: one line bundled",
		claim: x12.Claim{ControlNumber: "ABC-1", Status: "1", ChargeCents: 37000, PaidCents: 21000, Lines: []x12.Line{
			paidLine("ABC-1-1", "97165", []string{"GO"}, 1, 20000, 15000, adj("CO", "45", 5000)),
			paidLine("ABC-1-2", "97530", []string{"GO"}, 2, 12000, 6000, adj("CO", "45", 6000)),
			{Code: "97140", Modifiers: []string{"GO", "59"}, ChargeCents: 5000, DateOfService: dos, ControlNumber: "ABC-1-3", Adjustments: []x12.Adjustment{adj("CO", "97", 5000)}, Remarks: []string{"M15"}},
		}},
		outcome: events.OutcomePartlyPaid, denied: 5000, lines: []int{1, 2, 3}, deniedCARCs: []string{"CO-97"},
		matchedBy: []string{"line_item_control_number", "line_item_control_number", "line_item_control_number"},
	}, {
		name: "denied at claim level without lines",
		claim: x12.Claim{ControlNumber: "ABC-1", Status: "4", ChargeCents: 37000, PaidCents: 0,
			Adjustments: []x12.Adjustment{adj("CO", "27", 37000)}},
		outcome: events.OutcomeDenied, denied: 37000, matchedBy: []string{"claim_level"}, lines: []int{0}, deniedCARCs: []string{"CO-27"},
	}, {
		name: "no REF*6R: matched on code, modifiers, date and units; SVC06 when re-coded",
		claim: x12.Claim{ControlNumber: "ABC-1", Status: "1", ChargeCents: 37000, PaidCents: 30000, Lines: []x12.Line{
			paidLine("", "97530", []string{"GO"}, 2, 12000, 12000),
			// The payer paid 97110 for the 97140 we sent: SVC06 says so.
			{Code: "97110", Modifiers: []string{"GO"}, Units: 1, ChargeCents: 5000, PaidCents: 3000, DateOfService: dos,
				Original: &x12.Procedure{Qualifier: "HC", Code: "97140", Modifiers: []string{"GO", "59"}}, Adjustments: []x12.Adjustment{adj("CO", "45", 2000)}},
			paidLine("", "97165", []string{"GO"}, 1, 20000, 15000, adj("CO", "45", 5000)),
		}},
		outcome: events.OutcomePaidInFull, matchedBy: []string{"service_details", "service_details", "service_details"}, lines: []int{2, 3, 1},
	}, {
		name: "a line we never sent is an exception",
		claim: x12.Claim{ControlNumber: "ABC-1", Status: "1", ChargeCents: 37000, PaidCents: 20000, Lines: []x12.Line{
			paidLine("ABC-1-1", "97165", []string{"GO"}, 1, 20000, 20000),
			paidLine("", "97750", []string{"GO"}, 1, 17000, 0, adj("CO", "45", 17000)),
		}},
		outcome: events.OutcomePaidInFull, matchedBy: []string{"line_item_control_number", "unmatched"}, lines: []int{1, 0}, exceptions: 1,
	}, {
		name: "reversal: negated amounts",
		claim: x12.Claim{ControlNumber: "ABC-1", Status: "22", ChargeCents: -37000, PaidCents: -20000, Lines: []x12.Line{
			paidLine("ABC-1-1", "97165", []string{"GO"}, -1, -20000, -20000),
			paidLine("ABC-1-2", "97530", []string{"GO"}, -2, -12000, 0, adj("CO", "45", -12000)),
			paidLine("ABC-1-3", "97140", []string{"GO", "59"}, -1, -5000, 0, adj("CO", "45", -5000)),
		}},
		outcome: events.OutcomeReversed, matchedBy: []string{"line_item_control_number", "line_item_control_number", "line_item_control_number"}, lines: []int{1, 2, 3},
	}, {
		name: "crossover to the secondary payer",
		claim: x12.Claim{ControlNumber: "ABC-1", Status: "19", ChargeCents: 37000, PaidCents: 29600, PatientCents: 7400,
			Adjustments: []x12.Adjustment{adj("PR", "2", 7400)}},
		outcome: events.OutcomeForwarded, matchedBy: []string{"claim_level"}, lines: []int{0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ReconcileClaim(&tt.claim, sentClaim(), testPosting)
			if r.Data.Outcome != tt.outcome {
				t.Errorf("outcome %s, want %s", r.Data.Outcome, tt.outcome)
			}
			if r.DeniedCents != tt.denied {
				t.Errorf("denied %d, want %d", r.DeniedCents, tt.denied)
			}
			var by []string
			var lines []int
			var charge, paid int64
			for _, row := range r.Rows {
				by, lines = append(by, row.MatchedBy), append(lines, row.Line)
				charge += row.ChargeCents
				paid += row.PaidCents
				// Each row balances: charge less adjustments is the payment,
				// and the columns hold every adjustment.
				var adjs int64
				for _, a := range row.Adjustments {
					adjs += a.AmountCents
				}
				cols := row.ContractualCents + row.PatientResponsibilityCents + row.DeniedCents + row.OtherAdjustmentCents
				if cols != adjs {
					t.Errorf("row %d: columns %d, adjustments %d", row.LineIndex, cols, adjs)
				}
			}
			if !slices.Equal(by, tt.matchedBy) || !slices.Equal(lines, tt.lines) {
				t.Errorf("matched %v lines %v, want %v %v", by, lines, tt.matchedBy, tt.lines)
			}
			if charge != tt.claim.ChargeCents || paid != tt.claim.PaidCents {
				t.Errorf("ledger charge %d paid %d, claim %d %d", charge, paid, tt.claim.ChargeCents, tt.claim.PaidCents)
			}
			if len(r.Exceptions) != tt.exceptions {
				t.Errorf("%d exceptions, want %d", len(r.Exceptions), tt.exceptions)
			}
			var carcs []string
			for _, d := range r.Denials {
				carcs = append(carcs, d.Group+"-"+d.Reason)
			}
			if !slices.Equal(carcs, tt.deniedCARCs) {
				t.Errorf("denials %v, want %v", carcs, tt.deniedCARCs)
			}
		})
	}
}

func TestPriority(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		cents    int64
		deadline string
		want     int
	}{
		{12345, "", 123},
		{12345, "2027-03-01", 123},       // far away
		{12345, "2026-12-08", 123 + 400}, // 10 days left: 20 points a day under 30
		{100, "2026-11-01", 1 + 600},     // past: as urgent as it gets
	} {
		if got := Priority(tt.cents, tt.deadline, today); got != tt.want {
			t.Errorf("Priority(%d, %q) = %d, want %d", tt.cents, tt.deadline, got, tt.want)
		}
	}
}
