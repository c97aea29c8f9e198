package denials_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/denials"
)

// TestBusinessMetrics posts claims, acknowledgements and a remittance through
// the ledger and scrapes the business counters.
func TestBusinessMetrics(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	reg := prometheus.NewPedanticRegistry()
	// minInterval 0: every scrape reads the ledger.
	if err := reg.Register(denials.NewMetricsCollector(s.Pool, 0)); err != nil {
		t.Fatal(err)
	}
	scrape := func() map[string]float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
			}
		}
		return out
	}
	if got := scrape(); got["rcm_claims_submitted_total{}"] != 0 || got["rcm_denials_opened_total{category=bundling}"] != 0 ||
		len(got) != 1+4+5+10+1+1 {
		t.Fatalf("empty ledger: %v; want every known series at 0", got)
	}

	full := submit(t, s, "AAA-1", 1, "1", line("97165", 1, 20000, "GO"), line("97530", 2, 12000, "GO"))
	partial := submit(t, s, "BBB-1", 1, "1", line("97530", 2, 12000, "GO"), line("97140", 1, 5000, "GO"))
	denied := submit(t, s, "CCC-1", 1, "1", line("97530", 2, 12000), line("97110", 1, 6000))
	ack := func(c events.ClaimSubmitted, source, status string) {
		t.Helper()
		a := events.ClaimAcknowledged{ClaimID: c.ClaimID, ControlNumber: c.ControlNumber, Submission: c.Submission,
			Source: source, Status: status, Reason: "as the file says"}
		env, err := events.New(events.NewID("ack", c.ControlNumber, source), events.TypeClaimAcknowledged, events.SourceSubmitter, c.ClaimID, day, a)
		if err != nil {
			t.Fatal(err)
		}
		env.CorrelationID = c.VisitID
		if err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { _, err := denials.Ledger{}.Handle(ctx, tx, env); return err }); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []events.ClaimSubmitted{full, partial, denied} {
		ack(c, events.Ack999, events.AckAccepted)
	}
	ack(full, events.Ack277CA, events.AckAccepted)
	ack(partial, events.Ack277CA, events.AckRejected)

	file := era(t, 1, "TRACE-1", nil,
		claim835(full, "1", pay(full, 1), pay(full, 2)),
		claim835(partial, "1", pay(partial, 1), deny(partial, 2, "CO", "97", "M15")),
		claim835(denied, "4", deny(denied, 1, "CO", "4"), deny(denied, 2, "CO", "4")),
	)
	if _, err := s.Import(ctx, file, "era1.835", denials.SourceImport); err != nil {
		t.Fatal(err)
	}
	paid := pay(full, 1).PaidCents + pay(full, 2).PaidCents + pay(partial, 1).PaidCents

	got := scrape()
	for k, v := range map[string]float64{
		"rcm_claims_submitted_total{}":                                3,
		"rcm_claims_acknowledged_total{source=999,status=accepted}":   3,
		"rcm_claims_acknowledged_total{source=999,status=rejected}":   0,
		"rcm_claims_acknowledged_total{source=277CA,status=accepted}": 1,
		"rcm_claims_acknowledged_total{source=277CA,status=rejected}": 1,
		"rcm_claims_reconciled_total{outcome=paid_in_full}":           1,
		"rcm_claims_reconciled_total{outcome=partly_paid}":            1,
		"rcm_claims_reconciled_total{outcome=denied}":                 1,
		"rcm_claims_reconciled_total{outcome=reversed}":               0,
		"rcm_denials_opened_total{category=bundling}":                 1,
		"rcm_denials_opened_total{category=coding}":                   1,
		"rcm_denials_opened_total{category=authorization}":            0,
		"rcm_dollars_posted_cents_total{}":                            float64(paid),
		"rcm_business_metrics_errors_total{}":                         0,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v); want %v", k, g, ok, v)
		}
	}
	if len(got) != 1+4+5+10+1+1 {
		t.Errorf("%d series; want no label value outside the known ones:\n%s", len(got), fmt.Sprint(got))
	}
}
