package billing_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// testRules is a small rules set written out in full, so that these tests
// check the coder's logic and not the shipped data.
func testRules() *billing.Rules {
	medicare := billing.PayerProfile{Key: "plan:medicare_part_b", UnitMethod: "cms", DisciplineModifiers: true, AssistantModifiers: true,
		AssistantPaymentPercent: 85, KX: true, DistinctModifier: "59", TelehealthModifier: "95", TelehealthPOSHome: "10", TelehealthPOSOther: "02", ABNModifiers: true}
	commercial := billing.PayerProfile{Key: "plan:commercial", UnitMethod: "ama", DisciplineModifiers: false, DistinctModifier: "X",
		TelehealthModifier: "95", TelehealthPOSHome: "10", TelehealthPOSOther: "02"}
	other := commercial
	other.Key = "plan:other"
	charges := map[string]int64{}
	allowed := map[string]int64{}
	for _, c := range billing.DefaultCatalog().Codes() {
		charges[c.Code] = 10000 // $100 a unit
		allowed[c.Code] = 3000  // $30 a unit
	}
	return &billing.Rules{
		Version:    "test-1",
		Catalog:    billing.DefaultCatalog(),
		Payers:     map[string]billing.PayerProfile{medicare.Key: medicare, commercial.Key: commercial, other.Key: other},
		Thresholds: []billing.Threshold{{Year: 2026, Bucket: "ot", Cents: 248000}, {Year: 2026, Bucket: "pt_slp", Cents: 248000}},
		PTP: []billing.PTPEdit{
			{Column1: "97530", Column2: "97140", Effective: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Indicator: 1, Source: "test"},
			{Column1: "97167", Column2: "97168", Effective: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Indicator: 0, Source: "test"},
		},
		MUE:  map[string]billing.MUE{},
		Fees: billing.FeeSchedule{Charges: charges, Allowed: map[string]map[string]int64{"": allowed}},
	}
}

func visit(discipline, plan string, svcs ...events.Service) *events.Visit {
	v := &events.Visit{
		Source: "emr", SourceVisitID: "v1", Revision: 1, DateOfService: "2026-03-02", PlaceOfService: "11",
		RenderingProvider: events.RenderingProvider{Discipline: discipline},
		Coverage:          events.Coverage{PayerID: "P1", PlanType: plan},
		Diagnoses:         []string{"I69351"},
		Services:          svcs,
	}
	for i := range v.Services {
		v.Services[i].DiagnosisPointers = []int{1}
	}
	return v
}

func svc(code string, minutes int) events.Service {
	return events.Service{Code: code, Minutes: minutes}
}

// line is what a test expects of a coded line.
type line struct {
	code      string
	units     int
	modifiers string // space-separated
}

func lines(c billing.Coding) []line {
	var out []line
	for _, l := range c.Lines {
		out = append(out, line{l.Code, l.Units, strings.Join(l.Modifiers, " ")})
	}
	return out
}

func issueCodes(c billing.Coding) []string {
	var out []string
	for _, is := range c.Issues {
		out = append(out, is.Code+":"+is.Severity)
	}
	return out
}

