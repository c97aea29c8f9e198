package billing_test

import (
	"testing"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// FuzzCodeVisit codes arbitrary visits built from the fuzzer's bytes: the
// coder must never panic, never bill more timed units than the minutes allow,
// and keep its lines and totals consistent.
func FuzzCodeVisit(f *testing.F) {
	f.Add([]byte{0, 23, 0, 1, 15, 0, 2, 10, 5}, uint8(0), uint8(0), false, int64(0))
	f.Add([]byte{3, 7, 0, 4, 7, 0, 5, 7, 0}, uint8(1), uint8(1), true, int64(240000))
	f.Add([]byte{9, 200, 200, 9, 200, 200}, uint8(2), uint8(2), false, int64(-5))
	f.Add([]byte{}, uint8(0), uint8(3), false, int64(0))
	rules := billing.DefaultRules()
	codes := rules.Catalog.Codes()
	plans := []string{"medicare_part_b", "commercial", "medicaid", "medicare_advantage", "other", "unknown"}
	disciplines := []string{"OT", "PT", "SLP", "XX"}
	f.Fuzz(func(t *testing.T, spec []byte, discipline, plan uint8, telehealth bool, ytd int64) {
		v := &events.Visit{
			Source: "f", SourceVisitID: "f", Revision: 1, DateOfService: "2026-05-04", PlaceOfService: "11", Telehealth: telehealth,
			RenderingProvider: events.RenderingProvider{Discipline: disciplines[int(discipline)%len(disciplines)], Assistant: &events.Assistant{Kind: "OTA"}},
			Coverage:          events.Coverage{PayerID: "F", PlanType: plans[int(plan)%len(plans)]},
			Diagnoses:         []string{"I69351"},
		}
		for i := 0; i+2 < len(spec) && len(v.Services) < 50; i += 3 {
			v.Services = append(v.Services, events.Service{
				Code: codes[int(spec[i])%len(codes)].Code, Minutes: int(spec[i+1]), AssistantMinutes: int(spec[i+2]) % 40,
				DistinctTimeBlock: spec[i]%2 == 0, DiagnosisPointers: []int{1},
			})
		}
		for _, method := range []string{"cms", "ama"} {
			c := billing.CodeVisit(billing.CodeRequest{Visit: v, Rules: rules, Method: method, YTDAllowedCents: ytd})
			timedMinutes := 0
			perCode := map[string]int{}
			for _, s := range v.Services {
				if k, ok := rules.Catalog.Lookup(s.Code); ok && k.Timed {
					timedMinutes += s.Minutes + s.AssistantMinutes
					// A base code and its add-on are one service of time.
					family := s.Code
					if k.AddOnTo != "" {
						family = k.AddOnTo
					}
					perCode[family] += s.Minutes + s.AssistantMinutes
				}
			}
			timedUnits := 0
			var charge int64
			for i, l := range c.Lines {
				if l.Line != i+1 || l.Units <= 0 || l.ChargeCents < 0 || l.AllowedCents < 0 {
					t.Fatalf("%s: bad line %+v", method, l)
				}
				if l.Timed {
					timedUnits += l.Units
				}
				charge += l.ChargeCents
			}
			if method == "cms" && timedUnits > billing.UnitsForMinutes(timedMinutes) {
				t.Fatalf("cms: %d timed units from %d minutes (at most %d)", timedUnits, timedMinutes, billing.UnitsForMinutes(timedMinutes))
			}
			if method == "ama" {
				limit := 0
				for _, m := range perCode {
					limit += billing.UnitsForMinutes(m)
				}
				if timedUnits > limit {
					t.Fatalf("ama: %d timed units; the codes' own minutes allow %d", timedUnits, limit)
				}
			}
			if charge != c.ChargeCents {
				t.Fatalf("%s: charge %d, lines add up to %d", method, c.ChargeCents, charge)
			}
		}
	})
}
