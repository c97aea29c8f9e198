package platform

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/events"
)

// Stage describes a consuming stage: durable consumers whose events
// handlers turn, exactly once, into state in the stage's schema and events in
// its outbox. The coder, the submitter and denials are stages; intake is not
// (it consumes HTTP).
type Stage struct {
	// Service names the stage in logs, metrics and its dead-letter subject.
	Service    string
	Schema     string
	Migrations fs.FS
	// Inputs are the stage's consumers, each with its handler; they share
	// the schema's inbox, keyed by consumer.
	Inputs []Input
	// OpsAddr serves /metrics, /healthz and /readyz; empty serves nothing
	// (rcm dev serves them once for all stages).
	OpsAddr string
	// Concurrency is how many events each consumer has in hand at once
	// (default 256): the pool the group commit draws its batches from. At 64
	// the coder's batches were small enough that round trips, not the CPU,
	// bounded it near 450 visits/s with both cores partly idle.
	Concurrency int
	// Batch tunes the group commit of the stage's events.
	Batch BatchConfig
	// Ready, when set, is called once the consumer runs.
	Ready func()
	// Background, when set, runs beside the consumer until ctx ends, with
	// the stage's outbox for what it emits (the submitter's batcher).
	Background func(ctx context.Context, outbox *Outbox) error
}

// Input is one durable consumer of a stage and the handler of its events.
type Input struct {
	Consumer ConsumerSpec
	Handler  HandlerFunc
	// Key names the rows an event's handler shares with other events'
	// (DefaultKey, the visit, when nil): events with one key never commit
	// in two concurrent transactions.
	Key func(events.Envelope) string
}

// RunStage migrates the stage's schema, provisions streams and its consumer,
// and handles events until ctx ends. The outbox relay outlives the router
// so that what the last handlers committed is still published.
func RunStage(ctx context.Context, s Stage, d Deps) error {
	log := d.Log.With(zap.String("service", s.Service))
	if err := Migrate(ctx, d.Pool, s.Schema, s.Migrations); err != nil {
		return err
	}
	if err := EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		return err
	}
	outbox, err := NewOutbox(OutboxConfig{Schema: s.Schema}, d.Pool, d.JS, log, d.Registry)
	if err != nil {
		return err
	}
	router, err := NewRouter(RouterConfig{Service: s.Service}, NewPublisher(d.JS, 0), log)
	if err != nil {
		return err
	}
	metrics, err := NewStageMetrics(s.Service, d.Registry)
	if err != nil {
		return err
	}
	inbox := NewInbox(d.Pool, outbox)
	if s.Concurrency <= 0 {
		s.Concurrency = 256
	}
	for _, in := range s.Inputs {
		sub, err := NewSubscriber(d.JS, SubscriberConfig{Consumer: in.Consumer, Concurrency: s.Concurrency}, log)
		if err != nil {
			return err
		}
		// The empty topic takes every subject the consumer filters.
		router.AddConsumerHandler(in.Consumer.Durable, "", sub, metrics.Wrap(EventHandler(inbox, in.Consumer.Durable, in.Key, in.Handler)))
	}

	var wg sync.WaitGroup
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() { defer wg.Done(); _ = outbox.Run(relayCtx) }()
	defer func() { stopRelay(); wg.Wait() }()
	// The committers outlive the router, so that the handlers it waits
	// for at shutdown get their batches' answers.
	batchCtx, stopBatches := context.WithCancel(context.WithoutCancel(ctx))
	batchesDone := make(chan struct{})
	go func() { defer close(batchesDone); inbox.RunBatches(batchCtx, s.Batch) }()
	defer func() { stopBatches(); <-batchesDone }()

	if s.OpsAddr != "" {
		mux := http.NewServeMux()
		MountOps(mux, d.Registry, d.Checks())
		ln, err := net.Listen("tcp", s.OpsAddr)
		if err != nil {
			return fmt.Errorf("%s: listen: %w", s.Service, err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		wg.Add(1)
		go func() { defer wg.Done(); _ = Serve(ctx, srv, ln, 5*time.Second) }()
		log.Info("ops serving", zap.String("addr", ln.Addr().String()))
	}
	if s.Background != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Background(ctx, outbox); err != nil && ctx.Err() == nil {
				log.Error("background task stopped", zap.Error(err))
			}
		}()
	}
	go func() {
		<-router.Running()
		for _, in := range s.Inputs {
			log.Info("consuming", zap.String("consumer", in.Consumer.Durable))
		}
		if s.Ready != nil {
			s.Ready()
		}
	}()
	if err := router.Run(ctx); err != nil {
		return fmt.Errorf("%s: %w", s.Service, err)
	}
	if ctx.Err() == nil {
		// Every handler stopped without being asked (a consumer deleted
		// under it): a process that stays up and ready while consuming
		// nothing hides the outage, so the stage fails and its process
		// exits to be restarted.
		return fmt.Errorf("%s: its consumers stopped", s.Service)
	}
	return nil
}
