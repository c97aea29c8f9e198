package billing

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultCatalogHasEveryTherapyCode(t *testing.T) {
	t.Parallel()
	// Every code in BILLING.md section 2, with its timed flag.
	want := map[string]bool{
		"97161": false, "97162": false, "97163": false, "97164": false,
		"97165": false, "97166": false, "97167": false, "97168": false,
		"92521": false, "92522": false, "92523": false, "92524": false, "92610": false,
		"97110": true, "97112": true, "97113": true, "97116": true, "97124": true,
		"97140": true, "97530": true, "97533": true, "97535": true, "97537": true,
		"97542": true, "97750": true, "97755": true, "97760": true, "97761": true,
		"97763": true, "97129": true, "97130": true, "97550": true, "97551": true,
		"97552": false, "97150": false, "92507": false, "92508": false, "92526": false,
		"97032": true, "97033": true, "97034": true, "97035": true, "97036": true,
		"97010": false, "97012": false, "97014": false, "97016": false, "97018": false,
		"97022": false, "97024": false, "97026": false, "97028": false, "G0283": false,
	}
	c := DefaultCatalog()
	for code, timed := range want {
		k, ok := c.Lookup(code)
		if !ok {
			t.Errorf("%s missing", code)
			continue
		}
		if k.Timed != timed {
			t.Errorf("%s: Timed = %v, want %v", code, k.Timed, timed)
		}
		if k.Description == "" || k.Disciplines == 0 {
			t.Errorf("%s: incomplete: %+v", code, k)
		}
	}
	if got := len(c.Codes()); got != len(want) {
		t.Errorf("catalog has %d codes, want %d", got, len(want))
	}
	if len(c.Sources()) == 0 {
		t.Error("no # source: lines kept")
	}
}

func TestDefaultCatalogDetails(t *testing.T) {
	t.Parallel()
	c := DefaultCatalog()
	tests := []struct {
		code       string
		addOnTo    string
		initial    int
		includes   []string
		excludes   []string
		discString string
	}{
		{code: "97130", addOnTo: "97129", includes: []string{"OT", "PT", "SLP"}, discString: "any"},
		{code: "97550", initial: 30, includes: []string{"OT", "PT", "SLP"}},
		{code: "97551", addOnTo: "97550"},
		{code: "97165", includes: []string{"OT"}, excludes: []string{"PT", "SLP"}, discString: "OT"},
		{code: "97161", includes: []string{"PT"}, excludes: []string{"OT", "SLP"}},
		{code: "92507", includes: []string{"SLP"}, excludes: []string{"OT", "PT"}},
		{code: "97530", includes: []string{"OT", "PT"}, excludes: []string{"SLP", "", "ot/pt"}, discString: "OT/PT"},
		{code: "92526", includes: []string{"OT", "SLP"}, discString: "OT/SLP"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			k, ok := c.Lookup(tt.code)
			if !ok {
				t.Fatalf("%s missing", tt.code)
			}
			if k.AddOnTo != tt.addOnTo || k.InitialMinutes != tt.initial {
				t.Errorf("AddOnTo, InitialMinutes = %q, %d; want %q, %d", k.AddOnTo, k.InitialMinutes, tt.addOnTo, tt.initial)
			}
			for _, d := range tt.includes {
				if !k.Disciplines.Includes(d) {
					t.Errorf("Disciplines %v should include %q", k.Disciplines, d)
				}
			}
			for _, d := range tt.excludes {
				if k.Disciplines.Includes(d) {
					t.Errorf("Disciplines %v should not include %q", k.Disciplines, d)
				}
			}
			if tt.discString != "" && k.Disciplines.String() != tt.discString {
				t.Errorf("Disciplines.String() = %q, want %q", k.Disciplines, tt.discString)
			}
		})
	}
}

