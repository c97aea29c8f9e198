package denials

import (
	"github.com/rcm-health/rcm/pkg/billing"
)

// Class is what the CARC catalog says about one adjustment.
type Class struct {
	// Posting is the ledger column, one of the events.Posting… constants.
	Posting string
	// Category is the denial category; empty when the adjustment is not a
	// denial.
	Category   string
	Action     string
	Appealable bool
}

// classify asks the rules' CARC and RARC catalogs.
func classify(r *billing.Rules, group, reason string, rarcs []string) Class {
	c := r.ClassifyAdjustment(group, reason, rarcs)
	return Class{Posting: c.Posting, Category: c.Category, Action: c.Action, Appealable: c.Appealable}
}
