package events

// Severities of an Edit.
const (
	// SeverityError holds the claim until someone fixes it.
	SeverityError = "error"
	// SeverityWarning lets the claim go and tells a biller.
	SeverityWarning = "warning"
)

// Outcomes of scrubbing a claim.
const (
	ScrubPassed = "passed"
	ScrubHeld   = "held"
)

// Claim frequency codes (CLM05-3).
const (
	FrequencyOriginal    = "1"
	FrequencyReplacement = "7"
	FrequencyVoid        = "8"
)

// Sources of a claim acknowledgement.
const (
	Ack999   = "999"
	Ack277CA = "277CA"
)

// Statuses of a claim acknowledgement.
const (
	AckAccepted = "accepted"
	AckRejected = "rejected"
)

// Edit is one finding about a claim, from the coder or the scrubber.
type Edit struct {
	// Code is stable across releases, dotted and lower-case (such as
	// "npi.check_digit"): queues, reports and tests key on it, never on the
	// message.
	Code string `json:"code"`
	// Severity is SeverityError or SeverityWarning.
	Severity string `json:"severity"`
	// Line is the claim line the edit concerns; 0 for the claim as a whole.
	Line int `json:"line,omitempty"`
	// Message says what is wrong in words a biller understands.
	Message string `json:"message"`
	// Fix says what to do about it, and where (EMR, payer profile, rules).
	Fix string `json:"fix"`
}

// ClaimScrubbed is the data of claim.scrubbed.v1: every edit the scrubber
// found on a claim, and whether the claim was held or passed. The envelope's
// Subject is ClaimID and its CorrelationID the visit id.
//
// Every build of a claim is scrubbed and announced, clean or not, so that a
// held claim's queue entry always reflects its latest edits.
type ClaimScrubbed struct {
	ClaimID string `json:"claim_id"`
	VisitID string `json:"visit_id"`
	// ControlNumber is the patient control number (CLM01) the claim will be
	// sent under.
	ControlNumber string `json:"control_number"`
	// Status is ScrubPassed or ScrubHeld: held when any edit is an error.
	Status string `json:"status"`
	// Edits lists every finding, warnings included; empty for a clean claim.
	Edits []Edit `json:"edits"`
}

// ClaimSubmitted is the data of claim.submitted.v1: a claim written into an
// 837P file in the outbound mailbox. The envelope's Subject is ClaimID and its
// CorrelationID the visit id.
//
// The denials service builds its claim ledger from this event alone, so it
// carries what reconciliation, work items and appeal letters need.
type ClaimSubmitted struct {
	ClaimID string `json:"claim_id"`
	VisitID string `json:"visit_id"`
	// Submission counts the times this claim was sent, from 1. A new original
	// after a rejection and a replacement are later submissions of the same
	// claim.
	Submission int `json:"submission"`
	// ControlNumber is CLM01, at most 17 characters. Each submission has its
	// own, so that a 999, 277CA or 835 names exactly one submission.
	ControlNumber string `json:"control_number"`
	// Frequency is FrequencyOriginal, FrequencyReplacement or FrequencyVoid.
	Frequency string `json:"frequency"`
	// OriginalReference is REF*F8, the payer's claim control number of the
	// claim being replaced or voided; set for frequencies 7 and 8.
	OriginalReference string `json:"original_reference,omitempty"`

	PayerID   string `json:"payer_id"`
	PayerName string `json:"payer_name"`
	// PlanType is one of the Plan… constants of Coverage.
	PlanType       string       `json:"plan_type"`
	BillingNPI     string       `json:"billing_npi"`
	RenderingNPI   string       `json:"rendering_npi"`
	Patient        ClaimPatient `json:"patient"`
	PlaceOfService string       `json:"place_of_service"`
	// Diagnoses are the ICD-10-CM codes in HI order; line pointers index them
	// from 1.
	Diagnoses []string `json:"diagnoses"`

	// BatchID is rcm's id of the batch; FileName the 837P file it was written
	// to, under the mailbox's outbound directory.
	BatchID  string `json:"batch_id"`
	FileName string `json:"file_name"`
	// Control numbers of the envelope that holds the claim, as written (ISA13
	// zero-padded to 9 digits). A 999 echoes GS06 and ST02.
	ISAControlNumber string `json:"isa_control_number"`
	GSControlNumber  string `json:"gs_control_number"`
	STControlNumber  string `json:"st_control_number"`

	Lines []ClaimLine `json:"lines"`
	// TotalChargeCents is CLM02: the sum of the lines' charges.
	TotalChargeCents int64 `json:"total_charge_cents"`
	TotalUnits       int   `json:"total_units"`
}

// ClaimPatient identifies the patient on a claim for the people who work its
// denials; it is PHI, like the visit it comes from.
type ClaimPatient struct {
	// ID is the clinic's patient id (MRN), the one logs may carry.
	ID        string `json:"id"`
	MemberID  string `json:"member_id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	BirthDate string `json:"birth_date"`
}

// ClaimLine is one service line (loop 2400) as submitted.
type ClaimLine struct {
	// Line is the LX number, the same as the coded line's.
	Line int `json:"line"`
	// LineItemControlNumber is REF*6R, unique within the submission; the
	// payer returns it on the 835 line so that postings match exactly.
	LineItemControlNumber string   `json:"line_item_control_number"`
	Code                  string   `json:"code"`
	Modifiers             []string `json:"modifiers"`
	Units                 int      `json:"units"`
	ChargeCents           int64    `json:"charge_cents"`
	DateOfService         string   `json:"date_of_service"`
	DiagnosisPointers     []int    `json:"diagnosis_pointers"`
}

// ClaimAcknowledged is the data of claim.acknowledged.v1: what a 999 or a
// 277CA said about one submission of a claim. The envelope's Subject is
// ClaimID, its CorrelationID the visit id and its CausationID the
// claim.submitted event acknowledged.
//
// A 999 that rejects a whole transaction set yields one event per claim in
// it, so that each claim's history is complete on its own.
type ClaimAcknowledged struct {
	ClaimID       string `json:"claim_id"`
	ControlNumber string `json:"control_number"`
	Submission    int    `json:"submission"`
	// Source is Ack999 or Ack277CA.
	Source string `json:"source"`
	// Status is AckAccepted or AckRejected. A 999 "accepted with errors" (E)
	// is accepted; its codes say what was wrong.
	Status string `json:"status"`
	// Codes are the acknowledgement's codes as received.
	Codes []AckCode `json:"codes"`
	// Reason says in words what the codes mean and, when rejected, what to fix.
	Reason string `json:"reason"`
	// PayerClaimControlNumber is the 277CA's REF*1K, when the payer sent one.
	PayerClaimControlNumber string `json:"payer_claim_control_number,omitempty"`
	// FileName is the acknowledgement file in the inbound mailbox.
	FileName string `json:"file_name"`
}

// AckCode is one code of an acknowledgement, kept as sent so that nothing is
// lost in translation.
type AckCode struct {
	// Segment is where the code came from: IK3, IK4, IK5, AK9 or STC.
	Segment string `json:"segment"`
	// Code is the acknowledgement code (IK501, AK901), the error code (IK3
	// and IK4), or the STC01-1 claim status category (A2, A3, A7…).
	Code string `json:"code"`
	// Status is the STC01-2 claim status code, or a 999 syntax error code
	// (IK502, AK905).
	Status string `json:"status,omitempty"`
	// Entity is the STC01-3 entity identifier (85 billing provider, IL
	// subscriber…).
	Entity string `json:"entity,omitempty"`
	// Text is the code's meaning in words.
	Text string `json:"text,omitempty"`
}
