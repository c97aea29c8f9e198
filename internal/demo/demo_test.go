package demo

import (
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

var now = time.Date(2026, 3, 10, 15, 4, 5, 0, time.UTC)

func TestVisitsAreDeterministic(t *testing.T) {
	t.Parallel()
	a := Visits(7, 300, now)
	b := Visits(7, 300, now)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different visits")
	}
	if c := Visits(8, 300, now); reflect.DeepEqual(a, c) {
		t.Fatal("another seed gave the same visits")
	}
}

func TestVisitsNone(t *testing.T) {
	t.Parallel()
	if v := Visits(1, 0, now); len(v) != 0 {
		t.Errorf("Visits(n=0) made %d", len(v))
	}
	if v := Visits(1, -3, now); len(v) != 0 {
		t.Errorf("Visits(n=-3) made %d", len(v))
	}
}

var (
	mbiForm        = regexp.MustCompile(`^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$`)
	taxonomyForm   = regexp.MustCompile(`^[0-9]{3}[0-9A-Z]{6}X$`)
	tinForm        = regexp.MustCompile(`^[0-9]{9}$`)
	memberForm     = regexp.MustCompile(`^[A-Z0-9]{6,20}$`)
	postalForm     = regexp.MustCompile(`^[0-9]{5}([0-9]{4})?$`)
	evaluationCode = map[string]bool{
		"97161": true, "97162": true, "97163": true, "97165": true, "97166": true, "97167": true,
		"92521": true, "92522": true, "92523": true, "92524": true, "92610": true,
	}
)

func TestVisitsAreValid(t *testing.T) {
	t.Parallel()
	nows := map[string]time.Time{
		"UTC afternoon": now,
		// Local dates a day ahead of and behind UTC must not put a date of
		// service in the future in either.
		"far east just after midnight":  time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("+14", 14*3600)),
		"far west just before midnight": time.Date(2025, 12, 31, 23, 30, 0, 0, time.FixedZone("-12", -12*3600)),
		"leap day":                      time.Date(2028, 2, 29, 9, 0, 0, 0, time.UTC),
	}
	for name, now := range nows {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, seed := range []int64{1, -99, 20260310} {
				checkVisits(t, Visits(seed, 1000, now), now)
			}
		})
	}
}

