package main

import (
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/services/submitter"
)

func newSubmitterCmd() *cobra.Command {
	var cfg platform.Config
	var rulesDir, opsAddr string
	cmd := &cobra.Command{
		Use:   "submitter",
		Short: "Run the submitter service: visit.coded to scrubbed claims (claim.scrubbed)",
		Long: `rcm submitter builds a claim from each coded visit and scrubs it with the
explained edits of the rules set: claims with an error are held for a biller,
the others are ready to send. (Sending 837P batches to the clearinghouse
and reading its acknowledgements come next.)`,
		Example: `  rcm submitter --nats-url nats://nats:4222 --database-url postgres://rcm@db/rcm
  rcm submitter --rules /etc/rcm/rules --ops-addr :9102`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := loadRules(rulesDir)
			if err != nil {
				return err
			}
			d, closeDeps, err := openDeps(cmd.Context(), cfg, "rcm-submitter")
			if err != nil {
				return err
			}
			defer closeDeps()
			d.Log.Info("rules loaded", zap.String("rules_version", rules.Version))
			return submitter.Run(cmd.Context(), submitter.Config{Rules: rules, OpsAddr: opsAddr}, d)
		},
	}
	cfg.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rules directory overriding the embedded set (see rcm rules export)")
	cmd.Flags().StringVar(&opsAddr, "ops-addr", "127.0.0.1:9102", "listen address of /metrics, /healthz, /readyz")
	return cmd
}
