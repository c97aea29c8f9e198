package billing

import "testing"

func TestDollarsForPeople(t *testing.T) {
	for cents, want := range map[int64]string{
		0: "$0.00", 5: "$0.05", 100: "$1.00", 123456: "$1,234.56", 100000000: "$1,000,000.00", -500: "-$5.00", -123456789: "-$1,234,567.89",
	} {
		if got := Dollars(cents); got != want {
			t.Errorf("Dollars(%d) = %q; want %q", cents, got, want)
		}
	}
	if got := SignedDollars(1200); got != "+$12.00" {
		t.Errorf("SignedDollars(1200) = %q", got)
	}
	if got := SignedDollars(-1200); got != "-$12.00" {
		t.Errorf("SignedDollars(-1200) = %q", got)
	}
}
