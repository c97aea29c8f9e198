package billing

import (
	"slices"
	"strings"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// The remittance code catalogs of a rules set: claim adjustment reason codes
// and remittance advice remark codes.
const (
	CARCFile = "carc.csv"
	RARCFile = "rarc.csv"
)

// DenialCategories are the categories carc.csv and rarc.csv may name: the
// events.Category… values.
var DenialCategories = []string{
	events.CategoryCoding, events.CategoryBundling, events.CategoryMedicalNecessity,
	events.CategoryAuthorization, events.CategoryEligibility, events.CategoryTimelyFiling,
	events.CategoryDuplicate, events.CategoryBenefitMaximum, events.CategoryCoordinationOfBenefits,
	events.CategoryMissingInformation,
}

// categoryNone is carc.csv's category of an adjustment that is not a denial
// (CARC.Category "").
const categoryNone = "none"

// Effects of a remark code on the adjustment it comes with (RARC.Effect).
const (
	// RemarkNotAppealable: the decision cannot be appealed (N211, MA44).
	RemarkNotAppealable = "not_appealable"
	// RemarkAppealable: the payer says the decision may be appealed (N210).
	RemarkAppealable = "appealable"
	// RemarkNewClaim: the claim was unprocessable; there are no appeal
	// rights and the fix is a new claim, not a replacement (MA130).
	RemarkNewClaim = "new_claim"
	// RemarkCorrectedClaim: the fix is a corrected (replacement) claim (N380).
	RemarkCorrectedClaim = "corrected_claim"
)

var remarkEffects = []string{RemarkNotAppealable, RemarkAppealable, RemarkNewClaim, RemarkCorrectedClaim}

var carcColumns = []string{
	"code", "text", "category", "default_posting", "action",
	"appealable", "corrected_claim", "reads_remarks", "deactivated",
}

var rarcColumns = []string{"code", "text", "category", "effect", "alert"}

func (l *rulesLoader) carc() {
	t := l.table(CARCFile, carcColumns)
	if t == nil {
		return
	}
	l.r.CARCs = map[string]CARC{}
	lineOf := map[string]int{}
	for row := range t.rows() {
		c, ok := parseCARC(row)
		if !ok {
			continue
		}
		if first, dup := lineOf[c.Code]; dup {
			row.errorf("CARC %s repeats line %d", c.Code, first)
			continue
		}
		lineOf[c.Code] = row.line
		l.r.CARCs[c.Code] = c
	}
	if len(lineOf) == 0 && len(t.errs) == 0 {
		t.errorf(0, "no codes")
	}
	l.add(t.err())
}

func parseCARC(r row) (c CARC, ok bool) {
	ok = true
	bad := func(format string, args ...any) {
		r.errorf(format, args...)
		ok = false
	}
	yesNo := func(column string) bool {
		v, good := parseYesNo(r.get(column))
		if !good {
			bad("%s must be yes or no, not %q", column, r.get(column))
		}
		return v
	}

	c.Code = r.get("code")
	if !validCARC(c.Code) {
		bad("code %q is not a CARC (a number from 1 to 999 without leading zeros, or a letter and a number such as A1 or P13)", c.Code)
	}
	if c.Text = r.get("text"); c.Text == "" {
		bad("text is empty")
	}
	categoryOK := true
	switch v := r.get("category"); {
	case v == categoryNone:
	case slices.Contains(DenialCategories, v):
		c.Category = v
	default:
		bad("category must be %s or one of %s, not %q", categoryNone, strings.Join(DenialCategories, ", "), v)
		categoryOK = false
	}
	switch c.DefaultPosting = r.get("default_posting"); c.DefaultPosting {
	case events.PostingDenied:
		if c.Category == "" && categoryOK {
			bad("default_posting %s needs a denial category, not %s", events.PostingDenied, categoryNone)
		}
	case events.PostingContractual, events.PostingPatient, events.PostingOther:
		if c.Category != "" {
			bad("default_posting must be %s for a denial category (%s), not %q", events.PostingDenied, c.Category, c.DefaultPosting)
		}
	default:
		bad("default_posting must be %s, %s, %s or %s, not %q",
			events.PostingContractual, events.PostingPatient, events.PostingDenied, events.PostingOther, c.DefaultPosting)
	}
	if c.Action = r.get("action"); c.Action == "" {
		bad("action is empty")
	}
	c.Appealable = yesNo("appealable")
	c.CorrectedClaim = yesNo("corrected_claim")
	c.ReadsRemarks = yesNo("reads_remarks")
	switch v := r.get("deactivated"); v {
	case "no":
	case "yes":
		c.Deactivated = true
	default:
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			bad("deactivated must be no, yes or a stop date YYYY-MM-DD, not %q", v)
		}
		c.Deactivated, c.Stopped = true, d
	}
	return c, ok
}

