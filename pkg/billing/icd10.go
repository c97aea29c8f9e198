package billing

// ValidICD10CM reports whether s has the form of an ICD-10-CM diagnosis code:
// a letter, a digit, a letter or digit, then up to four more letters or
// digits, with or without a dot after the third character ("I69.351" or
// "I69351"). Letters may be in either case; see NormalizeICD10.
//
// It checks the form only, not that the code exists, is billable (a leaf)
// or was valid on the date of service: that needs the yearly CMS code list,
// which is rules data, not Go.
func ValidICD10CM(s string) bool {
	n := len(s)
	dotted := n > 3 && s[3] == '.'
	if dotted {
		// A dot must have something after it.
		if n == 4 {
			return false
		}
		n--
	}
	if n < 3 || n > 7 || !isLetter(s[0]) || !isDigit(s[1]) {
		return false
	}
	for i := 2; i < len(s); i++ {
		if dotted && i == 3 {
			continue
		}
		if !isLetter(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// NormalizeICD10 gives the form X12 wants and comparisons need: upper case,
// no dot ("i69.351" becomes "I69351"). It is meant for codes ValidICD10CM
// accepts; given anything else it still upper-cases ASCII letters and drops
// a dot in fourth place, and nothing more.
func NormalizeICD10(s string) string {
	b := []byte(s)
	if len(b) > 3 && b[3] == '.' {
		b = append(b[:3], b[4:]...)
	}
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
