package billing_test

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcm-health/rcm/docs"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// scrubToday is the baseline's scrubbing date, six days after its date of
// service.
var scrubToday = time.Date(2025, 3, 20, 15, 4, 0, 0, time.UTC)

// codedExample codes a published example visit with the embedded rules,
// optionally changing the visit first, and returns the visit.coded data.
func codedExample(t testing.TB, name string, change func(*events.Visit)) *events.VisitCoded {
	t.Helper()
	coded, err := codeExample(name, change)
	if err != nil {
		t.Fatal(err)
	}
	return coded
}

func codeExample(name string, change func(*events.Visit)) (*events.VisitCoded, error) {
	data, err := docs.FS.ReadFile("examples/" + name)
	if err != nil {
		return nil, err
	}
	var v events.Visit
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	if change != nil {
		change(&v)
	}
	rules := billing.DefaultRules()
	c := billing.CodeVisit(billing.CodeRequest{Visit: &v, Rules: rules})
	return &events.VisitCoded{
		VisitID: "visit-1", Revision: 1, VisitRevision: v.Revision, RulesVersion: rules.Version,
		UnitMethod: c.UnitMethod, TotalTimedMinutes: c.TotalTimedMinutes, TotalTimedUnits: c.TotalTimedUnits,
		ChargeCents: c.ChargeCents, Threshold: c.Threshold, Lines: c.Lines, Issues: c.Issues,
		Explanations: c.Explanations, Visit: v,
	}, nil
}

// baselineJSON is the clean claim's coded visit, encoded once so that each
// case decodes its own deep copy.
var baselineJSON = sync.OnceValues(func() ([]byte, error) {
	coded, err := codeExample("visit-ot-medicare.json", nil)
	if err != nil {
		return nil, err
	}
	return json.Marshal(coded)
})

// baseline is a clean OT Medicare Part B claim: the published example,
// coded with the embedded rules and scrubbed six days after the visit.
func baseline(t testing.TB) billing.ScrubInput {
	t.Helper()
	data, err := baselineJSON()
	if err != nil {
		t.Fatal(err)
	}
	var coded events.VisitCoded
	if err := json.Unmarshal(data, &coded); err != nil {
		t.Fatal(err)
	}
	return billing.ScrubInput{
		Coded: &coded, ControlNumber: "OT250314A1", Frequency: events.FrequencyOriginal,
		Today: scrubToday, Rules: billing.DefaultRules(),
	}
}

// baselinePHI are the baseline's patient values no message may carry, and
// values the cases below put in their place.
var baselinePHI = []string{
	"Evelyn", "Testpatient", "1949-07-22", "1EG4TE5MK73", "18 Sample Street",
	"1SG4TE5MK73", "1949-02-30", "2025-03-15", "Pat", "Spouse", "1950-01-01",
}

// rulesWith is a copy of the embedded rules with a change; the copy
// shares the embedded maps, so change must replace any map it edits.
func rulesWith(change func(*billing.Rules)) *billing.Rules {
	r := *billing.DefaultRules()
	change(&r)
	return &r
}

func payerChange(key string, change func(*billing.PayerProfile)) func(*billing.Rules) {
	return func(r *billing.Rules) {
		payers := make(map[string]billing.PayerProfile, len(r.Payers))
		for k, p := range r.Payers {
			payers[k] = p
		}
		p := payers[key]
		change(&p)
		payers[key] = p
		r.Payers = payers
	}
}

func setCharge(in *billing.ScrubInput, line int, cents int64) {
	c := in.Coded
	c.ChargeCents += cents - c.Lines[line].ChargeCents
	c.Lines[line].ChargeCents = cents
}

func spouse(in *billing.ScrubInput) *events.Subscriber {
	in.Coded.Visit.Coverage.Relationship = events.RelationshipSpouse
	sub := &events.Subscriber{FirstName: "Pat", LastName: "Spouse", BirthDate: "1950-01-01", Sex: "M"}
	in.Coded.Visit.Coverage.Subscriber = sub
	return sub
}

type scrubCase struct {
	name     string
	change   func(*billing.ScrubInput)
	code     string // "" for a claim that stays clean
	severity string
	line     int
	// also are further codes the change brings, on any line; every other
	// code is a failure.
	also []string
}

