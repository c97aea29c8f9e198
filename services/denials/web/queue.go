package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// queueLimit bounds the queue page; the filters narrow a longer queue.
const queueLimit = 500

// priorityExpr is denials.Priority in SQL, so that the database sorts and
// limits the queue: a point per whole dollar denied, and 20 points a day
// inside the last 30 days before the appeal deadline ($1 is today's date).
// TestPriorityMatchesGo keeps the two the same.
const priorityExpr = `(w.amount_cents / 100 + CASE WHEN w.appeal_deadline IS NULL OR w.appeal_deadline - $1::date >= 30 THEN 0
	ELSE 20 * (30 - greatest(w.appeal_deadline - $1::date, 0)) END)`

// ageBuckets are the queue's age filters: days since the item opened.
var ageBuckets = []struct {
	Key, Label string
	Lo, Hi     int
}{
	{"0-30", "0–30 days", 0, 30},
	{"31-60", "31–60 days", 31, 60},
	{"61-90", "61–90 days", 61, 90},
	{"90+", "over 90 days", 91, 1 << 30},
}

// queueFilter is the queue's filter form. Its values are ids and codes,
// never patient data, so they may travel in the query string.
type queueFilter struct {
	Payer    string
	Category string
	Age      string
	Assignee string // "", "me", "unassigned" or a user id
	// Status: "" for every status but closed ones, "all", or one status.
	Status string
}

func parseQueueFilter(r *http.Request) queueFilter {
	q := r.URL.Query()
	f := queueFilter{Payer: q.Get("payer"), Category: q.Get("category"), Age: q.Get("age"), Assignee: q.Get("assignee"), Status: q.Get("status")}
	if f.Status != "all" && !slices.Contains(statuses, f.Status) {
		f.Status = ""
	}
	return f
}

// queueRow is one work item in the queue.
type queueRow struct {
	WorkItemID  string
	ClaimID     string
	Status      string
	Category    string
	PayerID     string
	PayerName   string
	Group       string
	CARC        string
	RARCs       []string
	AmountCents int64
	Deadline    string
	DaysLeft    int
	Assignee    string
	OpenedAt    time.Time
	AgeDays     int
	Patient     string
	DOS         string
	Priority    int64
}

// HasDeadline reports whether the denial can still be appealed by a date.
func (q queueRow) HasDeadline() bool { return q.Deadline != "" }

type option struct{ Value, Label string }

type queueData struct {
	Filter     queueFilter
	Rows       []queueRow
	Limited    bool
	Payers     []option
	Categories []string
	Statuses   []string
	Ages       []option
	Assignees  []option
}

