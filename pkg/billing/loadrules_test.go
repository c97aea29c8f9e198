package billing

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

func TestDefaultRules(t *testing.T) {
	r, err := LoadRules(DefaultRulesFS)
	if err != nil {
		for _, e := range LineErrors(err) {
			t.Error(e)
		}
		t.FailNow()
	}
	if r.Version == "" {
		t.Error("no version")
	}
	for _, plan := range PlanTypes {
		if _, ok := r.Payers[planPrefix+plan]; !ok {
			t.Errorf("no payer profile for plan:%s", plan)
		}
	}
	mcr := r.Payers["plan:medicare_part_b"]
	if mcr.UnitMethod != UnitMethodCMS || !mcr.KX || !mcr.DisciplineModifiers || !mcr.AssistantModifiers ||
		mcr.AssistantPaymentPercent != 85 || mcr.TimelyFilingDays != 365 || mcr.AppealDays != 120 ||
		mcr.DistinctModifier != "59" || mcr.TelehealthModifier != "95" || mcr.TelehealthPOSHome != "10" || mcr.TelehealthPOSOther != "02" || !mcr.ABNModifiers {
		t.Errorf("Medicare Part B profile %+v", mcr)
	}
	if c := r.Payers["plan:commercial"]; c.UnitMethod != UnitMethodAMA {
		t.Errorf("commercial default unit method %q, want ama", c.UnitMethod)
	}
	for year := 2021; year <= 2026; year++ {
		for _, b := range []string{BucketOT, BucketPTSLP} {
			if th, ok := r.Threshold(year, b); !ok || th.Cents <= 0 || th.Source == "" {
				t.Errorf("threshold %d %s = %+v, %v", year, b, th, ok)
			}
		}
	}
	if th, _ := r.Threshold(2024, BucketOT); th.Cents != 233000 {
		t.Errorf("2024 threshold %d cents, want 233000", th.Cents)
	}
	for _, k := range r.Catalog.Codes() {
		if c, ok := r.ChargeCents(k.Code); !ok || c <= 0 {
			t.Errorf("no charge for %s", k.Code)
		}
		for _, plan := range []string{events.PlanMedicarePartB, events.PlanMedicareAdvantage, events.PlanMedicaid, events.PlanCommercial} {
			if _, ok := r.Fees.Allowed[planPrefix+plan][k.Code]; !ok {
				t.Errorf("no allowed amount for %s under plan:%s", k.Code, plan)
			}
		}
		if _, ok := r.AllowedCents("", events.PlanWorkersComp, k.Code); !ok {
			t.Errorf("no fallback allowed amount for %s", k.Code)
		}
		// 15-minute treatment codes have no public MUE; none may be guessed.
		if m, ok := r.MUEFor(k.Code); ok && k.Timed && k.Code != "97032" && k.Code != "97035" {
			t.Errorf("MUE %+v for a timed code without a source", m)
		}
	}
	if len(r.PTP) == 0 || len(r.MUE) == 0 || len(r.Sources) == 0 {
		t.Errorf("PTP %d, MUE %d, sources %d", len(r.PTP), len(r.MUE), len(r.Sources))
	}
	if DefaultRules().Version != r.Version {
		t.Error("DefaultRules differs from LoadRules(DefaultRulesFS)")
	}
}

// TestDemoPayers: every payer the demo bills has its own profile.
func TestDemoPayers(t *testing.T) {
	r := DefaultRules()
	for _, id := range []string{"DMCR1", "DMCD1", "DNFH1", "DGRN1", "DNFA1", "DGRA1"} {
		if p, ok := r.Payer(id, "x"); !ok || p.Key != id {
			t.Errorf("Payer(%s) = %+v", id, p)
		}
	}
}

