package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Deps are the connections a service runs on. The caller owns them: rcm dev
// shares one set among all stages, a production process has its own.
type Deps struct {
	Log      *zap.Logger
	NATS     *nats.Conn
	JS       jetstream.JetStream
	Pool     *pgxpool.Pool
	Registry *prometheus.Registry
	Streams  StreamOptions
}

// Checks are the readiness checks of the dependencies.
func (d Deps) Checks() map[string]Check {
	return map[string]Check{"nats": NATSCheck(d.NATS), "postgres": PostgresCheck(d.Pool)}
}

// Serve runs srv on ln until ctx ends, then shuts it down gracefully,
// letting requests in flight finish for up to grace.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
