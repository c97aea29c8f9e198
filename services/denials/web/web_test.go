package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/denials"
)

func sessionCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()

	c := f.client()
	resp, _ := c.get("/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2F" {
		t.Fatalf("anonymous GET /: %d to %q; want 303 to the login page", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A wrong password and an unknown user get the same answer.
	var bodies []string
	for _, user := range []string{biller, "nobody"} {
		c.get("/login")
		resp, body := c.post("/login", url.Values{"username": {user}, "password": {"wrong password!"}}, true)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, badLogin) {
			t.Errorf("bad login as %s: %d; want 401 with %q", user, resp.StatusCode, badLogin)
		}
		if sessionCookie(resp, "rcm_session") != nil {
			t.Errorf("bad login as %s set a session cookie", user)
		}
		bodies = append(bodies, body)
	}
	// The pages differ only in the fields' values (the name typed, a fresh
	// token): nothing tells a known user from an unknown one.
	values := regexp.MustCompile(`value="[^"]*"`)
	if values.ReplaceAllString(bodies[0], "") != values.ReplaceAllString(bodies[1], "") {
		t.Error("a failed login tells an unknown user from a wrong password")
	}

	c.get("/login")
	resp, _ = c.post("/login", url.Values{"username": {biller}, "password": {password}, "next": {"/kpis"}}, true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/kpis" {
		t.Fatalf("login: %d to %q; want 303 to /kpis", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := sessionCookie(resp, "rcm_session")
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Fatalf("session cookie %+v; want HttpOnly, SameSite=Lax, Path=/, not Secure (SecureCookies false)", ck)
	}
	if n := len(ck.Value); n < 43 {
		t.Errorf("session token of %d characters; want 32 random bytes", n)
	}
	var stored, csrf string
	var expires time.Time
	if err := f.deps.Pool.QueryRow(ctx, `SELECT token_sha256, csrf_token, expires_at FROM denials.sessions WHERE user_id = $1`, biller).
		Scan(&stored, &csrf, &expires); err != nil {
		t.Fatal(err)
	}
	if stored != hashToken(ck.Value) || stored == ck.Value {
		t.Error("the sessions table does not hold the token's SHA-256 alone")
	}
	if csrf == "" || !expires.After(today) || expires.After(today.Add(maxSession)) {
		t.Errorf("session csrf %q expires %v", csrf, expires)
	}
	// An open redirect is refused.
	c2 := f.client()
	c2.get("/login")
	resp, _ = c2.post("/login", url.Values{"username": {biller}, "password": {password}, "next": {"//evil.example/x"}}, true)
	if resp.Header.Get("Location") != "/" {
		t.Errorf("next=//evil.example redirected to %q; want /", resp.Header.Get("Location"))
	}

	resp, body := c.get("/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Bea Biller") {
		t.Fatalf("queue after login: %d", resp.StatusCode)
	}
	resp, _ = c.post("/logout", nil, true)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	var n int
	if err := f.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM denials.sessions WHERE token_sha256 = $1`, stored).Scan(&n); err != nil || n != 0 {
		t.Errorf("session rows after logout: %d (%v); want 0", n, err)
	}
	// The old cookie is worth nothing now, even if a copy of it survives.
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: "rcm_session", Value: ck.Value})
	resp, _ = c.read(must(c.http.Do(req)))
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / with a logged-out token: %d; want a redirect to log in", resp.StatusCode)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := today
	h, err := New(Config{Store: f.store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := f.client()
	c.base = srv.URL
	c.login(biller)
	now = now.Add(idleTimeout - time.Minute)
	if resp, _ := c.get("/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("within the idle timeout: %d", resp.StatusCode)
	}
	now = now.Add(idleTimeout + time.Minute)
	if resp, _ := c.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the idle timeout: %d; want a redirect to log in", resp.StatusCode)
	}
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h, err := New(Config{Store: f.store, SecureCookies: true, Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://rcm.example/login", nil))
	page := rec.Result()
	lc := sessionCookie(page, loginCookie)
	if lc == nil || !lc.Secure || !lc.HttpOnly {
		t.Fatalf("login cookie %+v; want Secure and HttpOnly", lc)
	}
	tok := csrfInput.FindStringSubmatch(rec.Body.String())[1]
	req := httptest.NewRequest("POST", "https://rcm.example/login", strings.NewReader(url.Values{
		"username": {supervisor}, "password": {password}, "csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://rcm.example")
	req.AddCookie(lc)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	ck := sessionCookie(rec.Result(), "__Host-rcm_session")
	if rec.Code != http.StatusSeeOther || ck == nil || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("secure login: %d, cookie %+v; want a __Host- cookie, Secure, HttpOnly, Path=/, SameSite=Lax", rec.Code, ck)
	}
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header with SecureCookies")
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.loggedIn(biller)
	item := f.itemOf("c1")

	resp, _ := c.post("/items/"+item+"/start", nil, false)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a CSRF token: %d; want 403", resp.StatusCode)
	}
	resp, _ = c.post("/items/"+item+"/start", url.Values{"csrf": {"forged"}}, false)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token: %d; want 403", resp.StatusCode)
	}
	form := url.Values{"csrf": {c.csrf}}
	req, _ := http.NewRequest("POST", f.srv.URL+"/items/"+item+"/start", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, _ = c.read(must(c.http.Do(req)))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST from another origin with the right token: %d; want 403", resp.StatusCode)
	}
	resp, _ = c.post("/logout", nil, false)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without a token: %d; want 403", resp.StatusCode)
	}
	// A login form needs its own token too (login CSRF).
	anon := f.client()
	resp, _ = anon.post("/login", url.Values{"username": {biller}, "password": {password}}, false)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form's token: %d; want 403", resp.StatusCode)
	}
	if st := f.itemStatus(item); st != events.DenialOpen {
		t.Errorf("item is %s after refused posts; want open", st)
	}
	// The same post with the token goes through.
	resp, _ = c.post("/items/"+item+"/start", nil, true)
	if resp.StatusCode != http.StatusSeeOther || f.itemStatus(item) != events.DenialInProgress {
		t.Errorf("POST with the token: %d, item %s", resp.StatusCode, f.itemStatus(item))
	}
}

func (f *fixture) itemStatus(id string) string {
	f.t.Helper()
	var st string
	if err := f.deps.Pool.QueryRow(context.Background(), `SELECT status FROM denials.work_items WHERE work_item_id = $1`, id).Scan(&st); err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) auditCount(user, action, claim string) int {
	f.t.Helper()
	var n int
	if err := f.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM denials.audit WHERE user_id = $1 AND action = $2 AND claim_id = $3`,
		user, action, claim).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	item := f.itemOf("c1")
	writeOff := url.Values{"note": {"payer will not pay the bundled code"}}

	ops := f.loggedIn(opsUser)
	for _, action := range []string{"write_off", "start", "request_correction", "note", "assign"} {
		if resp, _ := ops.post("/items/"+item+"/"+action, writeOff, true); resp.StatusCode != http.StatusForbidden {
			t.Errorf("ops %s: %d; want 403", action, resp.StatusCode)
		}
	}
	resp, body := ops.get("/claims/c1")
	if resp.StatusCode != http.StatusOK || strings.Contains(body, `action="/items/`) {
		t.Errorf("ops claim page: %d; want 200 with no action forms", resp.StatusCode)
	}
	if f.auditCount(opsUser, "view_claim", "c1") != 1 {
		t.Error("ops's view of the claim was not audited")
	}
	for _, page := range []string{"/audit", "/users"} {
		if resp, _ := ops.get(page); resp.StatusCode != http.StatusForbidden {
			t.Errorf("ops GET %s: %d; want 403", page, resp.StatusCode)
		}
	}

	bea := f.loggedIn(biller)
	if resp, _ := bea.post("/items/"+item+"/write_off", writeOff, true); resp.StatusCode != http.StatusForbidden {
		t.Errorf("biller write-off: %d; want 403 (supervisors write off)", resp.StatusCode)
	}
	_, body = bea.get("/claims/c1")
	if strings.Contains(body, "/write_off") || !strings.Contains(body, "/request_correction") {
		t.Error("the biller's claim page shows a write-off form, or no correction form")
	}
	if resp, _ := bea.get("/audit"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("biller GET /audit: %d; want 403", resp.StatusCode)
	}
	if f.itemStatus(item) != events.DenialOpen {
		t.Fatal("a refused action changed the item")
	}

	sam := f.loggedIn(supervisor)
	sam.get("/claims/c1")
	resp, _ = sam.post("/items/"+item+"/write_off", writeOff, true)
	if resp.StatusCode != http.StatusSeeOther || f.itemStatus(item) != events.DenialWrittenOff {
		t.Errorf("supervisor write-off: %d, item %s", resp.StatusCode, f.itemStatus(item))
	}
	resp, body = sam.get("/audit?claim=c1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "action.write_off") || !strings.Contains(body, "view_claim") {
		t.Errorf("supervisor audit log: %d; want the write-off and the views", resp.StatusCode)
	}
	if _, body := sam.get("/audit?user=" + opsUser); strings.Contains(body, "action.write_off") {
		t.Error("the audit log's user filter shows another user's rows")
	}
	if resp, body := sam.get("/users"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Olive Ops") {
		t.Errorf("supervisor users page: %d", resp.StatusCode)
	}
}

// queueOrder returns the claim ids of the queue's rows in order.
func queueOrder(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<td><a href="/claims/([^"]+)">`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestPagesReadOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.loggedIn(biller)

	t.Run("headers", func(t *testing.T) {
		for _, path := range []string{"/login", "/", "/claims/c1", "/kpis", "/static/style.css", "/nope"} {
			resp, _ := c.get(path)
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("%s: CSP %q", path, csp)
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
				t.Errorf("%s: headers %v", path, h)
			}
			if cc := h.Get("Cache-Control"); path != "/static/style.css" && cc != "no-store" {
				t.Errorf("%s: Cache-Control %q; want no-store", path, cc)
			}
		}
	})

	t.Run("queue", func(t *testing.T) {
		_, body := c.get("/")
		// c6: $60 with 5 days to appeal (60 + 20×25 = 560); c2: $300, 174
		// days left; c1: $110, 81 days left.
		if got, want := queueOrder(body), []string{"c6", "c2", "c1"}; !slices.Equal(got, want) {
			t.Fatalf("queue order %v; want %v", got, want)
		}
		for _, s := range []string{"Smith, Jo", "Rivera, Ana", "Doe, Margaret", "CO-97", "bundled", "CO-197", "$300.00", "5 days left", "2026-03-25"} {
			if !strings.Contains(body, s) {
				t.Errorf("queue lacks %q", s)
			}
		}
		filters := []struct {
			query string
			want  []string
		}{
			{"category=bundling", []string{"c1"}},
			{"category=authorization", []string{"c2"}},
			{"payer=DNFH1", []string{"c2"}},
			{"payer=DMCR1", []string{"c6", "c1"}},
			{"age=0-30", []string{"c2"}},
			{"age=31-60", []string{"c1"}},
			{"age=61-90", nil},
			{"age=90%2B", []string{"c6"}},
			{"assignee=unassigned", []string{"c6", "c2", "c1"}},
			{"assignee=me", nil},
			{"status=open", []string{"c6", "c2", "c1"}},
			{"status=resolved", nil},
			{"category=bundling&payer=DNFH1", nil},
		}
		for _, tt := range filters {
			_, body := c.get("/?" + tt.query)
			if got := queueOrder(body); !slices.Equal(got, tt.want) {
				t.Errorf("queue ?%s: %v; want %v", tt.query, got, tt.want)
			}
		}
	})

	t.Run("claim", func(t *testing.T) {
		before := f.auditCount(biller, "view_claim", "c1")
		resp, body := c.get("/claims/c1")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("claim page: %d", resp.StatusCode)
		}
		for _, s := range []string{
			"Doe, Margaret", "1EG4TE5MK73", "1950-04-12", "Medicare Part B (simulated MAC)", "2026-01-28", "C1S1", "ICN-C1",
			"$350.00", "$120.00", "partly paid",
			"Coded", "30 minutes give 2 units", "Scrubbed", "Submitted (837P)", "Acknowledged", "Remittance (835)", "Denial opened",
			"Paid as part of another service already processed (bundled).", "M15", "bundling",
			`id="ledger"`, "$90.00", "$30.00", "$110.00", `name="mods_2" value="GO"`, `name="units_2" value="1"`,
		} {
			if !strings.Contains(body, s) {
				t.Errorf("claim page lacks %q", s)
			}
		}
		c.get("/claims/c1")
		if got := f.auditCount(biller, "view_claim", "c1"); got != before+2 {
			t.Errorf("%d view_claim rows after two views; want %d", got, before+2)
		}
		if resp, _ := c.get("/claims/no-such-claim"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown claim: %d; want 404", resp.StatusCode)
		}
	})

	t.Run("letter", func(t *testing.T) {
		resp, body := c.get("/claims/c1/appeal-letter")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("appeal letter: %d", resp.StatusCode)
		}
		for _, s := range []string{
			"Medicare Part B (simulated MAC)", "DMCR1", "C1S1", "ICN-C1", "Doe, Margaret", "1EG4TE5MK73", "1950-04-12", "2026-01-28",
			"97530", "GO KX", "97140", "$110.00", "CO-97", "(bundled)", "M15", "no separate payment",
			"2026-02-01: Claim submitted electronically (837P), claim control number C1S1",
			"2026-02-02: Acknowledged: 277CA accepted", "2026-02-09: Adjudicated (remittance trace TRC1001",
			"Clinical justification", "Sincerely", "2026-03-20", "2026-06-09",
		} {
			if !strings.Contains(body, s) {
				t.Errorf("appeal letter lacks %q", s)
			}
		}
		if f.auditCount(biller, "view_letter", "c1") != 1 {
			t.Error("the letter's view was not audited")
		}
		if _, css := c.get("/static/style.css"); !strings.Contains(css, "@media print") {
			t.Error("no print stylesheet")
		}
		if resp, _ := c.get("/claims/c3/appeal-letter"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("letter for a claim without a denial: %d; want 404", resp.StatusCode)
		}
	})

	t.Run("remittances", func(t *testing.T) {
		_, body := c.get("/remittances")
		for _, s := range []string{"TRC0900", "TRC1001", "TRC2002", "2 / 2", "3 / 4", "$270.00"} {
			if !strings.Contains(body, s) {
				t.Errorf("remittances lack %q", s)
			}
		}
		id := regexp.MustCompile(`href="/remittances/([^"]+)">TRC2002`).FindStringSubmatch(body)
		if id == nil {
			t.Fatal("no link to TRC2002")
		}
		resp, body := c.get("/remittances/" + id[1])
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("remittance page: %d", resp.StatusCode)
		}
		for _, s := range []string{`href="/claims/c2"`, `href="/claims/c4"`, "ZZUNKNOWN", "CO-197", "$220.00"} {
			if !strings.Contains(body, s) {
				t.Errorf("remittance TRC2002 lacks %q", s)
			}
		}
		_, body = c.get("/exceptions")
		if !strings.Contains(body, "ZZUNKNOWN") || !strings.Contains(body, "$50.00") {
			t.Error("exceptions lack the unmatched claim")
		}
		_, body = c.get("/held")
		if !strings.Contains(body, "c5") || !strings.Contains(body, "npi.check_digit") || !strings.Contains(body, "Correct the therapist") ||
			strings.Contains(body, `href="/claims/c2"`) {
			t.Error("held claims: want c5 with its edit and fix, and not c2 (passed since)")
		}
	})

	t.Run("kpis", func(t *testing.T) {
		resp, body := c.get("/kpis")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("kpis: %d", resp.StatusCode)
		}
		for _, s := range []string{"66.7%", "80.0%", "75.0%", "82.8", "85.7%", "$670.00"} {
			if !strings.Contains(body, s) {
				t.Errorf("KPI page lacks %q", s)
			}
		}
	})
}

func TestClaimPageNeedsAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	core, logs := observer.New(zap.InfoLevel)
	h, err := New(Config{Store: f.store, Log: zap.New(core), Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := f.client()
	c.base = srv.URL
	c.login(biller)
	// Make every audit insert fail, as a full disk or a revoked grant would.
	if _, err := f.deps.Pool.Exec(context.Background(), `ALTER TABLE denials.audit ADD CONSTRAINT broken CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/claims/c1", "/claims/c1/appeal-letter"} {
		resp, body := c.get(path)
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s without an audit row: %d; want 500", path, resp.StatusCode)
		}
		for _, phi := range []string{"Margaret", "1EG4TE5MK73", "1950-04-12"} {
			if strings.Contains(body, phi) {
				t.Errorf("%s showed %q though its view could not be audited", path, phi)
			}
		}
	}
	// The failure is logged, by ids: never the patient's data.
	if logs.FilterMessage("page failed").Len() != 2 {
		t.Errorf("%d failures logged; want 2", logs.FilterMessage("page failed").Len())
	}
	for _, e := range logs.All() {
		for _, fld := range e.Context {
			v := fld.String + fmt.Sprint(fld.Interface)
			for _, phi := range []string{"Margaret", "Doe", "1EG4TE5MK73", "1950-04-12"} {
				if strings.Contains(v, phi) {
					t.Errorf("log %q field %s holds %q", e.Message, fld.Key, phi)
				}
			}
		}
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.loggedIn(biller)
	item := f.itemOf("c1")
	base := "/items/" + item + "/"

	// follow reads the page an action redirected to, with its flash.
	follow := func(resp *http.Response) string {
		t.Helper()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("action: %d; want 303", resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "/claims/c1#item-") {
			t.Fatalf("redirected to %q", loc)
		}
		_, body := c.get(strings.Split(loc, "#")[0])
		return body
	}

	body := follow(must2(c.post(base+"assign", url.Values{"assignee": {"me"}}, true)))
	if !strings.Contains(body, "Assigned to bea.") {
		t.Error("no flash after assigning")
	}
	if _, q := c.get("/?assignee=me"); !slices.Equal(queueOrder(q), []string{"c1"}) {
		t.Errorf("my queue after assigning: %v", queueOrder(q))
	}
	body = follow(must2(c.post(base+"assign", url.Values{"assignee": {"nobody-here"}}, true)))
	if !strings.Contains(body, "Assign to a biller or supervisor") {
		t.Error("assigning to an unknown user was not refused")
	}

	body = follow(must2(c.post(base+"note", url.Values{"note": {"called the payer; ref 123"}}, true)))
	if !strings.Contains(body, "called the payer; ref 123") {
		t.Error("the note is not on the claim page")
	}
	follow(must2(c.post(base+"start", nil, true)))
	if st := f.itemStatus(item); st != events.DenialInProgress {
		t.Fatalf("after start: %s", st)
	}

	// A correction needs a reason, and a modifier must look like one.
	body = follow(must2(c.post(base+"request_correction", url.Values{"frequency": {"7"}, "mods_2": {"GO 59"}}, true)))
	if !strings.Contains(body, "Write a reason") || f.itemStatus(item) != events.DenialInProgress {
		t.Error("a correction without a reason was not refused with a message")
	}
	body = follow(must2(c.post(base+"request_correction", url.Values{"note": {"x"}, "frequency": {"7"}, "mods_2": {"GO 5"}}, true)))
	if !strings.Contains(body, "Line 2: &#34;5&#34; is not a modifier") {
		t.Error("a bad modifier was not refused with a message")
	}
	body = follow(must2(c.post(base+"request_correction", url.Values{"note": {"separate session, add 59"}, "frequency": {"7"},
		"mods_1": {"GO KX"}, "units_1": {"2"}, "mods_2": {"go, 59"}, "units_2": {"1"}}, true)))
	if !strings.Contains(body, "Corrected claim requested") {
		t.Error("no flash after the correction")
	}
	if st := f.itemStatus(item); st != events.DenialCorrected {
		t.Fatalf("after the correction: %s; want corrected", st)
	}
	var req events.ClaimCorrectionRequested
	for _, e := range ptest.Events(t, f.deps.JS, events.StreamDenials, 1, 10*time.Second) {
		if e.Type == events.TypeClaimCorrectionRequested {
			if err := e.DecodeData(&req); err != nil {
				t.Fatal(err)
			}
		}
	}
	if req.ClaimID != "c1" || req.Frequency != "7" || req.RequestedBy != biller || req.PayerClaimControlNumber != "ICN-C1" ||
		len(req.Lines) != 1 || req.Lines[0].Line != 2 || !slices.Equal(req.Lines[0].Modifiers, []string{"GO", "59"}) || req.Lines[0].Units != 1 {
		t.Errorf("claim.correction_requested %+v; want line 2 only, with GO 59", req)
	}

	follow(must2(c.post(base+"appeal", nil, true)))
	follow(must2(c.post(base+"resolve", url.Values{"note": {"paid on the replacement"}}, true)))
	if st := f.itemStatus(item); st != events.DenialResolved {
		t.Fatalf("after resolve: %s", st)
	}
	body = follow(must2(c.post(base+"start", nil, true)))
	if !strings.Contains(body, "closed; reopen it first") {
		t.Error("acting on a closed item was not refused with a message")
	}
	follow(must2(c.post(base+"reopen", nil, true)))
	if st := f.itemStatus(item); st != events.DenialOpen {
		t.Fatalf("after reopen: %s", st)
	}
	if resp, _ := c.post("/items/"+item+"/explode", nil, true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown action: %d; want 404", resp.StatusCode)
	}
	if resp, _ := c.post("/items/no-such-item/start", nil, true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown item: %d; want 404", resp.StatusCode)
	}
	// Each action went through Store.Act, which audits it.
	for _, a := range []string{"assign", "note", "start", "request_correction", "appeal", "resolve", "reopen"} {
		if f.auditCount(biller, "action."+a, "c1") == 0 {
			t.Errorf("no audit row for %s", a)
		}
	}
}

func must2(resp *http.Response, _ string) *http.Response { return resp }

func TestLoginLimiter(t *testing.T) {
	l := newLoginLimiter()
	now := today
	for range maxFailures {
		if !l.allow("x", now) {
			t.Fatal("refused before the limit")
		}
		l.fail("x", now)
	}
	if l.allow("x", now) {
		t.Error("allowed after the limit")
	}
	if !l.allow("y", now) {
		t.Error("another user refused")
	}
	if !l.allow("x", now.Add(failureWindow+time.Second)) {
		t.Error("still refused after the window")
	}
}

func TestAddUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		id, name, role, pw string
		field              string
	}{
		{"", "X", RoleBiller, password, "user id"},
		{"Bad Name", "X", RoleBiller, password, "user id"},
		{"newbie", " ", RoleBiller, password, "display name"},
		{"newbie", "New Bie", "admin", password, "role"},
		{"newbie", "New Bie", RoleBiller, "short", "password"},
		{"newbie", "New Bie", RoleBiller, strings.Repeat("x", 73), "password"},
	}
	for _, tt := range tests {
		err := AddUser(ctx, f.deps.Pool, tt.id, tt.name, tt.role, tt.pw)
		if err == nil || !strings.HasPrefix(err.Error(), tt.field) {
			t.Errorf("AddUser(%q, %q, %q): %v; want an error naming %s", tt.id, tt.name, tt.role, err, tt.field)
		}
	}
	if err := AddUser(ctx, f.deps.Pool, biller, "Again", RoleBiller, password); !errors.Is(err, ErrUserExists) {
		t.Errorf("adding %s twice: %v; want ErrUserExists", biller, err)
	}
	if err := AddUser(ctx, f.deps.Pool, "newbie", "New Bie", RoleOps, password); err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := f.deps.Pool.QueryRow(ctx, `SELECT password_hash FROM denials.users WHERE user_id = 'newbie'`).Scan(&hash); err != nil ||
		!strings.HasPrefix(hash, "$2") || strings.Contains(hash, password) {
		t.Errorf("stored hash %q (%v); want bcrypt", hash, err)
	}
	c := f.loggedIn("newbie")
	if resp, _ := c.get("/kpis"); resp.StatusCode != http.StatusOK {
		t.Errorf("new user's page: %d", resp.StatusCode)
	}
}

// Priority in SQL must order the queue as denials.Priority would.
func TestPriorityMatchesGo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, d := range []time.Time{day(2026, 3, 20), day(2026, 3, 24), day(2026, 3, 25), day(2026, 3, 26), day(2026, 6, 1), day(2025, 12, 1)} {
		rows, err := f.deps.Pool.Query(context.Background(), `SELECT w.amount_cents, coalesce(to_char(w.appeal_deadline, 'YYYY-MM-DD'), ''), `+
			priorityExpr+` FROM denials.work_items w`, d.Format("2006-01-02"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var cents, got int64
			var deadline string
			if err := rows.Scan(&cents, &deadline, &got); err != nil {
				t.Fatal(err)
			}
			if want := denials.Priority(cents, deadline, d.Add(15*time.Hour)); got != int64(want) {
				t.Errorf("on %s, %d cents due %s: SQL priority %d, Go %d", d.Format("2006-01-02"), cents, deadline, got, want)
			}
			n++
		}
		rows.Close()
		if n != 3 {
			t.Fatalf("%d work items; want 3", n)
		}
	}
}

// TestResolveExceptionPage: a biller marks an unmatched claim resolved with
// a note; ops may not; the list then shows who resolved it.
func TestResolveExceptionPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ops := f.loggedIn(opsUser)
	_, body := ops.get("/exceptions")
	if strings.Contains(body, `id="resolve-exception"`) {
		t.Error("ops sees the resolve form")
	}
	var remitID string
	var clp, line int
	if err := f.store.Pool.QueryRow(context.Background(), `SELECT remit_id, clp_index, line_index FROM denials.exceptions WHERE control_number = 'ZZUNKNOWN'`).
		Scan(&remitID, &clp, &line); err != nil {
		t.Fatal(err)
	}
	value := fmt.Sprintf("%s|%d|%d", remitID, clp, line)
	if resp, _ := ops.post("/exceptions/resolve", url.Values{"exception": {value}, "note": {"x"}}, true); resp.StatusCode != http.StatusForbidden {
		t.Errorf("ops resolving: %d, want 403", resp.StatusCode)
	}
	c := f.loggedIn(biller)
	_, body = c.get("/exceptions")
	if !strings.Contains(body, `id="resolve-exception"`) || !strings.Contains(body, value) {
		t.Fatal("the biller has no resolve form for the open exception")
	}
	if resp, _ := c.post("/exceptions/resolve", url.Values{"exception": {value}, "note": {"a"}}, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d, want 403", resp.StatusCode)
	}
	resp, _ := c.post("/exceptions/resolve", url.Values{"exception": {value}, "note": {"posted by hand: check 4711 was for another practice"}}, true)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d", resp.StatusCode)
	}
	_, body = c.get("/exceptions")
	if !strings.Contains(body, "resolved by "+biller) || !strings.Contains(body, "Exception resolved") {
		t.Error("the list does not show the exception resolved")
	}
	if n := f.auditCount(biller, "resolve_exception", ""); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}
}
