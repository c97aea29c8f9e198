package billing

import "time"

// Rules is one versioned set of billing rules: everything the coder and the
// scrubber decide from that is payer policy or published data rather than
// code. A Rules value is never changed after loading and may be shared.
//
// The embedded set (DefaultRules) is a starting point; a clinic overrides it
// with a directory of the same files (LoadRules on os.DirFS).
type Rules struct {
	// Version names the set; every visit.coded carries it. It comes from the
	// set's VERSION file, so a changed override must change it.
	Version string
	Catalog *Catalog
	// Payers holds the profiles by key: a payer id, or "plan:<plan_type>"
	// for the default of a plan type. Use Payer to look one up.
	Payers map[string]PayerProfile
	// Thresholds are the therapy (KX) thresholds by year and bucket.
	Thresholds []Threshold
	// PTP are the NCCI procedure-to-procedure edits.
	PTP []PTPEdit
	// MUE are the medically unlikely edits by code.
	MUE map[string]MUE
	// Fees are charges and expected allowed amounts.
	Fees FeeSchedule
	// CARCs and RARCs are the remittance code catalogs by code (carc.csv,
	// rarc.csv). Use CARC, RARC and ClassifyAdjustment to read them.
	CARCs map[string]CARC
	RARCs map[string]RARC
	// Sources lists the "# source:" provenance of every file.
	Sources []string
	// PTPOutsideCatalog counts the edits of the PTP files that were checked
	// but not kept because a code of the pair is not in the catalog: the
	// CMS files cover all of CPT, and keeping edits the coder can never
	// meet would cost hundreds of megabytes.
	PTPOutsideCatalog int

	// ptpIndex finds the edits of a pair by its real column order. It is
	// nil in a Rules built by hand, and PTPFor then scans PTP.
	ptpIndex map[ptpPair][]int
}

// PayerProfile is how one payer (or plan type) wants therapy billed.
type PayerProfile struct {
	Key  string
	Name string
	// UnitMethod is "cms" (total time, the 8-minute rule) or "ama" (per code).
	UnitMethod string
	// DisciplineModifiers: GO/GP/GN on every therapy line.
	DisciplineModifiers bool
	// AssistantModifiers: CO/CQ when an assistant furnished a service in
	// whole or in part; AssistantPaymentPercent is what such a line is paid
	// (85 for Medicare since 2022).
	AssistantModifiers      bool
	AssistantPaymentPercent int
	// KX: the payer applies the therapy threshold and wants KX above it.
	KX bool
	// DistinctModifier is what bypasses an NCCI indicator-1 pair: "59", or
	// "X" for XU (the X{EPSU} subset).
	DistinctModifier string
	// TelehealthModifier goes on every line of a telehealth visit ("95",
	// "GT" or "" for none); TelehealthPOSHome and TelehealthPOSOther are the
	// places of service for a patient at home or elsewhere ("10", "02").
	TelehealthModifier string
	TelehealthPOSHome  string
	TelehealthPOSOther string
	// ABNModifiers: GA/GY/GZ from the visit's ABN data.
	ABNModifiers bool
	// TimelyFilingDays is how long after the date of service a claim may
	// first be filed.
	TimelyFilingDays int
	// PriorAuthRequired: claims need an authorization number.
	PriorAuthRequired bool
	// AppealDays is how long after a denial an appeal may be filed.
	AppealDays int
}

// Threshold is the therapy threshold of one year and bucket.
type Threshold struct {
	Year int
	// Bucket is "ot" or "pt_slp".
	Bucket string
	Cents  int64
	Source string
}

// PTPEdit is one NCCI procedure-to-procedure edit: with both codes on the
// same day for the same patient and provider, only Column1 is paid unless
// Indicator is 1 and a distinct-service modifier applies.
type PTPEdit struct {
	Column1, Column2 string
	Effective        time.Time
	// Deleted is zero when the edit is in force.
	Deleted time.Time
	// Indicator: 0 no modifier allowed, 1 modifier allowed, 9 not applicable.
	Indicator int
	Rationale string
	// Source names the file and quarter the edit came from.
	Source string
}

// MUE is a medically unlikely edit: the most units of a code one provider
// reports for one patient on one day.
type MUE struct {
	Code  string
	Units int
	// Adjudication: 1 claim line, 2 date of service (policy, absolute),
	// 3 date of service (clinical).
	Adjudication int
	Rationale    string
	Source       string
}

// FeeSchedule prices lines. Charge is what the clinic bills per unit;
// Allowed is what a payer is expected to allow per unit, which counts towards
// the KX threshold.
type FeeSchedule struct {
	// Charges per unit by code.
	Charges map[string]int64
	// Allowed per unit by payer key ("plan:<plan_type>" or payer id) and
	// code; Allowed[""] is the fallback for any payer.
	Allowed map[string]map[string]int64
}
