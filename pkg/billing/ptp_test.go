package billing

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// cmsPTP is laid out like the opening of a CMS quarterly practitioner PTP
// file: copyright text, column headings over two lines, then rows with
// CRLF line ends and a Latin-1 byte in a rationale.
const cmsPTP = "CPT codes, descriptions and other data only are copyright 2025 American Medical Association.  All rights reserved.\r\n" +
	"Applicable FARS/DFARS Apply.\r\n" +
	"\r\n" +
	"Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale\r\n" +
	"\t\tprior to 1996\tDate\tDate\t0=not allowed\t\r\n" +
	"\t\t\t\t*=no data\t1=allowed\t\r\n" +
	"\t\t\t\t\t9=not applicable\t\r\n" +
	"0001A\t0591T\t\t20210101\t*\t1\tMisuse of column two code with column one code\r\n" +
	"97530\t97140\t\t20200101\t*\t1\tMutually exclusive procedures\r\n" +
	"97161\t97530\t\t20200101\t20200101\t0\tStandards of medical \xa7 surgical practice\r\n" +
	"97750\tG0283\t*\t19960101\t20150331\t9\tCPT Manual or CMS manual coding instructions\t\r\n"

func TestLoadPTPCMSFormat(t *testing.T) {
	edits, err := LoadPTP("ccipra-v313r0-f1.txt", strings.NewReader(cmsPTP))
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) != 4 {
		t.Fatalf("%d edits, want 4: %+v", len(edits), edits)
	}
	want := PTPEdit{Column1: "97530", Column2: "97140", Effective: day("2020-01-01"), Indicator: 1,
		Rationale: "Mutually exclusive procedures", Source: "ccipra-v313r0-f1.txt"}
	if edits[1] != want {
		t.Errorf("edit 2 = %+v, want %+v", edits[1], want)
	}
	if got := edits[2]; !got.Deleted.Equal(got.Effective) || got.Indicator != 0 || got.Rationale != "Standards of medical § surgical practice" {
		t.Errorf("edit 3 = %+v", got)
	}
	if got := edits[3]; got.Indicator != 9 || !got.Deleted.Equal(day("2015-03-31")) || got.Column2 != "G0283" {
		t.Errorf("edit 4 = %+v", got)
	}
}