func checkVisits(t *testing.T, visits []events.Visit, now time.Time) {
	t.Helper()
	catalog := billing.DefaultCatalog()
	y, m, d := now.Date()
	localToday := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	y, m, d = now.UTC().Date()
	utcToday := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	payers := make(map[string]Payer)
	for _, p := range Payers() {
		payers[p.ID] = p
	}
	ids := make(map[string]bool)
	patients := make(map[string]events.Patient)
	patientDates := make(map[string]bool)

	for i, v := range visits {
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("visit %d (%s): "+format, append([]any{i, v.SourceVisitID}, args...)...)
		}
		if v.Source != "demo-emr" || v.Revision != 1 || v.Status != events.VisitSigned {
			fail("source, revision, status = %q, %d, %q", v.Source, v.Revision, v.Status)
		}
		if v.SourceVisitID == "" || ids[v.SourceVisitID] {
			fail("source visit id empty or repeated")
		}
		ids[v.SourceVisitID] = true

		dos := date(t, v.DateOfService)
		if !dos.Before(localToday) || !dos.Before(utcToday.AddDate(0, 0, 1)) || dos.Before(localToday.AddDate(0, 0, -30)) {
			fail("date of service %s not in the 30 days before %s", v.DateOfService, now)
		}

		for role, npi := range map[string]string{
			"billing": v.BillingProvider.NPI, "rendering": v.RenderingProvider.NPI, "certifying": v.CertifyingPhysician.NPI,
		} {
			if !billing.ValidNPI(npi) {
				fail("%s NPI %q invalid", role, npi)
			}
		}
		if a := v.RenderingProvider.Assistant; a != nil {
			want := map[string]string{"OT": "OTA", "PT": "PTA"}[v.RenderingProvider.Discipline]
			if a.Kind != want || !billing.ValidNPI(a.NPI) {
				fail("assistant %+v for a %s", a, v.RenderingProvider.Discipline)
			}
		}
		bp := v.BillingProvider
		if !tinForm.MatchString(bp.TIN) || !taxonomyForm.MatchString(bp.Taxonomy) || !taxonomyForm.MatchString(v.RenderingProvider.Taxonomy) {
			fail("TIN %q or taxonomies %q, %q malformed", bp.TIN, bp.Taxonomy, v.RenderingProvider.Taxonomy)
		}
		for _, a := range []events.Address{bp.Address, v.Patient.Address} {
			if a.Line1 == "" || a.City == "" || len(a.State) != 2 || !postalForm.MatchString(a.PostalCode) {
				fail("address %+v", a)
			}
		}
		if len(bp.Address.PostalCode) != 9 {
			fail("billing provider ZIP %q is not 9 digits", bp.Address.PostalCode)
		}
		switch v.PlaceOfService {
		case "11", "12":
			if v.Telehealth {
				fail("telehealth at POS %s", v.PlaceOfService)
			}
		case "02", "10":
			if !v.Telehealth {
				fail("POS %s without telehealth", v.PlaceOfService)
			}
		default:
			fail("place of service %q", v.PlaceOfService)
		}

		p := v.Patient
		if p.Sex != "F" && p.Sex != "M" {
			fail("sex %q", p.Sex)
		}
		if !date(t, p.BirthDate).Before(dos) {
			fail("born %s, after the visit", p.BirthDate)
		}
		if prev, ok := patients[p.ID]; ok && prev != p {
			fail("patient %s changed between visits", p.ID)
		}
		patients[p.ID] = p
		if patientDates[p.ID+v.DateOfService] {
			fail("patient %s twice on %s", p.ID, v.DateOfService)
		}
		patientDates[p.ID+v.DateOfService] = true

		checkCoverage(t, v, payers, fail)

		poc := v.PlanOfCare
		if poc == nil || date(t, poc.CertifiedFrom).After(dos) || date(t, poc.CertifiedThrough).Before(dos) || poc.VisitNumber < 1 {
			fail("plan of care %+v does not cover %s", poc, v.DateOfService)
		}
		if poc.LastProgressReportVisit >= poc.VisitNumber {
			fail("progress report at visit %d of %d", poc.LastProgressReportVisit, poc.VisitNumber)
		}

		if len(v.Diagnoses) == 0 || len(v.Diagnoses) > 12 {
			fail("%d diagnoses", len(v.Diagnoses))
		}
		for j, dx := range v.Diagnoses {
			if !billing.ValidICD10CM(dx) || slices.Contains(v.Diagnoses[:j], dx) {
				fail("diagnosis %q invalid or repeated", dx)
			}
		}

		if len(v.Services) == 0 {
			fail("no services")
		}
		if (poc.VisitNumber == 1) != evaluationCode[v.Services[0].Code] {
			fail("visit number %d with first service %s", poc.VisitNumber, v.Services[0].Code)
		}
		timedMinutes := 0
		for j, s := range v.Services {
			k, ok := catalog.Lookup(s.Code)
			if !ok {
				fail("code %s not in the catalog", s.Code)
			}
			if !k.Disciplines.Includes(v.RenderingProvider.Discipline) {
				fail("code %s (%v) billed by %s", s.Code, k.Disciplines, v.RenderingProvider.Discipline)
			}
			if k.Timed {
				if s.Minutes < 1 || s.Minutes > 1440 {
					fail("timed code %s with %d minutes", s.Code, s.Minutes)
				}
				timedMinutes += s.Minutes + s.AssistantMinutes
			} else if s.Minutes != 0 || s.AssistantMinutes != 0 {
				fail("untimed code %s with minutes", s.Code)
			}
			if s.AssistantMinutes < 0 || (s.AssistantMinutes > 0 && v.RenderingProvider.Assistant == nil) {
				fail("assistant minutes %d without an assistant", s.AssistantMinutes)
			}
			if k.AddOnTo != "" && (j == 0 || v.Services[j-1].Code != k.AddOnTo) {
				fail("add-on %s not right after %s", s.Code, k.AddOnTo)
			}
			if v.Telehealth && !telehealthCodes[s.Code] {
				fail("%s by telehealth", s.Code)
			}
			if len(s.DiagnosisPointers) == 0 || len(s.DiagnosisPointers) > 4 {
				fail("%d pointers", len(s.DiagnosisPointers))
			}
			for n, ptr := range s.DiagnosisPointers {
				if ptr < 1 || ptr > len(v.Diagnoses) || slices.Contains(s.DiagnosisPointers[:n], ptr) {
					fail("pointer %d of %d diagnoses", ptr, len(v.Diagnoses))
				}
			}
		}
		if v.TotalTreatmentMinutes < timedMinutes || v.TotalTreatmentMinutes > 120 {
			fail("total %d minutes, timed %d", v.TotalTreatmentMinutes, timedMinutes)
		}
	}
}

