package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/internal/platform"
)

func newStatusCmd() *cobra.Command {
	var target pipelineTarget
	var databaseURL string
	var sample time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each stage's backlog, rate and dead letters, and each stream's size",
		Long: `rcm status reads the pipeline's JetStream consumers twice, --sample apart, and
prints for every stage (each durable consumer; intake, which consumes HTTP,
by its output stream):

  PENDING      messages not yet delivered to the stage (num_pending)
  UNACKED      delivered and not yet acknowledged: in progress or failing
  REDELIVERED  of those, delivered more than once
  RATE/S       messages acknowledged per second over the sample
               (intake: events received per second)
  OLDEST       age of the oldest message the stage has not finished

then per service the dead letters (rcm dlq list) and, when it can reach
Postgres, the outbox rows committed but not yet published; and per stream
its messages and bytes. It prints ids and counts only, no PHI.

It finds a running rcm dev through --data-dir, or a deployment through
--nats-url (RCM_NATS_URL) and --database-url (DATABASE_URL; optional: the
outbox column is left empty without it).`,
		Example: `  rcm status
  rcm status --json | jq '.stages[] | select(.pending > 0)'
  RCM_NATS_URL=tls://ops:PASSWORD@nats:4222 DATABASE_URL=postgres://... rcm status`,
		Args:    cobra.NoArgs,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := target.connect("rcm-status")
			if err != nil {
				return err
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), sample+30*time.Second)
			defer cancel()
			opts := platform.StatusOptions{Sample: sample}
			if sample <= 0 {
				opts.Sample = -1
			}
			if databaseURL == "" {
				databaseURL = target.devDatabaseURL()
			}
			if databaseURL != "" {
				pool, err := platform.OpenPool(ctx, databaseURL, 2)
				if err != nil {
					return err
				}
				defer pool.Close()
				opts.Pool = pool
			}
			st, err := platform.Status(ctx, js, opts)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONIndent(cmd.OutOrStdout(), st)
			}
			printStatus(cmd.OutOrStdout(), st, opts.Pool != nil)
			return nil
		},
	}
	target.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&databaseURL, "database-url", "", "PostgreSQL URL for the outbox depths (also DATABASE_URL; optional)")
	cmd.Flags().DurationVar(&sample, "sample", time.Second, "how long rates are measured over; 0 reads once and prints no rates")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(out io.Writer, st *platform.PipelineStatus, withDB bool) {
	rate := func(r float64) string {
		if st.SampleSeconds <= 0 {
			return "-"
		}
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	fmt.Fprintf(out, "pipeline at %s", st.Time.UTC().Format(time.DateTime+" UTC"))
	if st.SampleSeconds > 0 {
		fmt.Fprintf(out, ", rates over %.1fs", st.SampleSeconds)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTREAM\tPENDING\tUNACKED\tREDELIVERED\tRATE/S\tOLDEST")
	for _, s := range st.Stages {
		if s.Consumer == "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%s\t-\n", s.Name(), s.Stream, rate(s.Rate))
			continue
		}
		oldest := "-"
		if s.OldestSeconds > 0 {
			oldest = s.OldestAge().String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", s.Name(), s.Stream, s.Pending, s.AckPending, s.Redelivered, rate(s.Rate), oldest)
	}
	_ = tw.Flush()
	fmt.Fprintln(out)

	dead := uint64(0)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tDEAD LETTERS\tOUTBOX")
	for _, s := range st.Services {
		outbox := "-"
		if s.OutboxPending != nil {
			outbox = strconv.FormatInt(*s.OutboxPending, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", s.Service, s.DeadLetters, outbox)
		dead += s.DeadLetters
	}
	_ = tw.Flush()
	if !withDB {
		fmt.Fprintln(out, "(outbox: no database; give --database-url or DATABASE_URL)")
	}
	if dead > 0 {
		fmt.Fprintf(out, "%d dead letters: rcm dlq list\n", dead)
	}
	fmt.Fprintln(out)

	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tRATE/S")
	for _, s := range st.Streams {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Name, s.Messages, humanBytes(s.Bytes), rate(s.Rate))
	}
	_ = tw.Flush()
}

// humanBytes is a size in binary units, one decimal.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