func (l *rulesLoader) rarc() {
	t := l.table(RARCFile, rarcColumns)
	if t == nil {
		return
	}
	l.r.RARCs = map[string]RARC{}
	lineOf := map[string]int{}
	for row := range t.rows() {
		m, ok := parseRARC(row)
		if !ok {
			continue
		}
		if first, dup := lineOf[m.Code]; dup {
			row.errorf("RARC %s repeats line %d", m.Code, first)
			continue
		}
		lineOf[m.Code] = row.line
		l.r.RARCs[m.Code] = m
	}
	if len(lineOf) == 0 && len(t.errs) == 0 {
		t.errorf(0, "no codes")
	}
	l.add(t.err())
}

func parseRARC(r row) (m RARC, ok bool) {
	ok = true
	bad := func(format string, args ...any) {
		r.errorf(format, args...)
		ok = false
	}
	m.Code = r.get("code")
	if !validRARC(m.Code) {
		bad("code %q is not a RARC (M1, MA01, N1 ...)", m.Code)
	}
	if m.Text = r.get("text"); m.Text == "" {
		bad("text is empty")
	}
	if m.Category = r.get("category"); m.Category != "" && !slices.Contains(DenialCategories, m.Category) {
		bad("category must be empty or one of %s, not %q", strings.Join(DenialCategories, ", "), m.Category)
	}
	if m.Effect = r.get("effect"); m.Effect != "" && !slices.Contains(remarkEffects, m.Effect) {
		bad("effect must be empty or one of %s, not %q", strings.Join(remarkEffects, ", "), m.Effect)
	}
	var good bool
	if m.Alert, good = parseYesNo(r.get("alert")); !good {
		bad("alert must be yes or no, not %q", r.get("alert"))
	}
	return m, ok
}

func parseYesNo(v string) (value, ok bool) {
	switch v {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	return false, false
}

// validCARC accepts the shapes of the X12 list: 1 to 999 without leading
// zeros, or one letter and 1 or 2 digits (A0, B23, P13, W1).
func validCARC(s string) bool {
	switch {
	case len(s) == 0 || len(s) > 3:
		return false
	case isDigit(s[0]):
		return s[0] != '0' && allDigits(s)
	default:
		return len(s) >= 2 && isUpper(s[0]) && allDigits(s[1:])
	}
}

// validRARC accepts M1-M999, MA01-MA999 and N1-N9999.
func validRARC(s string) bool {
	noLeadingZero := func(d string, most int) bool {
		return len(d) >= 1 && len(d) <= most && allDigits(d) && d[0] != '0'
	}
	switch {
	case strings.HasPrefix(s, "MA"):
		// Written with two digits at least: MA01 ... MA99, MA100 ...
		d := s[2:]
		if len(d) == 2 && allDigits(d) {
			return d != "00"
		}
		return len(d) == 3 && noLeadingZero(d, 3)
	case strings.HasPrefix(s, "M"):
		return noLeadingZero(s[1:], 3)
	case strings.HasPrefix(s, "N"):
		return noLeadingZero(s[1:], 4)
	}
	return false
}
