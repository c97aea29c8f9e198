package denials

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// Errors of biller actions, for the web UI to show.
var (
	ErrNoItem      = errors.New("no such work item")
	ErrClosed      = errors.New("the work item is closed")
	ErrNeedsReason = errors.New("a reason is required")
	ErrNoPayerRef  = errors.New("the payer sent no claim control number (CLP07); a corrected claim cannot reference the original")
	ErrBadLine     = errors.New("a corrected line is not on the claim")
)

// closed statuses take no more actions; a new denial opens a new item.
func closed(status string) bool {
	return status == events.DenialWrittenOff || status == events.DenialResolved
}

// Priority orders the queue: one point per dollar at stake, and more as
// the appeal deadline nears (20 points a day inside the last 30 days).
func Priority(amountCents int64, deadline string, today time.Time) int {
	p := int(amountCents / 100)
	if deadline == "" {
		return p
	}
	d, err := time.Parse("2006-01-02", deadline)
	if err != nil {
		return p
	}
	left := int(d.Sub(today.Truncate(24*time.Hour)).Hours() / 24)
	if left < 30 {
		p += 20 * (30 - max(left, 0))
	}
	return p
}

// workItems opens, updates or resolves the claim's denial work item after a
// reconciliation, and returns its events and how many items it opened.
func (p *Store) workItems(ctx context.Context, w *setWrites, r *x12.Remit, m claimMatch, rec *Reconciled, reconciled events.Envelope, now time.Time) ([]events.Envelope, int, error) {
	if rec.Data.Outcome == events.OutcomeReversed {
		return nil, 0, nil // the corrected adjudication that follows decides
	}
	var item events.WorkItem
	cur, found := w.items[m.sub.ClaimID]
	if found {
		item = *cur
	}
	// What this posting leaves is what a later CLP of the same set sees.
	save := func(it events.WorkItem, opened bool, changes []string, note string) (events.Envelope, error) {
		env, err := p.saveItem(ctx, w, m.visitID, it, opened, changes, "", note, reconciled.ID, now)
		it.Version++
		if closed(it.Status) {
			delete(w.items, it.ClaimID)
		} else {
			w.items[it.ClaimID] = &it
		}
		return env, err
	}
	if rec.DeniedCents <= 0 {
		if !found || (item.Status != events.DenialCorrected && item.Status != events.DenialAppealed) {
			return nil, 0, nil
		}
		// The replacement or the appeal was paid: the item is done.
		item.Status = events.DenialResolved
		note := fmt.Sprintf("submission %d was %s by the payer (%s paid): resolved", m.sub.Submission, OutcomeWords(rec.Data.Outcome), billing.Dollars(rec.Data.PaidCents))
		env, err := save(item, false, []string{"status"}, note)
		return []events.Envelope{env}, 0, err
	}

	top := rec.Denials[0]
	var rarcs []string
	var lineNums []int
	for _, d := range rec.Denials {
		for _, rc := range d.Remarks {
			if !slices.Contains(rarcs, rc) {
				rarcs = append(rarcs, rc)
			}
		}
		if d.Line > 0 && !slices.Contains(lineNums, d.Line) {
			lineNums = append(lineNums, d.Line)
		}
	}
	slices.Sort(lineNums)
	cls := p.Rules.ClassifyAdjustment(top.Group, top.Reason, rarcs)
	deadline := ""
	if cls.Appealable {
		payDate := r.PaymentDate
		if payDate.IsZero() {
			payDate = now
		}
		if prof, ok := p.Rules.Payer(m.sub.PayerID, m.sub.PlanType); ok && prof.AppealDays > 0 {
			deadline = payDate.AddDate(0, 0, prof.AppealDays).Format("2006-01-02")
		}
	}
	next := events.WorkItem{
		ClaimID: m.sub.ClaimID, ControlNumber: rec.Data.ControlNumber, PayerID: m.sub.PayerID,
		PayerClaimControlNumber: rec.Data.PayerClaimControlNumber, Lines: lineNums,
		Category: cls.Category, Group: top.Group, CARC: top.Reason, RARCs: rarcs, AmountCents: rec.DeniedCents,
		RecommendedAction: cls.Action, AppealDeadline: deadline, Status: events.DenialOpen,
	}
	if next.Category == "" {
		next.Category = events.CategoryMissingInformation
	}
	next.Priority = Priority(next.AmountCents, deadline, now)
	what := fmt.Sprintf("%s-%s %s on %s", top.Group, top.Reason, billing.Dollars(rec.DeniedCents), linesWords(lineNums))
	if !found {
		next.WorkItemID = events.NewID("workitem", m.sub.ClaimID, rec.Data.RemitID, rec.Data.ControlNumber)
		env, err := save(next, true, nil, "denial opened: "+what)
		return []events.Envelope{env}, 1, err
	}
	// The same claim denied again (a replacement, or a second remittance):
	// the biller keeps working the same item.
	next.WorkItemID, next.Version, next.Assignee = item.WorkItemID, item.Version, item.Assignee
	changes := changedFields(item, next)
	env, err := save(next, false, changes, fmt.Sprintf("submission %d denied again: %s", m.sub.Submission, what))
	return []events.Envelope{env}, 0, err
}

