package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/pkg/x12"
)

func newRemitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remit",
		Short: "Work with 835 remittances (ERA)",
	}
	cmd.AddCommand(newRemitParseCmd(), newRemitImportCmd())
	return cmd
}

func newRemitParseCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "parse FILE",
		Short: "Read an 835 remittance and print what it holds and where it does not balance",
		Long: `rcm remit parse reads an X12 5010 835 (005010X221A1) file and prints the payer,
payee, payment and trace number, each claim with its status in words, its lines
with their adjustments (group-reason amount, such as CO-45 $12.50) and the
provider-level adjustments (PLB). It then checks the balancing rules of
BILLING.md §6.5 (line, claim, patient responsibility, file) and prints every
imbalance; imbalances do not make the command fail.

A malformed file makes the command exit non-zero with the segment number and
element at fault. The output holds patient names from the file: it is PHI.`,
		Example: `  rcm remit parse era.835
  rcm remit parse --json era.835 | jq '.[0].Claims[].Status'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			remits, err := x12.Read835(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(remits)
			}
			for i := range remits {
				printRemit(out, &remits[i])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the remittances as JSON")
	return cmd
}

// usd formats cents as dollars: $12.50, -$9.00.
func usd(c int64) string {
	sign := ""
	u := uint64(c)
	if c < 0 {
		sign, u = "-", uint64(-c)
	}
	return fmt.Sprintf("%s$%d.%02d", sign, u/100, u%100)
}

func printRemit(w io.Writer, r *x12.Remit) {
	fmt.Fprintf(w, "835 %s (segment %d) in interchange %s\n", r.ControlNumber, r.Segment, r.InterchangeControl)
	fmt.Fprintf(w, "  payer:   %s", r.Payer.Name)
	if r.Payer.ID != "" {
		fmt.Fprintf(w, " (%s %s)", r.Payer.IDQualifier, r.Payer.ID)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  payee:   %s", r.Payee.Name)
	if r.Payee.ID != "" {
		fmt.Fprintf(w, " (%s %s)", r.Payee.IDQualifier, r.Payee.ID)
	}
	fmt.Fprintln(w)
	date := "no date"
	if !r.PaymentDate.IsZero() {
		date = r.PaymentDate.Format("2006-01-02")
	}
	fmt.Fprintf(w, "  payment: %s by %s, handling %s, %s\n", usd(r.TotalPaidCents), r.Method, r.Handling, date)
	fmt.Fprintf(w, "  trace:   %s\n", r.TraceNumber)
	for _, c := range r.Claims {
		fmt.Fprintf(w, "  claim %s: %s (CLP02 %s); charged %s, paid %s, patient %s; payer claim %s\n",
			c.ControlNumber, c.Status.Words(), c.Status, usd(c.ChargeCents), usd(c.PaidCents), usd(c.PatientCents), c.PayerClaimNumber)
		if len(c.Adjustments) > 0 {
			fmt.Fprintf(w, "    claim adjustments: %s\n", adjustments(c.Adjustments))
		}
		for _, l := range c.Lines {
			code := l.Code
			if len(l.Modifiers) > 0 {
				code += "-" + strings.Join(l.Modifiers, "-")
			}
			fmt.Fprintf(w, "    line %s x%d: charged %s, paid %s", code, l.Units, usd(l.ChargeCents), usd(l.PaidCents))
			if l.Original != nil {
				fmt.Fprintf(w, " (submitted as %s)", l.Original.Code)
			}
			if len(l.Adjustments) > 0 {
				fmt.Fprintf(w, "; %s", adjustments(l.Adjustments))
			}
			if len(l.Remarks) > 0 {
				fmt.Fprintf(w, "; remarks %s", strings.Join(l.Remarks, " "))
			}
			fmt.Fprintln(w)
		}
	}
	for _, p := range r.PLB {
		for _, a := range p.Adjustments {
			ref := ""
			if a.Reference != "" {
				ref = ":" + a.Reference
			}
			fmt.Fprintf(w, "  PLB %s%s %s\n", a.Reason, ref, usd(a.AmountCents))
		}
	}
	im := r.Check()
	if len(im) == 0 {
		fmt.Fprintln(w, "  balanced")
	}
	for _, i := range im {
		fmt.Fprintf(w, "  IMBALANCE %s\n", i)
	}
}

func adjustments(adjs []x12.Adjustment) string {
	parts := make([]string, len(adjs))
	for i, a := range adjs {
		parts[i] = fmt.Sprintf("%s-%s %s", a.Group, a.Reason, usd(a.AmountCents))
	}
	return strings.Join(parts, ", ")
}
