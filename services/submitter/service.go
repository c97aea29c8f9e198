package submitter

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// Config is what the submitter needs beyond its dependencies.
type Config struct {
	Rules *billing.Rules
	// OpsAddr serves /metrics, /healthz and /readyz; empty serves nothing.
	OpsAddr string
	// Concurrency is how many coded visits are scrubbed at once (default 256, platform.ConsumerStage).
	Concurrency int
	// Ready, when set, is called once the consumer runs.
	Ready func()
	// Mailbox is the clearinghouse mailbox ready claims are sent to; nil
	// scrubs claims without sending them.
	Mailbox clearinghouse.Transport
	Batch   BatchConfig
}

// ConsumerSpec is the submitter's durable consumer on the coder's stream.
func ConsumerSpec() platform.ConsumerSpec {
	return platform.ConsumerSpec{Stream: events.StreamCoder, Durable: Consumer, Subjects: []string{events.SubjectVisitCoded}, AckWait: 30 * time.Second}
}

// Run migrates the submitter's schema and scrubs coded visits into claims
// until ctx ends.
func Run(ctx context.Context, cfg Config, d platform.Deps) error {
	if cfg.Rules == nil {
		return fmt.Errorf("submitter: no rules")
	}
	d.Log = d.Log.With(zap.String("rules_version", cfg.Rules.Version))
	h := &Handler{Rules: cfg.Rules}
	stage := platform.Stage{
		Service: "submitter", Schema: Schema, Migrations: Migrations(),
		Inputs: []platform.Input{
			{Consumer: ConsumerSpec(), Handler: h.Handle},
			{Consumer: CorrectionSpec(), Handler: h.HandleCorrection},
		},
		OpsAddr: cfg.OpsAddr, Concurrency: cfg.Concurrency, Ready: cfg.Ready,
	}
	if cfg.Mailbox != nil {
		stage.Background = func(ctx context.Context, outbox *platform.Outbox) error {
			log := d.Log.With(zap.String("service", "submitter"))
			b := &Batcher{Pool: d.Pool, Outbox: outbox, Mailbox: cfg.Mailbox, Config: cfg.Batch, Log: log.With(zap.String("component", "batcher"))}
			return b.Run(ctx, &Acks{Pool: d.Pool, Outbox: outbox, Mailbox: cfg.Mailbox, Log: log.With(zap.String("component", "acks"))})
		}
	}
	return platform.RunStage(ctx, stage, d)
}
