package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/pgserver"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/webhook"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/denials"
	"github.com/rcm-health/rcm/services/intake"
	"github.com/rcm-health/rcm/services/submitter"
)

func newDevCmd() *cobra.Command {
	var cfg platform.Config
	var dataDir, addr, webAddr, rulesDir string
	var demoVisits int
	var stages []string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole pipeline in one process with embedded NATS and Postgres",
		Long: `rcm dev runs every stage in one process. NATS with JetStream is embedded
(data under --data-dir, on a free loopback port). Postgres comes from
DATABASE_URL, or else rcm starts a private cluster under --data-dir from the
machine's PostgreSQL server binaries, and stops it on exit.

Webhooks are verified with RCM_WEBHOOK_SECRET (a printed dev default when
unset), for any source name.`,
		Example: `  rcm dev                 # serve on 127.0.0.1:8080
  rcm dev --demo 50       # and post 50 synthetic visits once it is up`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseStages(stages)
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), devOptions{cfg: cfg, dataDir: dataDir, addr: addr, webAddr: webAddr, demoVisits: demoVisits, rulesDir: rulesDir, stages: st})
		},
	}
	cfg.AddFlags(cmd.Flags())
	// Every stage shares dev's one pool: each consuming stage's group
	// commit holds up to eight connections, intake's a few more, so the
	// service default of 24 left committers queueing for a connection.
	if f := cmd.Flags().Lookup("db-max-conns"); f != nil {
		f.DefValue = "80"
		_ = f.Value.Set(f.DefValue)
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".rcm", "where NATS, Postgres and the mailbox keep their data")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address of intake (webhooks, /metrics, /healthz, /readyz)")
	cmd.Flags().StringVar(&webAddr, "web-addr", "127.0.0.1:8083", "listen address of the biller web UI and POST /v1/remittances")
	cmd.Flags().IntVar(&demoVisits, "demo", 0, "post this many synthetic visits once the pipeline is up")
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rules directory overriding the embedded set (see rcm rules export)")
	cmd.Flags().StringSliceVar(&stages, "stages", nil, "stages to run (intake always runs); default all: "+strings.Join(devStages, ","))
	_ = cmd.Flags().MarkHidden("nats-url") // dev embeds its own
	return cmd
}

type devOptions struct {
	cfg        platform.Config
	dataDir    string
	addr       string
	webAddr    string
	demoVisits int
	rulesDir   string
	// stages to run besides intake, which always runs; nil runs them all.
	stages map[string]bool
}

// devStages are the stages rcm dev can run, in pipeline order.
var devStages = []string{"intake", "coder", "submitter", "denials"}

func parseStages(list []string) (map[string]bool, error) {
	m := map[string]bool{"intake": true}
	if len(list) == 0 {
		for _, s := range devStages {
			m[s] = true
		}
		return m, nil
	}
	for _, s := range list {
		if !slices.Contains(devStages, s) {
			return nil, fmt.Errorf("--stages: unknown stage %q (have %s)", s, strings.Join(devStages, ", "))
		}
		m[s] = true
	}
	return m, nil
}

