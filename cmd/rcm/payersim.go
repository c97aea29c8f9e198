package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/clearinghouse/payersim"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
)

func newPayersimCmd() *cobra.Command {
	var dir, rulesDir string
	var seed int64
	var rejectRate, denyRate float64
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "payersim",
		Short: "Answer a directory mailbox like a clearinghouse and payer (999, 277CA, 835)",
		Long: `rcm payersim reads the 837P files rcm writes to DIR/outbound and answers each
in DIR/inbound with a 999 (rejecting malformed files) and a 277CA (rejecting
claims with an invalid billing NPI, and a chosen share at random), then
adjudicates the accepted claims into an 835 remittance with the rules' fee
schedule, denying a chosen share as not medically necessary. Answers are
deterministic for a seed. rcm dev runs it on its own mailbox.`,
		Example: `  rcm payersim --mailbox-dir .rcm/mailbox --seed 42 --reject-rate 0.05`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("--mailbox-dir is required")
			}
			if rejectRate < 0 || rejectRate > 1 {
				return fmt.Errorf("--reject-rate %v: want 0 to 1", rejectRate)
			}
			if denyRate < 0 || denyRate > 1 {
				return fmt.Errorf("--deny-rate %v: want 0 to 1", denyRate)
			}
			if every <= 0 {
				return fmt.Errorf("--every %v: want a positive duration", every)
			}
			rules, err := loadRules(rulesDir)
			if err != nil {
				return err
			}
			log, err := platform.NewLogger("info", true)
			if err != nil {
				return err
			}
			peer, err := clearinghouse.NewDirPeer(dir)
			if err != nil {
				return err
			}
			// The same payer as rcm dev's: without the 835 the denials stage
			// of a deployment run against this simulator reconciles nothing.
			sim := newPayerSim(peer, rules, seed, rejectRate, denyRate, log)
			platform.Every(cmd.Context(), every, func() {
				n, err := sim.Step(cmd.Context())
				if err != nil && cmd.Context().Err() == nil {
					log.Warn("payer simulator", zap.Error(err))
				}
				if n > 0 {
					log.Info("answered", zap.Int("count", n))
				}
			})
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "mailbox-dir", "", "the directory mailbox to answer (rcm dev: <data dir>/mailbox)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the simulated outcomes")
	cmd.Flags().Float64Var(&rejectRate, "reject-rate", 0.03, "share of claims rejected at random on the 277CA")
	cmd.Flags().Float64Var(&denyRate, "deny-rate", 0.05, "share of payable lines denied CO-50 on the 835")
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rules directory overriding the embedded set (fee schedule, payer profiles)")
	cmd.Flags().DurationVar(&every, "every", 500*time.Millisecond, "how often the mailbox is read")
	return cmd
}

// newPayerSim is the simulated clearinghouse and payer of rcm payersim and
// rcm dev: a 999 and a 277CA for every 837P, and an 835 adjudicated with
// the rules' fee schedule.
func newPayerSim(peer clearinghouse.Transport, rules *billing.Rules, seed int64, rejectRate, denyRate float64, log *zap.Logger) *payersim.Mailbox {
	return &payersim.Mailbox{Peer: peer, Config: payersim.Config{Seed: seed, RejectRate: rejectRate}, Log: log,
		Remit: &payersim.Adjudicator{Config: payersim.AdjudicateConfig{Seed: seed, DenyRate: denyRate, DeductibleRate: 0.1, DeductibleCents: 4000, CopayCents: 2500,
			Allowed: func(payerID, code string) (int64, bool) { return rules.AllowedCents(payerID, "", code) },
			AuthRequired: func(payerID string) bool {
				p, ok := rules.Payer(payerID, "")
				return ok && p.PriorAuthRequired
			}}}}
}
