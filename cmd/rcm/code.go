package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/intake"
)

func newCodeCmd() *cobra.Command {
	var rulesDir, method string
	var ytd int64
	var noValidate bool
	cmd := &cobra.Command{
		Use:   "code",
		Short: "Code one visit offline and print the lines with every decision explained",
		Long: `rcm code reads one visit (the JSON an EMR posts to /v1/visits) on standard
input and prints what the coder service would emit for it: lines with units,
modifiers, charges and diagnosis pointers, each decision explained. It runs
the service's own code path, with no NATS or database.`,
		Example: `  rcm code < docs/examples/visit-ot-medicare.json
  rcm code --method ama --rules ./my-rules < visit.json
  rcm code --ytd-cents 240000 < visit.json     # patient already at $2,400 this year`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkMethod(method); err != nil {
				return err
			}
			rules, err := loadRules(rulesDir)
			if err != nil {
				return err
			}
			out, err := codeOffline(cmd.InOrStdin(), rules, method, ytd, !noValidate)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rules directory overriding the embedded set")
	cmd.Flags().StringVar(&method, "method", "", "unit method: cms or ama (default: the payer profile's)")
	cmd.Flags().Int64Var(&ytd, "ytd-cents", 0, "the patient's year-to-date allowed amount before this visit, in cents (for KX)")
	cmd.Flags().BoolVar(&noValidate, "no-validate", false, "code even a visit intake would refuse")
	return cmd
}

// codeOffline decodes and validates a visit as intake does, then codes it as
// the coder service does.
func codeOffline(r io.Reader, rules *billing.Rules, method string, ytd int64, validate bool) (events.VisitCoded, error) {
	body, err := io.ReadAll(io.LimitReader(r, intake.MaxBodyBytes+1))
	if err != nil {
		return events.VisitCoded{}, fmt.Errorf("read visit: %w", err)
	}
	v, err := intake.Decode(body)
	if err != nil {
		return events.VisitCoded{}, fmt.Errorf("visit: %w", err)
	}
	if validate {
		if problems := intake.Validate(v, time.Now(), rules.Catalog); len(problems) > 0 {
			msg := "intake would refuse this visit (--no-validate codes it anyway):"
			for _, p := range problems {
				msg += "\n  " + p.Path + ": " + p.Reason
			}
			return events.VisitCoded{}, fmt.Errorf("%s", msg)
		}
	}
	change := events.ChangeNew
	if v.Status == events.VisitVoided {
		change = events.ChangeVoid
	}
	rec := events.VisitRecorded{VisitID: intake.VisitID(v.Source, v.SourceVisitID), Revision: v.Revision, Change: change, Visit: *v}
	out, _ := coder.Build(rec, rules, coder.Options{Method: method, YTDAllowedCents: ytd})
	out.Revision = 1
	return out, nil
}
