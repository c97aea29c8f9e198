package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/rcm-health/rcm/services/denials"
)

// Roles of users.
const (
	// RoleBiller works denials: every work item action but write-offs.
	RoleBiller = "biller"
	// RoleSupervisor does what a biller does, writes off, and reads the
	// audit log and the user list.
	RoleSupervisor = "supervisor"
	// RoleOps sees every page, claims included (each view audited), and
	// changes nothing.
	RoleOps = "ops"
)

// Roles lists the roles AddUser accepts.
var Roles = []string{RoleBiller, RoleSupervisor, RoleOps}

// actionRoles says who may take each work item action. A write-off gives
// up money, so it takes a supervisor.
var actionRoles = map[string][]string{
	denials.ActAssign:   {RoleBiller, RoleSupervisor},
	denials.ActNote:     {RoleBiller, RoleSupervisor},
	denials.ActStart:    {RoleBiller, RoleSupervisor},
	denials.ActCorrect:  {RoleBiller, RoleSupervisor},
	denials.ActAppeal:   {RoleBiller, RoleSupervisor},
	denials.ActResolve:  {RoleBiller, RoleSupervisor},
	denials.ActReopen:   {RoleBiller, RoleSupervisor},
	denials.ActWriteOff: {RoleSupervisor},
}

// Who may open a page.
var (
	anyone      = []string{RoleBiller, RoleSupervisor, RoleOps}
	workers     = []string{RoleBiller, RoleSupervisor}
	supervisors = []string{RoleSupervisor}
)

// Session lifetimes: a session ends after idleTimeout without a request,
// and after maxSession whatever happens.
const (
	idleTimeout = 30 * time.Minute
	maxSession  = 8 * time.Hour
)

// MinPasswordLen is the shortest password AddUser accepts.
const MinPasswordLen = 12

// user is who is logged in, as the session check found them.
type user struct {
	ID   string
	Name string
	Role string
	csrf string
	// session is the SHA-256 of the session token, the sessions table's key.
	session string
}

func (u *user) can(action string) bool { return slices.Contains(actionRoles[action], u.Role) }

type userKey struct{}

func userOf(r *http.Request) *user {
	u, _ := r.Context().Value(userKey{}).(*user)
	return u
}

// cookieName is the session cookie's name. With Secure cookies it takes
// the __Host- prefix, which browsers accept only from HTTPS, without a
// Domain and with Path=/: no other host or path can set it.
func (s *server) cookieName() string {
	if s.secure {
		return "__Host-rcm_session"
	}
	return "rcm_session"
}

const (
	loginCookie = "rcm_login" // the login form's CSRF token
	flashCookie = "rcm_flash"
	csrfField   = "csrf"
)

// page wraps a handler with what every page needs: a live session (else
// the login page), a role among roles (else 403) and, for a POST, a
// same-origin request carrying the session's CSRF token (else 403).
func (s *server) page(roles []string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.session(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if u == nil {
			if r.Method != http.MethodGet {
				s.forbidden(w, r, "Your session has ended. Log in again.")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if who, ok := r.Context().Value(whoKey{}).(*string); ok {
			*who = u.ID
		}
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		if !slices.Contains(roles, u.Role) {
			s.log.Warn("forbidden page", zap.String("user_id", u.ID), zap.String("role", u.Role), zap.String("route", r.Pattern))
			s.forbidden(w, r, "Your role may not open this page.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !sameOrigin(r) || !validToken(r.PostFormValue(csrfField), u.csrf) {
				s.log.Warn("request refused: CSRF", zap.String("user_id", u.ID), zap.String("route", r.Pattern))
				s.forbidden(w, r, "The form was not sent from this site, or it expired. Reload the page and try again.")
				return
			}
		}
		h(w, r)
	})
}

// sameOrigin refuses a request that says it came from another site. A
// request that says nothing (no Origin, Referer or Sec-Fetch-Site, as from
// an old browser or a script) passes: the CSRF token is the defence; this
// check is the second one.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Host == r.Host
	}
	return true
}

func validToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// newToken returns 32 random bytes, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// session finds the request's live session and slides its idle expiry in
// the same statement. It returns nil without a live session.
func (s *server) session(r *http.Request) (*user, error) {
	c, err := r.Cookie(s.cookieName())
	if err != nil || c.Value == "" {
		return nil, nil
	}
	now := s.now()
	u := &user{session: hashToken(c.Value)}
	err = s.pool.QueryRow(r.Context(), `UPDATE denials.sessions s SET expires_at = least(s.created_at + make_interval(secs => $3), $4)
FROM denials.users u
WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND u.user_id = s.user_id AND NOT u.disabled
RETURNING u.user_id, u.display_name, u.role, s.csrf_token`, u.session, now, maxSession.Seconds(), now.Add(idleTimeout)).Scan(&u.ID, &u.Name, &u.Role, &u.csrf)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	return u, nil
}

type loginView struct {
	Next     string
	Token    string
	Username string
	Error    string
}

// loginPage shows the login form with a fresh login token: a cookie and a
// hidden field that must match, so that no other site can log a browser
// in to an account of its choosing.
func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	if u, err := s.session(r); err == nil && u != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, loginView{Next: localPath(r.URL.Query().Get("next"))})
}

func (s *server) showLogin(w http.ResponseWriter, r *http.Request, status int, lv loginView) {
	lv.Token = newToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: lv.Token, Path: "/login", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	s.render(w, r, status, "login", view{Title: "Log in", Data: lv})
}

// badLogin is the one message for every failed login, so that it does not
// tell which user ids exist.
const badLogin = "Wrong username or password."

