package platform

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether a dependency is usable.
type Check func(ctx context.Context) error

// NewRegistry returns a Prometheus registry with the Go and process
// collectors, so every service exposes the same runtime metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MountOps adds /metrics, /healthz and /readyz to mux. /healthz says the
// process serves requests; /readyz runs every check and answers 503 naming
// the ones that fail, so a load balancer stops sending work.
func MountOps(mux *http.ServeMux, reg *prometheus.Registry, checks map[string]Check) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		names := make([]string, 0, len(checks))
		for n := range checks {
			names = append(names, n)
		}
		sort.Strings(names)
		body := map[string]string{}
		code := http.StatusOK
		for _, n := range names {
			if err := checks[n](ctx); err != nil {
				body[n] = err.Error()
				code = http.StatusServiceUnavailable
			} else {
				body[n] = "ok"
			}
		}
		writeJSON(w, code, body)
	})
}

// NATSCheck is ready while the connection is up.
func NATSCheck(nc *nats.Conn) Check {
	return func(ctx context.Context) error {
		if !nc.IsConnected() {
			return errNotConnected
		}
		return nc.FlushWithContext(ctx)
	}
}

// PostgresCheck is ready while a query succeeds.
func PostgresCheck(pool *pgxpool.Pool) Check {
	return func(ctx context.Context) error { return pool.Ping(ctx) }
}

type constError string

func (e constError) Error() string { return string(e) }

const errNotConnected = constError("not connected")

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
