package platform

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OnlyOne runs fn unless another process holds the named lock, and reports
// whether it ran. Replicas that poll one mailbox take turns this way: two
// readers of the same directory would race to archive the same file. The
// lock is a Postgres session advisory lock, so a crashed holder frees it.
func OnlyOne(ctx context.Context, pool *pgxpool.Pool, name string, fn func(context.Context) error) (bool, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('rcm.only_one'), hashtext($1))`, name).Scan(&got); err != nil {
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		// Unlocked on this connection even when ctx has ended.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('rcm.only_one'), hashtext($1))`, name)
	}()
	return true, fn(ctx)
}
