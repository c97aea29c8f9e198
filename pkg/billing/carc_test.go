package billing

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// TestClassifyAdjustment covers the rows of shared/domain/BILLING.md
// section 7 and the remark codes it names.
func TestClassifyAdjustment(t *testing.T) {
	r := DefaultRules()
	const (
		contractual = events.PostingContractual
		patient     = events.PostingPatient
		denied      = events.PostingDenied
		other       = events.PostingOther
	)
	tests := []struct {
		group, reason string
		rarcs         []string
		posting       string
		category      string
		appealable    bool
		corrected     bool
		newClaim      bool
	}{
		// Not denials.
		{"CO", "45", nil, contractual, "", false, false, false},
		{"PR", "45", nil, patient, "", false, false, false},
		{"PR", "1", nil, patient, "", false, false, false},
		{"PR", "2", nil, patient, "", false, false, false},
		{"PR", "3", nil, patient, "", false, false, false},
		{"CO", "253", nil, contractual, "", false, false, false},
		{"CO", "59", nil, contractual, "", false, false, false},
		{"OA", "23", nil, other, "", false, false, false},
		{"OA", "94", nil, other, "", false, false, false},
		// Cost sharing under another group than PR is not the patient's.
		{"CO", "2", nil, contractual, "", false, false, false},
		{"OA", "1", nil, other, "", false, false, false},
		// Coding.
		{"CO", "4", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "5", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "58", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "8", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "170", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "185", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "11", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "146", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "167", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "181", nil, denied, events.CategoryCoding, true, true, false},
		{"CO", "182", nil, denied, events.CategoryCoding, true, true, false},
		// Missing information: read the remarks, resubmit rather than appeal.
		{"CO", "16", []string{"N290"}, denied, events.CategoryMissingInformation, false, true, false},
		{"CO", "16", []string{"M51", "MA130"}, denied, events.CategoryMissingInformation, false, true, true},
		{"CO", "16", []string{"M62"}, denied, events.CategoryAuthorization, false, true, false},
		// Bundling.
		{"CO", "97", []string{"M15"}, denied, events.CategoryBundling, true, true, false},
		{"CO", "236", nil, denied, events.CategoryBundling, true, true, false},
		{"CO", "234", []string{"N20"}, denied, events.CategoryBundling, true, true, false},
		// Medical necessity.
		{"CO", "50", []string{"N115"}, denied, events.CategoryMedicalNecessity, true, false, false},
		{"CO", "151", nil, denied, events.CategoryMedicalNecessity, true, false, false},
		// Patient liable with an ABN: patient responsibility, not a denial.
		{"PR", "50", nil, patient, "", true, false, false},
		// Coverage.
		{"CO", "96", []string{"N425"}, denied, events.CategoryEligibility, true, false, false},
		{"CO", "204", nil, denied, events.CategoryEligibility, false, false, false},
		{"PR", "204", nil, patient, "", false, false, false},
		{"CO", "119", nil, denied, events.CategoryBenefitMaximum, true, false, false},
		// Authorization.
		{"CO", "197", nil, denied, events.CategoryAuthorization, true, false, false},
		{"CO", "15", nil, denied, events.CategoryAuthorization, true, true, false},
		{"CO", "198", nil, denied, events.CategoryAuthorization, true, false, false},
		{"CO", "284", nil, denied, events.CategoryAuthorization, true, true, false},
		// Duplicates, with OA as X12 asks and CO as workers' comp may send.
		{"CO", "18", nil, denied, events.CategoryDuplicate, false, false, false},
		{"OA", "18", nil, denied, events.CategoryDuplicate, false, false, false},
		// Timely filing: appealable with proof, except where N211 says no.
		{"CO", "29", nil, denied, events.CategoryTimelyFiling, true, false, false},
		{"CO", "29", []string{"N211"}, denied, events.CategoryTimelyFiling, false, false, false},
		// Coordination of benefits and eligibility.
		{"CO", "22", nil, denied, events.CategoryCoordinationOfBenefits, false, false, false},
		{"CO", "26", nil, denied, events.CategoryEligibility, false, false, false},
		{"CO", "27", nil, denied, events.CategoryEligibility, false, false, false},
		{"CO", "31", nil, denied, events.CategoryEligibility, false, true, false},
		{"CO", "109", nil, denied, events.CategoryEligibility, false, false, false},
		// A generic denial takes its category from the remarks.
		{"CO", "A1", []string{"N30"}, denied, events.CategoryEligibility, true, false, false},
		{"CO", "A1", []string{"N16", "N640"}, denied, events.CategoryBenefitMaximum, true, false, false},
		// Remark effects.
		{"CO", "16", []string{"N380"}, denied, events.CategoryMissingInformation, false, true, false},
		{"CO", "50", []string{"N210", "N211"}, denied, events.CategoryMedicalNecessity, false, false, false},
		{"CO", "204", []string{"N210"}, denied, events.CategoryEligibility, true, false, false},
		{"CO", "4", []string{"MA130", "N210"}, denied, events.CategoryCoding, false, true, true},
		// Codes as systems print them.
		{" co ", "045", nil, contractual, "", false, false, false},
		{"CO", "a1", []string{" n30 "}, denied, events.CategoryEligibility, true, false, false},
		// Codes the catalog lacks.
		{"CO", "999", nil, other, "", false, false, false},
		{"PR", "999", nil, patient, "", false, false, false},
	}
	for _, tt := range tests {
		name := strings.Join(append([]string{tt.group + "-" + tt.reason}, tt.rarcs...), "+")
		t.Run(name, func(t *testing.T) {
			c := r.ClassifyAdjustment(tt.group, tt.reason, tt.rarcs)
			if c.Posting != tt.posting || c.Category != tt.category || c.Appealable != tt.appealable ||
				c.CorrectedClaim != tt.corrected || c.NewClaim != tt.newClaim {
				t.Errorf("got posting %s, category %q, appealable %v, corrected %v, new claim %v; want %s, %q, %v, %v, %v",
					c.Posting, c.Category, c.Appealable, c.CorrectedClaim, c.NewClaim,
					tt.posting, tt.category, tt.appealable, tt.corrected, tt.newClaim)
			}
			if c.Action == "" || c.Text == "" || len(c.Remarks) != len(tt.rarcs) {
				t.Errorf("action %q, text %q, %d remarks for %d codes", c.Action, c.Text, len(c.Remarks), len(tt.rarcs))
			}
			if p := r.Posting(tt.group, tt.reason); p != c.Posting {
				t.Errorf("Posting = %s, ClassifyAdjustment's %s", p, c.Posting)
			}
			if _, ok := r.CARC(tt.reason); ok != c.Known {
				t.Errorf("Known %v, CARC found %v", c.Known, ok)
			}
		})
	}
}