func TestCodeVisit(t *testing.T) {
	t.Parallel()
	rules := testRules()
	withAssistant := func(v *events.Visit, kind string) *events.Visit {
		v.RenderingProvider.Assistant = &events.Assistant{Kind: kind}
		return v
	}
	cases := []struct {
		name   string
		visit  *events.Visit
		ytd    int64
		method string
		want   []line
		issues []string
	}{
		{name: "OT Medicare, two timed codes pooled", visit: visit("OT", "medicare_part_b", svc("97530", 23), svc("97535", 15)),
			want: []line{{"97530", 2, "GO"}, {"97535", 1, "GO"}}},
		{name: "PT Medicare with untimed evaluation first", visit: visit("PT", "medicare_part_b", svc("97161", 30), svc("97110", 20)),
			want: []line{{"97161", 1, "GP"}, {"97110", 1, "GP"}}},
		{name: "SLP gets GN", visit: visit("SLP", "medicare_part_b", svc("92507", 45)),
			want: []line{{"92507", 1, "GN"}}},
		{name: "commercial AMA: each code alone, no discipline modifier", visit: visit("OT", "commercial", svc("97530", 10), svc("97535", 7)),
			want: []line{{"97530", 1, ""}}},
		{name: "CMS pools three short services into one unit", visit: visit("PT", "medicare_part_b", svc("97110", 7), svc("97140", 7), svc("97112", 7)),
			want: []line{{"97110", 1, "GP"}}},
		{name: "AMA bills none of three short services", visit: visit("PT", "medicare_part_b", svc("97110", 7), svc("97140", 7), svc("97112", 7)), method: "ama",
			issues: []string{"visit.no_billable_lines:error"}},
		{name: "repeated timed code merged onto one line", visit: visit("OT", "medicare_part_b", svc("97530", 10), svc("97530", 14)),
			want: []line{{"97530", 2, "GO"}}},
		{name: "OTA furnished part: CO line at 85%", visit: withAssistant(visit("OT", "medicare_part_b",
			events.Service{Code: "97530", Minutes: 13, AssistantMinutes: 23}), "OTA"),
			want: []line{{"97530", 1, "GO"}, {"97530", 1, "GO CO"}}},
		{name: "NCCI indicator 1 without a distinct block is held", visit: visit("OT", "medicare_part_b", svc("97530", 23), svc("97140", 15)),
			want: []line{{"97530", 2, "GO"}, {"97140", 1, "GO"}}, issues: []string{"ncci.bundled:error"}},
		{name: "NCCI indicator 1 in a distinct block gets 59 on column 2", visit: func() *events.Visit {
			v := visit("OT", "medicare_part_b", svc("97530", 23), svc("97140", 15))
			v.Services[1].DistinctTimeBlock = true
			return v
		}(), want: []line{{"97530", 2, "GO"}, {"97140", 1, "GO 59"}}},
		{name: "commercial X policy gives XU", visit: func() *events.Visit {
			v := visit("OT", "commercial", svc("97530", 23), svc("97140", 15))
			v.Services[1].DistinctTimeBlock = true
			return v
		}(), want: []line{{"97530", 2, ""}, {"97140", 1, "XU"}}},
		{name: "NCCI indicator 0 is flagged, never bypassed", visit: func() *events.Visit {
			v := visit("OT", "medicare_part_b", svc("97167", 60), svc("97168", 30))
			v.Services[1].DistinctTimeBlock = true
			return v
		}(), want: []line{{"97167", 1, "GO"}, {"97168", 1, "GO"}}, issues: []string{"ncci.not_separately_payable:error"}},
		{name: "telehealth at home: 95, POS 10 fine", visit: func() *events.Visit {
			v := visit("OT", "medicare_part_b", svc("97535", 30))
			v.Telehealth, v.PlaceOfService = true, "10"
			return v
		}(), want: []line{{"97535", 2, "GO 95"}}},
		{name: "telehealth with an office place of service is held", visit: func() *events.Visit {
			v := visit("OT", "medicare_part_b", svc("97535", 30))
			v.Telehealth = true
			return v
		}(), want: []line{{"97535", 2, "GO 95"}}, issues: []string{"telehealth.place_of_service:error"}},
		{name: "ABN signed gives GA", visit: func() *events.Visit {
			v := visit("PT", "medicare_part_b", svc("97110", 30))
			v.ABN = &events.ABN{Status: "signed"}
			return v
		}(), want: []line{{"97110", 2, "GP GA"}}},
		{name: "below the threshold: no KX", visit: visit("OT", "medicare_part_b", svc("97530", 30)), ytd: 240000,
			want: []line{{"97530", 2, "GO"}}},
		{name: "past the threshold: KX on every line", visit: visit("OT", "medicare_part_b", svc("97530", 30), svc("97165", 30)), ytd: 245000,
			want: []line{{"97530", 2, "GO KX"}, {"97165", 1, "GO KX"}}},
		{name: "requested modifiers: passed through unless the coder decides them", visit: func() *events.Visit {
			v := visit("OT", "medicare_part_b", svc("97530", 30))
			v.Services[0].RequestedModifiers = []string{"76", "59"}
			return v
		}(), want: []line{{"97530", 2, "GO 76"}}},
		{name: "97129 sent alone: the add-on line carries the further units", visit: visit("OT", "medicare_part_b", svc("97129", 40)),
			want: []line{{"97129", 1, "GO"}, {"97130", 2, "GO"}}},
		{name: "97129 and 97130 sent apart: same units", visit: visit("OT", "medicare_part_b", svc("97129", 15), svc("97130", 25)),
			want: []line{{"97129", 1, "GO"}, {"97130", 2, "GO"}}},
		{name: "unknown code and missing minutes are held, the rest coded", visit: visit("OT", "medicare_part_b", svc("99999", 20), svc("97530", 0), svc("97535", 23)),
			want: []line{{"97535", 2, "GO"}}, issues: []string{"code.unknown:error", "units.minutes_missing:error"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := billing.CodeVisit(billing.CodeRequest{Visit: tc.visit, Rules: rules, Method: tc.method, YTDAllowedCents: tc.ytd})
			if got := lines(c); !slices.Equal(got, tc.want) {
				t.Errorf("lines %v; want %v", got, tc.want)
			}
			if got := issueCodes(c); !slices.Equal(got, tc.issues) {
				t.Errorf("issues %v; want %v", got, tc.issues)
			}
			var charge int64
			for i, l := range c.Lines {
				if l.Line != i+1 || len(l.Explanations) == 0 || len(l.DiagnosisPointers) == 0 {
					t.Errorf("line %d: number %d, %d explanations, pointers %v", i, l.Line, len(l.Explanations), l.DiagnosisPointers)
				}
				charge += l.ChargeCents
			}
			if charge != c.ChargeCents {
				t.Errorf("charge %d; lines add up to %d", c.ChargeCents, charge)
			}
		})
	}
}

