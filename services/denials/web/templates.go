package web

import (
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// parsePages parses each page of templates/pages with the layout and the
// shared partials, so that every page defines its own "title" and
// "content" blocks.
func parsePages(extra template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("base").Funcs(funcs).Funcs(extra).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	names, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template, len(names))
	for _, n := range names {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(files, n); err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		pages[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"dollars": billing.Dollars,
	"date":    fmtDate,
	"time":    fmtTime,
	"join":    strings.Join,
	"status":  statusWords,
	"category": func(c string) string {
		return strings.ReplaceAll(c, "_", " ")
	},
	"kind":       kindWords,
	"plus1":      func(i int) int { return i + 1 },
	"personName": personName,
	// clause is a catalog text inside a sentence: without its full stop.
	"clause": func(s string) string { return strings.TrimSuffix(s, ".") },
	"mods":   func(m []string) string { return strings.Join(m, " ") },
}

func fmtDate(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02")
	case *time.Time:
		if v == nil || v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02")
	case string:
		return v
	}
	return ""
}

func fmtTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if v == nil || v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04 UTC")
	}
	return ""
}

// statusWords is a work item status as billers say it.
func statusWords(s string) string {
	switch s {
	case events.DenialOpen:
		return "open"
	case events.DenialInProgress:
		return "in progress"
	case events.DenialAppealed:
		return "appealed"
	case events.DenialCorrected:
		return "corrected"
	case events.DenialWrittenOff:
		return "written off"
	case events.DenialResolved:
		return "resolved"
	}
	return s
}

// kindWords names a timeline entry by its event type.
func kindWords(kind string) string {
	switch kind {
	case events.TypeVisitCoded:
		return "Coded"
	case events.TypeClaimScrubbed:
		return "Scrubbed"
	case events.TypeClaimSubmitted:
		return "Submitted (837P)"
	case events.TypeClaimAcknowledged:
		return "Acknowledged"
	case events.TypeClaimReconciled:
		return "Remittance (835)"
	case events.TypeDenialOpened:
		return "Denial opened"
	case events.TypeDenialUpdated:
		return "Work item"
	case events.TypeClaimCorrectionRequested:
		return "Correction requested"
	}
	return strings.TrimPrefix(kind, "action.")
}

// statuses lists the work item statuses in the order they usually take.
var statuses = []string{events.DenialOpen, events.DenialInProgress, events.DenialAppealed, events.DenialCorrected,
	events.DenialWrittenOff, events.DenialResolved}

// categories lists the denial categories for the queue's filter.
var categories = []string{
	events.CategoryCoding, events.CategoryBundling, events.CategoryMedicalNecessity, events.CategoryAuthorization,
	events.CategoryEligibility, events.CategoryTimelyFiling, events.CategoryDuplicate, events.CategoryBenefitMaximum,
	events.CategoryCoordinationOfBenefits, events.CategoryMissingInformation,
}
