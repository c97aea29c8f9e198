package billing

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/.

func FuzzValidNPI(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		valid := ValidNPI(s)
		if valid && (len(s) != 10 || !allDigits(s)) {
			t.Fatalf("ValidNPI(%q) accepted a string that is not ten digits", s)
		}
		if len(s) >= 9 && allDigits(s[:9]) {
			d, err := NPICheckDigit(s[:9])
			if err != nil {
				t.Fatalf("NPICheckDigit(%q): %v", s[:9], err)
			}
			if !ValidNPI(s[:9] + string(d)) {
				t.Fatalf("NPICheckDigit(%q) = %q does not make a valid NPI", s[:9], d)
			}
			if len(s) == 10 && valid != (s[9] == d) {
				t.Fatalf("ValidNPI(%q) = %v but the check digit is %q", s, valid, d)
			}
		}
	})
}

// icd10Form restates the ICD-10-CM form as a regular expression, as an
// independent oracle for the hand-written check.
var icd10Form = regexp.MustCompile(`^[A-Za-z][0-9][A-Za-z0-9]([A-Za-z0-9]{0,4}|\.[A-Za-z0-9]{1,4})$`)

func FuzzValidICD10CM(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		valid := ValidICD10CM(s)
		if valid != icd10Form.MatchString(s) {
			t.Fatalf("ValidICD10CM(%q) = %v, the regular expression says %v", s, valid, !valid)
		}
		if !valid {
			return
		}
		n := NormalizeICD10(s)
		if !ValidICD10CM(n) || len(n) < 3 || len(n) > 7 || strings.ContainsAny(n, ".abcdefghijklmnopqrstuvwxyz") {
			t.Fatalf("NormalizeICD10(%q) = %q, not a normal form", s, n)
		}
		if NormalizeICD10(n) != n {
			t.Fatalf("NormalizeICD10 is not idempotent on %q", n)
		}
	})
}

func FuzzLoadCatalog(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadCatalog(bytes.NewReader(data))
		if (c == nil) == (err == nil) {
			t.Fatalf("LoadCatalog returned catalog %v and error %v", c != nil, err)
		}
		if err != nil {
			for line := range strings.Lines(err.Error()) {
				if !strings.HasPrefix(line, CodesFile+": ") && !strings.HasPrefix(line, CodesFile+" line ") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		for _, k := range c.Codes() {
			got, ok := c.Lookup(k.Code)
			if !ok || got != k {
				t.Fatalf("Lookup(%q) = %+v, %v; Codes() has %+v", k.Code, got, ok, k)
			}
			if !validProcedureCode(k.Code) || k.Description == "" || k.Disciplines == 0 || k.Disciplines&^AnyDiscipline != 0 {
				t.Fatalf("loaded an invalid code %+v", k)
			}
			if k.AddOnTo != "" {
				if base, ok := c.Lookup(k.AddOnTo); !ok || base.AddOnTo != "" {
					t.Fatalf("%s is an add-on to %q, which is missing or an add-on", k.Code, k.AddOnTo)
				}
			}
			if k.InitialMinutes != 0 && (!k.Timed || k.InitialMinutes < 0 || k.InitialMinutes > 1440) {
				t.Fatalf("bad initial minutes in %+v", k)
			}
		}
	})
}