func TestClassifyAdjustmentTexts(t *testing.T) {
	r := DefaultRules()
	notIn := " (not in catalog version " + r.Version + ")"

	c := r.ClassifyAdjustment("CO", "16", []string{"N290", "MA130", "N9999"})
	for _, want := range []string{"Unprocessable (MA130)", "new claim", "N290: Rendering provider NPI", "RARC N9999" + notIn} {
		if !strings.Contains(c.Action, want) {
			t.Errorf("CO-16 action lacks %q: %s", want, c.Action)
		}
	}
	if c.Remarks[2].Code != "N9999" || c.Remarks[2].Text != "RARC N9999"+notIn {
		t.Errorf("unknown remark %+v", c.Remarks[2])
	}

	// A CARC that does not read its remarks keeps its own action, but the
	// remarks' effects still show.
	c = r.ClassifyAdjustment("CO", "29", []string{"N211"})
	if !strings.HasSuffix(c.Action, "Not appealable (N211).") || strings.Contains(c.Action, "Remarks:") {
		t.Errorf("CO-29 action: %s", c.Action)
	}

	c = r.ClassifyAdjustment("CO", "999", []string{"N290"})
	if c.Known || c.Text != "CARC 999"+notIn || !strings.Contains(c.Action, "carc.csv") || !strings.Contains(c.Action, "N290: ") {
		t.Errorf("unknown CARC: %+v", c)
	}
	if got := r.CARCText("0999"); got != "CARC 999"+notIn {
		t.Errorf("CARCText = %q", got)
	}
	if got := r.RARCText(" n211"); got != "This decision cannot be appealed." {
		t.Errorf("RARCText(N211) = %q", got)
	}
	if got := r.RARCText("N9999"); got != "RARC N9999"+notIn {
		t.Errorf("RARCText = %q", got)
	}
}

