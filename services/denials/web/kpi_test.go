package web

import (
	"context"
	"slices"
	"testing"

	"github.com/rcm-health/rcm/services/denials"
)

// TestKPIs checks each KPI against the fixture's claims, whose expected
// numbers are worked out in the fixture's comment.
func TestKPIs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	k, err := loadKPIs(ctx, f.deps.Pool, today)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want Ratio, pct string) {
		t.Helper()
		if got != want || got.String() != pct {
			t.Errorf("%s: %d/%d (%s); want %d/%d (%s)", name, got.Num, got.Den, got, want.Num, want.Den, pct)
		}
	}
	// c1, c3, c4 and c6 passed on their first build; c2 and c5 were held.
	check("clean-claim rate", k.CleanClaimRate, Ratio{4, 6}, "66.7%")
	// c3's 999 rejected it; c1, c2, c4 and c6 were accepted.
	check("first-pass acceptance", k.FirstPassAcceptance, Ratio{4, 5}, "80.0%")
	// Reconciled: c1, c2, c4, c6; denied: c1, c2, c6.
	check("denial rate", k.DenialRate, Ratio{3, 4}, "75.0%")
	var cats []string
	for _, s := range k.DenialsByCategory {
		cats = append(cats, s.Key)
		check("denials of "+s.Key, s.Ratio, Ratio{1, 4}, "25.0%")
	}
	if !slices.Equal(cats, []string{"authorization", "bundling", "medical_necessity"}) {
		t.Errorf("denial categories %v", cats)
	}
	if len(k.DenialsByPayer) != 2 {
		t.Fatalf("payers %+v", k.DenialsByPayer)
	}
	for _, s := range k.DenialsByPayer {
		switch s.Key {
		case "DMCR1":
			check("DMCR1 denials", s.Ratio, Ratio{2, 2}, "100.0%")
		case "DNFH1":
			check("DNFH1 denials", s.Ratio, Ratio{1, 2}, "50.0%")
		default:
			t.Errorf("payer %s", s.Key)
		}
	}
	// Outstanding: c1 $110 (47 days), c2 $300 (19), c3 $200 (109), c6 $60
	// (156); c4 is paid in full and c5 was never sent.
	if k.AR.Claims != 4 || k.AR.DaysSum != 47+19+109+156 || k.AR.OutstandingCents != 67000 || k.AR.AverageDays() != "82.8" {
		t.Errorf("A/R %+v (%s days); want 4 claims, 331 days, $670.00, 82.8 days", k.AR, k.AR.AverageDays())
	}
	wantBuckets := []struct {
		n     int64
		cents int64
	}{{1, 30000}, {1, 11000}, {0, 0}, {1, 20000}, {1, 6000}}
	for i, b := range k.AR.Buckets {
		if b.Claims != wantBuckets[i].n || b.Cents != wantBuckets[i].cents {
			t.Errorf("aging %s: %d claims, %d cents; want %d, %d", b.Label, b.Claims, b.Cents, wantBuckets[i].n, wantBuckets[i].cents)
		}
	}
	// R0: 1 of 1 line matched; R1: 2 of 2; R2: 3 of 4 (ZZUNKNOWN's line).
	check("ERA auto-posting", k.AutoPosted, Ratio{6, 7}, "85.7%")

	// A write-off takes c1's denied $110 out of A/R; the denial still counts.
	if _, err := f.store.Act(ctx, denials.Action{WorkItemID: f.itemOf("c1"), UserID: supervisor, Kind: denials.ActWriteOff, Note: "bundled, no appeal"}); err != nil {
		t.Fatal(err)
	}
	k, err = loadKPIs(ctx, f.deps.Pool, today)
	if err != nil {
		t.Fatal(err)
	}
	if k.AR.Claims != 3 || k.AR.OutstandingCents != 56000 || k.AR.Buckets[1].Claims != 0 || k.AR.AverageDays() != "94.7" {
		t.Errorf("A/R after the write-off %+v (%s days); want 3 claims, $560.00, none at 31–60, 94.7 days", k.AR, k.AR.AverageDays())
	}
	check("denial rate after the write-off", k.DenialRate, Ratio{3, 4}, "75.0%")
}

func TestRatio(t *testing.T) {
	for _, tt := range []struct {
		r    Ratio
		want string
	}{{Ratio{0, 0}, "—"}, {Ratio{1, 3}, "33.3%"}, {Ratio{2, 3}, "66.7%"}, {Ratio{1, 8}, "12.5%"}, {Ratio{1, 2000}, "0.1%"}, {Ratio{5, 5}, "100.0%"}} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%d/%d = %s; want %s", tt.r.Num, tt.r.Den, got, tt.want)
		}
	}
}
