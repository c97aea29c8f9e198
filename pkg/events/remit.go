package events

// Payment methods (BPR04).
const (
	PaymentACH   = "ACH" // EFT
	PaymentCheck = "CHK"
	PaymentNone  = "NON" // a remittance without money, such as all denials
	PaymentBOP   = "BOP" // financial institution option
	PaymentFWT   = "FWT" // federal reserve wire transfer
)

// Outcomes of reconciling a claim with a remittance.
const (
	// OutcomePaidInFull: nothing denied; every adjustment is contractual or
	// the patient's.
	OutcomePaidInFull = "paid_in_full"
	// OutcomePartlyPaid: money was paid but part of the claim was denied.
	OutcomePartlyPaid = "partly_paid"
	// OutcomeDenied: nothing was paid and the claim was denied.
	OutcomeDenied = "denied"
	// OutcomeReversed: the payer took back an earlier adjudication (CLP02
	// 22); its amounts are negated, and the corrected adjudication usually
	// follows as another claim.reconciled.
	OutcomeReversed = "reversed"
	// OutcomeForwarded: the payer processed the claim and forwarded it to
	// another payer (CLP02 19–21, 23); the amounts say what this payer did.
	OutcomeForwarded = "forwarded"
)

// Ledger columns an adjustment is posted to.
const (
	PostingContractual = "contractual"
	PostingPatient     = "patient_responsibility"
	PostingDenied      = "denied"
	PostingOther       = "other"
)

// How a remittance line was matched to a submitted line.
const (
	// MatchLineItemControlNumber: the payer returned REF*6R.
	MatchLineItemControlNumber = "line_item_control_number"
	// MatchServiceDetails: no REF*6R; code, modifiers, date and units matched
	// (SVC06 when the payer re-coded).
	MatchServiceDetails = "service_details"
	// MatchUnmatched: the line matched nothing sent; it is posted at line 0
	// and waits in the exceptions queue.
	MatchUnmatched = "unmatched"
	// MatchClaimLevel: the ledger row of the claim-level adjustments and of
	// whatever charge and payment no line carries.
	MatchClaimLevel = "claim_level"
)

// RemitReceived is the data of remit.received.v1: one 835 transaction set
// ingested, before its claims are reconciled. The envelope's Subject and
// CorrelationID are RemitID: a remittance is an outside input that spans many
// visits.
type RemitReceived struct {
	// RemitID is rcm's id of the transaction set, derived from PayerID and
	// TraceNumber so that the same remittance delivered twice has one id.
	RemitID string `json:"remit_id"`
	// FileID is the hex SHA-256 of the file's content, the key by which a file
	// is handled once however often it is seen.
	FileID string `json:"file_id"`
	// FileName is the file's name in the mailbox or on import; empty for a
	// remittance posted over HTTP.
	FileName        string `json:"file_name,omitempty"`
	STControlNumber string `json:"st_control_number"`
	PayerID         string `json:"payer_id"`
	PayerName       string `json:"payer_name"`
	PayeeNPI        string `json:"payee_npi"`
	// TraceNumber is TRN02, the check or EFT trace number that reassociates
	// the remittance with the deposit.
	TraceNumber string `json:"trace_number"`
	// PaymentMethod is one of the Payment… constants (BPR04).
	PaymentMethod string `json:"payment_method"`
	// PaymentDate is BPR16, the check or EFT effective date.
	PaymentDate string `json:"payment_date"`
	// TotalPaidCents is BPR02: the claims' payments less the provider
	// adjustments.
	TotalPaidCents int64 `json:"total_paid_cents"`
	ClaimCount     int   `json:"claim_count"`
	// ProviderAdjustments are the PLB amounts, which belong to no claim.
	ProviderAdjustments []ProviderAdjustment `json:"provider_adjustments,omitempty"`
}

