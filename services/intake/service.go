package intake

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/webhook"
)

// Config is what the intake service needs beyond its dependencies.
type Config struct {
	// Addr is the listen address of the webhook API and the ops endpoints.
	Addr string
	// Secrets are the webhook secrets per EMR source.
	Secrets map[string][]webhook.Secret
	// Listener, when set, is used instead of listening on Addr (tests, and
	// rcm dev printing the real port).
	Listener net.Listener
	// Store tunes the group commit.
	Store StoreConfig
	// Ready, when set, is called with the address once the API serves.
	Ready func(addr string)
}

// Run migrates intake's schema, provisions the streams and serves the API
// until ctx ends. The outbox relay runs beside it and stops with it.
func Run(ctx context.Context, cfg Config, d platform.Deps) error {
	log := d.Log.With(zap.String("service", "intake"))
	if err := platform.Migrate(ctx, d.Pool, Schema, Migrations()); err != nil {
		return err
	}
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		return err
	}
	outbox, err := platform.NewOutbox(platform.OutboxConfig{Schema: Schema}, d.Pool, d.JS, log, d.Registry)
	if err != nil {
		return err
	}
	store := NewStore(d.Pool, outbox, cfg.Store)
	h, err := NewHandler(Handler{
		Secrets: cfg.Secrets, Store: store,
		Catalog: billing.DefaultCatalog(), Log: log,
	}, d.Registry)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	platform.MountOps(mux, d.Registry, d.Checks())

	ln := cfg.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("intake: listen: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}

	// The relay outlives the HTTP server so that what the last requests
	// committed is still published before the process exits.
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = outbox.Run(relayCtx) }()
	go func() { defer wg.Done(); store.Run(relayCtx) }()
	defer func() { stopRelay(); wg.Wait() }()

	log.Info("intake serving", zap.String("addr", ln.Addr().String()))
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	return platform.Serve(ctx, srv, ln, 10*time.Second)
}
