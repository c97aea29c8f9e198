package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/denials"
)

// act applies one work item action (POST /items/{itemID}/{action}) through
// Store.Act and redirects to the claim with a flash saying how it went.
func (s *server) act(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	ctx := r.Context()
	itemID, kind := r.PathValue("itemID"), r.PathValue("action")
	if _, known := actionRoles[kind]; !known {
		s.notFound(w, r)
		return
	}
	if !u.can(kind) {
		s.log.Warn("action refused: role", zap.String("user_id", u.ID), zap.String("role", u.Role), zap.String("action", kind),
			zap.String("work_item_id", itemID))
		s.forbidden(w, r, "Your role may not "+actionWords(kind)+".")
		return
	}
	var claimID string
	err := s.pool.QueryRow(ctx, `SELECT claim_id FROM denials.work_items WHERE work_item_id = $1`, itemID).Scan(&claimID)
	if errors.Is(err, pgx.ErrNoRows) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("read work item: %w", err))
		return
	}
	back := "/claims/" + claimID + "#item-" + itemID
	a := denials.Action{WorkItemID: itemID, UserID: u.ID, Kind: kind, Note: r.PostFormValue("note")}
	switch kind {
	case denials.ActAssign:
		a.Assignee = r.PostFormValue("assignee")
		if a.Assignee == "me" {
			a.Assignee = u.ID
		}
		if a.Assignee != "" {
			ok, err := s.isWorker(ctx, a.Assignee)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if !ok {
				s.setFlash(w, true, "Assign to a biller or supervisor who can log in.")
				http.Redirect(w, r, back, http.StatusSeeOther)
				return
			}
		}
	case denials.ActCorrect:
		a.Frequency = r.PostFormValue("frequency")
		if a.Frequency != events.FrequencyVoid {
			lines, msg, err := s.correctedLines(ctx, itemID, r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if msg != "" {
				s.setFlash(w, true, msg)
				http.Redirect(w, r, back, http.StatusSeeOther)
				return
			}
			a.Lines = lines
		}
	}
	it, err := s.store.Act(ctx, a)
	if err != nil {
		msg, known := actionError(err)
		if !known {
			s.log.Error("action failed", zap.String("user_id", u.ID), zap.String("action", kind), zap.String("work_item_id", itemID),
				zap.String("claim_id", claimID), zap.Error(err))
		}
		s.setFlash(w, true, msg)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	s.log.Info("action", zap.String("user_id", u.ID), zap.String("action", kind), zap.String("work_item_id", itemID),
		zap.String("claim_id", claimID), zap.String("status", it.Status))
	s.setFlash(w, false, actionDone(kind, it))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (s *server) isWorker(ctx context.Context, userID string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM denials.users WHERE user_id = $1 AND NOT disabled AND role IN ('biller', 'supervisor'))`,
		userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("read user: %w", err)
	}
	return ok, nil
}

// actionError turns an error of Store.Act into words for the biller, and
// says whether it was one of the expected refusals (else it is logged).
func actionError(err error) (string, bool) {
	switch {
	case errors.Is(err, denials.ErrNeedsReason):
		return "Write a reason: this action needs one.", true
	case errors.Is(err, denials.ErrClosed):
		return "The work item is closed; reopen it first.", true
	case errors.Is(err, denials.ErrNoPayerRef):
		return "The payer sent no claim control number (CLP07), so a corrected claim cannot reference the original. Call the payer for it, or appeal instead.", true
	case errors.Is(err, denials.ErrBadLine):
		return "A corrected line is not on the claim as submitted.", true
	case errors.Is(err, denials.ErrNoItem):
		return "The work item or its submission was not found.", true
	}
	return "The action could not be saved. It was logged; try again in a moment.", false
}

func actionWords(kind string) string {
	switch kind {
	case denials.ActAssign:
		return "assign work items"
	case denials.ActNote:
		return "add notes"
	case denials.ActStart:
		return "start work items"
	case denials.ActCorrect:
		return "request corrected claims"
	case denials.ActWriteOff:
		return "write off denials"
	case denials.ActAppeal:
		return "mark denials appealed"
	case denials.ActResolve:
		return "resolve work items"
	case denials.ActReopen:
		return "reopen work items"
	}
	return kind
}

func actionDone(kind string, it events.WorkItem) string {
	switch kind {
	case denials.ActAssign:
		if it.Assignee == "" {
			return "Unassigned."
		}
		return "Assigned to " + it.Assignee + "."
	case denials.ActNote:
		return "Note added."
	case denials.ActStart:
		return "Started; the item is in progress."
	case denials.ActCorrect:
		return "Corrected claim requested; the submitter will send it."
	case denials.ActWriteOff:
		return "Written off (" + billing.Dollars(it.AmountCents) + ")."
	case denials.ActAppeal:
		return "Marked appealed."
	case denials.ActResolve:
		return "Resolved."
	case denials.ActReopen:
		return "Reopened."
	}
	return "Done."
}
