package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/pkg/billing"
)

func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check, show and export billing rules sets",
		Long: `A rules set is the billing policy rcm codes visits with: the code catalog,
payer profiles, KX thresholds, NCCI PTP edits, MUEs, charges and allowed
amounts, the CARC and RARC catalogs that denials are worked with, and a
VERSION that every coded visit carries. One is embedded in the binary; a
clinic overrides it with a directory holding every file.`,
		Example: `  rcm rules export ./rules      # start an override from the embedded set
  rcm rules validate ./rules    # check it before use
  rcm rules show                # what the binary embeds`,
	}
	cmd.AddCommand(newRulesValidateCmd(), newRulesShowCmd(), newRulesExportCmd())
	return cmd
}

func newRulesValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate DIR",
		Short: "Check a rules directory and name the file and line of every problem",
		Long: `validate reads every file of the rules set in DIR and checks it, and the
references between the files, the same way the coder does at start-up. It
prints every problem as "file line N: message" and exits non-zero if there
is any; otherwise it prints a summary of the set.

The CMS quarterly practitioner PTP files (ccipra-*.txt) and MUE file may be
copied into DIR unchanged: every ncci_ptp*.txt and ccipra*.txt is read, and
mue.csv may be the CMS CSV renamed.`,
		Example: `  rcm rules validate ./rules
  rcm rules validate /etc/rcm/rules && echo ok`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if st, err := os.Stat(dir); err != nil {
				return err
			} else if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			r, err := billing.LoadRules(os.DirFS(dir))
			if err != nil {
				problems := billing.LineErrors(err)
				for _, p := range problems {
					fmt.Fprintln(cmd.OutOrStdout(), p)
				}
				if len(problems) == 1 {
					return fmt.Errorf("rules in %s: 1 problem", dir)
				}
				return fmt.Errorf("rules in %s: %d problems", dir, len(problems))
			}
			printRulesSummary(cmd.OutOrStdout(), dir, r)
			return nil
		},
	}
}

func newRulesShowCmd() *cobra.Command {
	var sources bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Summarize the rules set embedded in the binary",
		Example: `  rcm rules show
  rcm rules show --sources   # with the provenance of every file`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := billing.LoadRules(billing.DefaultRulesFS)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			printRulesSummary(w, "embedded", r)
			if sources {
				fmt.Fprintln(w, "sources:")
				for _, s := range r.Sources {
					fmt.Fprintln(w, "  "+s)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&sources, "sources", false, "also list the \"# source:\" provenance of every file")
	return cmd
}

func newRulesExportCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Write the embedded rules set to DIR as a starting point for an override",
		Long: `export writes every file of the embedded rules set to DIR, creating it if
needed. It refuses to overwrite a file that exists unless --force is given.
Change VERSION whenever you change a file, so that coded visits say which
rules they were coded with.`,
		Example: `  rcm rules export ./rules
  rcm rules export --force ./rules   # overwrite an earlier export`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := exportRules(args[0], force)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files to %s\n", n, args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite files that exist")
	return cmd
}

func exportRules(dir string, force bool) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	names, err := fs.Glob(billing.DefaultRulesFS, "*")
	if err != nil {
		return 0, err
	}
	// Check first, so that a refusal writes nothing.
	if !force {
		for _, name := range names {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return 0, fmt.Errorf("%s exists (use --force to overwrite)", filepath.Join(dir, name))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return 0, err
			}
		}
	}
	for _, name := range names {
		data, err := fs.ReadFile(billing.DefaultRulesFS, name)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}

func printRulesSummary(w io.Writer, where string, r *billing.Rules) {
	allowed := 0
	for _, m := range r.Fees.Allowed {
		allowed += len(m)
	}
	fmt.Fprintf(w, "rules %s (%s): ok\n", r.Version, where)
	fmt.Fprintf(w, "  codes:          %d\n", len(r.Catalog.Codes()))
	fmt.Fprintf(w, "  payer profiles: %d\n", len(r.Payers))
	fmt.Fprintf(w, "  KX thresholds:  %d\n", len(r.Thresholds))
	if r.PTPOutsideCatalog > 0 {
		fmt.Fprintf(w, "  NCCI PTP edits: %d (and %d between codes outside the catalog, not kept)\n", len(r.PTP), r.PTPOutsideCatalog)
	} else {
		fmt.Fprintf(w, "  NCCI PTP edits: %d\n", len(r.PTP))
	}
	fmt.Fprintf(w, "  MUEs:           %d\n", len(r.MUE))
	fmt.Fprintf(w, "  charges:        %d\n", len(r.Fees.Charges))
	fmt.Fprintf(w, "  allowed:        %d amounts for %d payer keys\n", allowed, len(r.Fees.Allowed))
	fmt.Fprintf(w, "  CARCs:          %d\n", len(r.CARCs))
	fmt.Fprintf(w, "  RARCs:          %d\n", len(r.RARCs))
}
