package billing

import "errors"

// npiPrefixSum is the Luhn contribution of the "80840" prefix that turns an
// NPI into an ISO 7812 card-issuer number (health industry, United States);
// CMS defines the check digit over the prefixed number, and adding 24 to the
// sum over the nine digits gives the same result.
const npiPrefixSum = 24

// ValidNPI reports whether s is a National Provider Identifier: ten ASCII
// digits whose last is the Luhn check digit over the prefixed number. It does
// not say the NPI is enrolled or even issued.
func ValidNPI(s string) bool {
	if len(s) != 10 || !allDigits(s) {
		return false
	}
	return npiCheck(s[:9]) == s[9]
}

// NPICheckDigit gives the check digit, as an ASCII digit, that completes the
// nine digits into a valid NPI: first9 + string(d).
func NPICheckDigit(first9 string) (byte, error) {
	if len(first9) != 9 || !allDigits(first9) {
		return 0, errors.New("billing: an NPI check digit needs exactly 9 digits")
	}
	return npiCheck(first9), nil
}

func npiCheck(first9 string) byte {
	sum := npiPrefixSum
	// Counting from the right of the full number, the check digit is first,
	// so the rightmost of the nine is doubled, then every second one.
	for i := 8; i >= 0; i-- {
		d := int(first9[i] - '0')
		if (8-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isUpper(c byte) bool  { return 'A' <= c && c <= 'Z' }
func isLetter(c byte) bool { return isUpper(c) || ('a' <= c && c <= 'z') }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
