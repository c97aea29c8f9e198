package billing

import "strconv"

// Dollars formats cents for people, as billers write amounts: $1,234.56,
// -$5.00.
func Dollars(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	b := make([]byte, 0, len(sign)+len(whole)+len(whole)/3+4)
	b = append(b, sign...)
	b = append(b, '$')
	for i := range len(whole) {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, whole[i])
	}
	c := cents % 100
	return string(append(b, '.', byte('0'+c/10), byte('0'+c%10)))
}

// SignedDollars is Dollars for a change: +$12.00, -$5.00, $0.00.
func SignedDollars(cents int64) string {
	if cents > 0 {
		return "+" + Dollars(cents)
	}
	return Dollars(cents)
}