// TestCARCCatalog checks the embedded catalogs as a whole.
func TestCARCCatalog(t *testing.T) {
	r := DefaultRules()
	if len(r.CARCs) < 250 || len(r.RARCs) < 1000 {
		t.Fatalf("%d CARCs and %d RARCs; the embedded lists have about 390 and 1080", len(r.CARCs), len(r.RARCs))
	}
	for n := 1; n <= 305; n++ {
		if _, ok := r.CARCs[strconv.Itoa(n)]; !ok {
			t.Errorf("no CARC %d", n)
		}
	}
	for _, code := range []string{"A1", "B15", "P13", "P29", "D23", "W1"} {
		if _, ok := r.CARC(code); !ok {
			t.Errorf("no CARC %s", code)
		}
	}
	for _, code := range []string{"N211", "M15", "M20", "N290", "MA130", "MA01", "M144", "N885"} {
		if m, ok := r.RARC(code); !ok || m.Text == "" {
			t.Errorf("RARC %s = %+v, %v", code, m, ok)
		}
	}
	if m, _ := r.RARC("N211"); m.Effect != RemarkNotAppealable || !m.Alert {
		t.Errorf("N211 %+v", m)
	}
	if m, _ := r.RARC("MA130"); m.Effect != RemarkNewClaim {
		t.Errorf("MA130 %+v", m)
	}

	seen := map[string]bool{}
	for code, c := range r.CARCs {
		seen[c.Category] = true
		if c.Code != code || c.Text == "" || c.Action == "" {
			t.Errorf("CARC %s: %+v", code, c)
		}
		if (c.Category != "") != (c.DefaultPosting == events.PostingDenied) {
			t.Errorf("CARC %s: category %q with default posting %s", code, c.Category, c.DefaultPosting)
		}
		if !c.Stopped.IsZero() && !c.Deactivated {
			t.Errorf("CARC %s has a stop date but is active", code)
		}
		// Posting and ClassifyAdjustment agree for every group.
		for _, g := range []string{GroupContractual, GroupPatient, GroupOther, GroupPayerInitiated, GroupCorrection} {
			cl := r.ClassifyAdjustment(g, code, nil)
			if p := r.Posting(g, code); p != cl.Posting {
				t.Errorf("%s-%s: Posting %s, ClassifyAdjustment %s", g, code, p, cl.Posting)
			}
			if (cl.Category != "") != (cl.Posting == events.PostingDenied) {
				t.Errorf("%s-%s: category %q posted %s", g, code, cl.Category, cl.Posting)
			}
		}
	}
	for _, cat := range DenialCategories {
		if !seen[cat] {
			t.Errorf("no CARC of category %s", cat)
		}
	}

	// Deactivated codes stay readable, with the stop date when known.
	if c, _ := r.CARC("17"); !c.Deactivated || !c.Stopped.Equal(time.Date(2009, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("CARC 17 %+v", c)
	}
	if c, _ := r.CARC("15"); !c.Deactivated || !c.Stopped.IsZero() || c.Category != events.CategoryAuthorization {
		t.Errorf("CARC 15 %+v", c)
	}
	if c, _ := r.CARC("45"); c.Deactivated {
		t.Errorf("CARC 45 %+v", c)
	}

	var carcSources, rarcSources int
	for _, s := range r.Sources {
		if strings.HasPrefix(s, CARCFile+": ") {
			carcSources++
		}
		if strings.HasPrefix(s, RARCFile+": ") {
			rarcSources++
		}
	}
	if carcSources == 0 || rarcSources == 0 {
		t.Errorf("%d sources for %s, %d for %s", carcSources, CARCFile, rarcSources, RARCFile)
	}
}

func TestAppealDeadline(t *testing.T) {
	remit := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	mcr := DefaultRules().Payers["plan:medicare_part_b"]
	if d, ok := AppealDeadline(mcr, remit); !ok || !d.Equal(time.Date(2027, 3, 20, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Medicare deadline %v, %v", d, ok)
	}
	if _, ok := AppealDeadline(PayerProfile{AppealDays: 0}, remit); ok {
		t.Error("a deadline without appeal days")
	}
	if _, ok := AppealDeadline(mcr, time.Time{}); ok {
		t.Error("a deadline without a remittance date")
	}
	r := DefaultRules()
	if _, ok := r.ClassifyAdjustment("CO", "29", []string{"N211"}).AppealDeadline(mcr, remit); ok {
		t.Error("a deadline for a decision that cannot be appealed")
	}
	if d, ok := r.ClassifyAdjustment("CO", "50", nil).AppealDeadline(PayerProfile{AppealDays: 90}, remit); !ok || !d.Equal(remit.AddDate(0, 0, 90)) {
		t.Errorf("CO-50 deadline %v, %v", d, ok)
	}
}

const (
	carcHeader = "code,text,category,default_posting,action,appealable,corrected_claim,reads_remarks,deactivated\n"
	rarcHeader = "code,text,category,effect,alert\n"
)

func TestLoadCARCProblems(t *testing.T) {
	const removed = "\x00"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "file line N: fragment" or "file: fragment"
	}{
		{"bad CARC rows", map[string]string{CARCFile: "# comment\n" + carcHeader +
			"45,Above the fee schedule,none,contractual,Write off,no,no,no,no\n" +
			"45,Again,none,contractual,Write off,no,no,no,no\n" +
			"045,Leading zero,none,contractual,Write off,no,no,no,no\n" +
			"AA1,Two letters,none,other,x,no,no,no,no\n" +
			"4,Modifier,codes,denied,Fix it,yes,yes,no,no\n" +
			"5,POS,coding,contractual,Fix it,yes,yes,no,no\n" +
			"6,Age,none,denied,Fix it,yes,yes,no,no\n" +
			"7,,coding,denied,,maybe,Y,no,2020-13-01\n" +
			"8,Provider,coding,billed,Fix,yes,yes,no,no\n"},
			[]string{
				"carc.csv line 4: CARC 45 repeats line 3",
				"carc.csv line 5: code \"045\" is not a CARC",
				"carc.csv line 6: code \"AA1\" is not a CARC",
				"carc.csv line 7: category must be none or one of coding, ",
				"carc.csv line 8: default_posting must be denied for a denial category (coding), not \"contractual\"",
				"carc.csv line 9: default_posting denied needs a denial category, not none",
				"carc.csv line 10: text is empty",
				"carc.csv line 10: action is empty",
				"carc.csv line 10: appealable must be yes or no, not \"maybe\"",
				"carc.csv line 10: corrected_claim must be yes or no, not \"Y\"",
				"carc.csv line 10: deactivated must be no, yes or a stop date YYYY-MM-DD, not \"2020-13-01\"",
				"carc.csv line 11: default_posting must be contractual, patient_responsibility, denied or other, not \"billed\"",
			}},
		{"CARC header", map[string]string{CARCFile: "code,text,category,posting,action,appealable,corrected_claim,reads_remarks,deactivated\n"},
			[]string{"carc.csv line 1: unknown column \"posting\"", "carc.csv line 1: header lacks column \"default_posting\""}},
		{"no CARCs", map[string]string{CARCFile: carcHeader},
			[]string{"carc.csv: no codes"}},
		{"bad RARC rows", map[string]string{RARCFile: rarcHeader +
			"N211,Cannot be appealed,,not_appealable,yes\n" +
			"N211,Again,,,no\n" +
			"MA1,Short MA,,,no\n" +
			"N0,Zero,,,no\n" +
			"X1,Not a remark,,,no\n" +
			"M15,Bundled,bundled,,no\n" +
			"N380,Corrected,,replace,no\n" +
			"N290,,missing_information,,y\n"},
			[]string{
				"rarc.csv line 3: RARC N211 repeats line 2",
				"rarc.csv line 4: code \"MA1\" is not a RARC",
				"rarc.csv line 5: code \"N0\" is not a RARC",
				"rarc.csv line 6: code \"X1\" is not a RARC",
				"rarc.csv line 7: category must be empty or one of coding, ",
				"rarc.csv line 8: effect must be empty or one of not_appealable, ",
				"rarc.csv line 9: text is empty",
				"rarc.csv line 9: alert must be yes or no, not \"y\"",
			}},
		{"missing catalogs", map[string]string{CARCFile: removed, RARCFile: removed},
			[]string{"carc.csv: missing from the rules set", "rarc.csv: missing from the rules set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblems(t, tt.files, tt.want)
		})
	}
}

// TestLoadCARCSmallSet: a hand-made catalog loads, and lookups degrade for
// what it lacks.
func TestLoadCARCSmallSet(t *testing.T) {
	r, err := LoadRules(setWith(t, map[string]string{
		CARCFile: carcHeader +
			"45,Above the fee schedule,none,contractual,Write off,no,no,no,no\n" +
			"\"16\",\"Missing information, see remarks\",missing_information,denied,\"Read the remarks, fix, resubmit\",no,yes,yes,no\n" +
			"D1,Old code,missing_information,denied,Resubmit,no,yes,no,2003-10-16\n" +
			"15,Old auth code,authorization,denied,Fix the number,yes,yes,no,yes\n",
		RARCFile: rarcHeader + "N290,Rendering NPI missing,missing_information,,no\nMA01,You may appeal,,appealable,yes\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.CARCs) != 4 || len(r.RARCs) != 2 {
		t.Fatalf("%d CARCs, %d RARCs", len(r.CARCs), len(r.RARCs))
	}
	if c, _ := r.CARC("16"); c.Text != "Missing information, see remarks" || !c.ReadsRemarks || !c.CorrectedClaim || c.Appealable {
		t.Errorf("CARC 16 %+v", c)
	}
	if c, _ := r.CARC("D1"); !c.Deactivated || c.Stopped.Format(time.DateOnly) != "2003-10-16" {
		t.Errorf("CARC D1 %+v", c)
	}
	if c := r.ClassifyAdjustment("CO", "16", []string{"N290", "MA130"}); c.Category != events.CategoryMissingInformation ||
		!strings.Contains(c.Action, "MA130 (not in catalog version") || c.NewClaim {
		t.Errorf("CO-16 in a small set: %+v", c)
	}
	if c := r.ClassifyAdjustment("CO", "50", nil); c.Known || c.Posting != events.PostingOther {
		t.Errorf("CO-50 in a small set: %+v", c)
	}
}

func TestValidCodes(t *testing.T) {
	for s, want := range map[string]bool{
		"1": true, "45": true, "305": true, "999": true, "A0": true, "B23": true, "P13": true,
		"": false, "0": false, "045": false, "1000": false, "A": false, "AA1": false, "a1": false, "A123": false,
	} {
		if got := validCARC(s); got != want {
			t.Errorf("validCARC(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"M1": true, "M144": true, "MA01": true, "MA130": true, "N1": true, "N885": true, "N1234": true,
		"": false, "M": false, "M0": false, "M01": false, "MA": false, "MA1": false, "MA00": false, "MA012": false,
		"N0": false, "N12345": false, "X1": false, "n1": false,
	} {
		if got := validRARC(s); got != want {
			t.Errorf("validRARC(%q) = %v", s, got)
		}
	}
}
