package submitter

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// crockford is base32 without the letters people misread (I, L, O, U): a
// biller reads CLM01 to a payer over the phone.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// ControlNumber is the patient control number (CLM01) of the n-th
// submission of a visit's claim: 12 characters from the visit id, a dash
// and the submission number. It stays within the 17 characters some payers
// keep (BILLING.md §5) for up to 9,999 submissions, and a new submission
// (a corrected claim, a resubmission after a rejection) gets a new one, so
// that every 999, 277CA and 835 points at exactly one.
func ControlNumber(visitID string, submission int) string {
	sum := sha256.Sum256([]byte(visitID))
	return crockford.EncodeToString(sum[:8])[:12] + "-" + strconv.Itoa(submission)
}

// LineControlNumber is a line's REF*6R: CLM01 and the line number, unique
// within the claim and well under 30 characters.
func LineControlNumber(claimControl string, line int) string {
	return claimControl + "-" + strconv.Itoa(line)
}

// ClaimFilingCode is SBR09 for a plan type.
func ClaimFilingCode(planType string) string {
	switch planType {
	case events.PlanMedicarePartB:
		return "MB"
	case events.PlanMedicareAdvantage:
		return "16" // Medicare risk HMO; a PPO plan would use 15 [VERIFY per payer]
	case events.PlanMedicaid:
		return "MC"
	case events.PlanCommercial:
		return "CI"
	case events.PlanWorkersComp:
		return "WC"
	}
	return "ZZ"
}

// relationshipCode is PAT01 for a patient who is not the subscriber.
func relationshipCode(r string) string {
	switch r {
	case events.RelationshipSpouse:
		return "01"
	case events.RelationshipChild:
		return "19"
	}
	return "G8"
}

// renderingTaxonomy is the NUCC code of the discipline when the EMR sent
// none: the rendering provider's PRV is required on the 837P.
func renderingTaxonomy(p events.RenderingProvider) string {
	if p.Taxonomy != "" {
		return p.Taxonomy
	}
	switch p.Discipline {
	case events.DisciplineOT:
		return "225X00000X"
	case events.DisciplinePT:
		return "225100000X"
	case events.DisciplineSLP:
		return "235Z00000X"
	}
	return ""
}

// ClaimRequest says which submission of a coded visit to build.
type ClaimRequest struct {
	Coded *events.VisitCoded
	// Submission numbers the claims sent for the visit, from 1.
	Submission int
	// Frequency is "1" original, "7" replacement or "8" void; empty is "1".
	Frequency string
	// OriginalRef is the payer's claim control number being replaced or
	// voided (REF*F8).
	OriginalRef string
}