// queue is the denial queue: work items by priority, highest first.
func (s *server) queue(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	f := parseQueueFilter(r)
	now := s.now().UTC()
	today := now.Format("2006-01-02")
	args := []any{today}
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	switch f.Status {
	case "":
		where = append(where, `w.status NOT IN ('written_off', 'resolved')`)
	case "all":
	default:
		where = append(where, "w.status = "+arg(f.Status))
	}
	if f.Payer != "" {
		where = append(where, "w.payer_id = "+arg(f.Payer))
	}
	if f.Category != "" {
		where = append(where, "w.category = "+arg(f.Category))
	}
	for _, b := range ageBuckets {
		if b.Key == f.Age {
			where = append(where, fmt.Sprintf("($1::date - (w.opened_at AT TIME ZONE 'UTC')::date) BETWEEN %d AND %d", b.Lo, b.Hi))
		}
	}
	switch f.Assignee {
	case "":
	case "me":
		where = append(where, "w.assignee = "+arg(u.ID))
	case "unassigned":
		where = append(where, "w.assignee = ''")
	default:
		where = append(where, "w.assignee = "+arg(f.Assignee))
	}
	cond := ""
	if len(where) > 0 {
		cond = "WHERE " + strings.Join(where, " AND ")
	}
	sql := `SELECT w.work_item_id, w.claim_id, w.status, w.category, w.payer_id, coalesce(c.payer_name, ''),
	coalesce(w.item->>'group', ''), coalesce(w.item->>'carc', ''), coalesce(w.item->'rarcs', '[]'), w.amount_cents,
	coalesce(to_char(w.appeal_deadline, 'YYYY-MM-DD'), ''), coalesce(w.appeal_deadline - $1::date, 0), w.assignee, w.opened_at,
	$1::date - (w.opened_at AT TIME ZONE 'UTC')::date,
	coalesce(s.data->'patient'->>'last_name', ''), coalesce(s.data->'patient'->>'first_name', ''),
	coalesce(to_char(c.date_of_service, 'YYYY-MM-DD'), ''), ` + priorityExpr + ` AS priority
FROM denials.work_items w
LEFT JOIN denials.claims c ON c.claim_id = w.claim_id
LEFT JOIN denials.submissions s ON s.control_number = w.item->>'control_number'
` + cond + `
ORDER BY priority DESC, w.opened_at, w.work_item_id
LIMIT ` + strconv.Itoa(queueLimit+1)
	rows, err := s.pool.Query(r.Context(), sql, args...)
	if err != nil {
		s.fail(w, r, fmt.Errorf("queue: %w", err))
		return
	}
	defer rows.Close()
	d := queueData{Filter: f, Categories: categories, Statuses: statuses}
	for rows.Next() {
		var q queueRow
		var rarcs []byte
		var last, first string
		if err := rows.Scan(&q.WorkItemID, &q.ClaimID, &q.Status, &q.Category, &q.PayerID, &q.PayerName, &q.Group, &q.CARC, &rarcs,
			&q.AmountCents, &q.Deadline, &q.DaysLeft, &q.Assignee, &q.OpenedAt, &q.AgeDays, &last, &first, &q.DOS, &q.Priority); err != nil {
			s.fail(w, r, fmt.Errorf("queue: %w", err))
			return
		}
		_ = json.Unmarshal(rarcs, &q.RARCs)
		q.Patient = personName(last, first)
		d.Rows = append(d.Rows, q)
	}
	if err := rows.Err(); err != nil {
		s.fail(w, r, fmt.Errorf("queue: %w", err))
		return
	}
	if len(d.Rows) > queueLimit {
		d.Rows, d.Limited = d.Rows[:queueLimit], true
	}
	if d.Payers, err = s.options(r, `SELECT w.payer_id, coalesce(max(c.payer_name), '') FROM denials.work_items w
LEFT JOIN denials.claims c ON c.claim_id = w.claim_id GROUP BY w.payer_id ORDER BY 2, 1`); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Assignees, err = s.workers(r); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, b := range ageBuckets {
		d.Ages = append(d.Ages, option{b.Key, b.Label})
	}
	s.render(w, r, http.StatusOK, "queue", view{Title: "Denial queue", Nav: "queue", User: u, Data: d})
}

// options reads (value, label) pairs.
func (s *server) options(r *http.Request, sql string, args ...any) ([]option, error) {
	rows, err := s.pool.Query(r.Context(), sql, args...)
	if err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	defer rows.Close()
	var out []option
	for rows.Next() {
		var o option
		if err := rows.Scan(&o.Value, &o.Label); err != nil {
			return nil, err
		}
		if o.Label == "" {
			o.Label = o.Value
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// workers are the users a work item may be assigned to.
func (s *server) workers(r *http.Request) ([]option, error) {
	return s.options(r, `SELECT user_id, display_name FROM denials.users WHERE NOT disabled AND role IN ('biller', 'supervisor') ORDER BY user_id`)
}

// personName is "Last, First" as the claim carries it.
func personName(last, first string) string {
	switch {
	case last == "":
		return first
	case first == "":
		return last
	}
	return last + ", " + first
}

// heldClaim is a claim the scrubber held, with its edits.
type heldClaim struct {
	ClaimID       string
	VisitID       string
	ControlNumber string
	Builds        int
	Edits         []events.Edit
	UpdatedAt     time.Time
}

// held lists the claims the scrubber held, oldest first: each waits for a
// fix in the EMR, the payer profile or the rules, as its edits say.
func (s *server) held(w http.ResponseWriter, r *http.Request) {
	rows, err := s.pool.Query(r.Context(), `SELECT claim_id, visit_id, control_number, scrub_count, edits, updated_at
FROM denials.claims WHERE scrub_status = 'held' ORDER BY updated_at, claim_id LIMIT 1000`)
	if err != nil {
		s.fail(w, r, fmt.Errorf("held claims: %w", err))
		return
	}
	defer rows.Close()
	var list []heldClaim
	for rows.Next() {
		var h heldClaim
		var edits []byte
		if err := rows.Scan(&h.ClaimID, &h.VisitID, &h.ControlNumber, &h.Builds, &edits, &h.UpdatedAt); err != nil {
			s.fail(w, r, fmt.Errorf("held claims: %w", err))
			return
		}
		_ = json.Unmarshal(edits, &h.Edits)
		list = append(list, h)
	}
	if err := rows.Err(); err != nil {
		s.fail(w, r, fmt.Errorf("held claims: %w", err))
		return
	}
	s.render(w, r, http.StatusOK, "held", view{Title: "Held claims", Nav: "held", User: userOf(r), Data: list})
}