func (o devOptions) stageList() string {
	var out []string
	for _, s := range devStages {
		if o.stages[s] {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

func runDev(ctx context.Context, o devOptions) error {
	if o.stages == nil {
		o.stages, _ = parseStages(nil)
	}
	cfg, dataDir, addr, demoVisits := o.cfg, o.dataDir, o.addr, o.demoVisits
	rules, err := loadRules(o.rulesDir)
	if err != nil {
		return err
	}
	if cfg.LogLevel == "info" {
		cfg.LogLevel = "warn" // the terminal is for the URLs and the demo summary
	}
	log, err := platform.NewLogger(cfg.LogLevel, true)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	ns, err := platform.StartNATS(filepath.Join(abs, "nats"), 0)
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	urlFile := filepath.Join(abs, "nats.url")
	if err := os.WriteFile(urlFile, []byte(ns.URL()+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", urlFile, err)
	}
	defer os.Remove(urlFile)

	dbURL := cfg.DatabaseURL
	pgWhere := "DATABASE_URL"
	var pgDone <-chan struct{} // closes if the private cluster dies
	if dbURL == "" {
		pg, err := pgserver.Start(ctx, pgserver.Options{Dir: filepath.Join(abs, "postgres"), Fsync: true, Log: pgLog(abs)})
		if err != nil {
			if errors.Is(err, pgserver.ErrNotFound) {
				return fmt.Errorf("no PostgreSQL: install the PostgreSQL server (apt-get install postgresql) or set DATABASE_URL")
			}
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := pg.Stop(sctx); err != nil {
				log.Warn("stop postgres", zap.Error(err))
			}
		}()
		if err := pg.CreateDatabase(ctx, "rcm"); err != nil {
			return err
		}
		dbURL = pg.URL("rcm")
		pgDone = pg.Done()
		pgWhere = "private cluster in " + pg.DataDir
	}
	cfg.NATSURL = ns.URL()
	cfg.DatabaseURL = dbURL
	// Tools such as rcm replay find the database of a running dev here, as
	// they find NATS in nats.url. Only the owner may read it: a
	// DATABASE_URL may carry a password.
	dbFile := filepath.Join(abs, "database.url")
	_ = os.Remove(dbFile)
	if err := os.WriteFile(dbFile, []byte(dbURL+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", dbFile, err)
	}
	defer os.Remove(dbFile)
	d, closeDeps, err := openDepsWithLogger(ctx, cfg, "rcm-dev", log)
	if err != nil {
		return err
	}
	defer closeDeps()
	if err := platform.RegisterPipelineCollector(d.Registry, d.JS, d.Pool, platform.PipelineServices...); err != nil {
		return err
	}
	if err := denials.RegisterMetrics(d.Registry, d.Pool); err != nil {
		return err
	}

	secretText := webhookSecretFromEnv()
	secret, err := webhook.ParseSecret(secretText)
	if err != nil {
		return fmt.Errorf("RCM_WEBHOOK_SECRET: %w", err)
	}
	secrets := map[string][]webhook.Secret{intake.AnySource: {secret}}

	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	// Each stage runs until ctx ends; the first to fail stops them all.
	errc := make(chan error, len(devStages)+1) // + the payer simulator
	running := 0
	stage := func(run func() error) {
		running++
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := run()
			if err != nil && ctx.Err() == nil {
				cancel()
			}
			errc <- err
		}()
	}
	stage(func() error {
		return intake.Run(ctx, intake.Config{Addr: addr, Secrets: secrets, Ready: func(a string) { ready <- a }}, d)
	})
	if o.stages["coder"] {
		stage(func() error { return coder.Run(ctx, coder.Config{Rules: rules}, d) })
	}
	if o.stages["submitter"] {
		mailbox, err := clearinghouse.NewDir(filepath.Join(abs, "mailbox"))
		if err != nil {
			return err
		}
		peer, err := clearinghouse.NewDirPeer(filepath.Join(abs, "mailbox"))
		if err != nil {
			return err
		}
		// The payer simulator answers the mailbox like a clearinghouse.
		seed := time.Now().UnixNano()
		sim := newPayerSim(peer, rules, seed, 0, 0.05, log.With(zap.String("service", "payersim")))
		stage(func() error {
			platform.Every(ctx, 500*time.Millisecond, func() {
				if _, err := sim.Step(ctx); err != nil && ctx.Err() == nil {
					log.Warn("payer simulator", zap.Error(err))
				}
			})
			return nil
		})
		stage(func() error {
			return submitter.Run(ctx, submitter.Config{Rules: rules, Mailbox: mailbox,
				Batch: submitter.BatchConfig{Interval: 250 * time.Millisecond, SenderID: "RCMDEV", SenderName: "RCM DEV CLINIC", ReceiverID: "PAYERSIM", ReceiverName: "RCM PAYER SIMULATOR"}}, d)
		})
	}

	webReady := make(chan string, 1)
	if o.stages["denials"] {
		mailbox, err := clearinghouse.NewDir(filepath.Join(abs, "mailbox"))
		if err != nil {
			return err
		}
		if err := ensureDevUser(ctx, d); err != nil {
			return err
		}
		stage(func() error {
			return denials.Run(ctx, denials.Config{Rules: rules, Mailbox: mailbox, PollInterval: 500 * time.Millisecond,
				HTTPAddr: o.webAddr, Web: webUI(log, d.JS, false), Listening: func(a string) { webReady <- a },
				Verifier: &webhook.Verifier{Secrets: map[string][]webhook.Secret{"clearinghouse": {secret}}}, Sources: []string{"clearinghouse"}}, d)
		})
	}
	if !o.stages["denials"] || o.webAddr == "" {
		webReady <- ""
	}

	select {
	case a := <-ready:
		web := "not running"
		select {
		case w := <-webReady:
			if w != "" {
				web = "http://" + w + "/  (user " + devUser + ", password " + devPassword + ")"
			}
		case err := <-errc:
			cancel()
			wg.Wait()
			return err
		}
		fmt.Printf(`rcm dev is running (Ctrl-C to stop)
  intake webhooks   POST http://%[1]s/v1/visits
  metrics / health  http://%[1]s/metrics  /healthz  /readyz
  NATS (JetStream)  %[2]s
  Postgres          %[3]s (%[4]s)
  data dir          %[5]s
  webhook secret    %[6]s
  stages            %[7]s (rules %[8]s)
  837P mailbox      %[9]s
  biller web UI     %[10]s
`, a, ns.URL(), redactURL(dbURL), pgWhere, abs, secretNote(secretText), o.stageList(), rules.Version, filepath.Join(abs, "mailbox", "outbound"), web)
		if demoVisits > 0 {
			go func() {
				if err := runDemo(ctx, demoOptions{visits: demoVisits, addr: a, natsURL: ns.URL(), secret: secretText, seed: time.Now().UnixNano()}); err != nil {
					fmt.Fprintln(os.Stderr, "demo:", err)
				}
			}()
		}
	case err := <-errc:
		cancel()
		wg.Wait()
		return err
	}
	select {
	case err = <-errc:
	case <-pgDone:
		err = fmt.Errorf("the private PostgreSQL exited; its log is %s", filepath.Join(abs, "postgres.log"))
	}
	cancel()
	wg.Wait()
	// The other stages' results: the first error wins.
	for range running - 1 {
		if err2 := <-errc; err == nil || errors.Is(err, context.Canceled) {
			err = err2
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	fmt.Println("rcm dev stopped")
	return nil
}

func secretNote(s string) string {
	if s == devSecret {
		return s + "  (dev default; set RCM_WEBHOOK_SECRET to change)"
	}
	return "from RCM_WEBHOOK_SECRET"
}

func pgLog(dataDir string) *os.File {
	f, err := os.OpenFile(filepath.Join(dataDir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil
	}
	return f
}