func scrubCases() []scrubCase {
	const e, w = events.SeverityError, events.SeverityWarning
	return []scrubCase{
		{name: "baseline is clean", change: func(*billing.ScrubInput) {}},
		{name: "no rules", change: func(in *billing.ScrubInput) { in.Rules = nil }, code: "rules.missing", severity: e},
		{name: "no payer profile", change: func(in *billing.ScrubInput) {
			in.Rules = rulesWith(func(r *billing.Rules) { r.Payers = map[string]billing.PayerProfile{} })
		}, code: "payer.profile_missing", severity: e},
		{name: "no lines", change: func(in *billing.ScrubInput) { in.Coded.Lines, in.Coded.ChargeCents = nil, 0 },
			code: "claim.no_lines", severity: e},
		{name: "voided visit sent as original", change: func(in *billing.ScrubInput) { in.Coded.Void = true },
			code: "claim.visit_voided", severity: e},
		{name: "frequency 2", change: func(in *billing.ScrubInput) { in.Frequency = "2" }, code: "claim.frequency_invalid", severity: e},
		{name: "replacement without REF*F8", change: func(in *billing.ScrubInput) { in.Frequency = events.FrequencyReplacement },
			code: "claim.original_ref_missing", severity: e},
		{name: "void without REF*F8", change: func(in *billing.ScrubInput) { in.Frequency = events.FrequencyVoid },
			code: "claim.original_ref_missing", severity: e},
		{name: "replacement with REF*F8", change: func(in *billing.ScrubInput) {
			in.Frequency, in.OriginalRef = events.FrequencyReplacement, "25073000123000"
		}},
		{name: "original with REF*F8", change: func(in *billing.ScrubInput) { in.OriginalRef = "25073000123000" },
			code: "claim.original_ref_unexpected", severity: w},
		{name: "no control number", change: func(in *billing.ScrubInput) { in.ControlNumber = "" },
			code: "claim.control_number_missing", severity: e},
		{name: "control number of 21", change: func(in *billing.ScrubInput) { in.ControlNumber = strings.Repeat("A", 21) },
			code: "claim.control_number_too_long", severity: e},
		{name: "control number of 20", change: func(in *billing.ScrubInput) { in.ControlNumber = strings.Repeat("A", 20) },
			code: "claim.control_number_long", severity: w},
		{name: "control number of 17", change: func(in *billing.ScrubInput) { in.ControlNumber = strings.Repeat("A", 17) }},
		{name: "control number with a separator", change: func(in *billing.ScrubInput) { in.ControlNumber = "OT*1" },
			code: "claim.control_number_characters", severity: e},
		{name: "billing NPI check digit", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.NPI = "1582304171" },
			code: "npi.billing_invalid", severity: e},
		{name: "rendering NPI of 9 digits", change: func(in *billing.ScrubInput) { in.Coded.Visit.RenderingProvider.NPI = "172049683" },
			code: "npi.rendering_invalid", severity: e},
		{name: "certifying NPI missing", change: func(in *billing.ScrubInput) { in.Coded.Visit.CertifyingPhysician.NPI = "" },
			code: "npi.certifying_invalid", severity: e},
		{name: "TIN with hyphen", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.TIN = "25-1234567" },
			code: "tin.invalid", severity: e},
		{name: "no billing taxonomy", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Taxonomy = "" },
			code: "taxonomy.billing_missing", severity: w},
		{name: "billing taxonomy of 9", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Taxonomy = "261QR0400" },
			code: "taxonomy.billing_format", severity: e},
		{name: "billing taxonomy of a PT", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Taxonomy = "225100000X" },
			code: "taxonomy.billing_discipline", severity: w},
		{name: "billing taxonomy of an OT", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Taxonomy = "225X00000X" }},
		{name: "no rendering taxonomy", change: func(in *billing.ScrubInput) { in.Coded.Visit.RenderingProvider.Taxonomy = "" },
			code: "taxonomy.rendering_missing", severity: w},
		{name: "rendering taxonomy in lower case", change: func(in *billing.ScrubInput) { in.Coded.Visit.RenderingProvider.Taxonomy = "225x00000x" },
			code: "taxonomy.rendering_format", severity: e},
		{name: "hand therapist taxonomy", change: func(in *billing.ScrubInput) { in.Coded.Visit.RenderingProvider.Taxonomy = "225XH1200X" }},
		{name: "rendering taxonomy of a PT", change: func(in *billing.ScrubInput) { in.Coded.Visit.RenderingProvider.Taxonomy = "225100000X" },
			code: "taxonomy.rendering_discipline", severity: e},
		{name: "rendering taxonomy of an OTA", change: func(in *billing.ScrubInput) { in.Coded.Visit.RenderingProvider.Taxonomy = "224Z00000X" },
			code: "taxonomy.rendering_discipline", severity: e},
		{name: "unknown discipline", change: func(in *billing.ScrubInput) { in.Coded.Visit.RenderingProvider.Discipline = "RT" },
			code: "rendering.discipline_invalid", severity: e},
		{name: "billing address without city", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Address.City = "" },
			code: "address.billing_incomplete", severity: e},
		{name: "billing address P.O. Box", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Address.Line1 = "P.O. Box 1234" },
			code: "address.billing_po_box", severity: e},
		{name: "billing address line 2 PO BOX", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Address.Line2 = "PO BOX 7" },
			code: "address.billing_po_box", severity: e},
		{name: "billing address Post Office Box", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.BillingProvider.Address.Line1 = "post office box 9"
		}, code: "address.billing_po_box", severity: e},
		{name: "street with box in its name", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.BillingProvider.Address.Line1 = "12 Tempo Boxwood Road"
		}},
		{name: "billing ZIP+4 with hyphen", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Address.PostalCode = "15224-3302" },
			code: "address.billing_zip_invalid", severity: e},
		{name: "billing ZIP of 5", change: func(in *billing.ScrubInput) { in.Coded.Visit.BillingProvider.Address.PostalCode = "15224" },
			code: "address.billing_zip_plus4", severity: e},
		{name: "no member id", change: func(in *billing.ScrubInput) { in.Coded.Visit.Coverage.MemberID = "" },
			code: "member.id_missing", severity: e},
		{name: "member id with a space, Medicare Advantage", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Coverage.PlanType = events.PlanMedicareAdvantage
			in.Coded.Visit.Coverage.PayerID = "MA001"
			in.Coded.Visit.Coverage.MemberID = "W12 345"
			in.Coded.Visit.Coverage.PriorAuthorization = &events.PriorAuthorization{Number: "PA1"}
		}, code: "member.id_format", severity: e},
		{name: "MBI with S", change: func(in *billing.ScrubInput) { in.Coded.Visit.Coverage.MemberID = "1SG4TE5MK73" },
			code: "member.mbi_invalid", severity: e},
		{name: "MBI with dashes", change: func(in *billing.ScrubInput) { in.Coded.Visit.Coverage.MemberID = "1EG4-TE5-MK73" },
			code: "member.mbi_invalid", severity: e},
		{name: "MBI starting with 0", change: func(in *billing.ScrubInput) { in.Coded.Visit.Coverage.MemberID = "0EG4TE5MK73" },
			code: "member.mbi_invalid", severity: e},
		{name: "MBI in lower case", change: func(in *billing.ScrubInput) { in.Coded.Visit.Coverage.MemberID = "1eg4te5mk73" },
			code: "member.mbi_invalid", severity: e},
		{name: "no last name", change: func(in *billing.ScrubInput) { in.Coded.Visit.Patient.LastName = "" },
			code: "patient.name_missing", severity: e},
		{name: "birth date Feb 30", change: func(in *billing.ScrubInput) { in.Coded.Visit.Patient.BirthDate = "1949-02-30" },
			code: "patient.birth_date_invalid", severity: e},
		{name: "born after the visit", change: func(in *billing.ScrubInput) { in.Coded.Visit.Patient.BirthDate = "2025-03-15" },
			code: "patient.birth_after_service", severity: e},
		{name: "born on the day of the visit", change: func(in *billing.ScrubInput) { in.Coded.Visit.Patient.BirthDate = "2025-03-14" }},
		{name: "sex X", change: func(in *billing.ScrubInput) { in.Coded.Visit.Patient.Sex = "X" },
			code: "patient.sex_invalid", severity: e},
		{name: "relationship parent", change: func(in *billing.ScrubInput) { in.Coded.Visit.Coverage.Relationship = "parent" },
			code: "subscriber.relationship_invalid", severity: e},
		{name: "commercial spouse without subscriber", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Coverage.PlanType = events.PlanCommercial
			in.Coded.Visit.Coverage.PayerID = "COMM1"
			in.Coded.Visit.Coverage.MemberID = "XYZ123456"
			in.Coded.Visit.Coverage.Relationship = events.RelationshipSpouse
		}, code: "subscriber.missing", severity: e},
		{name: "Medicare spouse", change: func(in *billing.ScrubInput) { spouse(in) },
			code: "subscriber.medicare_not_self", severity: e},
		{name: "subscriber birth date invalid", change: func(in *billing.ScrubInput) { spouse(in).BirthDate = "1950-1-1" },
			code: "subscriber.birth_date_invalid", severity: e, also: []string{"subscriber.medicare_not_self"}},
		{name: "subscriber sex missing", change: func(in *billing.ScrubInput) { spouse(in).Sex = "" },
			code: "subscriber.sex_invalid", severity: e, also: []string{"subscriber.medicare_not_self"}},
		{name: "no diagnosis", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Diagnoses = nil
		}, code: "diagnosis.missing", severity: e, also: []string{"pointer.out_of_range"}},
		{name: "diagnosis with punctuation", change: func(in *billing.ScrubInput) { in.Coded.Visit.Diagnoses[2] = "R27.8!" },
			code: "diagnosis.format", severity: e},
		{name: "diagnosis repeated without its dot", change: func(in *billing.ScrubInput) { in.Coded.Visit.Diagnoses[2] = "i69351" },
			code: "diagnosis.duplicate", severity: e},
		{name: "13 diagnoses", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Diagnoses = append(in.Coded.Visit.Diagnoses,
				"M25511", "M25512", "M25521", "M25522", "M25531", "M25532", "M25541", "M25542", "M25551", "M25552")
		}, code: "diagnosis.too_many", severity: e},
		{name: "external cause first", change: func(in *billing.ScrubInput) { in.Coded.Visit.Diagnoses[0] = "W19.XXXA" },
			code: "diagnosis.external_cause_first", severity: e},
		{name: "external cause second", change: func(in *billing.ScrubInput) { in.Coded.Visit.Diagnoses[1] = "W19.XXXA" }},
		{name: "line without pointers", change: func(in *billing.ScrubInput) { in.Coded.Lines[0].DiagnosisPointers = nil },
			code: "pointer.missing", severity: e, line: 1},
		{name: "line with 5 pointers", change: func(in *billing.ScrubInput) { in.Coded.Lines[1].DiagnosisPointers = []int{1, 2, 3, 2, 1} },
			code: "pointer.too_many", severity: e, line: 2},
		{name: "pointer 4 of 3", change: func(in *billing.ScrubInput) { in.Coded.Lines[0].DiagnosisPointers = []int{1, 4} },
			code: "pointer.out_of_range", severity: e, line: 1},
		{name: "pointer 0", change: func(in *billing.ScrubInput) { in.Coded.Lines[1].DiagnosisPointers = []int{0} },
			code: "pointer.out_of_range", severity: e, line: 2},
		{name: "line charge 0", change: func(in *billing.ScrubInput) { setCharge(in, 1, 0) },
			code: "charge.line_not_positive", severity: e, line: 2},
		{name: "total charge 0", change: func(in *billing.ScrubInput) {
			rest := in.Coded.ChargeCents - in.Coded.Lines[0].ChargeCents
			setCharge(in, 0, -rest)
		}, code: "charge.total_not_positive", severity: e, also: []string{"charge.line_not_positive"}},
		{name: "coded total off by a cent", change: func(in *billing.ScrubInput) { in.Coded.ChargeCents++ },
			code: "charge.total_mismatch", severity: e},
		{name: "units 0", change: func(in *billing.ScrubInput) { in.Coded.Lines[2].Units = 0 },
			code: "units.not_positive", severity: e, line: 3},
		{name: "MUE MAI 2", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[1].Code, in.Coded.Lines[1].Units = "92610", 2
		}, code: "mue.exceeded", severity: e, line: 2},
		{name: "MUE MAI 3", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[1].Code, in.Coded.Lines[1].Units = "97012", 2
		}, code: "mue.exceeded", severity: w, line: 2},
		{name: "MUE MAI 3 across two lines", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[1].Code, in.Coded.Lines[1].Units = "97012", 1
			in.Coded.Lines[2].Code, in.Coded.Lines[2].Units = "97012", 1
			in.Coded.Lines[2].Modifiers = []string{"GO", "CO"}
		}, code: "mue.exceeded", severity: w, line: 2},
		{name: "MUE MAI 1", change: func(in *billing.ScrubInput) {
			in.Rules = rulesWith(func(r *billing.Rules) {
				r.MUE = map[string]billing.MUE{"97535": {Code: "97535", Units: 1, Adjudication: 1}}
			})
			in.Coded.Lines[1].Units = 2
		}, code: "mue.exceeded", severity: w, line: 2},
		{name: "same code and modifiers twice", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[2].Code = in.Coded.Lines[0].Code
		}, code: "duplicate.within_claim", severity: e, line: 3},
		{name: "line already sent", change: func(in *billing.ScrubInput) {
			l := in.Coded.Lines[1]
			in.Submitted = []billing.SubmittedLine{
				{ClaimControlNumber: "OT250314A0", Code: "97110", Modifiers: []string{"GO"}, Units: 1, DateOfService: "2025-03-13"},
				{ClaimControlNumber: "OT250314A0", Code: l.Code, Modifiers: slices.Clone(l.Modifiers), Units: l.Units, DateOfService: "2025-03-14"},
			}
		}, code: "duplicate.submitted", severity: e, line: 2},
		{name: "earlier submission of the same claim", change: func(in *billing.ScrubInput) {
			l := in.Coded.Lines[1]
			in.Submitted = []billing.SubmittedLine{
				{ClaimControlNumber: in.ControlNumber, Code: l.Code, Modifiers: slices.Clone(l.Modifiers), Units: l.Units, DateOfService: "2025-03-14"},
			}
		}},
		{name: "code already sent with other units", change: func(in *billing.ScrubInput) {
			l := in.Coded.Lines[0]
			in.Submitted = []billing.SubmittedLine{
				{ClaimControlNumber: "OT250314A0", Code: l.Code, Modifiers: slices.Clone(l.Modifiers), Units: l.Units + 1, DateOfService: "2025-03-14"},
			}
		}, code: "duplicate.same_day_code", severity: w, line: 1},
		{name: "modifier of 3", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[0].Modifiers = append(in.Coded.Lines[0].Modifiers, "ABC")
		}, code: "modifier.invalid", severity: e, line: 1},
		{name: "5 modifiers", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[2].Modifiers = append(in.Coded.Lines[2].Modifiers, "76", "77", "AT", "52")
		}, code: "modifier.too_many", severity: e, line: 3},
		{name: "no GO", change: func(in *billing.ScrubInput) { in.Coded.Lines[1].Modifiers = nil },
			code: "modifier.discipline_missing", severity: e, line: 2},
		{name: "no GO, payer without therapy modifiers", change: func(in *billing.ScrubInput) {
			in.Rules = rulesWith(payerChange("plan:medicare_part_b", func(p *billing.PayerProfile) { p.DisciplineModifiers = false }))
			in.Coded.Lines[1].Modifiers = nil
		}},
		{name: "GP on an OT visit", change: func(in *billing.ScrubInput) { in.Coded.Lines[0].Modifiers = []string{"GP"} },
			code: "modifier.discipline_mismatch", severity: e, line: 1},
		{name: "GO and GN", change: func(in *billing.ScrubInput) { in.Coded.Lines[0].Modifiers = []string{"GO", "GN"} },
			code: "modifier.discipline_mismatch", severity: e, line: 1},
		{name: "CQ with GO", change: func(in *billing.ScrubInput) { in.Coded.Lines[2].Modifiers = []string{"GO", "CQ"} },
			code: "modifier.assistant_mismatch", severity: e, line: 3},
		{name: "CO with GO", change: func(in *billing.ScrubInput) { in.Coded.Lines[2].Modifiers = []string{"GO", "CO"} }},
		{name: "GA and GZ", change: func(in *billing.ScrubInput) { in.Coded.Lines[0].Modifiers = []string{"GO", "GA", "GZ"} },
			code: "modifier.abn_conflict", severity: e, line: 1},
		{name: "59 without a pair", change: func(in *billing.ScrubInput) { in.Coded.Lines[1].Modifiers = []string{"GO", "59"} },
			code: "modifier.distinct_without_pair", severity: e, line: 2},
		{name: "XU on column 1", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[1].Code = "97140"
			in.Coded.Lines[1].Modifiers = []string{"GO", "59"}
			in.Coded.Lines[0].Modifiers = []string{"GO", "XU"}
		}, code: "modifier.distinct_without_pair", severity: e, line: 1},
		{name: "past the threshold without KX", change: func(in *billing.ScrubInput) {
			th := in.Coded.Threshold
			th.AfterCents = th.ThresholdCents + 1
		}, code: "modifier.kx_missing", severity: e, line: 1},
		{name: "KX below the threshold", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[0].Modifiers = append(in.Coded.Lines[0].Modifiers, "KX")
		}, code: "modifier.kx_unneeded", severity: w, line: 1},
		{name: "telehealth without 95", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Telehealth, in.Coded.Visit.PlaceOfService = true, "10"
		}, code: "modifier.telehealth_missing", severity: w, line: 1},
		{name: "telehealth at home with 95", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Telehealth, in.Coded.Visit.PlaceOfService = true, "10"
			for i := range in.Coded.Lines {
				in.Coded.Lines[i].Modifiers = append(in.Coded.Lines[i].Modifiers, "95")
			}
		}},
		{name: "95 in the office", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[2].Modifiers = append(in.Coded.Lines[2].Modifiers, "95")
		}, code: "modifier.telehealth_unexpected", severity: e, line: 3},
		{name: "eval and re-eval", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[0].Code, in.Coded.Lines[0].Units = "97165", 1
			in.Coded.Lines[1].Code, in.Coded.Lines[1].Units = "97168", 1
		}, code: "ncci.not_separately_payable", severity: e, line: 2, also: []string{"ncci.bundled"}},
		{name: "97140 without 59", change: func(in *billing.ScrubInput) { in.Coded.Lines[1].Code = "97140" },
			code: "ncci.bundled", severity: e, line: 2},
		{name: "97140 with 59", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[1].Code = "97140"
			in.Coded.Lines[1].Modifiers = []string{"GO", "59"}
		}},
		{name: "97140 with XU before 97530", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[0].Code = "97140"
			in.Coded.Lines[0].Modifiers = []string{"GO", "XU"}
			in.Coded.Lines[1].Code = "97530"
		}},
		{name: "coder's NCCI issue is not repeated", change: func(in *billing.ScrubInput) {
			in.Coded.Lines[1].Code = "97140"
			in.Coded.Issues = []events.Edit{{Code: "ncci.bundled", Severity: e, Message: "coder", Fix: "coder"}}
		}, code: "ncci.bundled", severity: e, line: 0},
		{name: "coder issue carried", change: func(in *billing.ScrubInput) {
			in.Coded.Issues = []events.Edit{{Code: "code.discipline_mismatch", Severity: w, Line: 2, Message: "coder", Fix: "coder"}}
		}, code: "code.discipline_mismatch", severity: w, line: 2},
		{name: "place of service 1", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlaceOfService = "1" },
			code: "pos.invalid", severity: e},
		{name: "telehealth in the office", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Telehealth = true
			for i := range in.Coded.Lines {
				in.Coded.Lines[i].Modifiers = append(in.Coded.Lines[i].Modifiers, "95")
			}
		}, code: "telehealth.place_of_service", severity: e},
		{name: "POS 02 without telehealth", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlaceOfService = "02" },
			code: "telehealth.pos_without_telehealth", severity: e},
		{name: "date of service Feb 29 2025", change: func(in *billing.ScrubInput) { in.Coded.Visit.DateOfService = "2025-02-29" },
			code: "dos.invalid", severity: e},
		{name: "date of service tomorrow", change: func(in *billing.ScrubInput) {
			in.Today = time.Date(2025, 3, 13, 23, 0, 0, 0, time.UTC)
		}, code: "dos.future", severity: e},
		{name: "scrubbed on the day of service, late in a western zone", change: func(in *billing.ScrubInput) {
			in.Today = time.Date(2025, 3, 14, 23, 30, 0, 0, time.FixedZone("PDT", -7*3600))
		}},
		{name: "366 days after", change: func(in *billing.ScrubInput) { in.Today = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC) },
			code: "filing.expired", severity: e},
		{name: "365 days after", change: func(in *billing.ScrubInput) { in.Today = time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC) },
			code: "filing.deadline_near", severity: w},
		{name: "335 days after", change: func(in *billing.ScrubInput) { in.Today = time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC) },
			code: "filing.deadline_near", severity: w},
		{name: "334 days after", change: func(in *billing.ScrubInput) { in.Today = time.Date(2026, 2, 11, 0, 0, 0, 0, time.UTC) }},
		{name: "no plan of care", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlanOfCare = nil },
			code: "plan_of_care.missing", severity: e},
		{name: "plan of care reversed", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlanOfCare.CertifiedThrough = "2025-02-01" },
			code: "plan_of_care.dates_invalid", severity: e},
		{name: "plan of care ended", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlanOfCare.CertifiedThrough = "2025-03-13" },
			code: "plan_of_care.outside_certification", severity: e},
		{name: "plan of care ends on the day", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlanOfCare.CertifiedThrough = "2025-03-14" }},
		{name: "progress report after this visit", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlanOfCare.LastProgressReportVisit = 8 },
			code: "plan_of_care.visit_number_invalid", severity: w},
		{name: "visit 11, report at 1", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlanOfCare.VisitNumber = 11 },
			code: "plan_of_care.progress_report_due", severity: w},
		{name: "visit 10, report at 1", change: func(in *billing.ScrubInput) { in.Coded.Visit.PlanOfCare.VisitNumber = 10 }},
		{name: "no certifying physician", change: func(in *billing.ScrubInput) { in.Coded.Visit.CertifyingPhysician = nil },
			code: "physician.certifying_missing", severity: e},
		{name: "authorization required", change: func(in *billing.ScrubInput) {
			in.Rules = rulesWith(payerChange("plan:medicare_part_b", func(p *billing.PayerProfile) { p.PriorAuthRequired = true }))
		}, code: "auth.missing", severity: e},
		{name: "authorization required and given", change: func(in *billing.ScrubInput) {
			in.Rules = rulesWith(payerChange("plan:medicare_part_b", func(p *billing.PayerProfile) { p.PriorAuthRequired = true }))
			in.Coded.Visit.Coverage.PriorAuthorization = &events.PriorAuthorization{Number: "PA123", VisitsAuthorized: 12, VisitsUsed: 9,
				ValidFrom: "2025-03-14", ValidThrough: "2025-03-14"}
		}},
		{name: "authorization dates reversed", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Coverage.PriorAuthorization = &events.PriorAuthorization{Number: "PA123", ValidFrom: "2025-03-01", ValidThrough: "2025-02-01"}
		}, code: "auth.dates_invalid", severity: e},
		{name: "authorization not yet valid", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Coverage.PriorAuthorization = &events.PriorAuthorization{Number: "PA123", ValidFrom: "2025-03-16"}
		}, code: "auth.outside_dates", severity: e},
		{name: "authorization used up", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Coverage.PriorAuthorization = &events.PriorAuthorization{Number: "PA123", VisitsAuthorized: 12, VisitsUsed: 12}
		}, code: "auth.exhausted", severity: e},
		{name: "authorization with 2 left", change: func(in *billing.ScrubInput) {
			in.Coded.Visit.Coverage.PriorAuthorization = &events.PriorAuthorization{Number: "PA123", VisitsAuthorized: 12, VisitsUsed: 10}
		}, code: "auth.running_low", severity: w},
	}
}

