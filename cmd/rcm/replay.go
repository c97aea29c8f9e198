package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/denials"
	"github.com/rcm-health/rcm/services/intake"
	"github.com/rcm-health/rcm/services/submitter"
)

type replayOptions struct {
	cfg              platform.Config
	dataDir          string
	stage            string
	since, until     string
	fromSeq, toSeq   uint64
	dryRun           bool
	rulesDir, method string
}

func newReplayCmd() *cobra.Command {
	var o replayOptions
	cmd := &cobra.Command{
		Use:   "replay --stage STAGE (--since TIME | --from-seq N) [--until TIME | --to-seq N] [--dry-run]",
		Short: "Re-run a stage over its input stream's history, or show what that would change",
		Long: `rcm replay re-runs one stage over part of the history of its input stream,
compares what it makes now with what the stage made then (its own tables),
and publishes a new revision of what changed, and only of that. A replay
with the rules the stage ran with changes nothing and says so. It reads
the stream with an ordered consumer: the stage's durable consumer and its
inbox are left alone, and the stage may keep running meanwhile.

  coder      INTAKE's visit.recorded. A visit whose coding changes (units,
             modifiers, lines, charges, expected amounts, issues) gets a
             new visit.coded revision with the replay's rules version; the
             submitter then rebuilds its unsent claim, or holds a sent one
             for a corrected claim. Only the revision the coder made
             current is re-coded.
  submitter  CODER's visit.coded. An unsent claim whose build or edits
             change is rewritten (held or ready) and announced with a new
             claim.scrubbed. A sent claim is never rebuilt: the replay says
             if it would scrub differently now.
  denials    CODER's visit.coded and SUBMITTER's claim events: records in
             the claim ledger the events it lacks. The ledger decides
             nothing by rules; 835 files are not posted again.
  intake     Its input is HTTP: the replay republishes, from intake's own
             tables and outbox, the visit.recorded events of the revisions
             received in the range that INTAKE lacks.

--dry-run prints, per visit or claim, what would change (units, modifiers,
lines added or removed, charges and expected dollars, edits) and totals,
and publishes and writes nothing. Output names visits and claims by id and
carries codes and dollars, never patient names, dates of birth or member
ids.

TIME is RFC 3339 (2026-11-01T08:00:00Z), a date (2026-11-01, midnight UTC),
or a duration before now (36h, 7d). --since and --until select by when the
stream stored an event (for intake, when intake received the visit);
--from-seq and --to-seq by stream sequence, both inclusive (coder and
submitter only).

Give the replay the rules (and --method) the stage now runs with: a replay
under other rules is a what-if, best run with --dry-run.

The pipeline is found as rcm dev wrote it in --data-dir (nats.url and
database.url), or from --nats-url and --database-url (DATABASE_URL).`,
		Example: `  rcm replay --stage coder --since 2026-01-01 --dry-run                  # what-if under the embedded rules
  rcm replay --stage coder --since 2026-01-01 --rules ./rules-2026.12     # re-code after a rules change
  rcm replay --stage submitter --from-seq 1 --to-seq 5000 --rules ./rules-2026.12 --dry-run
  rcm replay --stage denials --since 24h
  rcm replay --stage intake --since 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z
  rcm replay --stage coder --since 7d --nats-url nats://nats:4222 --database-url postgres://rcm@db/rcm`,
		Args:    cobra.NoArgs,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			err := runReplay(cmd.Context(), o, out)
			if ferr := out.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	f := cmd.Flags()
	o.cfg.AddFlags(f)
	// Without --nats-url the URL comes from --data-dir, not from the
	// services' default.
	o.cfg.NATSURL, f.Lookup("nats-url").DefValue = "", ""
	f.Lookup("nats-url").Usage = "NATS URL of a deployment (default: the one rcm dev wrote in --data-dir)"
	f.Lookup("database-url").Usage = "PostgreSQL URL of a deployment, also DATABASE_URL (default: the one rcm dev wrote in --data-dir)"
	for _, name := range []string{"stream-replicas", "stream-max-age", "stream-duplicates"} {
		_ = f.MarkHidden(name) // a replay provisions nothing
	}
	f.StringVar(&o.dataDir, "data-dir", ".rcm", "data dir of the running rcm dev to replay")
	f.StringVar(&o.stage, "stage", "", "stage to replay: coder, submitter, denials or intake")
	f.StringVar(&o.since, "since", "", "replay from this time (RFC 3339, a date, or a duration before now)")
	f.StringVar(&o.until, "until", "", "replay up to this time, exclusive")
	f.Uint64Var(&o.fromSeq, "from-seq", 0, "replay from this stream sequence")
	f.Uint64Var(&o.toSeq, "to-seq", 0, "replay up to this stream sequence, inclusive")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would change; publish and write nothing")
	f.StringVar(&o.rulesDir, "rules", "", "rules directory overriding the embedded set (coder and submitter)")
	f.StringVar(&o.method, "method", "", "unit method for every payer, as the coder's --method: cms or ama (coder only)")
	return cmd
}

// replayRange checks the flags and turns them into a range.
func (o replayOptions) replayRange(now time.Time) (platform.ReplayRange, error) {
	var r platform.ReplayRange
	switch {
	case o.since == "" && o.fromSeq == 0:
		return r, errors.New("say where to start: --since TIME or --from-seq N (--from-seq 1 replays the whole stream)")
	case o.since != "" && o.fromSeq > 0:
		return r, errors.New("--since and --from-seq: choose one")
	case o.until != "" && o.toSeq > 0:
		return r, errors.New("--until and --to-seq: choose one")
	case o.since != "" && o.toSeq > 0, o.fromSeq > 0 && o.until != "":
		return r, errors.New("a range is by time (--since, --until) or by sequence (--from-seq, --to-seq), not both")
	}
	var err error
	if o.since != "" {
		if r.Since, err = parseReplayTime(o.since, now); err != nil {
			return r, fmt.Errorf("--since: %w", err)
		}
	}
	if o.until != "" {
		if r.Until, err = parseReplayTime(o.until, now); err != nil {
			return r, fmt.Errorf("--until: %w", err)
		}
	}
	r.FromSeq, r.ToSeq = o.fromSeq, o.toSeq
	if err := r.Validate(); err != nil {
		return r, err
	}
	return r, nil
}

// parseReplayTime reads RFC 3339, a date (midnight UTC), a date and time
// without a zone (UTC), or a duration before now; "d" counts days.
func parseReplayTime(s string, now time.Time) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if n, err := time.ParseDuration(s); err == nil && n > 0 {
		return now.Add(-n), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-11-01, 2026-11-01T08:00:00Z) or a duration before now (36h, 7d)", s)
}

