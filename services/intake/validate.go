package intake

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// Problem is one thing wrong with a visit: where (a JSON path into the
// payload) and why. Reasons name the rule, never the value, so they carry no
// PHI into logs or EMR dashboards.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Limits that are properties of the payload rather than billing rules.
const (
	maxDiagnoses = 12 // 837P HI segment capacity
	maxPointers  = 4  // SV107 composite capacity
	maxServices  = 50 // 837P loop 2400 allows 50 lines per claim
	maxMinutes   = 1440
	maxIDLen     = 64
)

var (
	reDigits2   = regexp.MustCompile(`^[0-9]{2}$`)
	reTIN       = regexp.MustCompile(`^[0-9]{9}$`)
	reTaxonomy  = regexp.MustCompile(`^[0-9]{3}[0-9A-Z]{6}X$`)
	reState     = regexp.MustCompile(`^[A-Z]{2}$`)
	rePostal    = regexp.MustCompile(`^[0-9]{5}([0-9]{4})?$`)
	reModifier  = regexp.MustCompile(`^[0-9A-Z]{2}$`)
	reVisibleID = regexp.MustCompile(`^[\x21-\x7e]+$`)
)

type validator struct {
	now      time.Time
	catalog  *billing.Catalog
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) required(path, s string) bool {
	if strings.TrimSpace(s) == "" {
		v.add(path, "is required")
		return false
	}
	return true
}

