package pgtest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
)

func TestMeasure(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, v := range []string{"TEMPLATE template0", "TEMPLATE template1", "TEMPLATE template0 STRATEGY file_copy", "TEMPLATE template1 STRATEGY file_copy"} {
		const n = 20
		var c, d time.Duration
		for i := range n {
			name := fmt.Sprintf("m%d", i)
			b := time.Now()
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" "+v); err != nil {
				t.Fatal(err)
			}
			c += time.Since(b)
			b = time.Now()
			if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
				t.Fatal(err)
			}
			d += time.Since(b)
		}
		t.Logf("%-40s create %v drop %v", v, c/n, d/n)
	}
	b := time.Now()
	for range 20 {
		t.Run("url", func(t *testing.T) { pgtest.URL(t) })
	}
	t.Logf("pgtest.URL create+drop: %v", time.Since(b)/20)
}
