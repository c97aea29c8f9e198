// Package coder is the second stage: it consumes visit.recorded, codes each
// visit revision into billable lines (units, modifiers, charges) with the
// versioned rules, keeps every patient's year-to-date therapy totals for KX,
// and emits visit.coded, exactly once per revision and rules version.
package coder
