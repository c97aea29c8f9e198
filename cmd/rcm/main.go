// Command rcm is the revenue-cycle pipeline in one binary: each stage runs
// alone (rcm intake) or all together with embedded infrastructure (rcm dev).
package main

import (
	"context"
	"fmt"
	"net/http"
	_ "net/http/pprof" // served only when RCM_PPROF_ADDR is set
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	if addr := os.Getenv("RCM_PPROF_ADDR"); addr != "" {
		// Profiling on a separate, opt-in listener: never on a service port.
		go func() { fmt.Fprintln(os.Stderr, "pprof:", http.ListenAndServe(addr, nil)) }()
	}
	if os.Getenv("GOGC") == "" {
		// rcm's live heap is small and its garbage comes from decoding and
		// encoding events: letting the heap grow to five times the live data
		// between collections took a tenth off its CPU per visit
		// (BENCHMARKS.md). GOMEMLIMIT, set in deploy/k8s from the
		// container's limit, still bounds it; GOGC set explicitly wins.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rcm:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "rcm",
		Short: "Revenue-cycle pipeline for outpatient OT, PT and SLP clinics",
		Long: `rcm turns signed therapy visits into claims and reconciles what payers answer.

Run everything locally with embedded NATS and Postgres:
  rcm dev --demo 50

Run one stage against a deployment:
  rcm intake --nats-url nats://nats:4222 --database-url postgres://...`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDevCmd(), newIntakeCmd(), newCoderCmd(), newSubmitterCmd(), newDenialsCmd(), newPayersimCmd(), newCodeCmd(), newDemoCmd(), newLoadgenCmd(), newRemitCmd())
	root.AddCommand(newRulesCmd(), newUsersCmd())
	root.AddCommand(newReplayCmd())
	root.AddCommand(newStatusCmd(), newDLQCmd())
	return root
}
