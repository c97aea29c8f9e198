package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestCodeCommand runs `rcm code` as a biller would, on a documented example
// and on bad input.
func TestCodeCommand(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("../../docs/examples/visit-ot-medicare.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"", "cms", "ama"} {
		root := newRoot()
		var out bytes.Buffer
		root.SetIn(bytes.NewReader(body))
		root.SetOut(&out)
		args := []string{"code"}
		if method != "" {
			args = append(args, "--method", method)
		}
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("rcm code %v: %v", args, err)
		}
		var got struct {
			RulesVersion string `json:"rules_version"`
			UnitMethod   string `json:"unit_method"`
			Lines        []struct {
				Code         string   `json:"code"`
				Units        int      `json:"units"`
				Modifiers    []string `json:"modifiers"`
				Explanations []struct{ Rule, Text string }
			} `json:"lines"`
		}
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out.String())
		}
		if got.RulesVersion == "" || len(got.Lines) == 0 || (method != "" && got.UnitMethod != method) {
			t.Fatalf("rcm code %v: %s", args, out.String())
		}
		for _, l := range got.Lines {
			if l.Units < 1 || len(l.Explanations) == 0 {
				t.Errorf("line %+v has no units or no explanation", l)
			}
		}
	}

	for name, tc := range map[string]struct {
		in, args, want string
	}{
		"not JSON":       {in: "{", want: "visit:"},
		"invalid visit":  {in: `{"source":"x"}`, want: "$.source_visit_id"},
		"unknown method": {in: string(body), args: "--method=fast", want: "--method"},
	} {
		root := newRoot()
		root.SetIn(strings.NewReader(tc.in))
		root.SetOut(&bytes.Buffer{})
		args := []string{"code"}
		if tc.args != "" {
			args = append(args, tc.args)
		}
		root.SetArgs(args)
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want one mentioning %q", name, err, tc.want)
		}
	}
}