// TestScrub scrubs the clean baseline changed in one way per case, and
// wants exactly the edit the change calls for.
func TestScrub(t *testing.T) {
	t.Parallel()
	for _, tc := range scrubCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := baseline(t)
			tc.change(&in)
			edits := billing.Scrub(in)
			checkEdits(t, in, edits)
			if tc.code == "" {
				if len(edits) > 0 {
					t.Fatalf("want no edits, got %s", formatEdits(edits))
				}
				return
			}
			found := false
			for _, e := range edits {
				switch {
				case e.Code == tc.code && e.Severity == tc.severity && e.Line == tc.line:
					found = true
				case e.Code == tc.code, slices.Contains(tc.also, e.Code):
				default:
					t.Errorf("unexpected edit %s", formatEdits([]events.Edit{e}))
				}
			}
			if !found {
				t.Errorf("want %s %s on line %d, got %s", tc.code, tc.severity, tc.line, formatEdits(edits))
			}
		})
	}
}

// TestScrubCodesDocumented wants every code of the table in scrub.go's
// comment to have a case, and every code a case expects to be in it.
func TestScrubCodesDocumented(t *testing.T) {
	t.Parallel()
	documented := documentedCodes(t)
	tested := map[string]bool{}
	for _, tc := range scrubCases() {
		if tc.code == "" || strings.HasPrefix(tc.name, "coder") {
			continue
		}
		tested[tc.code] = true
		if _, ok := documented[tc.code]; !ok {
			t.Errorf("case %q: code %s is not in the table of scrub.go", tc.name, tc.code)
		}
	}
	for code := range documented {
		if !tested[code] {
			t.Errorf("code %s has no case", code)
		}
	}
}

