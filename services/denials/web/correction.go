package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/pkg/events"
)

// submittedLines are the lines of the submission a work item's denial
// answered: what the corrected-claim form starts from.
func (s *server) submittedLines(ctx context.Context, controlNumber string) ([]events.ClaimLine, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM denials.submissions WHERE control_number = $1`, controlNumber).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read submission: %w", err)
	}
	var sub events.ClaimSubmitted
	if err := json.Unmarshal(raw, &sub); err != nil {
		return nil, fmt.Errorf("read submission: %w", err)
	}
	return sub.Lines, nil
}

var modifierPattern = regexp.MustCompile(`^[A-Z0-9]{2}$`)

// parseModifiers reads "GO 59" or "go,59" as [GO 59].
func parseModifiers(s string) ([]string, error) {
	mods := strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	for _, m := range mods {
		if !modifierPattern.MatchString(m) {
			return nil, fmt.Errorf("%q is not a modifier (two letters or digits)", m)
		}
	}
	if len(mods) > 4 {
		return nil, errors.New("at most 4 modifiers")
	}
	if mods == nil {
		mods = []string{}
	}
	return mods, nil
}

// correctedLines reads the corrected-claim form: for each submitted line,
// mods_N and units_N. It returns the lines that differ from the
// submission, whole (a LineCorrection is the line's new state), or a
// message for the biller when the form is wrong. No changed line means the
// claim goes as it is now coded.
func (s *server) correctedLines(ctx context.Context, itemID string, r *http.Request) ([]events.LineCorrection, string, error) {
	var control string
	if err := s.pool.QueryRow(ctx, `SELECT item->>'control_number' FROM denials.work_items WHERE work_item_id = $1`, itemID).Scan(&control); err != nil {
		return nil, "", fmt.Errorf("read work item: %w", err)
	}
	lines, err := s.submittedLines(ctx, control)
	if err != nil {
		return nil, "", err
	}
	var out []events.LineCorrection
	for _, l := range lines {
		n := strconv.Itoa(l.Line)
		modsField, unitsField := r.PostForm["mods_"+n], r.PostForm["units_"+n]
		if modsField == nil && unitsField == nil {
			continue
		}
		mods := l.Modifiers
		if modsField != nil {
			if mods, err = parseModifiers(modsField[0]); err != nil {
				return nil, fmt.Sprintf("Line %d: %v.", l.Line, err), nil
			}
		}
		units := l.Units
		if unitsField != nil {
			units, err = strconv.Atoi(strings.TrimSpace(unitsField[0]))
			if err != nil || units < 1 || units > 99 {
				return nil, fmt.Sprintf("Line %d: units must be a whole number from 1 to 99.", l.Line), nil
			}
		}
		if units == l.Units && slices.Equal(mods, nonNil(l.Modifiers)) {
			continue
		}
		out = append(out, events.LineCorrection{Line: l.Line, Modifiers: mods, Units: units})
	}
	return out, "", nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