// BuildClaim maps a coded visit onto the 837P claim model. It fails only
// for what no claim can be made of (a void, no lines, a date that does not
// parse), naming the field; everything a payer would object to is the
// scrubber's to report.
func BuildClaim(req ClaimRequest) (x12.Claim837, error) {
	c := req.Coded
	if c == nil {
		return x12.Claim837{}, errors.New("build claim: no coded visit")
	}
	if c.Void && req.Frequency != "8" {
		return x12.Claim837{}, fmt.Errorf("build claim for visit %s: the visit is void", c.VisitID)
	}
	if len(c.Lines) == 0 && req.Frequency != "8" {
		return x12.Claim837{}, fmt.Errorf("build claim for visit %s: no billable lines", c.VisitID)
	}
	v := &c.Visit
	dos, err := time.Parse(time.DateOnly, v.DateOfService)
	if err != nil {
		return x12.Claim837{}, fmt.Errorf("build claim for visit %s: date_of_service is not a date", c.VisitID)
	}
	patientDOB, err := parseDate(v.Patient.BirthDate)
	if err != nil {
		return x12.Claim837{}, fmt.Errorf("build claim for visit %s: patient.birth_date is not a date", c.VisitID)
	}
	control := ControlNumber(c.VisitID, max(req.Submission, 1))
	patient := x12.Person{Last: v.Patient.LastName, First: v.Patient.FirstName, Address: address(v.Patient.Address), BirthDate: patientDOB, Sex: v.Patient.Sex}

	claim := x12.Claim837{
		ControlNumber:  control,
		PlaceOfService: v.PlaceOfService,
		Frequency:      req.Frequency,
		OriginalRef:    req.OriginalRef,
		BillingProvider: x12.BillingProvider{
			Name: v.BillingProvider.Name, NPI: v.BillingProvider.NPI, TIN: v.BillingProvider.TIN,
			Taxonomy: v.BillingProvider.Taxonomy, Address: address(v.BillingProvider.Address),
		},
		PayerName:       v.Coverage.PayerName,
		PayerID:         v.Coverage.PayerID,
		ClaimFilingCode: ClaimFilingCode(v.Coverage.PlanType),
		Rendering: &x12.Provider{Last: v.RenderingProvider.LastName, First: v.RenderingProvider.FirstName,
			NPI: v.RenderingProvider.NPI, Taxonomy: renderingTaxonomy(v.RenderingProvider)},
	}
	if pa := v.Coverage.PriorAuthorization; pa != nil {
		claim.PriorAuth = pa.Number
	}
	if cp := v.CertifyingPhysician; cp != nil {
		claim.Referring = &x12.Provider{Last: cp.LastName, First: cp.FirstName, NPI: cp.NPI}
	}
	for _, d := range v.Diagnoses {
		claim.Diagnoses = append(claim.Diagnoses, billing.NormalizeICD10(d))
	}

	claim.Subscriber = x12.Subscriber{Person: patient, MemberID: v.Coverage.MemberID, GroupNumber: v.Coverage.GroupNumber}
	if v.Coverage.Relationship != events.RelationshipSelf {
		s := v.Coverage.Subscriber
		if s == nil {
			return x12.Claim837{}, fmt.Errorf("build claim for visit %s: coverage.subscriber is required when the patient is not the subscriber", c.VisitID)
		}
		subDOB, err := parseDate(s.BirthDate)
		if err != nil {
			return x12.Claim837{}, fmt.Errorf("build claim for visit %s: coverage.subscriber.birth_date is not a date", c.VisitID)
		}
		claim.Subscriber.Person = x12.Person{Last: s.LastName, First: s.FirstName, Address: address(s.Address), BirthDate: subDOB, Sex: s.Sex}
		claim.Patient = &x12.Patient{Person: patient, Relationship: relationshipCode(v.Coverage.Relationship)}
	}

	for _, l := range c.Lines {
		claim.Lines = append(claim.Lines, x12.Line837{
			Code: l.Code, Modifiers: l.Modifiers, ChargeCents: l.ChargeCents, Units: l.Units,
			DiagnosisPointers: l.DiagnosisPointers, DateOfService: dos,
			ControlNumber: LineControlNumber(control, l.Line),
		})
		claim.TotalChargeCents += l.ChargeCents
	}
	return claim, nil
}

func address(a events.Address) x12.Address {
	return x12.Address{Line1: a.Line1, Line2: a.Line2, City: a.City, State: a.State, ZIP: strings.ReplaceAll(a.PostalCode, "-", "")}
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.DateOnly, s)
}

// Summary is the claim.submitted data of a claim, less what only its batch
// knows (file, envelope control numbers), which the batcher fills in.
func Summary(c *events.VisitCoded, claimID, control string, submission int) events.ClaimSubmitted {
	v := &c.Visit
	s := events.ClaimSubmitted{
		ClaimID: claimID, VisitID: c.VisitID, Submission: submission, ControlNumber: control,
		Frequency: events.FrequencyOriginal,
		PayerID:   v.Coverage.PayerID, PayerName: v.Coverage.PayerName, PlanType: v.Coverage.PlanType,
		BillingNPI: v.BillingProvider.NPI, RenderingNPI: v.RenderingProvider.NPI,
		Patient: events.ClaimPatient{ID: v.Patient.ID, MemberID: v.Coverage.MemberID, FirstName: v.Patient.FirstName,
			LastName: v.Patient.LastName, BirthDate: v.Patient.BirthDate},
		PlaceOfService: v.PlaceOfService,
		Lines:          []events.ClaimLine{},
	}
	for _, d := range v.Diagnoses {
		s.Diagnoses = append(s.Diagnoses, billing.NormalizeICD10(d))
	}
	for _, l := range c.Lines {
		s.Lines = append(s.Lines, events.ClaimLine{Line: l.Line, LineItemControlNumber: LineControlNumber(control, l.Line),
			Code: l.Code, Modifiers: l.Modifiers, Units: l.Units, ChargeCents: l.ChargeCents,
			DateOfService: v.DateOfService, DiagnosisPointers: l.DiagnosisPointers})
		s.TotalChargeCents += l.ChargeCents
		s.TotalUnits += l.Units
	}
	return s
}