// ProviderAdjustment is one PLB reason and amount.
type ProviderAdjustment struct {
	// Code is the PLB adjustment reason (WO overpayment recovery, L6
	// interest, FB forwarding balance…).
	Code string `json:"code"`
	// Reference is the identifier after the code, often the payer claim
	// control number it concerns.
	Reference string `json:"reference,omitempty"`
	// AmountCents reduces the payment when positive, as on the 835.
	AmountCents int64 `json:"amount_cents"`
}

// ClaimReconciled is the data of claim.reconciled.v1: one claim of a
// remittance matched to its submission and posted. The envelope's Subject is
// ClaimID, its CorrelationID the visit id and its CausationID the
// remit.received event.
//
// Amounts balance as on the 835: ChargeCents less every adjustment, claim
// and line, is PaidCents; each line's ChargeCents less its adjustments is its
// PaidCents, and its PaidCents and ledger columns add up to its
// ChargeCents.
type ClaimReconciled struct {
	ClaimID string `json:"claim_id"`
	// ControlNumber is CLP01, which named the submission.
	ControlNumber string `json:"control_number"`
	Submission    int    `json:"submission"`
	RemitID       string `json:"remit_id"`
	PayerID       string `json:"payer_id"`
	// PayerClaimControlNumber is CLP07, which a replacement or void must
	// quote as REF*F8.
	PayerClaimControlNumber string `json:"payer_claim_control_number"`
	// ClaimStatusCode is CLP02 as received; Outcome is what it and the
	// amounts mean.
	ClaimStatusCode string `json:"claim_status_code"`
	Outcome         string `json:"outcome"`
	// Reverses is the event id of the claim.reconciled this one takes back;
	// set when Outcome is OutcomeReversed.
	Reverses string `json:"reverses,omitempty"`
	// ChargeCents, PaidCents and PatientResponsibilityCents are CLP03, CLP04
	// and CLP05.
	ChargeCents                int64 `json:"charge_cents"`
	PaidCents                  int64 `json:"paid_cents"`
	PatientResponsibilityCents int64 `json:"patient_responsibility_cents"`
	// Adjustments are the claim-level CAS amounts, which belong to no line.
	Adjustments []Adjustment  `json:"adjustments,omitempty"`
	Lines       []LinePosting `json:"lines"`
}

// LinePosting is the ledger entry for one submitted line.
type LinePosting struct {
	Line                  int    `json:"line"`
	LineItemControlNumber string `json:"line_item_control_number"`
	// MatchedBy is MatchLineItemControlNumber or MatchServiceDetails.
	MatchedBy string `json:"matched_by"`
	// Code and Modifiers are as the payer adjudicated them (SVC01), which
	// may differ from what was submitted.
	Code      string   `json:"code"`
	Modifiers []string `json:"modifiers"`
	UnitsPaid int      `json:"units_paid"`
	// ChargeCents is SVC02, AllowedCents AMT*B6 (0 when not sent) and
	// PaidCents SVC03.
	ChargeCents  int64 `json:"charge_cents"`
	AllowedCents int64 `json:"allowed_cents"`
	PaidCents    int64 `json:"paid_cents"`
	// The ledger columns: each adjustment below is added to exactly one.
	ContractualCents           int64 `json:"contractual_cents"`
	PatientResponsibilityCents int64 `json:"patient_responsibility_cents"`
	DeniedCents                int64 `json:"denied_cents"`
	OtherAdjustmentCents       int64 `json:"other_adjustment_cents"`
	// Adjustments are the line's CAS amounts, each with its column.
	Adjustments []Adjustment `json:"adjustments"`
	// RemarkCodes are the RARCs of LQ*HE.
	RemarkCodes []string `json:"remark_codes,omitempty"`
}

// Adjustment is one CAS reason and amount, with where it was posted.
type Adjustment struct {
	// Group is the CAS group code: CO, PR, OA, PI or CR.
	Group string `json:"group"`
	// Reason is the CARC.
	Reason      string `json:"reason"`
	AmountCents int64  `json:"amount_cents"`
	// Posting is one of the Posting… constants. It is decided once, when
	// posted, so that every consumer sums the same columns.
	Posting string `json:"posting"`
}
