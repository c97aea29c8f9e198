package x12

import "time"

// Synthetic claims for the golden files and the benchmark. Names, member
// ids and addresses are invented; the NPIs pass the Luhn check.

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

var (
	clinic = BillingProvider{
		Name: "RIVERSIDE THERAPY GROUP", NPI: "1234567893", TIN: "123456789", Taxonomy: "225X00000X",
		Address: Address{Line1: "100 MAIN ST", City: "SPRINGFIELD", State: "IL", ZIP: "627011234"},
	}
	certifier = &Provider{Last: "MORGAN", First: "ELLEN", NPI: "1987654328"}
	otRender  = &Provider{Last: "HALE", First: "JORDAN", NPI: "1555555550", Taxonomy: "225X00000X"}
	ptRender  = &Provider{Last: "OKAFOR", First: "SAM", NPI: "1677777777", Taxonomy: "225100000X"}
	slpRender = &Provider{Last: "NAKAMURA", First: "RI", NPI: "1444444446", Taxonomy: "235Z00000X"}

	medicareBeneficiary = Subscriber{
		Person: Person{Last: "DOE", First: "MARGARET", Sex: "F", BirthDate: day(1948, 7, 14),
			Address: Address{Line1: "12 ELM ST", City: "SPRINGFIELD", State: "IL", ZIP: "62704"}},
		MemberID: "1EG4TE5MK73",
	}
)

func testBatch(claims ...Claim837) Batch837 {
	return Batch837{
		SenderID: "RCMCLINIC01", SenderName: "RIVERSIDE THERAPY GROUP",
		ReceiverID: "CLEARHOUSE01", ReceiverName: "EXAMPLE CLEARINGHOUSE",
		Contact:            Contact{Name: "BILLING OFFICE", Phone: "2175550100"},
		InterchangeControl: 101, GroupControl: 101, Usage: "T",
		Created:    time.Date(2026, 3, 5, 14, 15, 0, 0, time.UTC),
		LineBreaks: true,
		Claims:     claims,
	}
}

func medicareOT(pcn string) Claim837 {
	dos := day(2026, 3, 2)
	return Claim837{
		ControlNumber: pcn, TotalChargeCents: 47500, PlaceOfService: "11",
		Diagnoses:       []string{"M6281", "R2689", "I69351"},
		BillingProvider: clinic, Subscriber: medicareBeneficiary,
		PayerName: "MEDICARE PART B", PayerID: "00952", ClaimFilingCode: "MB",
		Referring: certifier, Rendering: otRender,
		Lines: []Line837{
			{Code: "97530", Modifiers: []string{"GO"}, ChargeCents: 16000, Units: 2, DiagnosisPointers: []int{1, 2}, DateOfService: dos, ControlNumber: pcn + "-1"},
			// The assistant furnished more than 10% of this unit: CO with GO
			// (BILLING.md §3).
			{Code: "97530", Modifiers: []string{"GO", "CO"}, ChargeCents: 8000, Units: 1, DiagnosisPointers: []int{1, 2}, DateOfService: dos, ControlNumber: pcn + "-2"},
			{Code: "97535", Modifiers: []string{"GO"}, ChargeCents: 6550, Units: 1, DiagnosisPointers: []int{3, 1}, DateOfService: dos, ControlNumber: pcn + "-3"},
			{Code: "97112", Modifiers: []string{"GO"}, ChargeCents: 16950, Units: 2, DiagnosisPointers: []int{1}, DateOfService: dos, ControlNumber: pcn + "-4"},
		},
	}
}

