package coder

import (
	"strconv"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// Options are what a coding depends on besides the visit and the rules.
type Options struct {
	// Method overrides the payer's unit method ("cms" or "ama").
	Method string
	// YTDAllowedCents is the patient's threshold total before this visit.
	YTDAllowedCents int64
}

// Build codes one visit revision into the data of visit.coded. The service
// and `rcm code` both call it, so that what a biller reproduces offline is
// what the pipeline did.
func Build(rec events.VisitRecorded, rules *billing.Rules, opt Options) (events.VisitCoded, billing.Coding) {
	out := events.VisitCoded{
		VisitID:       rec.VisitID,
		VisitRevision: rec.Revision,
		RulesVersion:  rules.Version,
		Visit:         rec.Visit,
		Lines:         []events.CodedLine{},
	}
	if rec.Change == events.ChangeVoid || rec.Visit.Status == events.VisitVoided {
		out.Void = true
		out.Explanations = []events.Explanation{{Rule: "visit.void", Text: "the EMR voided the visit at revision " + strconv.Itoa(rec.Revision) + ": nothing is billable, and a claim from an earlier revision must not be paid"}}
		return out, billing.Coding{}
	}
	c := billing.CodeVisit(billing.CodeRequest{Visit: &rec.Visit, Rules: rules, Method: opt.Method, YTDAllowedCents: opt.YTDAllowedCents})
	out.UnitMethod = c.UnitMethod
	out.TotalTimedMinutes = c.TotalTimedMinutes
	out.TotalTimedUnits = c.TotalTimedUnits
	out.ChargeCents = c.ChargeCents
	out.Threshold = c.Threshold
	out.Lines = c.Lines
	if out.Lines == nil {
		out.Lines = []events.CodedLine{}
	}
	out.Issues = c.Issues
	out.Explanations = c.Explanations
	return out, c
}
