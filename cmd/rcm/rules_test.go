package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestRulesExportValidate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rules")
	if _, err := runRoot(t, "rules", "export", dir); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot(t, "rules", "validate", dir)
	if err != nil || !strings.Contains(out, ": ok") || !strings.Contains(out, "NCCI PTP edits:") {
		t.Fatalf("validate of an export: %v\n%s", err, out)
	}
	if _, err := runRoot(t, "rules", "export", dir); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("a second export overwrote files: %v", err)
	}
	if _, err := runRoot(t, "rules", "export", "--force", dir); err != nil {
		t.Errorf("export --force: %v", err)
	}

	// Break three files; validate names each problem and fails, which
	// main turns into exit status 1.
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kx_thresholds.csv", "year,bucket,cents,source\n2026,ot,248000,x\n2026,pt_slp,-1,x\n")
	write("mue.csv", "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator\n97110,4,7\n")
	if err := os.Remove(filepath.Join(dir, "VERSION")); err != nil {
		t.Fatal(err)
	}
	out, err = runRoot(t, "rules", "validate", dir)
	if err == nil {
		t.Fatalf("validate of a broken set succeeded:\n%s", out)
	}
	for _, want := range []string{
		"VERSION: missing from the rules set\n",
		"kx_thresholds.csv line 3: cents: ",
		"mue.csv line 2: MUE adjudication indicator must start with 1, 2 or 3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(err.Error(), "problems") {
		t.Errorf("error %q", err)
	}
}

func TestRulesShow(t *testing.T) {
	out, err := runRoot(t, "rules", "show", "--sources")
	if err != nil || !strings.Contains(out, "(embedded): ok") || !strings.Contains(out, "sources:") {
		t.Fatalf("%v\n%s", err, out)
	}
}
