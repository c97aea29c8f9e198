package billing

import (
	"fmt"
	"strings"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// CARC is one claim adjustment reason code of the catalog (carc.csv): what
// an 835 CAS reason means and what a therapy biller usually does about it.
type CARC struct {
	Code string
	// Text says what the code means, in our words (not the X12 text).
	Text string
	// Category is the denial category, one of the events.Category… values,
	// or "" for an adjustment that is not a denial (45, 1/2/3, 253 ...).
	Category string
	// DefaultPosting is the ledger column (an events.Posting… value) when
	// the group code does not decide it: PostingDenied exactly when
	// Category is set.
	DefaultPosting string
	// Action says in words what usually clears it.
	Action string
	// Appealable: an appeal is a sensible route; remark codes may say
	// otherwise (ClassifyAdjustment).
	Appealable bool
	// CorrectedClaim: the usual fix is a corrected claim.
	CorrectedClaim bool
	// ReadsRemarks: the code itself is generic (16, 96, A1 ...) and its
	// remark codes say the real reason.
	ReadsRemarks bool
	// Deactivated: X12 no longer lists the code; old remittances still
	// carry it. Stopped is its stop date, zero when our sources lack it.
	Deactivated bool
	Stopped     time.Time
}

// RARC is one remittance advice remark code of the catalog (rarc.csv).
type RARC struct {
	Code string
	// Text says what the code means, in our words.
	Text string
	// Category is a denial category hint (events.Category…), or "". It
	// refines the category of a CARC that reads its remarks.
	Category string
	// Effect is one of the Remark… constants, or "".
	Effect string
	// Alert: information rather than a reason.
	Alert bool
}

// Adjustment group codes (CAS01).
const (
	GroupContractual    = "CO"
	GroupPatient        = "PR"
	GroupOther          = "OA"
	GroupPayerInitiated = "PI"
	GroupCorrection     = "CR"
)

// Classification is what the catalogs say about one adjustment: where it
// is posted, whether it is a denial, and what to do about it.
type Classification struct {
	// Group and Reason are the adjustment's group code and CARC as looked
	// up: upper case, without blanks or leading zeros.
	Group  string
	Reason string
	// Known: the CARC is in the catalog.
	Known bool
	// Text is the CARC's text, or "CARC x (not in catalog version v)".
	Text string
	// Posting is the ledger column, one of the events.Posting… values.
	Posting string
	// Category is the denial category (events.Category…) when Posting is
	// PostingDenied, else "".
	Category string
	// Action says in words what usually clears the adjustment, the texts
	// of the remark codes included when the CARC reads them.
	Action string
	// Appealable: the adjustment may be appealed. Remark codes N211 and
	// MA44 take it away, MA130 too (no appeal rights for an unprocessable
	// claim).
	Appealable bool
	// CorrectedClaim: the usual fix is to correct the claim and send it
	// again.
	CorrectedClaim bool
	// NewClaim: the claim was unprocessable (MA130), so the corrected claim
	// goes as a new original claim (frequency 1), not a replacement (7).
	NewClaim bool
	// Remarks are the remark codes that came with the adjustment, in
	// order; a code not in the catalog has only Code and Text set, its Text
	// saying so.
	Remarks []RARC
}

// CARC looks up a claim adjustment reason code. Blanks, case and leading
// zeros ("045") do not matter.
func (r *Rules) CARC(code string) (CARC, bool) {
	c, ok := r.CARCs[normCARC(code)]
	return c, ok
}

// RARC looks up a remittance advice remark code. Blanks and case do not
// matter.
func (r *Rules) RARC(code string) (RARC, bool) {
	m, ok := r.RARCs[normRARC(code)]
	return m, ok
}

// CARCText is a CARC's text for people, or "CARC x (not in catalog
// version v)" for a code the catalog lacks.
func (r *Rules) CARCText(code string) string {
	if c, ok := r.CARC(code); ok {
		return c.Text
	}
	return fmt.Sprintf("CARC %s (not in catalog version %s)", normCARC(code), r.Version)
}

// RARCText is a RARC's text for people, or "RARC x (not in catalog
// version v)" for a code the catalog lacks.
func (r *Rules) RARCText(code string) string {
	if m, ok := r.RARC(code); ok {
		return m.Text
	}
	return fmt.Sprintf("RARC %s (not in catalog version %s)", normRARC(code), r.Version)
}

// Posting is the ledger column of an adjustment, one of the
// events.Posting… values: ClassifyAdjustment's Posting, which remark codes
// do not change.
func (r *Rules) Posting(group, reason string) string {
	g := normGroup(group)
	c, ok := r.CARC(reason)
	return posting(g, c, ok)
}

// posting decides the ledger column:
//   - group PR is always patient responsibility;
//   - a CARC the catalog lacks is other, for a person to look at;
//   - a CARC with a denial category is denied (CO-50, OA-18 ...);
//   - otherwise the CARC's default posting (CO-45, CO-253 contractual;
//     OA-23 other), except that patient responsibility under another
//     group than PR (CO-2, say) may not be billed to the patient: it is
//     contractual under CO and other under OA, PI and CR.
func posting(group string, c CARC, known bool) string {
	switch {
	case group == GroupPatient:
		return events.PostingPatient
	case !known:
		return events.PostingOther
	case c.Category != "":
		return events.PostingDenied
	case c.DefaultPosting == events.PostingPatient:
		if group == GroupContractual {
			return events.PostingContractual
		}
		return events.PostingOther
	}
	return c.DefaultPosting
}

// ClassifyAdjustment classifies one adjustment (CAS group and reason) with
// the remark codes that came with it. It is pure: the same catalogs give the
// same answer.
//
// The CARC decides the posting (see Posting), category, action, whether it
// is appealable and whether a corrected claim is the usual fix. Then the
// remark codes:
//   - for a CARC that reads its remarks (16, 96, A1 ...), the first remark
//     with a category hint sets the category, and the texts of the remarks
//     that are not alerts are added to the action;
//   - MA130 (or another new_claim remark) makes the claim unprocessable: not
//     appealable, corrected and sent as a new claim;
//   - N211 (or another not_appealable remark) makes it not appealable;
//   - N380 (corrected_claim) makes a corrected claim the fix;
//   - N210 (appealable) makes it appealable unless another remark says no.
//
// A CARC the catalog lacks posts to other (patient responsibility under
// PR), has no category, says so in Text and Action, and lists the remarks'
// texts in Action too.
func (r *Rules) ClassifyAdjustment(group, reason string, rarcs []string) Classification {
	c := Classification{Group: normGroup(group), Reason: normCARC(reason)}
	carc, known := r.CARCs[c.Reason]
	c.Known = known
	c.Text = r.CARCText(c.Reason)
	c.Posting = posting(c.Group, carc, known)
	if known {
		c.Category = carc.Category
		c.Action = carc.Action
		c.Appealable = carc.Appealable
		c.CorrectedClaim = carc.CorrectedClaim
	} else {
		c.Action = fmt.Sprintf("Unknown adjustment reason: %s. Look the code up on x12.org, work it by hand and add it to %s.", c.Text, CARCFile)
	}

	var newClaim, notAppealable, appealable, corrected []string
	var reasons []string
	hinted := false
	for _, code := range rarcs {
		reads := !known || carc.ReadsRemarks
		m, ok := r.RARC(code)
		if !ok {
			m = RARC{Code: normRARC(code), Text: r.RARCText(code)}
			c.Remarks = append(c.Remarks, m)
			if reads {
				reasons = append(reasons, m.Text+".")
			}
			continue
		}
		c.Remarks = append(c.Remarks, m)
		if reads {
			if m.Category != "" && !hinted && carc.Category != "" {
				c.Category, hinted = m.Category, true
			}
			// The effects below say what MA130 or N211 mean.
			if !m.Alert && m.Effect != RemarkNewClaim && m.Effect != RemarkNotAppealable {
				reasons = append(reasons, m.Code+": "+m.Text)
			}
		}
		switch m.Effect {
		case RemarkNewClaim:
			newClaim = append(newClaim, m.Code)
		case RemarkNotAppealable:
			notAppealable = append(notAppealable, m.Code)
		case RemarkAppealable:
			appealable = append(appealable, m.Code)
		case RemarkCorrectedClaim:
			corrected = append(corrected, m.Code)
		}
	}
	if c.Posting != events.PostingDenied {
		c.Category = ""
	}
	if len(reasons) > 0 {
		c.Action += " Remarks: " + strings.Join(reasons, " ")
	}
	switch {
	case len(newClaim) > 0:
		c.NewClaim, c.CorrectedClaim, c.Appealable = true, true, false
		c.Action = fmt.Sprintf("Unprocessable (%s): no appeal rights; correct the claim and submit it as a new claim, not a replacement. %s",
			strings.Join(newClaim, ", "), c.Action)
	case len(corrected) > 0:
		c.CorrectedClaim = true
	}
	switch {
	case len(notAppealable) > 0:
		c.Appealable = false
		c.Action += fmt.Sprintf(" Not appealable (%s).", strings.Join(notAppealable, ", "))
	case len(appealable) > 0 && !c.NewClaim:
		c.Appealable = true
	}
	return c
}

// AppealDeadline is the last day to appeal a denial on a remittance of
// remitDate: remitDate plus the payer's AppealDays, counted from the
// remittance date so that it errs early (Medicare counts 120 days from
// receipt, presumed five days after the notice). ok is false when the
// profile has no appeal window (AppealDays 0) or remitDate is zero.
func AppealDeadline(p PayerProfile, remitDate time.Time) (time.Time, bool) {
	if p.AppealDays <= 0 || remitDate.IsZero() {
		return time.Time{}, false
	}
	return remitDate.AddDate(0, 0, p.AppealDays), true
}

// AppealDeadline is the package AppealDeadline for an appealable
// classification; ok is false when it cannot be appealed.
func (c Classification) AppealDeadline(p PayerProfile, remitDate time.Time) (time.Time, bool) {
	if !c.Appealable {
		return time.Time{}, false
	}
	return AppealDeadline(p, remitDate)
}

func normGroup(group string) string { return strings.ToUpper(strings.TrimSpace(group)) }

func normRARC(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// normCARC also drops the leading zeros some systems print ("045").
func normCARC(code string) string {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) > 1 && allDigits(c) {
		if t := strings.TrimLeft(c, "0"); t != "" {
			return t
		}
		return "0"
	}
	return c
}
