package grafana

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

// registered finds the metric names the code registers: the Name of a
// prometheus.*Opts or the first argument of prometheus.NewDesc, in every
// non-test Go file of the module.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`(?:Name:\s*|NewDesc\(\s*)"(rcm_[a-z0-9_]+)"`)
	names := map[string]bool{}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 {
		t.Fatalf("found only %d registered metrics: %v", len(names), names)
	}
	return names
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("rcm-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("rcm-dashboard.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard uid %q title %q with %d panels", d.UID, d.Title, len(d.Panels))
	}

	known := registered(t)
	metric := regexp.MustCompile(`\brcm_[a-z0-9_]+\b`)
	used := map[string]bool{}
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				if strings.Count(q.Expr, "(") != strings.Count(q.Expr, ")") || strings.Count(q.Expr, "{") != strings.Count(q.Expr, "}") {
					t.Errorf("panel %q query %s: unbalanced brackets: %s", p.Title, q.RefID, q.Expr)
				}
				names := metric.FindAllString(q.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q query %s names no rcm metric: %s", p.Title, q.RefID, q.Expr)
				}
				for _, n := range names {
					used[n] = true
					base := n
					for _, suffix := range []string{"_bucket", "_sum", "_count"} {
						if s, ok := strings.CutSuffix(n, suffix); ok && known[s] {
							base = s
						}
					}
					if !known[base] {
						t.Errorf("panel %q queries %s, which no code registers", p.Title, n)
					}
				}
			}
		}
	}
	walk(d.Panels)

	// The panels the dashboard is for.
	for _, want := range []string{"rcm_stage_messages_total", "rcm_stage_handle_seconds_bucket", "rcm_consumer_pending",
		"rcm_consumer_ack_pending", "rcm_outbox_pending", "rcm_dead_letters", "rcm_claims_submitted_total",
		"rcm_claims_acknowledged_total", "rcm_claims_reconciled_total", "rcm_denials_opened_total", "rcm_dollars_posted_cents_total"} {
		if !used[want] {
			t.Errorf("no panel queries %s", want)
		}
	}
	var all []string
	for n := range used {
		all = append(all, n)
	}
	slices.Sort(all)
	t.Logf("metrics queried: %s", strings.Join(all, " "))
}
