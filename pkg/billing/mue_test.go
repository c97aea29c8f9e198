package billing

import (
	"bytes"
	"strings"
	"testing"
)

// cmsMUE is laid out like the CMS practitioner MUE CSV: a quoted copyright
// preamble (with a comma and a stray quote), the quoted heading, quoted
// rows with the indicator spelled out, CRLF line ends.
const cmsMUE = "\ufeff\"CPT codes, descriptions and other data only are copyright 2025 American Medical Association. All rights reserved.\"\r\n" +
	"Note: \"MUE values\" are for practitioner services, \"per day\r\n" +
	"\r\n" +
	"\"HCPCS/CPT Code\",\"Practitioner Services MUE Values\",\"MUE Adjudication Indicator\",\"MUE Rationale\"\r\n" +
	"\"0001U\",\"1\",\"2 Date of Service Edit: Policy\",\"CMS Policy\"\r\n" +
	"\"92507\",\"1\",\"3 Date of Service Edit: Clinical\",\"Nature of Service/Procedure\"\r\n" +
	"\"A4216\",\"1000\",\"1 Line Edit\",\"Clinical: Data\"\r\n"

func TestLoadMUECMSFormat(t *testing.T) {
	m, err := LoadMUE("MCR_MUE_PractitionerServices.csv", strings.NewReader(cmsMUE))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]MUE{
		"0001U": {Code: "0001U", Units: 1, Adjudication: 2, Rationale: "CMS Policy", Source: "MCR_MUE_PractitionerServices.csv"},
		"92507": {Code: "92507", Units: 1, Adjudication: 3, Rationale: "Nature of Service/Procedure", Source: "MCR_MUE_PractitionerServices.csv"},
		"A4216": {Code: "A4216", Units: 1000, Adjudication: 1, Rationale: "Clinical: Data", Source: "MCR_MUE_PractitionerServices.csv"},
	}
	if len(m) != len(want) {
		t.Fatalf("got %d edits: %+v", len(m), m)
	}
	for code, w := range want {
		if m[code] != w {
			t.Errorf("%s = %+v, want %+v", code, m[code], w)
		}
	}
	// Column order is free and the rationale optional.
	m, err = LoadMUE("m.csv", strings.NewReader("MUE Adjudication Indicator , HCPCS/CPT CODE,Practitioner Services MUE Values\n3,97035,2\n"))
	if err != nil || m["97035"].Units != 2 || m["97035"].Adjudication != 3 {
		t.Errorf("reordered = %+v, %v", m, err)
	}
}

func TestLoadMUEProblems(t *testing.T) {
	const h = "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n"
	for _, tt := range []struct{ name, in, want string }{
		{"no heading", "97110,4,3,x\n", "m.csv: no heading line"},
		{"missing column", "HCPCS/CPT Code,MUE Adjudication Indicator\n", "m.csv line 1: heading lacks the column \"practitioner services mue values\""},
		{"bad code", "preamble\n" + h + "9711,4,3,x\n", "m.csv line 3: code \"9711\" is not a procedure code"},
		{"bad units", h + "97110,-1,3,x\n", "m.csv line 2: MUE value must be a whole number"},
		{"bad indicator", h + "97110,4,Date of Service,x\n", "m.csv line 2: MUE adjudication indicator must start with 1, 2 or 3"},
		{"indicator 12", h + "97110,4,12,x\n", "m.csv line 2: MUE adjudication indicator"},
		{"duplicate", h + "# c\n97110,4,3,x\n97110,5,3,x\n", "m.csv line 4: code 97110 repeats line 3"},
		{"unclosed quote", h + "97110,4,3,x\n\"97112,4,3,x\n", "m.csv line 3: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadMUE("m.csv", strings.NewReader(tt.in))
			if err == nil || m != nil {
				t.Fatalf("LoadMUE = %v, %v", m, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func FuzzLoadMUE(f *testing.F) {
	f.Add([]byte(cmsMUE))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadMUE("m.csv", bytes.NewReader(data))
		if err != nil {
			if m != nil {
				t.Fatalf("edits and error %v", err)
			}
			for _, le := range LineErrors(err) {
				if le.File != "m.csv" || le.Line < 0 {
					t.Fatalf("problem %v does not name the file", le)
				}
			}
			return
		}
		for code, e := range m {
			if code != e.Code || !validNCCICode(code) || e.Units < 0 || e.Adjudication < 1 || e.Adjudication > 3 || e.Source != "m.csv" {
				t.Fatalf("loaded an invalid edit %+v", e)
			}
		}
	})
}