// setWith is the embedded set with some files replaced; a nil content
// removes the file.
func setWith(t *testing.T, files map[string]string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(DefaultRulesFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(DefaultRulesFS, p)
		m[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if data == "\x00" {
			delete(m, name)
			continue
		}
		m[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return m
}

const payersHeader = "key,name,unit_method,discipline_modifiers,assistant_modifiers,assistant_payment_percent,kx,distinct_modifier,telehealth_modifier,telehealth_pos_home,telehealth_pos_other,abn_modifiers,timely_filing_days,prior_auth_required,appeal_days\n"

func TestLoadRulesProblems(t *testing.T) {
	const removed = "\x00"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "file line N: fragment" or "file: fragment"
	}{
		{"bad unit_method", map[string]string{PayersFile: payersHeader +
			"plan:other,Other,cms,yes,no,100,no,59,95,10,02,no,90,no,90\n" +
			"P1,One,eight-minute,yes,no,100,no,59,95,10,02,no,90,no,90\n"},
			[]string{"payers.csv line 3: unit_method must be cms"}},
		{"bad payer fields", map[string]string{PayersFile: payersHeader +
			"# a comment\n" +
			"plan:other,Other,cms,maybe,no,101,no,XU,96,1,02,no,0,no,90\n" +
			"plan:hmo,HMO,ama,yes,no,100,no,59,none,10,02,no,90,no,90\n"},
			[]string{
				"payers.csv line 3: discipline_modifiers must be yes or no",
				"payers.csv line 3: assistant_payment_percent must be a whole number from 0 to 100",
				"payers.csv line 3: distinct_modifier must be 59 or X",
				"payers.csv line 3: telehealth_modifier must be 95, GT or none",
				"payers.csv line 3: telehealth_pos_home must be a two-digit",
				"payers.csv line 3: timely_filing_days must be a whole number of days",
				"payers.csv line 4: payer key \"plan:hmo\" names no plan type",
			}},
		{"duplicate payer and no plan:other", map[string]string{PayersFile: payersHeader +
			"P1,One,cms,yes,no,100,no,59,95,10,02,no,90,no,90\n" +
			"P1,One again,cms,yes,no,100,no,59,95,10,02,no,90,no,90\n"},
			[]string{"payers.csv line 3: payer key P1 repeats line 2"}},
		{"no plan:other", map[string]string{PayersFile: payersHeader +
			"P1,One,cms,yes,no,100,no,59,95,10,02,no,90,no,90\n"},
			[]string{"payers.csv: no row for plan:other"}},
		{"negative cents", map[string]string{FeesFile: "code,charge_cents\n97110,-6000\n"},
			[]string{"fees.csv line 2: charge_cents: \"-6000\" must be a whole number of cents"}},
		{"dollars for cents", map[string]string{AllowedFile: "payer_key,code,allowed_cents\n,97110,30.00\n"},
			[]string{"allowed.csv line 2: allowed_cents: \"30.00\" must be whole cents"}},
		{"fee code not in catalog", map[string]string{FeesFile: "# c\ncode,charge_cents\n97110,6000\n99213,12000\n"},
			[]string{"fees.csv line 4: code 99213 is not in codes.csv"}},
		{"missing charges", map[string]string{FeesFile: "code,charge_cents\n97110,6000\n"},
			[]string{"fees.csv: no charge for 52 codes of codes.csv: 97161, "}},
		{"duplicate allowed", map[string]string{AllowedFile: "payer_key,code,allowed_cents\nplan:medicaid,97110,2000\nplan:medicaid,97110,2100\nbad key,97110,1\n"},
			[]string{"allowed.csv line 3: payer \"plan:medicaid\" code 97110 repeats line 2", "allowed.csv line 4: payer key \"bad key\""}},
		{"thresholds", map[string]string{ThresholdsFile: "year,bucket,cents,source\n2026,ot,248000,x\n2026,ot,248000,x\n1990,pt_slp,1,x\n2027,pt,5,x\n2028,ot,0,x\n"},
			[]string{
				"kx_thresholds.csv line 3: threshold 2026 ot repeats line 2",
				"kx_thresholds.csv line 4: year must be from 1999 to 2100",
				"kx_thresholds.csv line 5: bucket must be ot or pt_slp",
				"kx_thresholds.csv line 6: cents: must be more than 0",
				"kx_thresholds.csv line 2: year 2026 has a threshold for ot but none for pt_slp",
			}},
		{"missing VERSION", map[string]string{VersionFile: removed},
			[]string{"VERSION: missing from the rules set"}},
		{"empty VERSION", map[string]string{VersionFile: "# just a comment\n"},
			[]string{"VERSION: no version line"}},
		{"two versions", map[string]string{VersionFile: "1.0\n\n1 .1\n"},
			[]string{"VERSION line 3: a second version line (the first is line 1)"}},
		{"missing files", map[string]string{MUEFile: removed, PTPFile: removed},
			[]string{"mue.csv: missing from the rules set", "ncci_ptp.txt: missing from the rules set"}},
		{"malformed PTP row", map[string]string{PTPFile: "Column 1\tColumn 2\n97530\t97140\t\t20200101\t*\t1\tok\n97530\t97116\t\t2020-10-01\t*\t1\tbad date\n97530\n"},
			[]string{
				"ncci_ptp.txt line 3: effective date: \"2020-10-01\" is not YYYYMMDD",
				"ncci_ptp.txt line 4: 1 tab-separated fields, want 7",
			}},
		{"malformed CMS PTP file among several", map[string]string{"CCIPRA-v313r0-f2.txt": "preamble\n97530\t97140\t\t20200101\t*\t2\tbad indicator\n"},
			[]string{"CCIPRA-v313r0-f2.txt line 2: modifier indicator must be 0, 1 or 9, not \"2\""}},
		{"bad MUE indicator", map[string]string{MUEFile: "\"HCPCS/CPT Code\",\"Practitioner Services MUE Values\",\"MUE Adjudication Indicator\",\"MUE Rationale\"\n92507,1,3 Date of Service Edit: Clinical,x\n92526,1,4 Unknown,x\n92610,one,2,x\n"},
			[]string{
				"mue.csv line 3: MUE adjudication indicator must start with 1, 2 or 3, not \"4 Unknown\"",
				"mue.csv line 4: MUE value must be a whole number of units",
			}},
		{"catalog problems pass through", map[string]string{CodesFile: "code,timed,add_on_to,disciplines,initial_minutes,description\n97110,X,,OT,,a\n"},
			[]string{"codes.csv line 2: timed must be T or U"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wantProblems(t, tt.files, tt.want)
			var le *LineError
			if !errors.As(err, &le) {
				t.Errorf("errors.As found no *LineError in %v", err)
			}
		})
	}
}

func TestPayerFallback(t *testing.T) {
	r := &Rules{Payers: map[string]PayerProfile{
		"P1":              {Key: "P1"},
		"plan:medicaid":   {Key: "plan:medicaid"},
		"plan:other":      {Key: "plan:other"},
		"plan:commercial": {Key: "plan:commercial"},
	}}
	for _, tt := range []struct{ id, plan, want string }{
		{"P1", "medicaid", "P1"},
		{"P2", "medicaid", "plan:medicaid"},
		{"", "commercial", "plan:commercial"},
		{"P2", "workers_comp", "plan:other"},
		{"", "", "plan:other"},
	} {
		if p, ok := r.Payer(tt.id, tt.plan); !ok || p.Key != tt.want {
			t.Errorf("Payer(%q, %q) = %q, %v; want %q", tt.id, tt.plan, p.Key, ok, tt.want)
		}
	}
	if _, ok := (&Rules{}).Payer("P1", "medicaid"); ok {
		t.Error("a set without plan:other found a profile")
	}

	r.Fees.Allowed = map[string]map[string]int64{
		"P1":            {"97110": 100},
		"plan:medicaid": {"97110": 200, "97112": 201},
		"":              {"97110": 300, "97112": 301, "97116": 302},
	}
	for _, tt := range []struct {
		id, plan, code string
		want           int64
		ok             bool
	}{
		{"P1", "medicaid", "97110", 100, true},
		{"P1", "medicaid", "97112", 201, true},
		{"P1", "medicaid", "97116", 302, true},
		{"", "", "97110", 300, true},
		{"P1", "medicaid", "97530", 0, false},
	} {
		if got, ok := r.AllowedCents(tt.id, tt.plan, tt.code); got != tt.want || ok != tt.ok {
			t.Errorf("AllowedCents(%q, %q, %s) = %d, %v; want %d, %v", tt.id, tt.plan, tt.code, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLineErrorsFlattens(t *testing.T) {
	a := &LineError{File: "a", Line: 1, Msg: "x"}
	b := &LineError{File: "b", Msg: "y"}
	got := LineErrors(errors.Join(a, errors.Join(b, errors.New("z"))))
	if len(got) != 3 || got[0] != a || got[1] != b || got[2].Msg != "z" {
		t.Errorf("LineErrors = %v", got)
	}
	if LineErrors(nil) != nil {
		t.Error("LineErrors(nil) is not nil")
	}
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestLoadRulesCMSFiles: the CMS quarterly files sit beside the seed and
// are read unrenamed; edits outside the catalog are counted, not kept.
func TestLoadRulesCMSFiles(t *testing.T) {
	r, err := LoadRules(setWith(t, map[string]string{
		PTPFile:                "\x00",
		"ccipra-v313r0-f1.txt": cmsPTP,
		"ccipra-v313r0-f2.txt": "Column 1\tColumn 2\n97530\t97116\t\t20201001\t*\t1\tMutually exclusive procedures\n",
		MUEFile:                cmsMUE,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.PTP) != 4 || r.PTPOutsideCatalog != 1 {
		t.Errorf("kept %d edits, dropped %d; want 4 and 1", len(r.PTP), r.PTPOutsideCatalog)
	}
	if e, ok := r.PTPFor("97116", "97530", day("2026-01-05")); !ok || e.Source != "ccipra-v313r0-f2.txt" {
		t.Errorf("PTPFor(97116, 97530) = %+v, %v", e, ok)
	}
	if m, ok := r.MUEFor("0001U"); !ok || m.Adjudication != 2 {
		t.Errorf("MUEFor(0001U) = %+v, %v", m, ok)
	}
}

// wantProblems loads the embedded rules with files replaced and checks that
// loading fails with each wanted problem (a prefix of a LineError); it
// returns the error.
func wantProblems(t *testing.T, files map[string]string, want []string) error {
	t.Helper()
	r, err := LoadRules(setWith(t, files))
	if err == nil || r != nil {
		t.Fatalf("LoadRules = %v, %v; want problems", r != nil, err)
	}
	var got []string
	for _, le := range LineErrors(err) {
		got = append(got, le.Error())
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no problem %q in\n%s", w, strings.Join(got, "\n"))
		}
	}
	return err
}
