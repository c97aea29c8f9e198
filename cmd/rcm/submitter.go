package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/services/submitter"
)

func newSubmitterCmd() *cobra.Command {
	var cfg platform.Config
	var rulesDir, opsAddr string
	var mb mailboxFlags
	var batch submitter.BatchConfig
	cmd := &cobra.Command{
		Use:   "submitter",
		Short: "Run the submitter service: coded visits to scrubbed claims, 837P files and acknowledgements",
		Long: `rcm submitter builds a claim from each coded visit and scrubs it with the
explained edits of the rules set: claims with an error are held for a biller.
The others are batched into X12 837P files in the clearinghouse mailbox (a
directory, or SFTP), whose 999 and 277CA answers it reads back.`,
		Example: `  rcm submitter --mailbox-dir /var/lib/rcm/mailbox --sender-id CLINIC01 --receiver-id CLEARHOUSE
  RCM_SFTP_PASSWORD=... rcm submitter --sftp-addr sftp.example-clearinghouse.com:22 --sftp-user clinic01 \
    --sftp-host-key 'ssh-ed25519 AAAA...' --sftp-outbound /in --sftp-inbound /out`,
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
			d, closeDeps, err := openServiceDeps(cmd.Context(), cfg, "rcm-submitter", submitter.Schema)
			if err != nil {
				return err
			}
			defer closeDeps()
			d.Log.Info("rules loaded", zap.String("rules_version", rules.Version))
			if mailbox == nil {
				d.Log.Warn("no mailbox configured: claims are scrubbed but not sent (set --mailbox-dir or --sftp-addr)")
			}
			return submitter.Run(cmd.Context(), submitter.Config{Rules: rules, OpsAddr: opsAddr, Mailbox: mailbox, Batch: batch}, d)
		},
	}
	cfg.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rules directory overriding the embedded set (see rcm rules export)")
	cmd.Flags().StringVar(&opsAddr, "ops-addr", "127.0.0.1:9102", "listen address of /metrics, /healthz, /readyz")
	mb.addFlags(cmd.Flags())
	cmd.Flags().DurationVar(&batch.Interval, "batch-interval", 2*time.Second, "longest a ready claim waits for its 837P batch")
	cmd.Flags().IntVar(&batch.MaxClaims, "batch-max-claims", 500, "claims per 837P file at most")
	cmd.Flags().StringVar(&batch.SenderID, "sender-id", "RCMSUBMITTER", "submitter id on the envelope (ISA06, GS02, 1000A)")
	cmd.Flags().StringVar(&batch.SenderName, "sender-name", "RCM", "submitter name (1000A)")
	cmd.Flags().StringVar(&batch.ReceiverID, "receiver-id", "CLEARINGHOUSE", "clearinghouse id on the envelope (ISA08, GS03, 1000B)")
	cmd.Flags().StringVar(&batch.ReceiverName, "receiver-name", "CLEARINGHOUSE", "clearinghouse name (1000B)")
	cmd.Flags().StringVar(&batch.Usage, "usage", "T", "ISA15: T test or P production")
	return cmd
}

// mailboxFlags choose the clearinghouse mailbox: a directory, or SFTP.
type mailboxFlags struct {
	dir                        string
	addr, user, hostKey        string
	keyFile, outbound, inbound string
}

func (m *mailboxFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&m.dir, "mailbox-dir", "", "directory mailbox: 837P files go to DIR/outbound, answers are read from DIR/inbound")
	fs.StringVar(&m.addr, "sftp-addr", "", "SFTP mailbox host:port (password from RCM_SFTP_PASSWORD)")
	fs.StringVar(&m.user, "sftp-user", "", "SFTP user")
	fs.StringVar(&m.hostKey, "sftp-host-key", "", "the SFTP server's public host key (authorized_keys or known_hosts line)")
	fs.StringVar(&m.keyFile, "sftp-key-file", "", "PEM private key file for SFTP (instead of or with the password)")
	fs.StringVar(&m.outbound, "sftp-outbound", "outbound", "server directory 837P files are written to")
	fs.StringVar(&m.inbound, "sftp-inbound", "inbound", "server directory acknowledgements are read from")
}

func (m *mailboxFlags) open(ctx context.Context) (clearinghouse.Transport, error) {
	switch {
	case m.dir != "" && m.addr != "":
		return nil, fmt.Errorf("choose one mailbox: --mailbox-dir or --sftp-addr")
	case m.dir != "":
		return clearinghouse.NewDir(m.dir)
	case m.addr != "":
		cfg := clearinghouse.SFTPConfig{Addr: m.addr, User: m.user, Password: os.Getenv("RCM_SFTP_PASSWORD"), HostKey: m.hostKey,
			OutboundDir: m.outbound, InboundDir: m.inbound}
		if m.keyFile != "" {
			key, err := os.ReadFile(m.keyFile)
			if err != nil {
				return nil, fmt.Errorf("--sftp-key-file: %w", err)
			}
			cfg.PrivateKey = key
		}
		return clearinghouse.NewSFTP(ctx, cfg)
	}
	return nil, nil
}
