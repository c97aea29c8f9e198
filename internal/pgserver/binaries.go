package pgserver

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotFound means the machine has no PostgreSQL server binaries. Its message
// is meant to be shown to the user as is.
var ErrNotFound = errors.New("PostgreSQL server binaries (initdb, postgres) not found on PATH or under /usr/lib/postgresql: " +
	"install the PostgreSQL server package (e.g. `apt-get install postgresql`) or set DATABASE_URL")

// serverBinGlob is where Debian and Ubuntu install the server binaries: they
// keep them off PATH so that several major versions can coexist.
var serverBinGlob = "/usr/lib/postgresql/*/bin"

type binaries struct {
	initdb   string
	postgres string
}

// findBinaries looks on pathList first so that a user can pick a version, then
// under glob, preferring the highest major version.
func findBinaries(pathList, glob string) (binaries, error) {
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			continue
		}
		if b, ok := binariesIn(dir); ok {
			return b, nil
		}
	}
	dirs, _ := filepath.Glob(glob) // the only possible error is a bad pattern
	slices.SortFunc(dirs, func(a, b string) int {
		return -compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
	for _, dir := range dirs {
		if b, ok := binariesIn(dir); ok {
			return b, nil
		}
	}
	return binaries{}, ErrNotFound
}

// binariesIn accepts dir when it holds initdb and a postgres of the same
// installation. PATH often holds only a symlink to initdb (Homebrew,
// alternatives), so postgres is looked for next to the link's target too.
func binariesIn(dir string) (binaries, bool) {
	initdb := filepath.Join(dir, "initdb")
	if !isExecutable(initdb) {
		return binaries{}, false
	}
	candidates := []string{filepath.Join(dir, "postgres")}
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		candidates = slices.Insert(candidates, 0, filepath.Join(filepath.Dir(real), "postgres"))
		initdb = real
	}
	for _, pg := range candidates {
		if isExecutable(pg) {
			return binaries{initdb: initdb, postgres: pg}, true
		}
	}
	return binaries{}, false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// compareVersions orders "9.6" before "15" before "16": lexical order would not.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}