// goldenClaims are the representative claims of issue 4, one file each.
var goldenClaims = []struct {
	name  string
	claim func() Claim837
}{
	{"ot_assistant", func() Claim837 { return medicareOT("OT260302A") }},
	{"medicare_kx", func() Claim837 {
		dos := day(2026, 9, 14)
		return Claim837{
			ControlNumber: "PT260914K", TotalChargeCents: 38000, PlaceOfService: "11",
			Diagnoses:       []string{"M5416", "M6281"},
			BillingProvider: clinic, Subscriber: medicareBeneficiary,
			PayerName: "MEDICARE PART B", PayerID: "00952", ClaimFilingCode: "MB",
			Referring: certifier, Rendering: ptRender,
			// Above the year's threshold: KX on every line (BILLING.md §3).
			Lines: []Line837{
				{Code: "97110", Modifiers: []string{"GP", "KX"}, ChargeCents: 15000, Units: 2, DiagnosisPointers: []int{1, 2}, DateOfService: dos, ControlNumber: "PT260914K-1"},
				{Code: "97140", Modifiers: []string{"GP", "KX"}, ChargeCents: 8000, Units: 1, DiagnosisPointers: []int{1}, DateOfService: dos, ControlNumber: "PT260914K-2"},
				{Code: "97112", Modifiers: []string{"GP", "KX"}, ChargeCents: 15000, Units: 2, DiagnosisPointers: []int{2, 1}, DateOfService: dos, ControlNumber: "PT260914K-3"},
			},
		}
	}},
	{"commercial_prior_auth", func() Claim837 {
		dos := day(2026, 2, 20)
		return Claim837{
			ControlNumber: "PT260220C", TotalChargeCents: 42500, PlaceOfService: "11",
			PriorAuth: "AUTH7781234", Diagnoses: []string{"S83511A", "M25561"},
			BillingProvider: clinic,
			Subscriber: Subscriber{
				Person: Person{Last: "RIVERA", First: "LUIS", Middle: "A", Sex: "M", BirthDate: day(1985, 11, 2),
					Address: Address{Line1: "48 OAK AVE", Line2: "APT 3", City: "CHATHAM", State: "IL", ZIP: "626291234"}},
				MemberID: "XJH812345601", GroupNumber: "GRP20410",
			},
			PayerName: "EXAMPLE HEALTH PLAN", PayerID: "60054", ClaimFilingCode: "CI",
			Rendering: ptRender,
			Lines: []Line837{
				{Code: "97161", Modifiers: []string{"GP"}, ChargeCents: 19500, Units: 1, DiagnosisPointers: []int{1, 2}, DateOfService: dos, ControlNumber: "PT260220C-1"},
				{Code: "97110", Modifiers: []string{"GP"}, ChargeCents: 15000, Units: 2, DiagnosisPointers: []int{1}, DateOfService: dos, ControlNumber: "PT260220C-2"},
				{Code: "97140", Modifiers: []string{"GP", "59"}, ChargeCents: 8000, Units: 1, DiagnosisPointers: []int{2}, DateOfService: dos, ControlNumber: "PT260220C-3"},
			},
		}
	}},
	{"patient_not_subscriber", func() Claim837 {
		dos := day(2026, 1, 27)
		home := Address{Line1: "7 BIRCH LN", City: "SHERMAN", State: "IL", ZIP: "62684"}
		return Claim837{
			ControlNumber: "SLP260127P", TotalChargeCents: 24000, PlaceOfService: "11",
			Diagnoses:       []string{"F802"},
			BillingProvider: clinic,
			Subscriber: Subscriber{
				Person:   Person{Last: "PATEL", First: "ANITA", Sex: "F", BirthDate: day(1987, 4, 9), Address: home},
				MemberID: "ZGP44120987", GroupNumber: "77120",
			},
			PayerName: "EXAMPLE HEALTH PLAN", PayerID: "60054", ClaimFilingCode: "CI",
			Patient:   &Patient{Relationship: "19", Person: Person{Last: "PATEL", First: "NIKHIL", Sex: "M", BirthDate: day(2019, 8, 30), Address: home}},
			Rendering: slpRender,
			Lines: []Line837{
				{Code: "92507", Modifiers: []string{"GN"}, ChargeCents: 24000, Units: 1, DiagnosisPointers: []int{1}, DateOfService: dos, ControlNumber: "SLP260127P-1"},
			},
		}
	}},
	{"telehealth", func() Claim837 {
		dos := day(2026, 3, 3)
		c := Claim837{
			ControlNumber: "PT260303T", TotalChargeCents: 23000, PlaceOfService: "10",
			Diagnoses:       []string{"M25511"},
			BillingProvider: clinic, Subscriber: medicareBeneficiary,
			PayerName: "MEDICARE PART B", PayerID: "00952", ClaimFilingCode: "MB",
			Referring: certifier, Rendering: ptRender,
			// POS 10: telehealth in the patient's home; 95 synchronous
			// audio-video (BILLING.md §3).
			Lines: []Line837{
				{Code: "97110", Modifiers: []string{"GP", "95"}, ChargeCents: 15000, Units: 2, DiagnosisPointers: []int{1}, DateOfService: dos, ControlNumber: "PT260303T-1"},
				{Code: "97530", Modifiers: []string{"GP", "95"}, ChargeCents: 8000, Units: 1, DiagnosisPointers: []int{1}, DateOfService: dos, ControlNumber: "PT260303T-2"},
			},
		}
		return c
	}},
	{"replacement", func() Claim837 {
		c := medicareOT("OT260302A")
		c.Frequency = "7"
		c.OriginalRef = "22026064123456"
		return c
	}},
}
