package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestRemitParse runs `rcm remit parse` on a sample 835, as text and JSON,
// and on a malformed one.
func TestRemitParse(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(append([]string{"remit", "parse"}, args...))
		err := root.Execute()
		return out.String(), err
	}
	out, err := run("../../pkg/x12/testdata/835/keiron__united_healthcare_legacy_sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"UNITED HEALTHCARE INSURANCE COMPANY", "payment: $349.99 by ACH", "trace:   1234567890",
		"processed as primary (CLP02 1)", "CO-45 $67.50", "PR-2 $5.13, PR-1 $110.00, CO-45 $184.32", "balanced"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = run("--json", "../../pkg/x12/testdata/835/lfh__medicare-part-a.835")
	if err != nil {
		t.Fatal(err)
	}
	var remits []struct {
		TotalPaidCents int64
		Claims         []struct{ Status string }
		PLB            []struct{ Adjustments []struct{ AmountCents int64 } }
	}
	if err := json.Unmarshal([]byte(out), &remits); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(remits) != 1 || remits[0].TotalPaidCents != 15000000 || len(remits[0].Claims) != 2 || remits[0].PLB[0].Adjustments[0].AmountCents != -127 {
		t.Errorf("JSON %s", out)
	}
	_, err = run("../../pkg/x12/testdata/835/lfh__secondary-payment.835")
	if err == nil || !strings.Contains(err.Error(), "SVC at segment 29") || !strings.Contains(err.Error(), "SVC01") {
		t.Errorf("malformed file: error %v, want one naming SVC at segment 29 and SVC01", err)
	}
}
