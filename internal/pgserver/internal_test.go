package pgserver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartWithoutBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := serverBinGlob
	serverBinGlob = filepath.Join(t.TempDir(), "*", "bin")
	t.Cleanup(func() { serverBinGlob = old })

	_, err := Start(context.Background(), Options{Dir: t.TempDir()})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("message spans several lines: %q", msg)
	}
	for _, want := range []string{"apt-get install postgresql", "DATABASE_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
}

func TestFindBinaries(t *testing.T) {
	root := t.TempDir()
	fake := func(dir string, names ...string) string {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	lib := filepath.Join(root, "lib")
	fake(filepath.Join(lib, "9.6", "bin"), "initdb", "postgres")
	v16 := fake(filepath.Join(lib, "16", "bin"), "initdb", "postgres")
	fake(filepath.Join(lib, "17", "bin"), "initdb") // no server: incomplete install
	glob := filepath.Join(lib, "*", "bin")

	t.Run("highest version under the glob", func(t *testing.T) {
		b, err := findBinaries("", glob)
		if err != nil {
			t.Fatal(err)
		}
		if b.initdb != filepath.Join(v16, "initdb") || b.postgres != filepath.Join(v16, "postgres") {
			t.Errorf("got %+v, want version 16", b)
		}
	})
	t.Run("PATH first, through a symlink", func(t *testing.T) {
		v15 := fake(filepath.Join(root, "opt", "15", "bin"), "initdb", "postgres")
		onPath := fake(filepath.Join(root, "path"))
		if err := os.Symlink(filepath.Join(v15, "initdb"), filepath.Join(onPath, "initdb")); err != nil {
			t.Fatal(err)
		}
		b, err := findBinaries(filepath.Join(root, "empty")+string(filepath.ListSeparator)+onPath, glob)
		if err != nil {
			t.Fatal(err)
		}
		if b.postgres != filepath.Join(v15, "postgres") {
			t.Errorf("postgres = %s, want the one next to the symlink's target", b.postgres)
		}
	})
	t.Run("none", func(t *testing.T) {
		if _, err := findBinaries(root, filepath.Join(root, "nothing", "*")); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}
