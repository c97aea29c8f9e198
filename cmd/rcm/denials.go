package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/webhook"
	"github.com/rcm-health/rcm/services/denials"
)

func newDenialsCmd() *cobra.Command {
	var cfg platform.Config
	var rulesDir, opsAddr, httpAddr string
	var insecureCookies bool
	var mb mailboxFlags
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "denials",
		Short: "Run the denials service: 835 posting, reconciliation, the denial work queue and the biller web UI",
		Long: `rcm denials keeps a ledger of every claim from the submitter's events, posts
the 835 remittances that reach the clearinghouse mailbox (or POST
/v1/remittances, signed like EMR webhooks with RCM_WEBHOOK_SECRET), matches
them to what was sent, and opens a work item for every denial. Billers work
the queue in the web UI; create the first account with rcm users add.`,
		Example: `  rcm denials --mailbox-dir /var/lib/rcm/mailbox --http-addr :8443
  rcm users add --user ann --name "Ann Biller" --role biller`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := loadRules(rulesDir)
			if err != nil {
				return err
			}
			mailbox, err := mb.open(cmd.Context())
			if err != nil {
				return err
			}
			if mailbox != nil {
				defer mailbox.Close()
			}
			d, closeDeps, err := openServiceDeps(cmd.Context(), cfg, "rcm-denials", denials.Schema)
			if err != nil {
				return err
			}
			defer closeDeps()
			if err := denials.RegisterMetrics(d.Registry, d.Pool); err != nil {
				return err
			}
			dc := denials.Config{Rules: rules, OpsAddr: opsAddr, HTTPAddr: httpAddr, Mailbox: mailbox, PollInterval: poll,
				Web: webUI(d.Log, d.JS, !insecureCookies)}
			if s := os.Getenv("RCM_WEBHOOK_SECRET"); s != "" {
				secret, err := webhook.ParseSecret(s)
				if err != nil {
					return fmt.Errorf("RCM_WEBHOOK_SECRET: %w", err)
				}
				dc.Verifier = &webhook.Verifier{Secrets: map[string][]webhook.Secret{"clearinghouse": {secret}}}
				dc.Sources = []string{"clearinghouse"}
			}
			return denials.Run(cmd.Context(), dc, d)
		},
	}
	cfg.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rules directory overriding the embedded set (see rcm rules export)")
	cmd.Flags().StringVar(&opsAddr, "ops-addr", "127.0.0.1:9103", "listen address of /metrics, /healthz, /readyz")
	cmd.Flags().StringVar(&httpAddr, "http-addr", "127.0.0.1:8083", "listen address of the web UI and POST /v1/remittances")
	cmd.Flags().BoolVar(&insecureCookies, "insecure-cookies", false, "session cookies without the Secure flag (plain-HTTP development only)")
	cmd.Flags().DurationVar(&poll, "poll-interval", 5*time.Second, "how often the mailbox is read for 835 files")
	mb.addFlags(cmd.Flags())
	return cmd
}

func newRemitImportCmd() *cobra.Command {
	var cfg platform.Config
	var rulesDir string
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Post 835 files to the ledger, as if they had come through the mailbox",
		Long: `rcm remit import reads each 835 file, posts every transaction set in it (each
all or nothing), reconciles its claims with what was submitted and opens denial
work items, then publishes the events. Importing a file again, or another file
with the same payer and trace number, posts nothing twice. It prints one JSON
result per file; a malformed file makes it exit non-zero naming the segment
and element.`,
		Example: `  rcm remit import era-2026-11-27.835
  RCM_DATABASE_URL=postgres://... RCM_NATS_URL=nats://... rcm remit import *.835`,
		Args:    cobra.MinimumNArgs(1),
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, args []string) error {
			rules, err := loadRules(rulesDir)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			d, closeDeps, err := openDeps(ctx, cfg, "rcm-remit-import")
			if err != nil {
				return err
			}
			defer closeDeps()
			store, err := openStore(ctx, d, rules)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, name := range args {
				data, err := os.ReadFile(name)
				if err != nil {
					return err
				}
				res, err := store.Import(ctx, data, filepath.Base(name), denials.SourceImport)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if err := enc.Encode(struct {
					File string `json:"file"`
					denials.ImportResult
				}{name, res}); err != nil {
					return err
				}
			}
			// Publish what was posted before returning: the outbox is
			// durable, but people expect the queue to show it now.
			_, err = store.Outbox.Sweep(ctx, 0)
			return err
		},
	}
	cfg.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rules directory overriding the embedded set")
	return cmd
}

// openStore migrates the denials schema and returns a store whose outbox
// the caller sweeps.
func openStore(ctx context.Context, d platform.Deps, rules *billing.Rules) (*denials.Store, error) {
	if err := platform.Migrate(ctx, d.Pool, denials.Schema, denials.Migrations()); err != nil {
		return nil, err
	}
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		return nil, err
	}
	outbox, err := platform.NewOutbox(platform.OutboxConfig{Schema: denials.Schema}, d.Pool, d.JS, d.Log, nil)
	if err != nil {
		return nil, err
	}
	return &denials.Store{Pool: d.Pool, Outbox: outbox, Rules: rules}, nil
}