func linesWords(lines []int) string {
	switch len(lines) {
	case 0:
		return "the claim"
	case 1:
		return "line " + strconv.Itoa(lines[0])
	}
	words := make([]string, len(lines))
	for i, l := range lines {
		words[i] = strconv.Itoa(l)
	}
	return "lines " + strings.Join(words, ", ")
}

// changedFields names, by JSON name, the fields that differ.
func changedFields(a, b events.WorkItem) []string {
	var out []string
	add := func(cond bool, name string) {
		if cond {
			out = append(out, name)
		}
	}
	add(a.Status != b.Status, "status")
	add(a.Category != b.Category, "category")
	add(a.CARC != b.CARC || a.Group != b.Group, "carc")
	add(!slices.Equal(a.RARCs, b.RARCs), "rarcs")
	add(a.AmountCents != b.AmountCents, "amount_cents")
	add(!slices.Equal(a.Lines, b.Lines), "lines")
	add(a.ControlNumber != b.ControlNumber, "control_number")
	add(a.PayerClaimControlNumber != b.PayerClaimControlNumber, "payer_claim_control_number")
	add(a.AppealDeadline != b.AppealDeadline, "appeal_deadline")
	add(a.Assignee != b.Assignee, "assignee")
	add(a.Priority != b.Priority, "priority")
	return out
}

// saveItem writes the item at its next version, with its timeline entry and
// note, and returns its event: denial.opened when opened, else
// denial.updated.
func (p *Store) saveItem(ctx context.Context, tx execer, visitID string, it events.WorkItem, opened bool, changes []string, by, note, causation string, now time.Time) (events.Envelope, error) {
	it.Version++
	raw, err := json.Marshal(it)
	if err != nil {
		return events.Envelope{}, err
	}
	var deadline *string
	if it.AppealDeadline != "" {
		deadline = &it.AppealDeadline
	}
	if _, err := tx.Exec(ctx, `INSERT INTO denials.work_items (work_item_id, claim_id, visit_id, version, item, status, category, payer_id, carc, amount_cents,
	appeal_deadline, assignee, opened_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
ON CONFLICT (work_item_id) DO UPDATE SET version = $4, item = $5, status = $6, category = $7, payer_id = $8, carc = $9, amount_cents = $10,
	appeal_deadline = $11, assignee = $12, updated_at = $13`,
		it.WorkItemID, it.ClaimID, visitID, it.Version, raw, it.Status, it.Category, it.PayerID, it.Group+"-"+it.CARC, it.AmountCents,
		deadline, it.Assignee, now); err != nil {
		return events.Envelope{}, fmt.Errorf("write work item: %w", err)
	}
	if note != "" && by != "" {
		if _, err := tx.Exec(ctx, `INSERT INTO denials.notes (work_item_id, at, user_id, note) VALUES ($1, $2, $3, $4)`, it.WorkItemID, now, by, note); err != nil {
			return events.Envelope{}, fmt.Errorf("write note: %w", err)
		}
	}
	var env events.Envelope
	if opened {
		env, err = events.New(events.NewID("denials", events.TypeDenialOpened, it.WorkItemID), events.TypeDenialOpened, events.SourceDenials, it.ClaimID, now,
			events.DenialOpened{WorkItem: it})
	} else {
		if changes == nil {
			changes = []string{}
		}
		env, err = events.New(events.NewID("denials", events.TypeDenialUpdated, it.WorkItemID, strconv.Itoa(it.Version)), events.TypeDenialUpdated, events.SourceDenials, it.ClaimID, now,
			events.DenialUpdated{WorkItem: it, Changes: changes, ChangedBy: by, Note: note})
	}
	if err != nil {
		return env, err
	}
	env.CorrelationID, env.CausationID = visitID, causation
	summary := note
	if by != "" {
		summary = by + ": " + note
	}
	return env, addTimeline(ctx, tx, env, visitID, it.ClaimID, summary, it)
}

