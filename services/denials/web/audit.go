package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// auditLimit bounds the audit page; the filters find older rows.
const auditLimit = 500

type auditRow struct {
	At      time.Time
	UserID  string
	Action  string
	ClaimID string
	Detail  string
	Remote  string
}

type auditData struct {
	Claim, User string
	Rows        []auditRow
	Limited     bool
}

// audit is the access log, newest first, by claim or user (supervisors
// only).
func (s *server) audit(w http.ResponseWriter, r *http.Request) {
	d := auditData{Claim: strings.TrimSpace(r.URL.Query().Get("claim")), User: strings.TrimSpace(r.URL.Query().Get("user"))}
	rows, err := s.pool.Query(r.Context(), `SELECT at, user_id, action, claim_id, detail, remote FROM denials.audit
WHERE ($1 = '' OR claim_id = $1) AND ($2 = '' OR user_id = $2) ORDER BY id DESC LIMIT `+strconv.Itoa(auditLimit+1), d.Claim, d.User)
	if err != nil {
		s.fail(w, r, fmt.Errorf("audit: %w", err))
		return
	}
	defer rows.Close()
	for rows.Next() {
		var a auditRow
		if err := rows.Scan(&a.At, &a.UserID, &a.Action, &a.ClaimID, &a.Detail, &a.Remote); err != nil {
			s.fail(w, r, fmt.Errorf("audit: %w", err))
			return
		}
		d.Rows = append(d.Rows, a)
	}
	if err := rows.Err(); err != nil {
		s.fail(w, r, fmt.Errorf("audit: %w", err))
		return
	}
	if len(d.Rows) > auditLimit {
		d.Rows, d.Limited = d.Rows[:auditLimit], true
	}
	s.render(w, r, http.StatusOK, "audit", view{Title: "Audit log", Nav: "audit", User: userOf(r), Data: d})
}

type userRow struct {
	ID, Name, Role string
	Disabled       bool
	CreatedAt      time.Time
	Sessions       int
}

// users lists who can log in (supervisors only). Users are added with
// `rcm users add`.
func (s *server) users(w http.ResponseWriter, r *http.Request) {
	rows, err := s.pool.Query(r.Context(), `SELECT u.user_id, u.display_name, u.role, u.disabled, u.created_at,
	(SELECT count(*) FROM denials.sessions s WHERE s.user_id = u.user_id AND s.expires_at > $1)
FROM denials.users u ORDER BY u.user_id`, s.now())
	if err != nil {
		s.fail(w, r, fmt.Errorf("users: %w", err))
		return
	}
	defer rows.Close()
	var list []userRow
	for rows.Next() {
		var u userRow
		if err := rows.Scan(&u.ID, &u.Name, &u.Role, &u.Disabled, &u.CreatedAt, &u.Sessions); err != nil {
			s.fail(w, r, fmt.Errorf("users: %w", err))
			return
		}
		list = append(list, u)
	}
	if err := rows.Err(); err != nil {
		s.fail(w, r, fmt.Errorf("users: %w", err))
		return
	}
	s.render(w, r, http.StatusOK, "users", view{Title: "Users", Nav: "users", User: userOf(r), Data: list})
}