func TestAssistantLinePaidAt85Percent(t *testing.T) {
	t.Parallel()
	v := visit("OT", "medicare_part_b", events.Service{Code: "97530", Minutes: 13, AssistantMinutes: 23})
	v.RenderingProvider.Assistant = &events.Assistant{Kind: "OTA"}
	c := billing.CodeVisit(billing.CodeRequest{Visit: v, Rules: testRules()})
	for _, l := range c.Lines {
		want := int64(3000)
		if slices.Contains(l.Modifiers, "CO") {
			want = 2550 // 85% of $30.00
			if l.AssistantPaymentPercent != 85 {
				t.Errorf("assistant line percent %d", l.AssistantPaymentPercent)
			}
		}
		if l.AllowedCents != want {
			t.Errorf("%v allowed %d; want %d", l.Modifiers, l.AllowedCents, want)
		}
	}
}

func TestThresholdStatus(t *testing.T) {
	t.Parallel()
	c := billing.CodeVisit(billing.CodeRequest{Visit: visit("PT", "medicare_part_b", svc("97110", 45)), Rules: testRules(), YTDAllowedCents: 100000})
	want := events.ThresholdStatus{Year: 2026, Bucket: "pt_slp", ThresholdCents: 248000, BeforeCents: 100000, AfterCents: 109000}
	if c.Threshold == nil || *c.Threshold != want {
		t.Fatalf("threshold %+v; want %+v", c.Threshold, want)
	}
	if c.AllowedCents != 9000 || c.Bucket != "pt_slp" || c.Year != 2026 {
		t.Fatalf("allowed %d bucket %s year %d", c.AllowedCents, c.Bucket, c.Year)
	}
}

// typicalVisit is a four-service OT visit, as BenchmarkCodeVisit codes it.
func typicalVisit() *events.Visit {
	return visit("OT", "medicare_part_b", svc("97530", 23), svc("97110", 15), svc("97112", 10), svc("97535", 8))
}

// TestCodeVisitAllocs keeps the coder's allocations from creeping back: a
// typical visit needs about six (one string for all its texts, the lines,
// one array each for their explanations, modifiers and diagnosis pointers,
// the threshold status). The budget is generous, for the race detector and
// the like, but far below one allocation per explanation.
func TestCodeVisitAllocs(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	rules := billing.DefaultRules()
	v := typicalVisit()
	code := func() {
		if c := billing.CodeVisit(billing.CodeRequest{Visit: v, Rules: rules, YTDAllowedCents: 100000}); len(c.Lines) == 0 {
			t.Fatal("no lines")
		}
	}
	code() // fill the pools
	const budget = 16
	if allocs := testing.AllocsPerRun(200, code); allocs > budget {
		t.Errorf("CodeVisit made %.1f allocations for a typical visit; the budget is %d", allocs, budget)
	}
}

// BenchmarkCodeVisit codes a typical four-service OT visit with the shipped
// rules, explanations and all.
func BenchmarkCodeVisit(b *testing.B) {
	rules := billing.DefaultRules()
	v := typicalVisit()
	b.ReportAllocs()
	for b.Loop() {
		c := billing.CodeVisit(billing.CodeRequest{Visit: v, Rules: rules, YTDAllowedCents: 100000})
		if len(c.Lines) == 0 {
			b.Fatal("no lines")
		}
	}
}