// today is the latest date of service that is not in the future anywhere a
// clinic can be: UTC+14 is the easternmost time zone.
func (v *validator) today() time.Time {
	t := v.now.UTC().Add(14 * time.Hour)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// date checks a YYYY-MM-DD date that must be real and not in the future.
func (v *validator) date(path, s string, notFuture bool) (time.Time, bool) {
	if !v.required(path, s) {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		v.add(path, "must be a real date as YYYY-MM-DD")
		return time.Time{}, false
	}
	if d.Year() < 1900 {
		v.add(path, "must be after 1900")
		return d, false
	}
	if notFuture && d.After(v.today()) {
		v.add(path, "must not be in the future")
		return d, false
	}
	return d, true
}

func (v *validator) npi(path, s string) {
	if !v.required(path, s) {
		return
	}
	if !billing.ValidNPI(s) {
		v.add(path, "must be a 10-digit NPI with a valid check digit (Luhn with the 80840 prefix)")
	}
}

func (v *validator) id(path, s string) {
	if !v.required(path, s) {
		return
	}
	if len(s) > maxIDLen || !reVisibleID.MatchString(s) {
		v.add(path, "must be 1 to %d visible ASCII characters without spaces", maxIDLen)
	}
}

func (v *validator) address(path string, a events.Address) {
	v.required(path+".line1", a.Line1)
	v.required(path+".city", a.City)
	if v.required(path+".state", a.State) && !reState.MatchString(a.State) {
		v.add(path+".state", "must be a two-letter USPS state code in capitals")
	}
	if v.required(path+".postal_code", a.PostalCode) && !rePostal.MatchString(a.PostalCode) {
		v.add(path+".postal_code", "must be 5 or 9 digits without a dash")
	}
}

func (v *validator) sex(path, s string) {
	if v.required(path, s) && s != "F" && s != "M" && s != "U" {
		v.add(path, "must be F, M or U")
	}
}

func (v *validator) oneOf(path, s string, allowed ...string) {
	if !v.required(path, s) {
		return
	}
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(path, "must be one of %s", strings.Join(allowed, ", "))
}

// Validate lists every problem of a visit at once, in payload order. An empty
// result means intake accepts it. now decides what "future" means.
func Validate(vis *events.Visit, now time.Time, catalog *billing.Catalog) []Problem {
	v := &validator{now: now, catalog: catalog}
	v.id("$.source", vis.Source)
	v.id("$.source_visit_id", vis.SourceVisitID)
	if vis.Revision < 1 {
		v.add("$.revision", "must be 1 or more")
	}
	if vis.Status != "" && vis.Status != events.VisitSigned && vis.Status != events.VisitVoided {
		v.add("$.status", "must be signed or voided")
	}
	if vis.Status == events.VisitVoided {
		// A void names the visit; the EMR may send the rest or not.
		return v.problems
	}
	v.date("$.date_of_service", vis.DateOfService, true)
	if v.required("$.place_of_service", vis.PlaceOfService) && !reDigits2.MatchString(vis.PlaceOfService) {
		v.add("$.place_of_service", "must be a two-digit CMS place of service code")
	}

	bp := vis.BillingProvider
	v.npi("$.billing_provider.npi", bp.NPI)
	if v.required("$.billing_provider.tin", bp.TIN) && !reTIN.MatchString(bp.TIN) {
		v.add("$.billing_provider.tin", "must be 9 digits without a dash")
	}
	v.required("$.billing_provider.name", bp.Name)
	if v.required("$.billing_provider.taxonomy", bp.Taxonomy) && !reTaxonomy.MatchString(bp.Taxonomy) {
		v.add("$.billing_provider.taxonomy", "must be a 10-character NUCC taxonomy code ending in X")
	}
	v.address("$.billing_provider.address", bp.Address)

	rp := vis.RenderingProvider
	v.npi("$.rendering_provider.npi", rp.NPI)
	v.required("$.rendering_provider.first_name", rp.FirstName)
	v.required("$.rendering_provider.last_name", rp.LastName)
	v.oneOf("$.rendering_provider.discipline", rp.Discipline, events.DisciplineOT, events.DisciplinePT, events.DisciplineSLP)
	if rp.Taxonomy != "" && !reTaxonomy.MatchString(rp.Taxonomy) {
		v.add("$.rendering_provider.taxonomy", "must be a 10-character NUCC taxonomy code ending in X")
	}
	if a := rp.Assistant; a != nil {
		v.oneOf("$.rendering_provider.assistant.kind", a.Kind, "OTA", "PTA")
		switch {
		case a.Kind == "OTA" && rp.Discipline != events.DisciplineOT,
			a.Kind == "PTA" && rp.Discipline != events.DisciplinePT:
			v.add("$.rendering_provider.assistant.kind", "an OTA assists an OT and a PTA a PT; it does not match the discipline")
		}
		if a.NPI != "" && !billing.ValidNPI(a.NPI) {
			v.add("$.rendering_provider.assistant.npi", "must be a 10-digit NPI with a valid check digit (Luhn with the 80840 prefix)")
		}
	}
	if cp := vis.CertifyingPhysician; cp != nil {
		v.npi("$.certifying_physician.npi", cp.NPI)
		v.required("$.certifying_physician.first_name", cp.FirstName)
		v.required("$.certifying_physician.last_name", cp.LastName)
	}

	p := vis.Patient
	v.id("$.patient.id", p.ID)
	v.required("$.patient.first_name", p.FirstName)
	v.required("$.patient.last_name", p.LastName)
	v.date("$.patient.birth_date", p.BirthDate, true)
	v.sex("$.patient.sex", p.Sex)
	v.address("$.patient.address", p.Address)

	v.coverage(vis.Coverage)
	if pc := vis.PlanOfCare; pc != nil {
		from, ok1 := v.date("$.plan_of_care.certified_from", pc.CertifiedFrom, false)
		through, ok2 := v.date("$.plan_of_care.certified_through", pc.CertifiedThrough, false)
		if ok1 && ok2 && through.Before(from) {
			v.add("$.plan_of_care.certified_through", "must not be before certified_from")
		}
		if pc.VisitNumber < 1 {
			v.add("$.plan_of_care.visit_number", "must be 1 or more")
		}
		if pc.LastProgressReportVisit < 0 || pc.LastProgressReportVisit > pc.VisitNumber {
			v.add("$.plan_of_care.last_progress_report_visit", "must be between 0 and visit_number")
		}
	}

	switch n := len(vis.Diagnoses); {
	case n == 0:
		v.add("$.diagnoses", "at least one ICD-10-CM diagnosis is required")
	case n > maxDiagnoses:
		v.add("$.diagnoses", "at most %d diagnoses fit on a claim", maxDiagnoses)
	}
	seenDx := map[string]int{}
	for i, dx := range vis.Diagnoses {
		path := fmt.Sprintf("$.diagnoses[%d]", i)
		if !billing.ValidICD10CM(dx) {
			v.add(path, "must be an ICD-10-CM code (letter, digit, alphanumeric, then up to 4 more after an optional dot)")
			continue
		}
		norm := billing.NormalizeICD10(dx)
		if j, dup := seenDx[norm]; dup {
			v.add(path, "repeats diagnoses[%d]", j)
		}
		seenDx[norm] = i
	}
	v.services(vis)
	if vis.TotalTreatmentMinutes < 0 || vis.TotalTreatmentMinutes > maxMinutes {
		v.add("$.total_treatment_minutes", "must be between 0 and %d", maxMinutes)
	}
	if a := vis.ABN; a != nil {
		v.oneOf("$.abn.status", a.Status, "signed", "not_covered_benefit", "not_obtained")
	}
	return v.problems
}

func (v *validator) coverage(c events.Coverage) {
	v.id("$.coverage.payer_id", c.PayerID)
	v.required("$.coverage.payer_name", c.PayerName)
	v.oneOf("$.coverage.plan_type", c.PlanType, events.PlanMedicarePartB, events.PlanMedicareAdvantage,
		events.PlanMedicaid, events.PlanCommercial, events.PlanWorkersComp, events.PlanOther)
	v.id("$.coverage.member_id", c.MemberID)
	v.oneOf("$.coverage.relationship", c.Relationship, events.RelationshipSelf, events.RelationshipSpouse,
		events.RelationshipChild, events.RelationshipOther)
	switch s := c.Subscriber; {
	case c.Relationship != events.RelationshipSelf && c.Relationship != "" && s == nil:
		v.add("$.coverage.subscriber", "is required when the patient is not the subscriber")
	case s != nil:
		v.required("$.coverage.subscriber.first_name", s.FirstName)
		v.required("$.coverage.subscriber.last_name", s.LastName)
		v.date("$.coverage.subscriber.birth_date", s.BirthDate, true)
		v.sex("$.coverage.subscriber.sex", s.Sex)
		v.address("$.coverage.subscriber.address", s.Address)
	}
	if pa := c.PriorAuthorization; pa != nil {
		v.id("$.coverage.prior_authorization.number", pa.Number)
		if pa.VisitsAuthorized < 0 || pa.VisitsUsed < 0 {
			v.add("$.coverage.prior_authorization", "visit counts must not be negative")
		}
		var from, through time.Time
		var ok1, ok2 bool
		if pa.ValidFrom != "" {
			from, ok1 = v.date("$.coverage.prior_authorization.valid_from", pa.ValidFrom, false)
		}
		if pa.ValidThrough != "" {
			through, ok2 = v.date("$.coverage.prior_authorization.valid_through", pa.ValidThrough, false)
		}
		if ok1 && ok2 && through.Before(from) {
			v.add("$.coverage.prior_authorization.valid_through", "must not be before valid_from")
		}
	}
}

func (v *validator) services(vis *events.Visit) {
	switch n := len(vis.Services); {
	case n == 0:
		v.add("$.services", "at least one service is required")
	case n > maxServices:
		v.add("$.services", "at most %d services fit on a claim", maxServices)
	}
	timedTotal := 0
	for i, s := range vis.Services {
		path := fmt.Sprintf("$.services[%d]", i)
		code, known := billing.Code{}, false
		if v.required(path+".code", s.Code) {
			code, known = v.catalog.Lookup(s.Code)
			if !known {
				v.add(path+".code", "is not a CPT/HCPCS code in the therapy code catalog")
			}
		}
		switch {
		case s.Minutes < 0 || s.Minutes > maxMinutes:
			v.add(path+".minutes", "must be between 0 and %d", maxMinutes)
		case known && code.Timed && s.Minutes == 0:
			v.add(path+".minutes", "is required for a timed code")
		case known && code.Timed:
			// Minutes include time done jointly with the assistant;
			// AssistantMinutes are the assistant's alone.
			timedTotal += s.Minutes + max(s.AssistantMinutes, 0)
		}
		if s.AssistantMinutes < 0 || s.AssistantMinutes > maxMinutes {
			v.add(path+".assistant_minutes", "must be between 0 and %d", maxMinutes)
		} else if s.AssistantMinutes > 0 && vis.RenderingProvider.Assistant == nil {
			v.add(path+".assistant_minutes", "needs rendering_provider.assistant")
		}
		switch n := len(s.DiagnosisPointers); {
		case n == 0:
			v.add(path+".diagnosis_pointers", "at least one pointer is required")
		case n > maxPointers:
			v.add(path+".diagnosis_pointers", "at most %d pointers fit on a line", maxPointers)
		}
		seen := map[int]bool{}
		for j, ptr := range s.DiagnosisPointers {
			pp := fmt.Sprintf("%s.diagnosis_pointers[%d]", path, j)
			if ptr < 1 || ptr > len(vis.Diagnoses) {
				v.add(pp, "must point into diagnoses (1 to %d)", len(vis.Diagnoses))
			} else if seen[ptr] {
				v.add(pp, "repeats an earlier pointer")
			}
			seen[ptr] = true
		}
		for j, m := range s.RequestedModifiers {
			if !reModifier.MatchString(m) {
				v.add(fmt.Sprintf("%s.requested_modifiers[%d]", path, j), "must be two capital letters or digits")
			}
		}
	}
	if timedTotal > vis.TotalTreatmentMinutes && vis.TotalTreatmentMinutes >= 0 {
		v.add("$.total_treatment_minutes", "is less than the timed services' minutes (therapist and assistant) added up")
	}
}
