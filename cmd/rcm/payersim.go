package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/clearinghouse/payersim"
	"github.com/rcm-health/rcm/internal/platform"
)

func newPayersimCmd() *cobra.Command {
	var dir string
	var seed int64
	var rejectRate float64
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "payersim",
		Short: "Answer a directory mailbox like a clearinghouse and payer (999, 277CA)",
		Long: `rcm payersim reads the 837P files rcm writes to DIR/outbound and answers each
in DIR/inbound with a 999 (rejecting malformed files) and a 277CA (rejecting
claims with an invalid billing NPI, and a chosen share at random). Answers are
deterministic for a seed. rcm dev runs it on its own mailbox. (Adjudication
with 835 remittances comes with the denials stage.)`,
		Example: `  rcm payersim --mailbox-dir .rcm/mailbox --seed 42 --reject-rate 0.05`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("--mailbox-dir is required")
			}
			if rejectRate < 0 || rejectRate > 1 {
				return fmt.Errorf("--reject-rate %v: want 0 to 1", rejectRate)
			}
			log, err := platform.NewLogger("info", true)
			if err != nil {
				return err
			}
			peer, err := clearinghouse.NewDirPeer(dir)
			if err != nil {
				return err
			}
			sim := &payersim.Mailbox{Peer: peer, Config: payersim.Config{Seed: seed, RejectRate: rejectRate}, Log: log}
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				n, err := sim.Step(cmd.Context())
				if err != nil && cmd.Context().Err() == nil {
					log.Warn("payer simulator", zap.Error(err))
				}
				if n > 0 {
					log.Info("answered", zap.Int("count", n))
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-t.C:
				}
			}
		},
	}
	cmd.Flags().StringVar(&dir, "mailbox-dir", "", "the directory mailbox to answer (rcm dev: <data dir>/mailbox)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the simulated outcomes")
	cmd.Flags().Float64Var(&rejectRate, "reject-rate", 0.03, "share of claims rejected at random on the 277CA")
	cmd.Flags().DurationVar(&every, "every", 500*time.Millisecond, "how often the mailbox is read")
	return cmd
}
