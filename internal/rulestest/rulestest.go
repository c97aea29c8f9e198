// Package rulestest makes rules sets for tests of what a rules change does:
// the embedded set under another VERSION with some files edited, loaded and
// validated as a rules directory is.
package rulestest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rcm-health/rcm/pkg/billing"
)

// Edit returns the new text of a rules file; most return text unchanged
// for every name but one.
type Edit func(name, text string) string

// FS is the embedded rules set with VERSION set to version and every other
// file passed through each edit in turn.
func FS(t testing.TB, version string, edits ...Edit) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(billing.DefaultRulesFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(billing.DefaultRulesFS, p)
		if err != nil {
			return err
		}
		text := string(b)
		if p == billing.VersionFile {
			text = version + "\n"
		} else {
			for _, e := range edits {
				text = e(p, text)
			}
		}
		m[p] = &fstest.MapFile{Data: []byte(text), Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Rules loads FS(t, version, edits...).
func Rules(t testing.TB, version string, edits ...Edit) *billing.Rules {
	t.Helper()
	r, err := billing.LoadRules(FS(t, version, edits...))
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != version {
		t.Fatalf("rules version %q; want %q", r.Version, version)
	}
	return r
}

// Dir writes FS(t, version, edits...) to a temporary directory, as a
// clinic's override directory, and returns its path.
func Dir(t testing.TB, version string, edits ...Edit) string {
	t.Helper()
	dir := t.TempDir()
	for name, f := range FS(t, version, edits...) {
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Replace edits file name, replacing old with new once; the test fails if
// old is not there, so that an edit cannot silently stop applying when
// the embedded set changes.
func Replace(t testing.TB, name, old, new string) Edit {
	return func(n, text string) string {
		if n != name {
			return text
		}
		if !strings.Contains(text, old) {
			t.Fatalf("rules file %s has no %q to replace", name, old)
		}
		return strings.Replace(text, old, new, 1)
	}
}