func runReplay(ctx context.Context, o replayOptions, out io.Writer) error {
	rng, err := o.replayRange(time.Now())
	if err != nil {
		return err
	}
	if err := checkMethod(o.method); err != nil {
		return err
	}
	switch o.stage {
	case "coder":
	case "submitter", "denials", "intake":
		if o.method != "" {
			return fmt.Errorf("--method applies to the coder, not the %s", o.stage)
		}
		if o.stage != "submitter" && o.rulesDir != "" {
			return fmt.Errorf("--rules: the %s decides nothing by rules, so a replay of it has no use for them", o.stage)
		}
		if o.stage != "submitter" && (o.fromSeq > 0 || o.toSeq > 0) {
			if o.stage == "intake" {
				return errors.New("intake's input is HTTP, not a stream: replay it by time (--since, --until)")
			}
			return errors.New("the denials ledger reads two streams (CODER and SUBMITTER), whose sequences differ: replay it by time (--since, --until)")
		}
	case "":
		return errors.New("--stage is required: coder, submitter, denials or intake")
	default:
		return fmt.Errorf("--stage %q: want coder, submitter, denials or intake", o.stage)
	}
	rules, err := loadRules(o.rulesDir)
	if err != nil {
		return err
	}
	// A URL not given (flag or environment) is the running rcm dev's.
	cfg := o.cfg
	if cfg.NATSURL == "" {
		if cfg.NATSURL, err = natsURLFromDataDir(o.dataDir); err != nil {
			return fmt.Errorf("%w (or give --nats-url)", err)
		}
	}
	if cfg.DatabaseURL == "" {
		if cfg.DatabaseURL, err = databaseURLFromDataDir(o.dataDir); err != nil {
			return err
		}
	}
	if cfg.LogLevel == "info" {
		cfg.LogLevel = "warn" // the terminal is for the replay's report
	}
	d, closeDeps, err := openReplayDeps(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDeps()

	switch o.stage {
	case "coder":
		_, err = (&coder.Replay{Pool: d.Pool, JS: d.JS, Rules: rules, Method: o.method, DryRun: o.dryRun, Out: out}).Run(ctx, rng)
	case "submitter":
		_, err = (&submitter.Replay{Pool: d.Pool, JS: d.JS, Rules: rules, DryRun: o.dryRun, Out: out}).Run(ctx, rng)
	case "denials":
		_, err = (&denials.Replay{Pool: d.Pool, JS: d.JS, DryRun: o.dryRun, Out: out}).Run(ctx, rng)
	case "intake":
		_, err = (&intake.Replay{Pool: d.Pool, JS: d.JS, DryRun: o.dryRun, Out: out}).Run(ctx, rng)
	}
	return err
}

// openReplayDeps connects as openDeps does, but gives up on NATS after a
// few reconnects: a replay that lost the server must fail, not wait.
func openReplayDeps(ctx context.Context, cfg platform.Config) (platform.Deps, func(), error) {
	log, err := platform.NewLogger(cfg.LogLevel, cfg.LogConsole)
	if err != nil {
		return platform.Deps{}, nil, err
	}
	nc, err := platform.ConnectNATS(cfg.NATSURL, "rcm-replay", log, nats.MaxReconnects(5), nats.Timeout(5*time.Second))
	if err != nil {
		return platform.Deps{}, nil, fmt.Errorf("%w (at %s)", err, redactURL(cfg.NATSURL))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return platform.Deps{}, nil, fmt.Errorf("jetstream: %w", err)
	}
	pool, err := platform.OpenPool(ctx, cfg.DatabaseURL, int32(cfg.DBMaxConns))
	if err != nil {
		nc.Close()
		return platform.Deps{}, nil, err
	}
	return platform.Deps{Log: log, NATS: nc, JS: js, Pool: pool}, func() { pool.Close(); nc.Close() }, nil
}

// databaseURLFromDataDir finds the Postgres URL a running rcm dev wrote.
func databaseURLFromDataDir(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "database.url"))
	if err != nil {
		return "", fmt.Errorf("no database URL: no running rcm dev in %s wrote one (give --database-url or DATABASE_URL): %w", dataDir, err)
	}
	return strings.TrimSpace(string(b)), nil
}