// Action is a biller's change to a work item.
type Action struct {
	WorkItemID string
	// UserID is who acts; it goes into the event, the note and the audit log.
	UserID string
	// Kind is one of the Act… constants.
	Kind string
	// Note is the reason or the note's text; required to write off and
	// to request a correction.
	Note string
	// Assignee is the new assignee of ActAssign ("" unassigns).
	Assignee string
	// Lines are the corrected lines of ActCorrect; empty sends the claim as
	// it is now coded.
	Lines []events.LineCorrection
	// Frequency of ActCorrect: replacement (default) or void.
	Frequency string
}

// Kinds of Action.
const (
	ActAssign   = "assign"
	ActNote     = "note"
	ActStart    = "start"
	ActCorrect  = "request_correction"
	ActWriteOff = "write_off"
	ActAppeal   = "appeal"
	ActResolve  = "resolve"
	ActReopen   = "reopen"
)

// Act applies a biller's action in one transaction: the item's new version,
// its note, the timeline, the audit log and the events. It returns the item
// as it now stands.
func (p *Store) Act(ctx context.Context, a Action) (events.WorkItem, error) {
	now := p.now()
	var out events.WorkItem
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		var raw []byte
		var visitID string
		err := tx.QueryRow(ctx, `SELECT item, visit_id FROM denials.work_items WHERE work_item_id = $1 FOR UPDATE`, a.WorkItemID).Scan(&raw, &visitID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoItem
		}
		if err != nil {
			return fmt.Errorf("read work item: %w", err)
		}
		var it events.WorkItem
		if err := json.Unmarshal(raw, &it); err != nil {
			return err
		}
		if closed(it.Status) && a.Kind != ActNote && a.Kind != ActReopen {
			return ErrClosed
		}
		prev := it
		note := strings.TrimSpace(a.Note)
		var extra []events.Envelope
		switch a.Kind {
		case ActAssign:
			it.Assignee = a.Assignee
			if note == "" {
				note = "assigned to " + cmp.Or(a.Assignee, "nobody")
			}
		case ActNote:
			if note == "" {
				return ErrNeedsReason
			}
		case ActStart:
			it.Status = events.DenialInProgress
			if it.Assignee == "" {
				it.Assignee = a.UserID
			}
			note = cmp.Or(note, "started working the denial")
		case ActWriteOff:
			if note == "" {
				return ErrNeedsReason
			}
			it.Status = events.DenialWrittenOff
			note = "written off (" + billing.Dollars(it.AmountCents) + "): " + note
		case ActAppeal:
			it.Status = events.DenialAppealed
			note = cmp.Or(note, "appeal sent with the generated letter")
		case ActResolve:
			it.Status = events.DenialResolved
			note = cmp.Or(note, "resolved")
		case ActReopen:
			if !closed(it.Status) {
				return fmt.Errorf("the work item is %s, not closed", it.Status)
			}
			it.Status = events.DenialOpen
			note = cmp.Or(note, "reopened")
		case ActCorrect:
			if note == "" {
				return ErrNeedsReason
			}
			if it.PayerClaimControlNumber == "" {
				return ErrNoPayerRef
			}
			freq := cmp.Or(a.Frequency, events.FrequencyReplacement)
			if freq != events.FrequencyReplacement && freq != events.FrequencyVoid {
				return fmt.Errorf("frequency %q: must be 7 (replacement) or 8 (void)", freq)
			}
			if err := checkLines(ctx, tx, it.ControlNumber, a.Lines); err != nil {
				return err
			}
			it.Status = events.DenialCorrected
			env, err := events.New(events.NewID("denials", events.TypeClaimCorrectionRequested, it.WorkItemID, strconv.Itoa(it.Version+1)),
				events.TypeClaimCorrectionRequested, events.SourceDenials, it.ClaimID, now,
				events.ClaimCorrectionRequested{ClaimID: it.ClaimID, WorkItemID: it.WorkItemID, Frequency: freq, Reason: note,
					RequestedBy: a.UserID, PayerClaimControlNumber: it.PayerClaimControlNumber, Lines: a.Lines})
			if err != nil {
				return err
			}
			env.CorrelationID = visitID
			extra = append(extra, env)
			note = "corrected claim requested (frequency " + freq + "): " + note
		default:
			return fmt.Errorf("unknown action %q", a.Kind)
		}
		it.Priority = Priority(it.AmountCents, it.AppealDeadline, now)
		changes := changedFields(prev, it)
		if a.Kind == ActNote {
			changes = []string{"note"}
		}
		env, err := p.saveItem(ctx, tx, visitID, it, false, changes, a.UserID, note, "", now)
		if err != nil {
			return err
		}
		for i := range extra {
			extra[i].CausationID = env.ID
		}
		if err := Audit(ctx, tx, a.UserID, "action."+a.Kind, it.ClaimID, it.WorkItemID, ""); err != nil {
			return err
		}
		recs, err := p.Outbox.Add(ctx, tx, append([]events.Envelope{env}, extra...)...)
		if err != nil {
			return err
		}
		p.Outbox.Relay(recs)
		out = it
		out.Version = it.Version + 1
		return nil
	})
	return out, err
}