func TestLookupForgivesCaseAndBlanks(t *testing.T) {
	t.Parallel()
	c := DefaultCatalog()
	for _, in := range []string{"G0283", "g0283", " G0283 "} {
		if k, ok := c.Lookup(in); !ok || k.Code != "G0283" {
			t.Errorf("Lookup(%q) = %+v, %v", in, k, ok)
		}
	}
	for _, in := range []string{"", "99213", "9711", "971100"} {
		if _, ok := c.Lookup(in); ok {
			t.Errorf("Lookup(%q) found a code", in)
		}
	}
}

const header = "code,timed,add_on_to,disciplines,initial_minutes,description\n"

func TestLoadCatalogAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		codes []string
	}{
		{"minimal", header + "97110,T,,OT/PT,,Exercise\n", []string{"97110"}},
		{"columns in another order",
			"description,code,disciplines,timed,initial_minutes,add_on_to\nExercise,97110,any,T,,\n",
			[]string{"97110"}},
		{"byte order mark and CRLF", "\ufeff" + strings.ReplaceAll(header+"97110,T,,PT,,Exercise\n", "\n", "\r\n"),
			[]string{"97110"}},
		{"comments, blank lines, padding",
			"# source: somewhere\n\n" + header + "# evals\n 97165 , U , , OT , , \"OT eval, low\"\n\n,,,,,\n",
			[]string{"97165"}},
		{"add-on before its base", header + "97130,T,97129,any,,More\n97129,T,,any,,First\n",
			[]string{"97130", "97129"}},
		{"HCPCS and CPT category III", header + "G0283,U,,OT/PT,,Stim\n0552T,T,,PT,,Laser\n",
			[]string{"G0283", "0552T"}},
		{"initial minutes", header + "97550,T,,any,30,Caregiver\n", []string{"97550"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadCatalog(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range c.Codes() {
				got = append(got, k.Code)
			}
			if strings.Join(got, " ") != strings.Join(tt.codes, " ") {
				t.Errorf("codes = %v, want %v", got, tt.codes)
			}
		})
	}
}

