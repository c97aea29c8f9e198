package denials

import (
	"slices"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// PostingFunc decides the ledger column of one adjustment (one of the
// events.Posting… constants). It is the CARC catalog's decision, passed in so
// that reconciliation stays pure.
type PostingFunc func(group, reason string) string

// Exception is a part of a remittance that matched nothing we sent.
type Exception struct {
	// LineIndex is the SVC's position in the CLP from 1; 0 when the whole
	// claim is unmatched.
	LineIndex   int
	Reason      string
	AmountCents int64 // what was paid on it
}

// Posted is one ledger row: a remittance line, or the claim-level remainder
// at LineIndex 0.
type Posted struct {
	LineIndex int
	events.LinePosting
}

// Reconciled is what one CLP of a remittance did to one submission of a
// claim.
type Reconciled struct {
	Data events.ClaimReconciled
	// Rows are the ledger rows: every SVC line, matched or not, and the
	// claim level (LineIndex 0) when it holds any money.
	Rows       []Posted
	Exceptions []Exception
	// DeniedCents is the sum of the denied column, claim level included.
	DeniedCents int64
	// Denials are the adjustments posted as denied, largest first, with the
	// lines they are on (0 for claim level) and those lines' remark codes.
	Denials []Denied
}

// Denied is one adjustment posted as denied.
type Denied struct {
	Line    int
	Group   string
	Reason  string
	Cents   int64
	Remarks []string
}

// ReconcileClaim matches one CLP to the submission it names and posts it.
// sub is the claim.submitted data of the submission CLP01 named. Every line of
// the CLP is posted: matched by REF*6R, else by code, modifiers, date and
// units (the SVC06 procedure when the payer re-coded), else as an exception
// on line 0 of the ledger.
func ReconcileClaim(c *x12.Claim, sub *events.ClaimSubmitted, post PostingFunc) Reconciled {
	r := Reconciled{Data: events.ClaimReconciled{
		ClaimID: sub.ClaimID, ControlNumber: c.ControlNumber, Submission: sub.Submission,
		PayerID: sub.PayerID, PayerClaimControlNumber: c.PayerClaimNumber, ClaimStatusCode: string(c.Status),
		ChargeCents: c.ChargeCents, PaidCents: c.PaidCents, PatientResponsibilityCents: c.PatientCents,
		Lines: []events.LinePosting{},
	}}
	used := make([]bool, len(sub.Lines))
	var lineCharge, linePaid int64
	for i := range c.Lines {
		l := &c.Lines[i]
		lineCharge += l.ChargeCents
		linePaid += l.PaidCents
		lp := events.LinePosting{
			Code: l.Code, Modifiers: nonNil(l.Modifiers), UnitsPaid: l.Units,
			ChargeCents: l.ChargeCents, AllowedCents: l.AllowedCents, PaidCents: l.PaidCents,
			RemarkCodes: l.Remarks,
		}
		if n := matchLine(l, sub.Lines, used); n >= 0 {
			used[n] = true
			lp.Line, lp.LineItemControlNumber = sub.Lines[n].Line, sub.Lines[n].LineItemControlNumber
			lp.MatchedBy = events.MatchServiceDetails
			if l.ControlNumber != "" && l.ControlNumber == lp.LineItemControlNumber {
				lp.MatchedBy = events.MatchLineItemControlNumber
			}
		} else {
			lp.MatchedBy = events.MatchUnmatched
			r.Exceptions = append(r.Exceptions, Exception{LineIndex: i + 1, AmountCents: l.PaidCents,
				Reason: "the payer's line matches no line we sent on this claim (no REF*6R match; code, modifiers, date and units differ)"})
		}
		postAdjustments(&lp, l.Adjustments, post)
		r.Rows = append(r.Rows, Posted{LineIndex: i + 1, LinePosting: lp})
		r.Data.Lines = append(r.Data.Lines, lp)
		for _, a := range lp.Adjustments {
			if a.Posting == events.PostingDenied {
				r.DeniedCents += a.AmountCents
				r.Denials = append(r.Denials, Denied{Line: lp.Line, Group: a.Group, Reason: a.Reason, Cents: a.AmountCents, Remarks: l.Remarks})
			}
		}
	}
	// The claim level holds what no line does: claim CAS, and for a claim
	// adjudicated without lines all of its charge and payment.
	claimLevel := events.LinePosting{MatchedBy: events.MatchClaimLevel, ChargeCents: c.ChargeCents - lineCharge, PaidCents: c.PaidCents - linePaid, Modifiers: []string{}}
	postAdjustments(&claimLevel, c.Adjustments, post)
	r.Data.Adjustments = claimLevel.Adjustments
	var claimRemarks []string
	if c.Outpatient != nil {
		claimRemarks = c.Outpatient.Remarks
	}
	claimLevel.RemarkCodes = claimRemarks
	for _, a := range claimLevel.Adjustments {
		if a.Posting == events.PostingDenied {
			r.DeniedCents += a.AmountCents
			r.Denials = append(r.Denials, Denied{Group: a.Group, Reason: a.Reason, Cents: a.AmountCents, Remarks: claimRemarks})
		}
	}
	if claimLevel.ChargeCents != 0 || claimLevel.PaidCents != 0 || len(claimLevel.Adjustments) > 0 {
		r.Rows = append(r.Rows, Posted{LineIndex: 0, LinePosting: claimLevel})
	}
	slices.SortStableFunc(r.Denials, func(a, b Denied) int {
		switch {
		case a.Cents > b.Cents:
			return -1
		case a.Cents < b.Cents:
			return 1
		}
		return 0
	})
	r.Data.Outcome = outcome(c.Status, c.PaidCents, r.DeniedCents)
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// postAdjustments adds each adjustment to exactly one ledger column.
func postAdjustments(lp *events.LinePosting, adjs []x12.Adjustment, post PostingFunc) {
	lp.Adjustments = make([]events.Adjustment, 0, len(adjs))
	for _, a := range adjs {
		col := post(a.Group, a.Reason)
		switch col {
		case events.PostingContractual:
			lp.ContractualCents += a.AmountCents
		case events.PostingPatient:
			lp.PatientResponsibilityCents += a.AmountCents
		case events.PostingDenied:
			lp.DeniedCents += a.AmountCents
		default:
			col = events.PostingOther
			lp.OtherAdjustmentCents += a.AmountCents
		}
		lp.Adjustments = append(lp.Adjustments, events.Adjustment{Group: a.Group, Reason: a.Reason, AmountCents: a.AmountCents, Posting: col})
	}
}

// outcome says what a CLP means for the claim. CLP02 decides reversals,
// forwards and outright denials; otherwise the money does.
func outcome(status x12.ClaimStatus, paid, denied int64) string {
	switch status {
	case x12.StatusReversal:
		return events.OutcomeReversed
	case x12.StatusPrimaryForwarded, x12.StatusSecondaryForwarded, x12.StatusTertiaryForwarded, x12.StatusNotOurClaim:
		return events.OutcomeForwarded
	case x12.StatusDenied:
		return events.OutcomeDenied
	}
	switch {
	case denied > 0 && paid > 0:
		return events.OutcomePartlyPaid
	case denied > 0:
		return events.OutcomeDenied
	}
	return events.OutcomePaidInFull
}

// matchLine finds the submitted line an 835 line pays: REF*6R first, then the
// service as submitted. It returns -1 when nothing unused matches.
func matchLine(l *x12.Line, sent []events.ClaimLine, used []bool) int {
	if l.ControlNumber != "" {
		for i := range sent {
			if !used[i] && sent[i].LineItemControlNumber == l.ControlNumber {
				return i
			}
		}
	}
	code, mods, units := l.Code, l.Modifiers, l.Units
	if l.Original != nil {
		// SVC06 is the procedure as we submitted it.
		code, mods = l.Original.Code, l.Original.Modifiers
	}
	if l.SubmittedUnits > 0 {
		units = l.SubmittedUnits
	}
	dos := l.DateOfService
	if dos.IsZero() {
		dos = l.ServiceFrom
	}
	best := -1
	for i := range sent {
		s := &sent[i]
		if used[i] || s.Code != code || !sameDate(dos, s.DateOfService) {
			continue
		}
		if slices.Equal(s.Modifiers, mods) && s.Units == units {
			return i
		}
		// A payer that paid fewer units, or dropped a modifier, still pays
		// this line when no exact match exists.
		if best < 0 {
			best = i
		}
	}
	return best
}

func sameDate(t time.Time, iso string) bool {
	return t.IsZero() || t.Format("2006-01-02") == iso
}
