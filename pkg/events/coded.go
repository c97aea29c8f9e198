package events

// Unit methods a payer profile selects. They are the values of
// VisitCoded.UnitMethod and of `rcm code --method`.
const (
	// UnitMethodCMS pools the minutes of all timed codes of the day (the
	// CMS 8-minute rule, MCPM Ch. 5 §20.2).
	UnitMethodCMS = "cms"
	// UnitMethodAMA gives each timed code units from its own minutes (the
	// CPT mid-point rule); minutes are never pooled across codes.
	UnitMethodAMA = "ama"
)

// Therapy threshold buckets: PT and SLP share one KX threshold, OT has its
// own.
const (
	ThresholdOT    = "ot"
	ThresholdPTSLP = "pt_slp"
)

// VisitCoded is the data of visit.coded.v1: the billable lines the coder made
// of one visit revision, and why. The envelope's Subject and CorrelationID are
// VisitID; CausationID is the visit.recorded event it was coded from.
//
// It carries the visit itself so that the submitter can build a claim from
// this event alone, without reading intake's tables or a second stream.
type VisitCoded struct {
	VisitID string `json:"visit_id"`
	// Revision counts the coder's outputs for the visit from 1. A new visit
	// revision and a replay under changed rules each make a new one; a replay
	// under the same rules makes none.
	Revision int `json:"revision"`
	// VisitRevision is the EMR revision that was coded.
	VisitRevision int `json:"visit_revision"`
	// Supersedes is the event id of the visit.coded revision this one
	// replaces. A claim already sent from that revision is held for a
	// corrected claim rather than re-sent.
	Supersedes string `json:"supersedes,omitempty"`
	// Void says the visit was voided: Lines is empty and any claim from an
	// earlier revision must not be paid.
	Void bool `json:"void"`
	// RulesVersion echoes the envelope's rules_version so that the data alone,
	// as printed by `rcm code`, says which rules produced it.
	RulesVersion string `json:"rules_version"`
	// UnitMethod is UnitMethodCMS or UnitMethodAMA, from the payer profile.
	UnitMethod string `json:"unit_method"`
	// TotalTimedMinutes adds the minutes of every timed service, therapist and
	// assistant; untimed services do not count.
	TotalTimedMinutes int `json:"total_timed_minutes"`
	TotalTimedUnits   int `json:"total_timed_units"`
	// ChargeCents is the sum of the lines' charges.
	ChargeCents int64 `json:"charge_cents"`
	// Threshold is where the visit leaves the patient against the year's KX
	// threshold; nil when the payer has none.
	Threshold *ThresholdStatus `json:"threshold,omitempty"`
	Lines     []CodedLine      `json:"lines"`
	// Issues are what the coder could not resolve. An error holds the claim;
	// a warning lets it pass. The submitter copies every issue into the
	// claim's edits so that it reaches a biller.
	Issues []Edit `json:"issues,omitempty"`
	// Explanations are decisions about the visit as a whole, such as timed
	// minutes that yielded no unit and so no line.
	Explanations []Explanation `json:"explanations,omitempty"`
	Visit        Visit         `json:"visit"`
}

// CodedLine is one billable line: one code on one date of service.
type CodedLine struct {
	// Line numbers the lines from 1 in claim order; edits, postings and
	// denials refer to lines by it.
	Line int    `json:"line"`
	Code string `json:"code"`
	// Timed says the code is billed in 15-minute units.
	Timed bool `json:"timed"`
	// Minutes are the service's minutes that went into the line, therapist
	// and assistant together; 0 for an untimed code.
	Minutes   int      `json:"minutes"`
	Units     int      `json:"units"`
	Modifiers []string `json:"modifiers"`
	// ChargeCents is the line's whole charge (all units), as SV102 will carry it.
	ChargeCents int64 `json:"charge_cents"`
	// AllowedCents is the fee-schedule amount expected for the line; it is
	// what counts towards the KX threshold.
	AllowedCents int64 `json:"allowed_cents"`
	// DiagnosisPointers index Visit.Diagnoses from 1; at most 4.
	DiagnosisPointers []int `json:"diagnosis_pointers"`
	// AssistantPaymentPercent is the share of the fee schedule paid for a
	// line with CQ or CO (85 since 2022); 0 when no assistant modifier applies.
	AssistantPaymentPercent int `json:"assistant_payment_percent,omitempty"`
	// Explanations give every decision behind units and modifiers.
	Explanations []Explanation `json:"explanations"`
}

// Explanation is one coding decision in words, so that a biller or auditor
// can answer "why this many units?" without rerunning the coder.
type Explanation struct {
	// Rule is a stable dotted code for the kind of decision, such as
	// "units.allocation" or "modifier.kx"; reports group by it.
	Rule string `json:"rule"`
	// Text is the decision with its numbers, for people.
	Text string `json:"text"`
	// Source cites where the rule comes from (manual section, data file and
	// quarter).
	Source string `json:"source,omitempty"`
}

// ThresholdStatus is the patient's year-to-date allowed amount against the
// therapy threshold, before and after the visit.
type ThresholdStatus struct {
	Year int `json:"year"`
	// Bucket is ThresholdOT or ThresholdPTSLP.
	Bucket         string `json:"bucket"`
	ThresholdCents int64  `json:"threshold_cents"`
	BeforeCents    int64  `json:"before_cents"`
	AfterCents     int64  `json:"after_cents"`
}
