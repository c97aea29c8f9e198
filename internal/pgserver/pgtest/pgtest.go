// Package pgtest gives each test a fresh, empty PostgreSQL database.
//
// With DATABASE_URL set, databases are created on that server. Otherwise one
// private cluster per test binary is started on first use from the machine's
// PostgreSQL server binaries (see package pgserver), with fsync off. Packages
// that use URL must stop that cluster from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcm-health/rcm/internal/pgserver"
)

var (
	mainCalled atomic.Bool

	setupOnce sync.Once
	setupErr  error
	target    struct {
		admin  *pgxpool.Pool       // for CREATE and DROP DATABASE
		url    func(string) string // a database's URL from its name
		server *pgserver.Server    // nil with DATABASE_URL
		dir    string              // the private cluster's directory
	}
)

// Main runs the tests, then stops the private cluster if one was started and
// exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// URL creates an empty database for t alone and returns its URL. The database
// is dropped when t ends. URL is safe to call from parallel tests.
func URL(t testing.TB) string {
	t.Helper()
	if !mainCalled.Load() {
		// Without Main the private cluster and its files would outlive the
		// test binary.
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main(m)")
	}
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// template0 accepts no connections, so parallel creations cannot trip
	// over a session on the template.
	if _, err := target.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends connections a test left open (PostgreSQL 13+).
		if _, err := target.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return target.url(name)
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminURL := os.Getenv("DATABASE_URL")
	if adminURL != "" {
		target.url = func(db string) string { return withDatabase(adminURL, db) }
	} else {
		dir, err := os.MkdirTemp("", "rcm-pgtest-")
		if err != nil {
			return fmt.Errorf("create cluster directory: %w", err)
		}
		target.dir = dir
		// MkdirTemp makes it 0700; the postgres user, which runs the
		// cluster when tests run as root, must be able to get in.
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("open up %s: %w", dir, err)
		}
		s, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
		if err != nil {
			return err
		}
		target.server = s
		target.url = s.URL
		adminURL = s.URL("postgres")
	}
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	target.admin = pool
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	return nil
}

func shutdown() error {
	if target.admin != nil {
		target.admin.Close()
	}
	var errs []error
	if target.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		errs = append(errs, target.server.Stop(ctx))
	}
	if target.dir != "" {
		errs = append(errs, os.RemoveAll(target.dir))
	}
	return errors.Join(errs...)
}

// databaseName starts with the test's name so that leftovers on a shared
// server can be traced, and ends with random bytes because several test
// binaries may share that server.
func databaseName(test string) string {
	var b strings.Builder
	b.WriteString("test_")
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(randomBytes(6)))
	return b.String()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms
	return b
}

// withDatabase points a connection string, URL or keyword/value, at db.
func withDatabase(conn, db string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		if u, err := url.Parse(conn); err == nil {
			u.Path = "/" + db
			u.RawPath = ""
			return u.String()
		}
	}
	// In keyword/value form the last setting wins; db needs no quoting.
	return conn + " dbname=" + db
}

// redact drops a password from a URL before it goes into an error.
func redact(conn string) string {
	u, err := url.Parse(conn)
	if err != nil || u.Scheme == "" {
		return "DATABASE_URL"
	}
	return u.Redacted()
}