// documentedCodes reads the code table of scrub.go: code to severity.
var documentedCodes = func() func(testing.TB) map[string]string {
	load := sync.OnceValues(func() (map[string]string, error) {
		f, err := os.Open("scrub.go")
		if err != nil {
			return nil, err
		}
		defer f.Close()
		codes := map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "//\t")
			if !ok {
				continue
			}
			fields := strings.Fields(line)
			if len(fields) < 3 || !strings.Contains(fields[0], ".") || fields[0] == "code" {
				continue
			}
			codes[fields[0]] = fields[1]
		}
		return codes, sc.Err()
	})
	return func(t testing.TB) map[string]string {
		t.Helper()
		codes, err := load()
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) < 50 {
			t.Fatalf("read only %d codes from the table in scrub.go", len(codes))
		}
		return codes
	}
}()

// checkEdits holds for any scrub: edits are complete, sorted, on lines of
// the claim, documented (or the coder's), and free of the patient's data.
//
// Values the caller chose are left out of the PHI check when they contain
// one: a fuzzed control number may spell a member id.
func checkEdits(t testing.TB, in billing.ScrubInput, edits []events.Edit, chosen ...string) {
	t.Helper()
	documented := documentedCodes(t)
	coder := map[string]bool{}
	if in.Coded != nil {
		for _, is := range in.Coded.Issues {
			coder[is.Code] = true
		}
	}
	nlines := 0
	if in.Coded != nil {
		nlines = len(in.Coded.Lines)
		for _, l := range in.Coded.Lines {
			nlines = max(nlines, l.Line)
		}
	}
	for i, e := range edits {
		if sev, ok := documented[e.Code]; !coder[e.Code] && (!ok || !strings.Contains(sev, e.Severity)) {
			t.Errorf("edit %s %s is not documented as such (%q)", e.Code, e.Severity, sev)
		}
		if e.Severity != events.SeverityError && e.Severity != events.SeverityWarning {
			t.Errorf("edit %s: severity %q", e.Code, e.Severity)
		}
		if e.Line < 0 || e.Line > nlines {
			t.Errorf("edit %s: line %d of %d", e.Code, e.Line, nlines)
		}
		if e.Message == "" || e.Fix == "" {
			t.Errorf("edit %s: message %q, fix %q", e.Code, e.Message, e.Fix)
		}
		if i > 0 {
			p := edits[i-1]
			if p.Line > e.Line || (p.Line == e.Line && p.Code > e.Code) {
				t.Errorf("edits out of order: %s line %d before %s line %d", p.Code, p.Line, e.Code, e.Line)
			}
		}
		for _, phi := range baselinePHI {
			if slices.ContainsFunc(chosen, func(c string) bool { return strings.Contains(c, phi) }) {
				continue
			}
			if strings.Contains(e.Message, phi) || strings.Contains(e.Fix, phi) {
				t.Errorf("edit %s carries the patient's %q: %s / %s", e.Code, phi, e.Message, e.Fix)
			}
		}
	}
}

