package pgtest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParallelTestsGetSeparateEmptyDatabases(t *testing.T) {
	var (
		mu    sync.Mutex
		names = map[string]bool{}
	)
	t.Run("group", func(t *testing.T) {
		for _, name := range []string{"a", "b"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				begin := time.Now()
				url := pgtest.URL(t)
				t.Logf("database ready in %v", time.Since(begin).Round(time.Millisecond))
				ctx := context.Background()
				conn, err := pgx.Connect(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				var db string
				var tables int
				err = conn.QueryRow(ctx, `SELECT current_database(),
					(SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema'))`).Scan(&db, &tables)
				if err != nil {
					t.Fatal(err)
				}
				if tables != 0 {
					t.Errorf("database %s has %d tables, want none", db, tables)
				}
				// Same table name in both: it would clash in a shared database.
				if _, err := conn.Exec(ctx, "CREATE TABLE visits (id int PRIMARY KEY)"); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names[db] = true
				mu.Unlock()
			})
		}
	})
	if len(names) != 2 {
		t.Errorf("parallel tests used databases %v, want two different ones", names)
	}
}

// A connection left open by a test must not stop its database from being
// dropped.
func TestLeftOpenConnection(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn // closed by the drop, deliberately not here
}
