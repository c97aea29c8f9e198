package platform

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPool connects to Postgres and checks the connection. maxConns 0 keeps
// pgx's default.
func OpenPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, fmt.Errorf("open postgres: no database URL (set --database-url or DATABASE_URL)")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: parse URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.HealthCheckPeriod = 10 * time.Second
	// A service's tables start empty and grow fast. A generic plan cached
	// while a table was small keeps its sequential scans as it grows (seen:
	// intake's head lookup reading 37M rows for 18k visits), so every
	// execution is planned with its own parameters instead.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: ping: %w", err)
	}
	return pool, nil
}

var (
	schemaName    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)
	migrationName = regexp.MustCompile(`^(\d{3,})_[a-z0-9_]+\.sql$`)
)

// platformMigrations are the inbox and outbox every service schema has.
// {{schema}} is replaced with the service's schema.
var platformMigrations = []migration{
	{version: 1, name: "platform_inbox_outbox", sql: `
-- outbox rows are written once and never updated: with the payload inline,
-- an UPDATE would copy the whole row. What is still to publish is the narrow
-- outbox_pending table, whose rows are deleted once JetStream has the event.
CREATE TABLE {{schema}}.outbox (
	event_id   text PRIMARY KEY,
	subject    text NOT NULL,
	event_type text NOT NULL,
	payload    bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_created_at ON {{schema}}.outbox USING brin (created_at);
CREATE TABLE {{schema}}.outbox_pending (
	event_id   text PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {{schema}}.inbox (
	consumer     text NOT NULL,
	event_id     text NOT NULL,
	processed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (consumer, event_id)
);`},
}

type migration struct {
	version int
	name    string
	sql     string
}

// Migrate brings schema up to date: first the platform's inbox and outbox,
// then the service's own migrations from files named NNN_name.sql in dir.
// Every replica may call it at start: an advisory lock lets one apply and the
// others wait, and each migration commits with its version row.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, dir fs.FS) error {
	if !schemaName.MatchString(schema) {
		return fmt.Errorf("migrate: invalid schema name %q", schema)
	}
	own, err := readMigrations(dir)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	defer conn.Release()
	lockKey := "rcm.migrate." + schema
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, lockKey); err != nil {
		return fmt.Errorf("migrate %s: lock: %w", schema, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, lockKey) //nolint:errcheck // the session ends with the connection anyway

	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %s;
CREATE TABLE IF NOT EXISTS %s.schema_migrations (
	set_name   text NOT NULL,
	version    int NOT NULL,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (set_name, version)
)`, schema, schema)); err != nil {
		return fmt.Errorf("migrate %s: create schema: %w", schema, err)
	}
	for _, set := range []struct {
		name string
		list []migration
	}{{"platform", platformMigrations}, {"service", own}} {
		if err := applySet(ctx, conn.Conn(), schema, set.name, set.list); err != nil {
			return err
		}
	}
	return nil
}

func applySet(ctx context.Context, conn *pgx.Conn, schema, set string, list []migration) error {
	var current int
	err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(version), 0) FROM %s.schema_migrations WHERE set_name = $1`, schema), set).Scan(&current)
	if err != nil {
		return fmt.Errorf("migrate %s: read version: %w", schema, err)
	}
	for _, m := range list {
		if m.version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, strings.ReplaceAll(m.sql, "{{schema}}", schema)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.schema_migrations (set_name, version, name) VALUES ($1, $2, $3)`, schema), set, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %s migration %03d_%s: %w", schema, set, m.version, m.name, err)
		}
	}
	return nil
}

func readMigrations(dir fs.FS) ([]migration, error) {
	if dir == nil {
		return nil, nil
	}
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if prev, ok := seen[v]; ok {
			return nil, fmt.Errorf("migration files %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(dir, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(e.Name()[len(m[1])+1:], ".sql"), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// MustSub is fs.Sub for a service's embedded migrations directory, which
// the embed pattern guarantees exists.
func MustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