func TestLoadCatalogKeepsSources(t *testing.T) {
	t.Parallel()
	c, err := LoadCatalog(strings.NewReader("# a comment\n# source: CMS MCPM ch. 5\n#source: none\n# source:   \n" + header + "97110,T,,OT,,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sources(); len(got) != 1 || got[0] != "CMS MCPM ch. 5" {
		t.Errorf("Sources() = %q", got)
	}
}

func TestLoadCatalogRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string // each a line of the error, in order
	}{
		{"empty", "", []string{"codes.csv: no header line (want code,timed,add_on_to,disciplines,initial_minutes,description)"}},
		{"comments only", "# nothing\n\n", []string{"codes.csv: no header line (want code,timed,add_on_to,disciplines,initial_minutes,description)"}},
		{"header only", header, []string{"codes.csv: no codes"}},
		{"unknown and missing column", "code,timed,addon,disciplines,initial_minutes,description\n", []string{
			`codes.csv line 1: unknown column "addon" in header (want code,timed,add_on_to,disciplines,initial_minutes,description)`,
			`codes.csv line 1: header lacks column "add_on_to"`,
		}},
		{"column twice", "code,timed,add_on_to,disciplines,initial_minutes,description,code\n", []string{
			`codes.csv line 1: column "code" appears twice in header`,
		}},
		{"timed", "# comment\n" + header + "97110,X,,OT,,Exercise\n", []string{
			`codes.csv line 3: timed must be T or U, not "X"`,
		}},
		{"lower-case timed", header + "97110,t,,OT,,Exercise\n", []string{
			`codes.csv line 2: timed must be T or U, not "t"`,
		}},
		{"every problem at once", header + "9711,T,,OT,,Exercise\n97112,T,,OX,,NMR\n97140,T,,PT,,\n", []string{
			`codes.csv line 2: code "9711" must be a CPT code (4 digits, then a digit, F, T or U) or a HCPCS code (capital letter, 4 digits)`,
			`codes.csv line 3: disciplines must be OT, PT, SLP joined by / or "any", not "OX"`,
			`codes.csv line 4: description is empty`,
		}},
		{"lower-case code", header + "g0283,U,,PT,,Stim\n", []string{
			`codes.csv line 2: code "g0283" must be a CPT code (4 digits, then a digit, F, T or U) or a HCPCS code (capital letter, 4 digits)`,
		}},
		{"duplicate", header + "97110,T,,OT,,a\n\n97110,T,,OT,,b\n", []string{
			`codes.csv line 4: code 97110 repeats line 2`,
		}},
		{"field count", header + "97110,T,,OT,Exercise\n97112,T,,OT,,NMR,extra\n", []string{
			`codes.csv line 2: 5 fields, but the header has 6`,
			`codes.csv line 3: 7 fields, but the header has 6`,
		}},
		{"add-on of itself", header + "97130,T,97130,any,,x\n", []string{
			`codes.csv line 2: add_on_to names the code itself`,
		}},
		{"add-on base missing", header + "97130,T,97129,any,,x\n", []string{
			`codes.csv line 2: add_on_to 97129 is not a code in this file`,
		}},
		{"add-on chain", header + "97129,T,,any,,a\n97130,T,97129,any,,b\n97131,T,97130,any,,c\n", []string{
			`codes.csv line 4: add_on_to 97130 is itself an add-on code`,
		}},
		{"add-on not a code", header + "97130,T,abc,any,,x\n", []string{
			`codes.csv line 2: add_on_to "abc" is not a procedure code`,
		}},
		{"initial minutes", header + "97550,T,,any,half,a\n97551,T,,any,0,b\n97552,U,,any,30,c\n", []string{
			`codes.csv line 2: initial_minutes must be a whole number of minutes from 1 to 1440, not "half"`,
			`codes.csv line 3: initial_minutes must be a whole number of minutes from 1 to 1440, not "0"`,
			`codes.csv line 4: initial_minutes is only for timed codes`,
		}},
		{"bad quoting stops at first", header + "97110,T,,OT,,ok\n97112,T,,OT,,\"unclosed\n97140,T,,OT,,x\n", []string{
			`codes.csv line 3: extraneous or missing " in quoted-field`,
		}},
		{"bare quote", header + "97110,T,,OT,,the \"best\" code\n", []string{
			`codes.csv line 2: bare " in non-quoted-field`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadCatalog(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("no error; catalog %+v", c.Codes())
			}
			if c != nil {
				t.Error("a catalog came back with the error")
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
			var le *LineError
			if !errors.As(err, &le) || le.File != CodesFile {
				t.Errorf("errors.As(*LineError) = %v, %+v", errors.As(err, &le), le)
			}
		})
	}
}

func TestLoadCatalogStopsAfterManyProblems(t *testing.T) {
	t.Parallel()
	in := header + strings.Repeat("97110,X,,OT,,a\n", 500)
	_, err := LoadCatalog(strings.NewReader(in))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxReportedProblems+1 || lines[len(lines)-1] != "codes.csv: too many problems; stopped reading" {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestLoadCatalogRefusesHugeFile(t *testing.T) {
	t.Parallel()
	in := header + strings.Repeat("#", maxRulesFileSize)
	if _, err := LoadCatalog(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestLoadCatalogReadError(t *testing.T) {
	t.Parallel()
	_, err := LoadCatalog(failingReader{})
	if err == nil || err.Error() != "codes.csv: read: disk on fire" {
		t.Errorf("err = %v", err)
	}
}

func TestParseDisciplines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Disciplines
		ok   bool
	}{
		{"OT", OT, true},
		{"PT/OT", OT | PT, true},
		{"OT / SLP", OT | SLP, true},
		{"any", AnyDiscipline, true},
		{"ANY", AnyDiscipline, true},
		{"OT/PT/SLP", AnyDiscipline, true},
		{"", 0, false},
		{"OT/", 0, false},
		{"OT,PT", 0, false},
		{"OTA", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDisciplines(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDisciplines(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	c := DefaultCatalog()
	for b.Loop() {
		if _, ok := c.Lookup("97530"); !ok {
			b.Fatal("missing")
		}
	}
}
