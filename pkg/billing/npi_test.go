package billing

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestValidNPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		npi  string
		want bool
	}{
		{"1234567893", true}, // the example in CMS's check-digit paper
		{"1912301953", true},
		{"0000000006", true}, // the check digit is all there is to it
		{"1234567890", false},
		{"1234567894", false},
		{"2134567893", false}, // transposed digits change the check
		{"123456789", false},
		{"12345678930", false},
		{"", false},
		{"123456789A", false},
		{"12345 7893", false},
		{" 1234567893", false},
		{"１234567893", false}, // a full-width digit is not ASCII
		{"-234567893", false},
	}
	for _, tt := range tests {
		t.Run(tt.npi, func(t *testing.T) {
			t.Parallel()
			if got := ValidNPI(tt.npi); got != tt.want {
				t.Errorf("ValidNPI(%q) = %v, want %v", tt.npi, got, tt.want)
			}
		})
	}
}

func TestNPICheckDigit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want byte
		err  bool
	}{
		{"123456789", '3', false},
		{"191230195", '3', false},
		{"000000000", '6', false},
		{"12345678", 0, true},
		{"1234567890", 0, true},
		{"12345678x", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := NPICheckDigit(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("NPICheckDigit(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// Exactly one final digit completes any nine digits, and it is the one
// NPICheckDigit gives.
func TestNPICheckDigitIsTheOnlyOne(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		first9 := fmt.Sprintf("%09d", r.IntN(1_000_000_000))
		d, err := NPICheckDigit(first9)
		if err != nil {
			t.Fatal(err)
		}
		for c := byte('0'); c <= '9'; c++ {
			if got := ValidNPI(first9 + string(c)); got != (c == d) {
				t.Fatalf("ValidNPI(%s%c) = %v, check digit %c", first9, c, got, d)
			}
		}
	}
}

func BenchmarkValidNPI(b *testing.B) {
	for b.Loop() {
		if !ValidNPI("1234567893") {
			b.Fatal("invalid")
		}
	}
}