func TestLoadPTPProblems(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"not a PTP file", "HCPCS/CPT Code,MUE\n97110,4\n", "f.txt: no edit rows"},
		{"mistyped first code", "heading\n9753\t97140\t\t20200101\t*\t1\tx\n", "f.txt line 2: column 1 \"9753\" is not a procedure code"},
		{"row after rows", "97530\t97140\t\t20200101\t*\t1\tx\nfooter\n", "f.txt line 2: 1 tab-separated fields"},
		{"deleted before effective", "97530\t97140\t\t20200101\t20191231\t1\tx\n", "f.txt line 1: deletion date 20191231 is before"},
		{"not a date", "97530\t97140\t\t20200230\t*\t1\tx\n", "f.txt line 1: effective date: \"20200230\" is not a calendar date"},
		{"prior flag", "97530\t97140\tY\t20200101\t*\t1\tx\n", "f.txt line 1: the prior-to-1996 field must be * or blank"},
		{"duplicate", "97530\t97140\t\t20200101\t*\t1\tx\n\n97530\t97140\t\t20200101\t*\t0\ty\n", "f.txt line 3: edit 97530/97140 effective 20200101 repeats line 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edits, err := LoadPTP("f.txt", strings.NewReader(tt.in))
			if err == nil || edits != nil {
				t.Fatalf("LoadPTP = %v, %v", edits, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
	// A file of comments only is an empty set of edits, not a mistake.
	if edits, err := LoadPTP("f.txt", strings.NewReader("# none\n")); err != nil || len(edits) != 0 {
		t.Errorf("comment-only file: %v, %v", edits, err)
	}
}

func TestPTPForDates(t *testing.T) {
	edits, err := LoadPTP("f.txt", strings.NewReader(
		"97530\t97140\t\t20200101\t*\t1\tx\n"+
			"97161\t97530\t\t20200101\t20200101\t0\tdeleted retroactively\n"+
			"97150\t97110\t\t20200101\t20200401\t0\tfirst version\n"+
			"97150\t97110\t\t20201001\t*\t1\treinstated\n"+
			"97750\t97110\t\t20100101\t*\t9\tnot applicable\n"))
	if err != nil {
		t.Fatal(err)
	}
	indexed := &Rules{PTP: edits, ptpIndex: indexPTP(edits)}
	byHand := &Rules{PTP: edits}
	newYork, _ := time.LoadLocation("America/New_York")
	for _, tt := range []struct {
		a, b      string
		dos       time.Time
		want      string // rationale, "" for none
		col1      string
		indicator int
	}{
		{"97530", "97140", day("2020-01-01"), "x", "97530", 1},
		{"97140", "97530", day("2025-06-30"), "x", "97530", 1},
		{"97140", "97530", day("2019-12-31"), "", "", 0},
		// Late evening in New York is still that calendar date.
		{"97140", "97530", time.Date(2019, 12, 31, 23, 0, 0, 0, newYork), "", "", 0},
		{"97530", "97161", day("2020-01-01"), "", "", 0},
		{"97110", "97150", day("2020-03-31"), "first version", "97150", 0},
		{"97110", "97150", day("2020-04-01"), "", "", 0},
		{"97110", "97150", day("2020-09-30"), "", "", 0},
		{"97110", "97150", day("2020-10-01"), "reinstated", "97150", 1},
		{"97750", "97110", day("2024-01-01"), "", "", 0},
		{"97110", "97112", day("2024-01-01"), "", "", 0},
	} {
		for name, r := range map[string]*Rules{"indexed": indexed, "by hand": byHand} {
			e, ok := r.PTPFor(tt.a, tt.b, tt.dos)
			if ok != (tt.want != "") || e.Rationale != tt.want || (ok && (e.Column1 != tt.col1 || e.Indicator != tt.indicator)) {
				t.Errorf("%s: PTPFor(%s, %s, %s) = %+v, %v; want %q", name, tt.a, tt.b, tt.dos.Format(time.DateOnly), e, ok, tt.want)
			}
		}
	}
}

func TestDefaultPTPSeed(t *testing.T) {
	r := DefaultRules()
	if e, ok := r.PTPFor("97140", "97530", day("2026-03-02")); !ok || e.Column1 != "97530" || e.Indicator != 1 {
		t.Errorf("97530/97140 = %+v, %v", e, ok)
	}
	if e, ok := r.PTPFor("97166", "97530", day("2026-03-02")); ok {
		t.Errorf("the deleted 2020 evaluation edit is in force: %+v", e)
	}
}

func FuzzLoadPTP(f *testing.F) {
	f.Add([]byte(cmsPTP))
	f.Fuzz(func(t *testing.T, data []byte) {
		edits, err := LoadPTP("f.txt", bytes.NewReader(data))
		if err != nil {
			if edits != nil {
				t.Fatalf("edits and error %v", err)
			}
			for _, le := range LineErrors(err) {
				if le.File != "f.txt" || le.Line < 0 {
					t.Fatalf("problem %v does not name the file", le)
				}
			}
			return
		}
		for _, e := range edits {
			if !validNCCICode(e.Column1) || !validNCCICode(e.Column2) || e.Effective.IsZero() ||
				(!e.Deleted.IsZero() && e.Deleted.Before(e.Effective)) ||
				(e.Indicator != 0 && e.Indicator != 1 && e.Indicator != 9) || e.Source != "f.txt" {
				t.Fatalf("loaded an invalid edit %+v", e)
			}
		}
	})
}
