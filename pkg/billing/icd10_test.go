package billing

import "testing"

func TestValidICD10CM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want bool
	}{
		{"I69.351", true},
		{"I69351", true},
		{"S52.531D", true},
		{"S62336A", true},
		{"F84.0", true},
		{"F82", true},
		{"R62.50", true},
		{"U07.1", true},    // U codes are for special purposes, still ICD-10-CM
		{"C4A.70", true},   // the third character may be a letter
		{"T81.4XXA", true}, // X placeholders
		{"i69.351", true},  // case is normalised, not refused
		{"m62.81", true},

		{"", false},
		{"I6", false},
		{"I69.", false},    // a dot needs something after it
		{"169.351", false}, // first is a letter
		{"II9.351", false}, // second is a digit
		{"I6.9351", false}, // the dot comes after three characters
		{"I693.51", false},
		{"I69.35101", false}, // at most four after the dot
		{"I6935101", false},  // at most seven in all
		{"I69..351", false},
		{".I69351", false},
		{"I69-351", false},
		{"I69 351", false},
		{" I69351", false},
		{"I69351 ", false},
		{"I69.35_", false},
		{"Ĩ69.351", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			if got := ValidICD10CM(tt.code); got != tt.want {
				t.Errorf("ValidICD10CM(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

func TestNormalizeICD10(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"I69.351", "I69351"},
		{"i69.351", "I69351"},
		{"I69351", "I69351"},
		{"f84.0", "F840"},
		{"F82", "F82"},
		{"t81.4xxa", "T814XXA"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeICD10(tt.in); got != tt.want {
			t.Errorf("NormalizeICD10(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkValidICD10CM(b *testing.B) {
	for b.Loop() {
		if !ValidICD10CM("S52.531D") {
			b.Fatal("invalid")
		}
	}
}
