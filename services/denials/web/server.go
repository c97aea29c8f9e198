// Package web is the billers' user interface of the denials service: a
// server-rendered work queue of denials, each claim's timeline with the
// actions that clear its denial, appeal letters, remittances, exceptions,
// KPIs and the audit log.
//
// It is plain HTML forms over html/template, with no JavaScript framework,
// so that it works in any browser a clinic has. Every page needs a login;
// roles decide what a user may change (biller, supervisor) or only see
// (ops), and the server enforces them. Every view of a patient's claim is
// written to the audit log before the page is sent, as HIPAA's access log
// requires.
//
// New returns the handler that the denials service mounts at "/" (see
// denials.Config.Web); AddUser creates the people who log in.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/services/denials"
)

func init() {
	// These ids never carry PHI: user ids are login names, the others are
	// rcm's own ids.
	platform.AllowLogKeys("user_id", "work_item_id", "remit_id", "action", "route", "role")
}

//go:embed templates static
var files embed.FS

// Config is what the UI needs.
type Config struct {
	// Store is the denials store the UI reads and acts through.
	Store *denials.Store
	// Log receives ids only: user, claim, work item and remittance ids.
	Log *zap.Logger
	// SecureCookies sets the cookies' Secure flag. It must be true whenever
	// the UI is served over HTTPS, which is everywhere but http://localhost
	// during development.
	SecureCookies bool
	// Now is the clock for sessions, the queue's ages and deadlines and the
	// KPIs; nil is time.Now.
	Now func() time.Time
	// JS, when set, lets /ops show the pipeline's status; nil says it is
	// unavailable.
	JS jetstream.JetStream
}

// server holds the UI's dependencies; its methods are the handlers.
type server struct {
	store   *denials.Store
	pool    *pgxpool.Pool
	log     *zap.Logger
	secure  bool
	now     func() time.Time
	pages   map[string]*template.Template
	limiter *loginLimiter
}

// New returns the UI's handler, to be mounted at "/".
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil || cfg.Store.Pool == nil {
		return nil, errors.New("web: no store")
	}
	s := &server{
		store: cfg.Store, pool: cfg.Store.Pool, log: cfg.Log, secure: cfg.SecureCookies, now: cfg.Now,
		limiter: newLoginLimiter(),
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.With(zap.String("component", "web"))
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.pages, err = parsePages(template.FuncMap{"carc": s.carcText, "rarc": s.rarcText}); err != nil {
		return nil, err
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.Handle("POST /logout", s.page(anyone, s.logout))

	mux.Handle("GET /{$}", s.page(anyone, s.queue))
	mux.Handle("GET /held", s.page(anyone, s.held))
	mux.Handle("GET /claims/{claimID}", s.page(anyone, s.claim))
	mux.Handle("GET /claims/{claimID}/appeal-letter", s.page(anyone, s.appealLetter))
	// Each action checks its own roles, so the route lets every user in.
	mux.Handle("POST /items/{itemID}/{action}", s.page(anyone, s.act))
	mux.Handle("GET /remittances", s.page(anyone, s.remittances))
	mux.Handle("GET /remittances/{remitID}", s.page(anyone, s.remittance))
	mux.Handle("GET /exceptions", s.page(anyone, s.exceptions))
	mux.Handle("POST /exceptions/resolve", s.page(workers, s.resolveException))
	mux.Handle("GET /kpis", s.page(anyone, s.kpis))
	mux.Handle("GET /ops", s.page(anyone, s.ops(cfg.JS)))
	mux.Handle("GET /audit", s.page(supervisors, s.audit))
	mux.Handle("GET /users", s.page(supervisors, s.users))
	mux.HandleFunc("/", s.notFound)
	return s.headers(s.logRequests(mux)), nil
}

// headers sets the security headers on every response. Pages may carry PHI,
// so nothing but the static files may be cached, by the browser or by a
// proxy.
func (s *server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// No inline script or style at all: the only script and stylesheet
		// come from /static.
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests logs each request by its route pattern, never its URL: the
// pattern holds no ids or filter values, the user id says who.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var who string
		r = r.WithContext(context.WithValue(r.Context(), whoKey{}, &who))
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.Debug("request", zap.String("method", r.Method), zap.String("route", r.Pattern),
			zap.Int("status", sw.status), zap.String("user_id", who), zap.Duration("duration", time.Since(start)))
	})
}

// whoKey holds a *string in the request's context that the session check
// fills with the user id, for the request log.
type whoKey struct{}

// remote is the client's address for the audit log. X-Forwarded-For is
// not trusted: anyone can send it.
func remote(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// view is what every page template gets: the page's own data in Data, and
// what the layout needs.
type view struct {
	Title string
	// Nav names the menu entry to highlight.
	Nav   string
	User  *user
	Flash *flash
	Data  any
}

// Can reports whether the user may take a work item action (one of the
// denials.Act… kinds); the templates hide what it refuses.
func (v view) Can(action string) bool { return v.User != nil && v.User.can(action) }

// Supervisor reports whether the user sees the supervisors' pages.
func (v view) Supervisor() bool { return v.User != nil && v.User.Role == RoleSupervisor }

// CSRF is the session's token for the hidden field of every form.
func (v view) CSRF() string {
	if v.User == nil {
		return ""
	}
	return v.User.csrf
}

// render executes a page into a buffer and only then writes it, so that a
// template error never sends half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := s.pages[name]
	if !ok {
		s.fail(w, r, errors.New("no template "+name))
		return
	}
	if v.Flash == nil {
		v.Flash = s.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail logs err and sends a page that says nothing about it.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	u := userOf(r)
	uid := ""
	if u != nil {
		uid = u.ID
	}
	s.log.Error("page failed", zap.String("route", r.Pattern), zap.String("user_id", uid), zap.Error(err))
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "The page could not be shown. The error was logged; try again in a moment.")
}

// errorPage sends a short page for an error status.
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	t := s.pages["error"]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", view{Title: title, User: userOf(r), Data: msg}); err != nil {
		http.Error(w, title, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "Not found", "There is no such page.")
}

func (s *server) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	s.errorPage(w, r, http.StatusForbidden, "Forbidden", msg)
}
