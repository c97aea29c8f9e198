package events

// Visit is one signed visit as an EMR sends it to POST /v1/visits, and as
// visit.recorded.v1 carries it downstream. The JSON Schema in
// docs/visit.schema.json describes the same shape; a test keeps them in step.
//
// Dates are "YYYY-MM-DD" strings: a date of service has no time zone, and a
// time.Time would invent one.
type Visit struct {
	// Source names the sending EMR; it selects the webhook secret.
	Source string `json:"source"`
	// SourceVisitID is the EMR's own id for the visit.
	SourceVisitID string `json:"source_visit_id"`
	// Revision starts at 1; a higher revision amends the visit.
	Revision int `json:"revision"`
	// Status is "signed" (the default) or "voided".
	Status string `json:"status,omitempty"`

	DateOfService  string `json:"date_of_service"`
	PlaceOfService string `json:"place_of_service"`
	Telehealth     bool   `json:"telehealth,omitempty"`
	// TelehealthAudioOnly marks a telehealth visit without video.
	TelehealthAudioOnly bool `json:"telehealth_audio_only,omitempty"`

	BillingProvider     BillingProvider   `json:"billing_provider"`
	RenderingProvider   RenderingProvider `json:"rendering_provider"`
	CertifyingPhysician *Physician        `json:"certifying_physician,omitempty"`
	Patient             Patient           `json:"patient"`
	Coverage            Coverage          `json:"coverage"`
	PlanOfCare          *PlanOfCare       `json:"plan_of_care,omitempty"`
	// Diagnoses are ICD-10-CM codes, primary first; pointers index them from 1.
	Diagnoses []string  `json:"diagnoses"`
	Services  []Service `json:"services"`
	// TotalTreatmentMinutes is the whole treatment time of the visit, timed
	// and untimed, as the therapist documented it.
	TotalTreatmentMinutes int  `json:"total_treatment_minutes"`
	ABN                   *ABN `json:"abn,omitempty"`
}

// Visit statuses.
const (
	VisitSigned = "signed"
	VisitVoided = "voided"
)

// Address is a postal address; State is the two-letter USPS code.
type Address struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	State      string `json:"state"`
	PostalCode string `json:"postal_code"`
}

// BillingProvider is the clinic that bills (837P loop 2010AA).
type BillingProvider struct {
	NPI      string  `json:"npi"`
	TIN      string  `json:"tin"`
	Name     string  `json:"name"`
	Taxonomy string  `json:"taxonomy"`
	Address  Address `json:"address"`
}

// Disciplines of the rendering therapist.
const (
	DisciplineOT  = "OT"
	DisciplinePT  = "PT"
	DisciplineSLP = "SLP"
)

// RenderingProvider is the therapist who furnished the services (loop 2310B).
type RenderingProvider struct {
	NPI        string `json:"npi"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
	Discipline string `json:"discipline"`
	Taxonomy   string `json:"taxonomy,omitempty"`
	// Assistant is set when an OTA or PTA took part in the visit.
	Assistant *Assistant `json:"assistant,omitempty"`
}

// Assistant is an OTA or PTA who furnished part of the visit; their minutes per
// service are on each Service.
type Assistant struct {
	// Kind is "OTA" or "PTA".
	Kind      string `json:"kind"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	NPI       string `json:"npi,omitempty"`
}

// Physician is the physician or NPP who certified the plan of care (loop 2310A
// referring provider, DK qualifier on the claim).
type Physician struct {
	NPI       string `json:"npi"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// Patient is the person treated.
type Patient struct {
	// ID is the clinic's patient id (the EMR's MRN); it is not PHI by itself
	// and is what logs use.
	ID        string `json:"id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	BirthDate string `json:"birth_date"`
	// Sex is "F", "M" or "U".
	Sex     string  `json:"sex"`
	Address Address `json:"address"`
}

// Plan types a Coverage can have.
const (
	PlanMedicarePartB     = "medicare_part_b"
	PlanMedicareAdvantage = "medicare_advantage"
	PlanMedicaid          = "medicaid"
	PlanCommercial        = "commercial"
	PlanWorkersComp       = "workers_comp"
	PlanOther             = "other"
)

// Relationship of the patient to the subscriber.
const (
	RelationshipSelf   = "self"
	RelationshipSpouse = "spouse"
	RelationshipChild  = "child"
	RelationshipOther  = "other"
)

// Coverage is the insurance billed for the visit.
type Coverage struct {
	PayerID     string `json:"payer_id"`
	PayerName   string `json:"payer_name"`
	PlanType    string `json:"plan_type"`
	MemberID    string `json:"member_id"`
	GroupNumber string `json:"group_number,omitempty"`
	// Relationship is the patient's relationship to the subscriber.
	Relationship string `json:"relationship"`
	// Subscriber is required when Relationship is not "self".
	Subscriber         *Subscriber         `json:"subscriber,omitempty"`
	PriorAuthorization *PriorAuthorization `json:"prior_authorization,omitempty"`
}

// Subscriber is the insured person when the patient is not.
type Subscriber struct {
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	BirthDate string  `json:"birth_date"`
	Sex       string  `json:"sex"`
	Address   Address `json:"address"`
}

// PriorAuthorization is the payer's authorization for the course of care.
type PriorAuthorization struct {
	Number string `json:"number"`
	// VisitsAuthorized and VisitsUsed (before this visit) let the scrubber
	// warn before the authorization runs out; zero means unknown.
	VisitsAuthorized int    `json:"visits_authorized,omitempty"`
	VisitsUsed       int    `json:"visits_used,omitempty"`
	ValidFrom        string `json:"valid_from,omitempty"`
	ValidThrough     string `json:"valid_through,omitempty"`
}

// PlanOfCare is the certified therapy plan the visit falls under.
type PlanOfCare struct {
	CertifiedFrom    string `json:"certified_from"`
	CertifiedThrough string `json:"certified_through"`
	// VisitNumber counts visits under this plan, this one included.
	VisitNumber int `json:"visit_number"`
	// LastProgressReportVisit is the visit number of the last progress report.
	LastProgressReportVisit int `json:"last_progress_report_visit,omitempty"`
}

// Service is one procedure performed during the visit.
type Service struct {
	Code string `json:"code"`
	// Minutes is required for timed codes: the therapist's minutes, including
	// minutes done jointly with the assistant.
	Minutes int `json:"minutes,omitempty"`
	// AssistantMinutes are the minutes the assistant furnished on their own.
	AssistantMinutes int `json:"assistant_minutes,omitempty"`
	// DiagnosisPointers index Visit.Diagnoses from 1; at most 4.
	DiagnosisPointers []int `json:"diagnosis_pointers"`
	// DistinctTimeBlock says the service was done in its own time block, apart
	// from the other services (what modifier 59/XU attests).
	DistinctTimeBlock bool `json:"distinct_time_block,omitempty"`
	// RequestedModifiers are modifiers the clinician asked for; the coder
	// decides and explains.
	RequestedModifiers []string `json:"requested_modifiers,omitempty"`
}

// ABN records an Advance Beneficiary Notice (for GA/GY/GZ).
type ABN struct {
	// Status is "signed" (GA), "not_covered_benefit" (GY) or "not_obtained" (GZ).
	Status string `json:"status"`
}
