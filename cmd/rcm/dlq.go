package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/internal/platform"
)

func newDLQCmd() *cobra.Command {
	var target pipelineTarget
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show, retry and drop dead letters: messages a stage gave up on",
		Long: `A stage that fails to handle a message after its retries stores it in the
DEADLETTER stream (subject rcm.dlq.<service>) with the error and the number
of attempts, acknowledges it, and goes on with the next one. rcm dlq works
on those dead letters, in a running rcm dev (--data-dir) or a deployment
(--nats-url, or RCM_NATS_URL, as a NATS user allowed to delete messages:
ops in deploy/k8s).

list prints ids, the error and counts only: it reads the messages' headers,
never their payloads. show prints the original event, which holds PHI.

Fix the cause first (rules, code, the upstream data), then retry: the event
goes back on its original subject and flows on. Retrying an event that
other consumers handled already is harmless: their inboxes skip it.`,
		Example: `  rcm dlq list
  rcm dlq list --service coder --nats-url tls://ops:PASSWORD@nats:4222
  rcm dlq show 42
  rcm dlq retry 42
  rcm dlq retry --all --service submitter
  rcm dlq drop 43 --reason "test visit from the EMR sandbox"`,
	}
	target.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(newDLQListCmd(&target), newDLQShowCmd(&target), newDLQRetryCmd(&target), newDLQDropCmd(&target))
	return cmd
}

// withDeadLetters connects to the pipeline for one command.
func withDeadLetters(cmd *cobra.Command, target *pipelineTarget, fn func(ctx context.Context, q *platform.DeadLetters) error) error {
	nc, js, err := target.connect("rcm-dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	// Retries and drops are logged (ids and the reason only) on standard
	// error, where a deployment's log collection finds them.
	log, err := platform.NewLogger("info", false)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
	defer cancel()
	return fn(ctx, platform.NewDeadLetters(js, log))
}

func newDLQListCmd(target *pipelineTarget) *cobra.Command {
	var service string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters: sequence, time, service, subject, event, attempts and error (no PHI)",
		Long: `rcm dlq list prints every dead letter, oldest first: its sequence in the
DEADLETTER stream (what show, retry and drop take), when the stage gave up,
the service and consumer, the original subject, the event's type and id, how
many times the handler ran on the last delivery (and how many deliveries
there were), and the error. It reads headers only: no event content, so no
PHI, is printed or even fetched.`,
		Example: `  rcm dlq list
  rcm dlq list --service denials --json`,
		Args:    cobra.NoArgs,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeadLetters(cmd, target, func(ctx context.Context, q *platform.DeadLetters) error {
				list, err := q.List(ctx, service)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					if list == nil {
						list = []platform.DeadLetter{}
					}
					return writeJSONIndent(out, list)
				}
				if len(list) == 0 {
					fmt.Fprintln(out, "no dead letters")
					return nil
				}
				printDeadLetters(out, list)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "only this service's dead letters (coder, submitter, denials)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printDeadLetters(out io.Writer, list []platform.DeadLetter) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tSERVICE\tCONSUMER\tSUBJECT\tEVENT TYPE\tEVENT ID\tATTEMPTS\tERROR")
	for _, d := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.UTC().Format(time.DateTime), d.Service, orDash(d.Consumer),
			orDash(d.Subject), orDash(d.EventType), orDash(d.EventID), dlqAttempts(d), d.Error)
	}
	_ = tw.Flush()
}

