package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/services/intake"
)

func newIntakeCmd() *cobra.Command {
	var cfg platform.Config
	var addr string
	var secrets []string
	cmd := &cobra.Command{
		Use:   "intake",
		Short: "Run the intake service: EMR visit webhooks to visit.recorded",
		Example: `  RCM_WEBHOOK_SECRETS='acme-emr=whsec_...' \
  rcm intake --addr :8080 --nats-url nats://nats:4222 --database-url postgres://rcm@db/rcm`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sec, err := parseSecrets(secrets)
			if err != nil {
				return err
			}
			if len(sec) == 0 {
				return fmt.Errorf("no webhook secrets: set --webhook-secrets source=whsec_... (or RCM_WEBHOOK_SECRETS)")
			}
			d, closeDeps, err := openServiceDeps(cmd.Context(), cfg, "rcm-intake", intake.Schema)
			if err != nil {
				return err
			}
			defer closeDeps()
			d.Log.Info("webhook sources configured", zap.Int("count", len(sec)))
			return intake.Run(cmd.Context(), intake.Config{Addr: addr, Secrets: sec}, d)
		},
	}
	cfg.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address of the webhook API and /metrics, /healthz, /readyz")
	cmd.Flags().StringArrayVar(&secrets, "webhook-secrets", nil, "source=whsec_... per EMR source, comma-separated or repeated")
	return cmd
}