func formatEdits(edits []events.Edit) string {
	var b strings.Builder
	for _, e := range edits {
		b.WriteString("\n\t")
		b.WriteString(e.Code + " " + e.Severity + " line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": " + e.Message + " | " + e.Fix)
	}
	return b.String()
}

// TestScrubNoPHI fills every patient field with a recognisable value,
// breaks the claim in many ways at once, and wants none of those values in
// any message or fix.
func TestScrubNoPHI(t *testing.T) {
	t.Parallel()
	in := baseline(t)
	v := &in.Coded.Visit
	v.Coverage.Relationship = events.RelationshipChild
	v.Coverage.Subscriber = &events.Subscriber{FirstName: "Pat", LastName: "Spouse", BirthDate: "1950-01-01", Sex: "Q",
		Address: events.Address{Line1: "18 Sample Street"}}
	v.Coverage.MemberID = "1SG4TE5MK73"
	v.Patient.BirthDate = "2025-03-15"
	v.Patient.Sex = "Evelyn"
	v.BillingProvider.Address.Line1 = "Testpatient PO Box 1"
	v.Diagnoses = append(v.Diagnoses, "Evelyn", "1949-07-22", "R27.8")
	in.ControlNumber = strings.Repeat("X", 19)
	edits := billing.Scrub(in)
	if len(edits) < 6 {
		t.Fatalf("want many edits, got %s", formatEdits(edits))
	}
	checkEdits(t, in, edits)
	// The baseline itself, and every case, are checked in TestScrub.
}

func TestScrubNilCoded(t *testing.T) {
	t.Parallel()
	edits := billing.Scrub(billing.ScrubInput{})
	if len(edits) != 1 || edits[0].Severity != events.SeverityError {
		t.Fatalf("want one error, got %s", formatEdits(edits))
	}
}

// FuzzScrub scrubs the baseline changed by the fuzzer: each op sets one
// field to the fuzzer's string or number. Scrub must never panic, and its
// edits must keep the invariants of checkEdits.
func FuzzScrub(f *testing.F) {
	f.Add([]byte{}, "", 0)
	f.Add([]byte{0, 1, 2, 3}, "1EG4TE5MK73", 7)
	f.Add([]byte{10, 11, 12, 13, 14}, "P.O. Box 12", -1)
	f.Add([]byte{20, 21, 22, 23, 24, 25, 26}, "97140", 3)
	f.Fuzz(func(t *testing.T, ops []byte, s string, n int) {
		in := baseline(t)
		c := in.Coded
		v := &c.Visit
		line := func() *events.CodedLine {
			if len(c.Lines) == 0 {
				c.Lines = append(c.Lines, events.CodedLine{})
			}
			return &c.Lines[(n&0xff)%len(c.Lines)]
		}
		for _, op := range ops {
			switch op % 40 {
			case 0:
				v.Coverage.MemberID = s
			case 1:
				v.DateOfService = s
			case 2:
				v.Patient.BirthDate = s
			case 3:
				v.BillingProvider.NPI = s
			case 4:
				v.RenderingProvider.Taxonomy = s
			case 5:
				v.BillingProvider.Address.Line1 = s
			case 6:
				v.BillingProvider.Address.PostalCode = s
			case 7:
				v.Coverage.PlanType = s
			case 8:
				v.Coverage.Relationship = s
			case 9:
				v.Coverage.Subscriber = &events.Subscriber{BirthDate: s, Sex: s}
			case 10:
				v.Diagnoses = append(v.Diagnoses, s)
			case 11:
				if len(v.Diagnoses) > 0 {
					v.Diagnoses = v.Diagnoses[1:]
				}
			case 12:
				line().Code = s
			case 13:
				line().Units = n
			case 14:
				line().ChargeCents = int64(n)
			case 15:
				l := line()
				l.Modifiers = append(l.Modifiers, s)
			case 16:
				line().Modifiers = nil
			case 17:
				l := line()
				l.DiagnosisPointers = append(l.DiagnosisPointers, n)
			case 18:
				line().Line = n
			case 19:
				c.Lines = append(c.Lines, events.CodedLine{Code: s, Units: n, DiagnosisPointers: []int{n}})
			case 20:
				if len(c.Lines) > 0 {
					c.Lines = c.Lines[:len(c.Lines)-1]
				}
			case 21:
				in.Frequency = s
			case 22:
				in.OriginalRef = s
			case 23:
				in.ControlNumber = s
			case 24:
				in.Today = in.Today.AddDate(0, 0, n)
			case 25:
				in.Today = time.Time{}
			case 26:
				in.Rules = nil
			case 27:
				v.PlanOfCare = nil
			case 28:
				if v.PlanOfCare != nil {
					v.PlanOfCare.CertifiedThrough = s
					v.PlanOfCare.VisitNumber = n
				}
			case 29:
				v.CertifyingPhysician = nil
			case 30:
				v.Coverage.PriorAuthorization = &events.PriorAuthorization{Number: s, VisitsAuthorized: n, VisitsUsed: n / 2, ValidFrom: s, ValidThrough: s}
			case 31:
				v.Telehealth = !v.Telehealth
			case 32:
				v.PlaceOfService = s
			case 33:
				if c.Threshold != nil {
					c.Threshold.AfterCents = int64(n)
				}
			case 34:
				c.Threshold = nil
			case 35:
				l := line()
				in.Submitted = append(in.Submitted, billing.SubmittedLine{ClaimControlNumber: s, Code: l.Code, Modifiers: l.Modifiers, Units: l.Units, DateOfService: v.DateOfService})
			case 36:
				c.Issues = append(c.Issues, events.Edit{Code: s, Severity: events.SeverityWarning, Line: n & 0xf, Message: "m", Fix: "f"})
			case 37:
				v.RenderingProvider.Discipline = s
			case 38:
				c.Void = !c.Void
			case 39:
				c.ChargeCents = int64(n)
			}
		}
		edits := billing.Scrub(in)
		// Coder issues are the coder's business; only check the scrubber's.
		if len(c.Issues) == 0 {
			for _, l := range c.Lines {
				if l.Line < 0 {
					return // a line number no coder gives
				}
			}
			// Only control numbers, which the submitter makes, and the
			// dates of the visit, plan and authorization are repeated as
			// given.
			chosen := []string{in.ControlNumber, in.OriginalRef, submittedNumbers(in.Submitted), v.DateOfService}
			if p := v.PlanOfCare; p != nil {
				chosen = append(chosen, p.CertifiedFrom, p.CertifiedThrough)
			}
			if a := v.Coverage.PriorAuthorization; a != nil {
				chosen = append(chosen, a.ValidFrom, a.ValidThrough)
			}
			checkEdits(t, in, edits, chosen...)
		}
	})
}

func submittedNumbers(lines []billing.SubmittedLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.ClaimControlNumber)
		b.WriteByte(0)
	}
	return b.String()
}