// checkLines refuses a correction of a line the submission does not have.
func checkLines(ctx context.Context, tx pgx.Tx, control string, lines []events.LineCorrection) error {
	if len(lines) == 0 {
		return nil
	}
	subs, err := findSubmissions(ctx, tx, []string{control})
	if err != nil {
		return err
	}
	m, ok := subs[control]
	if !ok {
		return fmt.Errorf("submission %s: %w", control, ErrNoItem)
	}
	for _, lc := range lines {
		if lc.Units < 1 || lc.Units > 99 {
			return fmt.Errorf("line %d: units %d: must be 1 to 99", lc.Line, lc.Units)
		}
		if len(lc.Modifiers) > 4 {
			return fmt.Errorf("line %d: at most 4 modifiers", lc.Line)
		}
		found := false
		for _, l := range m.sub.Lines {
			found = found || l.Line == lc.Line
		}
		if !found {
			return fmt.Errorf("line %d: %w", lc.Line, ErrBadLine)
		}
	}
	return nil
}

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Audit records who looked at or changed what. Views of a patient's claim
// must be recorded before the page is sent.
func Audit(ctx context.Context, q execer, userID, action, claimID, detail, remote string) error {
	if _, err := q.Exec(ctx, `INSERT INTO denials.audit (user_id, action, claim_id, detail, remote) VALUES ($1, $2, $3, $4, $5)`,
		userID, action, claimID, detail, remote); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// ErrExceptionResolved: the exception is unknown or was resolved already.
var ErrExceptionResolved = errors.New("no such open exception")

// ResolveException records that a biller dealt with an unmatched part of a
// remittance (posted it by hand, or found the payer's error), with what
// they did; the audit log keeps who.
func (p *Store) ResolveException(ctx context.Context, remitID string, clpIndex, lineIndex int, userID, note string) error {
	note = strings.TrimSpace(note)
	if note == "" {
		return ErrNeedsReason
	}
	return pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE denials.exceptions SET resolved_by = $4, resolved_at = $5, resolution = $6
WHERE remit_id = $1 AND clp_index = $2 AND line_index = $3 AND resolved_at IS NULL`, remitID, clpIndex, lineIndex, userID, p.now(), note)
		if err != nil {
			return fmt.Errorf("resolve exception: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrExceptionResolved
		}
		return Audit(ctx, tx, userID, "resolve_exception", "", fmt.Sprintf("%s/%d/%d", remitID, clpIndex, lineIndex), "")
	})
}
