package billing

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDollars checks the fast path of dollars against dollarsAnySign, which
// writes every amount, on amounts around each digit and comma and at random.
func TestDollars(t *testing.T) {
	amounts := []int64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 12345, 99999, 100000, 113750, 248000, math.MaxInt64,
		-1, -99, -100, -123456, math.MinInt64 + 1, math.MinInt64}
	for p := int64(1); p < math.MaxInt64/10; p *= 10 {
		amounts = append(amounts, p-1, p, p+1, -p)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		amounts = append(amounts, r.Int64N(1<<uint(r.IntN(63))+1))
	}
	for _, c := range amounts {
		var got, want noteWriter
		got.dollars(c)
		want.dollarsAnySign(c)
		if string(got.buf) != string(want.buf) {
			t.Fatalf("dollars(%d) = %q, want %q", c, got.buf, want.buf)
		}
	}
	var w noteWriter
	w.dollars(123456789)
	if got := string(w.buf); got != "$1,234,567.89" {
		t.Errorf("dollars(123456789) = %q", got)
	}
}
