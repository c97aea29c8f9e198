package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/services/coder"
)

// loadRules is the embedded rules set, or the set in dir when given.
func loadRules(dir string) (*billing.Rules, error) {
	if dir == "" {
		return billing.DefaultRules(), nil
	}
	r, err := billing.LoadRules(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("rules in %s:\n%w", dir, err)
	}
	return r, nil
}

func newCoderCmd() *cobra.Command {
	var cfg platform.Config
	var rulesDir, method, opsAddr string
	cmd := &cobra.Command{
		Use:   "coder",
		Short: "Run the coder service: visit.recorded to visit.coded (units, modifiers, KX)",
		Example: `  rcm coder --nats-url nats://nats:4222 --database-url postgres://rcm@db/rcm
  rcm coder --rules /etc/rcm/rules --ops-addr :9101`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkMethod(method); err != nil {
				return err
			}
			rules, err := loadRules(rulesDir)
			if err != nil {
				return err
			}
			d, closeDeps, err := openServiceDeps(cmd.Context(), cfg, "rcm-coder", coder.Schema)
			if err != nil {
				return err
			}
			defer closeDeps()
			d.Log.Info("rules loaded", zap.String("rules_version", rules.Version))
			return coder.Run(cmd.Context(), coder.Config{Rules: rules, Method: method, OpsAddr: opsAddr}, d)
		},
	}
	cfg.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rules directory overriding the embedded set (see rcm rules export)")
	cmd.Flags().StringVar(&method, "method", "", "unit method for every payer: cms or ama (default: each payer profile's)")
	cmd.Flags().StringVar(&opsAddr, "ops-addr", "127.0.0.1:9101", "listen address of /metrics, /healthz, /readyz")
	return cmd
}

func checkMethod(m string) error {
	switch m {
	case "", "cms", "ama":
		return nil
	}
	return fmt.Errorf("--method %q: want cms or ama", m)
}
