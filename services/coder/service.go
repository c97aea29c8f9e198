package coder

import (
	"context"
	"fmt"
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
	// Concurrency is how many visits are coded at once (default 256, platform.ConsumerStage).
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
	d.Log = d.Log.With(zap.String("rules_version", cfg.Rules.Version))
	h := &Handler{Rules: cfg.Rules, Method: cfg.Method}
	return platform.RunStage(ctx, platform.Stage{
		Service: "coder", Schema: Schema, Migrations: Migrations(),
		Inputs:  []platform.Input{{Consumer: ConsumerSpec(), Handler: h.Handle, Key: EventKey}},
		OpsAddr: cfg.OpsAddr, Concurrency: cfg.Concurrency, Ready: cfg.Ready,
	}, d)
}