// BenchmarkScrub scrubs a typical clean four-line OT claim (97530, 97535,
// 97110 and 97140 with 59 for the NCCI pair); claims/s is the scrub rate of
// one core with -cpu 1.
func BenchmarkScrub(b *testing.B) {
	coded := codedExample(b, "visit-ot-medicare.json", func(v *events.Visit) {
		v.Services = append(v.Services, events.Service{Code: "97140", Minutes: 12, DiagnosisPointers: []int{2}, DistinctTimeBlock: true})
		v.TotalTreatmentMinutes += 12
	})
	if len(coded.Lines) != 4 {
		b.Fatalf("want 4 lines, got %d", len(coded.Lines))
	}
	in := billing.ScrubInput{Coded: coded, ControlNumber: "OT250314A1", Frequency: events.FrequencyOriginal, Today: scrubToday,
		Rules: billing.DefaultRules(),
		Submitted: []billing.SubmittedLine{
			{ClaimControlNumber: "OT250307A1", Code: "97530", Modifiers: []string{"GO"}, Units: 2, DateOfService: "2025-03-07"},
			{ClaimControlNumber: "OT250307A1", Code: "97110", Modifiers: []string{"GO"}, Units: 1, DateOfService: "2025-03-07"},
		}}
	if edits := billing.Scrub(in); len(edits) > 0 {
		b.Fatalf("want a clean claim, got %s", formatEdits(edits))
	}
	b.ReportAllocs()
	for b.Loop() {
		billing.Scrub(in)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}
