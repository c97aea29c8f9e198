package events

// Statuses of a denial work item.
const (
	DenialOpen       = "open"
	DenialInProgress = "in_progress"
	DenialAppealed   = "appealed"
	// DenialCorrected: a corrected claim was requested; the item stays
	// visible until the replacement's outcome comes back.
	DenialCorrected  = "corrected"
	DenialWrittenOff = "written_off"
	DenialResolved   = "resolved"
)

// Denial categories, which decide the recommended action and how KPIs group
// denials.
const (
	CategoryCoding                 = "coding" // codes and modifiers
	CategoryBundling               = "bundling"
	CategoryMedicalNecessity       = "medical_necessity"
	CategoryAuthorization          = "authorization"
	CategoryEligibility            = "eligibility"
	CategoryTimelyFiling           = "timely_filing"
	CategoryDuplicate              = "duplicate"
	CategoryBenefitMaximum         = "benefit_maximum"
	CategoryCoordinationOfBenefits = "coordination_of_benefits"
	CategoryMissingInformation     = "missing_information"
)

// WorkItem is a denial work item as it stands after an event. Both denial
// events carry all of it, so that a consumer can keep the latest state
// without replaying every change.
type WorkItem struct {
	WorkItemID string `json:"work_item_id"`
	// Version counts the item's events from 1 (denial.opened); a consumer
	// ignores an event older than the state it holds.
	Version       int    `json:"version"`
	ClaimID       string `json:"claim_id"`
	ControlNumber string `json:"control_number"`
	PayerID       string `json:"payer_id"`
	// PayerClaimControlNumber is CLP07, needed for a corrected claim.
	PayerClaimControlNumber string `json:"payer_claim_control_number"`
	// Lines are the denied claim lines; empty when the whole claim was denied
	// at claim level.
	Lines []int `json:"lines,omitempty"`
	// Category is one of the Category… constants.
	Category string `json:"category"`
	// Group and CARC are the adjustment that opened the item; RARCs the
	// remark codes that came with it.
	Group string   `json:"group"`
	CARC  string   `json:"carc"`
	RARCs []string `json:"rarcs,omitempty"`
	// AmountCents is the denied amount as posted: what is at stake.
	AmountCents int64 `json:"amount_cents"`
	// RecommendedAction says in words what usually clears this denial.
	RecommendedAction string `json:"recommended_action"`
	// AppealDeadline is the last day to appeal, from the payer profile; empty
	// when the denial cannot be appealed.
	AppealDeadline string `json:"appeal_deadline,omitempty"`
	// Status is one of the Denial… status constants.
	Status string `json:"status"`
	// Assignee is the user id of the biller working the item; empty when
	// unassigned.
	Assignee string `json:"assignee,omitempty"`
	// Priority orders the queue, highest first; it grows with the amount
	// and as the appeal deadline nears.
	Priority int `json:"priority"`
}

// DenialOpened is the data of denial.opened.v1: a new work item for a denial
// found while reconciling. The envelope's Subject is the claim id, its
// CorrelationID the visit id and its CausationID the claim.reconciled event.
type DenialOpened struct {
	WorkItem
}

// DenialUpdated is the data of denial.updated.v1: a work item after a change
// by a biller or by the pipeline (a replacement claim's outcome, say). The
// envelope's Subject is the claim id and its CorrelationID the visit id.
type DenialUpdated struct {
	WorkItem
	// Changes name the WorkItem fields, by their JSON names, that this event
	// changed; "note" when only a note was added.
	Changes []string `json:"changes"`
	// ChangedBy is the user id of who made the change; empty when the
	// pipeline did.
	ChangedBy string `json:"changed_by,omitempty"`
	// Note is what the biller wrote, such as a write-off reason.
	Note string `json:"note,omitempty"`
}

// ClaimCorrectionRequested is the data of claim.correction_requested.v1: a
// biller asked for a replacement or void of a submitted claim. The envelope's
// Subject is ClaimID and its CorrelationID the visit id. The submitter answers
// with a new claim.scrubbed and claim.submitted for the claim.
type ClaimCorrectionRequested struct {
	ClaimID    string `json:"claim_id"`
	WorkItemID string `json:"work_item_id"`
	// Frequency is FrequencyReplacement or FrequencyVoid.
	Frequency string `json:"frequency"`
	// Reason says why, in the biller's words; it goes into the claim's
	// timeline and any appeal letter.
	Reason string `json:"reason"`
	// RequestedBy is the user id of the biller.
	RequestedBy string `json:"requested_by"`
	// PayerClaimControlNumber is the payer's number for the claim being
	// corrected, to be sent as REF*F8.
	PayerClaimControlNumber string `json:"payer_claim_control_number"`
	// Lines are the lines to change; empty when the correction is an
	// amended visit already coded (a newer visit.coded).
	Lines []LineCorrection `json:"lines,omitempty"`
}

// LineCorrection is what one claim line should carry in the replacement: the
// whole new state, not a difference, so that applying it twice is harmless.
type LineCorrection struct {
	Line      int      `json:"line"`
	Modifiers []string `json:"modifiers"`
	Units     int      `json:"units"`
}
