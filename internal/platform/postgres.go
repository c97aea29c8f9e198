package platform

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	// Prepared statements keep a generic plan once it proves no worse than
	// the custom ones (plan_cache_mode=auto), which spares most of the
	// planning the pipeline's statements would otherwise cost. A service's
	// tables start empty and grow fast, though, and a generic plan made
	// while a table was small keeps its sequential scan as the table grows
	// (seen: intake's head lookup reading 37M rows for 18k visits). With
	// sequential scans disabled, a plan scans sequentially only where no
	// index serves, so a cached plan stays right at any size.
	params := cfg.ConnConfig.RuntimeParams
	if _, set := params["plan_cache_mode"]; !set {
		params["plan_cache_mode"] = "auto"
	}
	if _, set := params["enable_seqscan"]; !set {
		params["enable_seqscan"] = "off"
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// Event payloads are compressed as they are stored: lz4 costs a
		// fraction of the default pglz's CPU. A server built without lz4
		// keeps pglz.
		_, err := c.Exec(ctx, "SET default_toast_compression = lz4")
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "22023" {
			return nil
		}
		return err
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

// ReportTx runs fn in a read-only, repeatable-read transaction for what
// reads whole tables (metrics, KPIs): sequential scans, off on every
// connection OpenPool makes, are allowed in it, since without them the
// planner reads a whole table through an index instead.
func ReportTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = on"); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		return fn(tx)
	})
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
	// The sweeper looks for the oldest pending rows every second; without
	// this it read the whole pending table each time, which under a backlog
	// is large.
	{version: 2, name: "outbox_pending_age", sql: `
CREATE INDEX outbox_pending_created_at ON {{schema}}.outbox_pending (created_at);`},
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