// dlqAttempts reads "6" for six handler runs on one delivery, "6 (2nd delivery)"
// when JetStream had delivered it before (a crash or a shutdown mid-way).
func dlqAttempts(d platform.DeadLetter) string {
	if d.Attempts == 0 {
		return "-"
	}
	if d.Deliveries > 1 {
		return fmt.Sprintf("%d (delivery %d)", d.Attempts, d.Deliveries)
	}
	return strconv.Itoa(d.Attempts)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newDLQShowCmd(target *pipelineTarget) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show SEQ",
		Short: "Print one dead letter with its original event (the event holds PHI)",
		Long: `rcm dlq show prints a dead letter's details and the original event, whose
data holds PHI: patient names, dates of birth, member ids, diagnoses. Use it
only where you may see PHI, and do not paste its output into tickets, chats
or logs; rcm dlq list has everything but the event.`,
		Example: `  rcm dlq show 42
  rcm dlq show 42 --json | jq .event.data`,
		Args:    cobra.ExactArgs(1),
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := parseDLQSeq(args[0])
			if err != nil {
				return err
			}
			return withDeadLetters(cmd, target, func(ctx context.Context, q *platform.DeadLetters) error {
				d, err := q.Get(ctx, seq)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				event := json.RawMessage(d.Payload)
				if !json.Valid(d.Payload) {
					// Not JSON (the reason it failed, perhaps): keep it as text.
					event, _ = json.Marshal(string(d.Payload))
				}
				if asJSON {
					return writeJSONIndent(out, struct {
						DeadLetter platform.DeadLetter `json:"dead_letter"`
						Event      json.RawMessage     `json:"event"`
					}{d, event})
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				for _, f := range [][2]string{
					{"seq", strconv.FormatUint(d.Seq, 10)}, {"time", d.Time.UTC().Format(time.RFC3339)},
					{"service", d.Service}, {"consumer", orDash(d.Consumer)},
					{"original", fmt.Sprintf("%s (stream %s, seq %d)", orDash(d.Subject), orDash(d.Stream), d.StreamSeq)},
					{"event", fmt.Sprintf("%s %s", orDash(d.EventType), orDash(d.EventID))},
					{"attempts", dlqAttempts(d)}, {"retry of", orDash(d.RetryOf)}, {"error", d.Error},
				} {
					fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
				}
				_ = tw.Flush()
				var pretty bytes.Buffer
				if json.Indent(&pretty, event, "  ", "  ") != nil {
					pretty.Reset()
					pretty.Write(event)
				}
				fmt.Fprintf(out, "event (PHI):\n  %s\n", pretty.String())
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: the dead letter and the event")
	return cmd
}

// dlqSelection is what retry and drop act on: sequences, or --all of a
// --service or of every service.
type dlqSelection struct {
	all     bool
	service string
}

func (s *dlqSelection) addFlags(cmd *cobra.Command, verb string) {
	cmd.Flags().BoolVar(&s.all, "all", false, verb+" every dead letter (of --service, if given)")
	cmd.Flags().StringVar(&s.service, "service", "", "with --all: only this service's dead letters")
}

func (s *dlqSelection) resolve(ctx context.Context, q *platform.DeadLetters, args []string) ([]uint64, error) {
	switch {
	case s.all && len(args) > 0:
		return nil, errors.New("give sequences or --all, not both")
	case !s.all && s.service != "":
		return nil, errors.New("--service goes with --all")
	case s.all:
		list, err := q.List(ctx, s.service)
		if err != nil {
			return nil, err
		}
		seqs := make([]uint64, len(list))
		for i, d := range list {
			seqs[i] = d.Seq
		}
		return seqs, nil
	case len(args) == 0:
		return nil, errors.New("give the sequences of the dead letters (see rcm dlq list), or --all")
	}
	seqs := make([]uint64, len(args))
	for i, a := range args {
		seq, err := parseDLQSeq(a)
		if err != nil {
			return nil, err
		}
		seqs[i] = seq
	}
	return seqs, nil
}

func newDLQRetryCmd(target *pipelineTarget) *cobra.Command {
	var sel dlqSelection
	cmd := &cobra.Command{
		Use:   "retry SEQ... | --all [--service S]",
		Short: "Put dead letters back on their original subjects, then delete them",
		Long: `rcm dlq retry republishes each dead letter's original event to the subject it
came from, under a new message id (<original id>:retry:<seq>) so that the
stream's de-duplication does not drop it, and then deletes the dead letter.
Every consumer of the subject sees the event again: the one that failed
handles it (it never committed it), the others skip it through their inbox.
If it fails again it comes back as a new dead letter naming this one.

Fix the cause before retrying, or the event returns after the stage's
retries.`,
		Example: `  rcm dlq retry 42
  rcm dlq retry 42 43 44
  rcm dlq retry --all --service coder`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDeadLetters(cmd, target, func(ctx context.Context, q *platform.DeadLetters) error {
				seqs, err := sel.resolve(ctx, q, args)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				for _, seq := range seqs {
					d, err := q.Retry(ctx, seq)
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "retried %d: %s %s back on %s\n", seq, orDash(d.EventType), orDash(d.EventID), d.Subject)
				}
				fmt.Fprintf(out, "%d retried\n", len(seqs))
				return nil
			})
		},
	}
	sel.addFlags(cmd, "retry")
	return cmd
}

func newDLQDropCmd(target *pipelineTarget) *cobra.Command {
	var sel dlqSelection
	var reason string
	cmd := &cobra.Command{
		Use:   "drop SEQ... | --all [--service S] --reason TEXT",
		Short: "Delete dead letters for good, logging why",
		Long: `rcm dlq drop deletes dead letters that should never be handled (test data, an
event superseded by a later one). The reason is logged with each dead
letter's ids on standard error: write no patient data in it. The original
event stays in its own stream, the pipeline's audit trail.`,
		Example: `  rcm dlq drop 43 --reason "test visit from the EMR sandbox"
  rcm dlq drop --all --service intake --reason "replayed by mistake, see INC-123"`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return errors.New("--reason is required: say why, without patient data")
			}
			return withDeadLetters(cmd, target, func(ctx context.Context, q *platform.DeadLetters) error {
				seqs, err := sel.resolve(ctx, q, args)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				for _, seq := range seqs {
					d, err := q.Drop(ctx, seq, reason)
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "dropped %d: %s %s\n", seq, orDash(d.EventType), orDash(d.EventID))
				}
				fmt.Fprintf(out, "%d dropped\n", len(seqs))
				return nil
			})
		},
	}
	sel.addFlags(cmd, "drop")
	cmd.Flags().StringVar(&reason, "reason", "", "why the dead letters are dropped (logged; no patient data)")
	return cmd
}

func parseDLQSeq(s string) (uint64, error) {
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("%q is not a dead letter sequence (see rcm dlq list)", s)
	}
	return seq, nil
}

func writeJSONIndent(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
