package billing

import (
	"testing"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// TestParseDate checks the coder's date parser against time.Parse on every
// day of four centuries (leap years and all) and on strings that are not
// dates.
func TestParseDate(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, _ := time.Parse(time.DateOnly, s)
		got, year := parseDate(s)
		if !got.Equal(want) || got.Location() != want.Location() || year != want.Year() {
			t.Errorf("parseDate(%q) = %v, %d; want %v, %d", s, got, year, want, want.Year())
		}
	}
	for d := time.Date(1899, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2301; d = d.AddDate(0, 0, 1) {
		check(d.Format(time.DateOnly))
	}
	for _, s := range []string{"", "2026-02-29", "2024-02-30", "2026-04-31", "2026-13-01", "2026-00-10", "2026-01-00",
		"2026-1-01", "2026/01/01", "20260101", "2026-01-0x", "+026-01-01", "2026-01-01T00:00:00Z", "0000-01-01"} {
		check(s)
	}
}

// TestDisciplineNotes checks the fixed explanations of the discipline
// modifiers against the sentence they stand for.
func TestDisciplineNotes(t *testing.T) {
	for _, d := range []string{events.DisciplineOT, events.DisciplinePT, events.DisciplineSLP} {
		m := noteMeta{fixed: disciplineNote(d)}
		want := disciplineModifier(d) + ": service under the " + d + " plan of care"
		if got := m.textIn(""); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
	if disciplineNote("XX") != fNone || disciplineModifier("XX") != "" {
		t.Error("an unknown discipline has a modifier or a note")
	}
}