// dummyHash is compared when the user does not exist, so that an unknown
// user takes as long as a wrong password. It is made on first use, not at
// start-up of every command of the binary.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcrypt.DefaultCost)
	if err != nil {
		panic(err)
	}
	return h
})

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(loginCookie)
	if !sameOrigin(r) || err != nil || !validToken(r.PostFormValue(csrfField), c.Value) {
		s.forbidden(w, r, "The login form expired. Open the login page again.")
		return
	}
	id := strings.TrimSpace(r.PostFormValue("username"))
	pw := r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	lv := loginView{Next: next, Username: id, Error: badLogin}
	if id == "" || pw == "" || len(id) > 64 {
		s.showLogin(w, r, http.StatusUnauthorized, lv)
		return
	}
	if !s.limiter.allow(id, s.now()) {
		s.log.Warn("login refused: too many failures", zap.String("remote_addr", remote(r)))
		lv.Error = "Too many failed logins for this user. Wait a quarter of an hour, or ask a supervisor."
		s.showLogin(w, r, http.StatusTooManyRequests, lv)
		return
	}
	var hash string
	var disabled bool
	err = s.pool.QueryRow(r.Context(), `SELECT password_hash, disabled FROM denials.users WHERE user_id = $1`, id).Scan(&hash, &disabled)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		s.fail(w, r, fmt.Errorf("read user: %w", err))
		return
	}
	found := err == nil
	if !found {
		hash = string(dummyHash())
	}
	ok := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	if !found || !ok || disabled {
		s.limiter.fail(id, s.now())
		// What was typed as a user name is logged only when it is one: a
		// password typed into the wrong box must not reach the log.
		if found {
			s.log.Warn("login failed", zap.String("user_id", id), zap.String("remote_addr", remote(r)))
		} else {
			s.log.Warn("login failed: unknown user", zap.String("remote_addr", remote(r)))
		}
		s.showLogin(w, r, http.StatusUnauthorized, lv)
		return
	}
	s.limiter.reset(id)
	tok, csrf, now := newToken(), newToken(), s.now()
	// A login always makes a new session: a token planted before it
	// (session fixation) is worth nothing after. Expired sessions of the
	// user go at the same time.
	if _, err := s.pool.Exec(r.Context(), `WITH gone AS (DELETE FROM denials.sessions WHERE user_id = $2 AND expires_at <= $4)
INSERT INTO denials.sessions (token_sha256, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		hashToken(tok), id, csrf, now, now.Add(idleTimeout)); err != nil {
		s.fail(w, r, fmt.Errorf("create session: %w", err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: tok, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxSession / time.Second)})
	s.log.Info("login", zap.String("user_id", id), zap.String("remote_addr", remote(r)))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	if _, err := s.pool.Exec(r.Context(), `DELETE FROM denials.sessions WHERE token_sha256 = $1`, u.session); err != nil {
		s.fail(w, r, fmt.Errorf("end session: %w", err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	s.log.Info("logout", zap.String("user_id", u.ID))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// localPath keeps a redirect target on this site: a path, not "//host" or
// a URL.
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// loginLimiter slows password guessing: after maxFailures failed logins
// for one user id within failureWindow, that id is refused until the
// window has passed. It is per process, which is enough to make guessing
// hopeless; the log shows the attempts.
type loginLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

const (
	maxFailures   = 10
	failureWindow = 15 * time.Minute
)

func newLoginLimiter() *loginLimiter { return &loginLimiter{failures: map[string][]time.Time{}} }

func (l *loginLimiter) recent(id string, now time.Time) []time.Time {
	ts := l.failures[id]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > failureWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.failures, id)
	} else {
		l.failures[id] = ts
	}
	return ts
}

func (l *loginLimiter) allow(id string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(id, now)) < maxFailures
}

func (l *loginLimiter) fail(id string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 100000 {
		clear(l.failures) // bound the memory a flood of made-up ids can take
	}
	l.failures[id] = append(l.recent(id, now), now)
}

func (l *loginLimiter) reset(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, id)
}

// flash is a one-time message shown after a redirect (post, redirect,
// get). It travels in a short-lived cookie rather than the URL.
type flash struct {
	Error bool
	Text  string
}

func (s *server) setFlash(w http.ResponseWriter, isErr bool, text string) {
	v := "ok:"
	if isErr {
		v = "error:"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(v + text)), Path: "/",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

// takeFlash reads the flash cookie and clears it.
func (s *server) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	kind, text, ok := strings.Cut(string(raw), ":")
	if !ok || text == "" {
		return nil
	}
	return &flash{Error: kind == "error", Text: text}
}

// ErrUserExists is returned by AddUser for a user id already taken.
var ErrUserExists = errors.New("user id already exists")

var userIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// AddUser creates a user who can log in. userID is the login name:
// lower-case letters, digits and . _ @ -, at most 64 characters. role is
// one of Roles. password must have at least MinPasswordLen characters (and
// at most 72 bytes, bcrypt's limit); only its bcrypt hash is stored.
// Errors name the field at fault.
func AddUser(ctx context.Context, pool *pgxpool.Pool, userID, displayName, role, password string) error {
	displayName = strings.TrimSpace(displayName)
	switch {
	case !userIDPattern.MatchString(userID):
		return fmt.Errorf("user id %q: use 1 to 64 lower-case letters, digits and . _ @ -, starting with a letter or digit", userID)
	case displayName == "":
		return errors.New("display name: required")
	case utf8.RuneCountInString(displayName) > 200:
		return errors.New("display name: at most 200 characters")
	case !slices.Contains(Roles, role):
		return fmt.Errorf("role %q: must be one of %s", role, strings.Join(Roles, ", "))
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return fmt.Errorf("password: must be at least %d characters", MinPasswordLen)
	case len(password) > 72:
		return errors.New("password: at most 72 bytes (bcrypt's limit)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO denials.users (user_id, display_name, role, password_hash) VALUES ($1, $2, $3, $4)`,
		userID, displayName, role, string(hash))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("user id %q: %w", userID, ErrUserExists)
	}
	if err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	return nil
}
