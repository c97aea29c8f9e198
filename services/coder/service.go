package coder

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
	"github.com/rcm-health/rcm/pkg/events"
)

// Config is what the coder needs beyond its dependencies.
type Config struct {
	Rules *billing.Rules
	// Method overrides every payer's unit method when set.
	Method string
	// OpsAddr serves /metrics, /healthz and /readyz; empty serves nothing
	// (rcm dev serves them once for all stages).
	OpsAddr string
	// Concurrency is how many visits are coded at once (default 16).
	Concurrency int
	// Ready, when set, is called once the consumer runs.
	Ready func()
}

// ConsumerSpec is the coder's durable consumer on the intake stream.
func ConsumerSpec() platform.ConsumerSpec {
	return platform.ConsumerSpec{Stream: events.StreamIntake, Durable: Consumer, Subjects: []string{events.SubjectVisitRecorded}, AckWait: 30 * time.Second}
}

// Run migrates the coder's schema and codes visits until ctx ends.
func Run(ctx context.Context, cfg Config, d platform.Deps) error {
	if cfg.Rules == nil {
		return fmt.Errorf("coder: no rules")
	}
	log := d.Log.With(zap.String("service", "coder"), zap.String("rules_version", cfg.Rules.Version))
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
	inbox := platform.NewInbox(d.Pool, outbox)
	sub, err := platform.NewSubscriber(d.JS, platform.SubscriberConfig{Consumer: ConsumerSpec(), Concurrency: cfg.Concurrency}, log)
	if err != nil {
		return err
	}
	router, err := platform.NewRouter(platform.RouterConfig{Service: "coder"}, platform.NewPublisher(d.JS, 0), log)
	if err != nil {
		return err
	}
	metrics, err := platform.NewStageMetrics("coder", d.Registry)
	if err != nil {
		return err
	}
	h := &Handler{Rules: cfg.Rules, Method: cfg.Method}
	router.AddConsumerHandler("coder", events.SubjectVisitRecorded, sub,
		metrics.Wrap(platform.EventHandler(inbox, Consumer, h.Handle)))

	var wg sync.WaitGroup
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() { defer wg.Done(); _ = outbox.Run(relayCtx) }()
	defer func() { stopRelay(); wg.Wait() }()

	if cfg.OpsAddr != "" {
		mux := http.NewServeMux()
		platform.MountOps(mux, d.Registry, d.Checks())
		ln, err := net.Listen("tcp", cfg.OpsAddr)
		if err != nil {
			return fmt.Errorf("coder: listen: %w", err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		wg.Add(1)
		go func() { defer wg.Done(); _ = platform.Serve(ctx, srv, ln, 5*time.Second) }()
		log.Info("coder ops serving", zap.String("addr", ln.Addr().String()))
	}
	go func() {
		<-router.Running()
		log.Info("coder consuming", zap.String("consumer", Consumer))
		if cfg.Ready != nil {
			cfg.Ready()
		}
	}()
	if err := router.Run(ctx); err != nil {
		return fmt.Errorf("coder: %w", err)
	}
	return nil
}