func checkCoverage(t *testing.T, v events.Visit, payers map[string]Payer, fail func(string, ...any)) {
	t.Helper()
	c := v.Coverage
	payer, ok := payers[c.PayerID]
	if !ok || payer.Name != c.PayerName || payer.PlanType != c.PlanType {
		fail("payer %s %q %s not in Payers()", c.PayerID, c.PayerName, c.PlanType)
	}
	if c.PlanType == events.PlanMedicarePartB && !mbiForm.MatchString(c.MemberID) {
		fail("Medicare member id %q is not an MBI", c.MemberID)
	}
	if !memberForm.MatchString(c.MemberID) {
		fail("member id %q", c.MemberID)
	}
	if (c.Relationship == events.RelationshipSelf) != (c.Subscriber == nil) {
		fail("relationship %q with subscriber %+v", c.Relationship, c.Subscriber)
	}
	if s := c.Subscriber; s != nil {
		if s.FirstName == "" || s.LastName == "" || (s.Sex != "F" && s.Sex != "M") {
			fail("subscriber %+v", s)
		}
		if c.Relationship == events.RelationshipChild && !date(t, s.BirthDate).Before(date(t, v.Patient.BirthDate).AddDate(-14, 0, 0)) {
			fail("parent born %s, child %s", s.BirthDate, v.Patient.BirthDate)
		}
	}
	if a := c.PriorAuthorization; a != nil {
		if a.Number == "" || a.VisitsUsed >= a.VisitsAuthorized || a.VisitsUsed != v.PlanOfCare.VisitNumber-1 {
			fail("authorization %+v at visit %d", a, v.PlanOfCare.VisitNumber)
		}
		if c.PlanType == events.PlanMedicarePartB {
			fail("prior authorization on Medicare Part B")
		}
	}
}

func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		t.Fatalf("date %q: %v", s, err)
	}
	return d
}

func TestVisitsMix(t *testing.T) {
	t.Parallel()
	const n = 1000
	visits := Visits(20260310, n, now)
	count := make(map[string]int)
	for _, v := range visits {
		count[v.RenderingProvider.Discipline]++
		count[v.Coverage.PlanType]++
		if v.Telehealth {
			count["telehealth"]++
		}
		if v.RenderingProvider.Assistant != nil {
			count["assistant"]++
		}
		if v.Coverage.PriorAuthorization != nil {
			count["prior auth"]++
		}
		if v.Coverage.Relationship == events.RelationshipChild {
			count["child of subscriber"]++
		}
		if v.PlanOfCare.VisitNumber == 1 {
			count["evaluation"]++
		}
		for _, s := range v.Services {
			if s.AssistantMinutes > 0 {
				count["assistant minutes"]++
			}
			switch s.Code {
			case "97130", "97551", "97552", "97168", "97164", "G0283", "97014":
				count[s.Code]++
			}
		}
		if len(v.Diagnoses) > 0 {
			count[v.Diagnoses[0][:1]]++
		}
	}
	share := func(key string) float64 { return float64(count[key]) / n }
	within := []struct {
		key      string
		min, max float64
	}{
		{"OT", 0.62, 0.78},
		{"PT", 0.10, 0.26},
		{"SLP", 0.06, 0.18},
		{events.PlanMedicarePartB, 0.10, 0.60},
		{events.PlanMedicareAdvantage, 0.05, 0.40},
		{events.PlanMedicaid, 0.08, 0.50},
		{events.PlanCommercial, 0.08, 0.50},
		{"telehealth", 0.02, 0.20},
		{"assistant", 0.05, 0.40},
		{"prior auth", 0.10, 0.75}, // every visit of a payer that requires it,
		{"child of subscriber", 0.03, 0.40},
		{"evaluation", 0.03, 0.25},
		{"assistant minutes", 0.05, 1},
		{"I", 0.08, 0.60}, // stroke sequelae
		{"S", 0.05, 0.50}, // fractures
		{"F", 0.08, 0.60}, // developmental, ADHD, autism, speech
	}
	for _, w := range within {
		if s := share(w.key); s < w.min || s > w.max {
			t.Errorf("%s: %.1f%% of visits, want %.0f%%..%.0f%%", w.key, 100*s, 100*w.min, 100*w.max)
		}
	}
	for _, code := range []string{"97130", "97551", "97168", "97164", "G0283", "97014"} {
		if count[code] == 0 {
			t.Errorf("no %s in %d visits", code, n)
		}
	}
	t.Logf("mix: %v", count)
}

func BenchmarkVisits(b *testing.B) {
	for b.Loop() {
		Visits(1, 100, now)
	}
}
