package billing_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rcm-health/rcm/internal/demo"
	"github.com/rcm-health/rcm/pkg/billing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCodeVisitGolden codes a fixed set of realistic visits with the shipped
// rules and compares the result, explanations included, with a reviewed
// golden file: any change in what the coder decides or says shows up as a
// diff. Run with -update after a deliberate change and review the diff.
func TestCodeVisitGolden(t *testing.T) {
	t.Parallel()
	visits := demo.Visits(42, 40, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	rules := billing.DefaultRules()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", " ")
	for i := range visits {
		c := billing.CodeVisit(billing.CodeRequest{Visit: &visits[i], Rules: rules, YTDAllowedCents: int64(i) * 7000})
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join("testdata", "coded_golden.json")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("coding differs from %s; run with -update and review the diff", path)
	}
}
