package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
	"github.com/rcm-health/rcm/services/denials"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// today is the fixture's "now": the UI's clock and the KPIs' as-of date.
var today = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

const password = "correct horse battery"

// Users of the fixture, one per role.
const (
	biller     = "bea"
	supervisor = "sam"
	opsUser    = "olive"
)

// fixture is a denials store seeded through the real paths: the ledger
// handles claim events, and 835s written by x12.Write835 are imported, so
// that work items exist as the pipeline makes them.
//
// The claims, with what the KPI test expects of them (today 2026-03-20):
//
//	c1  DMCR1  clean, accepted; 835 R1 (paid 2026-02-09, posted 2026-02-10): line 1 paid,
//	           line 2 CO-97 $110 bundling (M15)          → open item, balance $110, 47 days
//	c2  DNFH1  held then passed, accepted; 835 R2 (2026-03-14, posted 03-15):
//	           denied CO-197 $300 authorization            → open item, balance $300, 19 days
//	c3  DMCR1  clean, 999 rejected, never adjudicated      → balance $200, 109 days
//	c4  DNFH1  clean, accepted; R2 paid in full            → balance $0
//	c5  —      held by the scrubber, never submitted       → /held
//	c6  DMCR1  clean, accepted; 835 R0 (2025-11-25, posted 11-26): denied CO-50 $60
//	           medical necessity (N386), appeal by 2026-03-25 → open item, balance $60, 156 days
//
// R2 also pays a claim we never sent (CLP01 ZZUNKNOWN): an exception.
type fixture struct {
	t     testing.TB
	deps  platform.Deps
	store *denials.Store
	h     http.Handler
	srv   *httptest.Server
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	d := ptest.Deps(t)
	ctx := context.Background()
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	if err := platform.Migrate(ctx, d.Pool, denials.Schema, denials.Migrations()); err != nil {
		t.Fatal(err)
	}
	outbox, err := platform.NewOutbox(platform.OutboxConfig{Schema: denials.Schema}, d.Pool, d.JS, d.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = outbox.Run(runCtx) }()
	t.Cleanup(func() { stop(); wg.Wait() })

	f := &fixture{t: t, deps: d, store: &denials.Store{Pool: d.Pool, Outbox: outbox, Rules: billing.DefaultRules(), Now: func() time.Time { return today }}}
	f.seedClaims()
	f.importRemits()
	for _, u := range []struct{ id, name, role string }{
		{biller, "Bea Biller", RoleBiller}, {supervisor, "Sam Supervisor", RoleSupervisor}, {opsUser, "Olive Ops", RoleOps},
	} {
		if err := AddUser(ctx, d.Pool, u.id, u.name, u.role, password); err != nil {
			t.Fatal(err)
		}
	}
	f.h, err = New(Config{Store: f.store, Log: d.Log, Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.h)
	t.Cleanup(f.srv.Close)
	return f
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func at(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// handle runs one upstream event through the ledger, as the denials
// consumer does.
func (f *fixture) handle(typ, source, subject, visitID string, when time.Time, data any) {
	f.t.Helper()
	env, err := events.New(events.NewID("fixture", typ, subject, when.String()), typ, source, subject, when, data)
	if err != nil {
		f.t.Fatal(err)
	}
	env.CorrelationID = visitID
	err = pgx.BeginFunc(context.Background(), f.deps.Pool, func(tx pgx.Tx) error {
		_, err := denials.Ledger{}.Handle(context.Background(), tx, env)
		return err
	})
	if err != nil {
		f.t.Fatalf("ledger %s %s: %v", typ, subject, err)
	}
}

type seedClaim struct {
	id, payerID, payerName, plan string
	patient                      events.ClaimPatient
	lines                        []events.ClaimLine
	scrubs                       []events.ClaimScrubbed // in order; the claim id and visit are filled in
	submitted                    time.Time              // zero: never submitted
	ack                          *events.ClaimAcknowledged
}

func (f *fixture) seedClaims() {
	line := func(n int, code string, mods []string, units int, cents int64, dos string, ctl string) events.ClaimLine {
		return events.ClaimLine{Line: n, LineItemControlNumber: ctl, Code: code, Modifiers: mods, Units: units, ChargeCents: cents,
			DateOfService: dos, DiagnosisPointers: []int{1}}
	}
	passed := events.ClaimScrubbed{Status: events.ScrubPassed, Edits: []events.Edit{}}
	heldAuth := events.ClaimScrubbed{Status: events.ScrubHeld, Edits: []events.Edit{{Code: "auth.missing", Severity: events.SeverityError,
		Message: "The payer requires a prior authorization and the visit has none.", Fix: "Enter the authorization number in the EMR."}}}
	claims := []seedClaim{
		{id: "c1", payerID: "DMCR1", payerName: "Medicare Part B (simulated MAC)", plan: "medicare_part_b",
			patient: events.ClaimPatient{ID: "MRN001", MemberID: "1EG4TE5MK73", FirstName: "Margaret", LastName: "Doe", BirthDate: "1950-04-12"},
			lines: []events.ClaimLine{line(1, "97530", []string{"GO", "KX"}, 2, 24000, "2026-01-28", "C1S1-1"),
				line(2, "97140", []string{"GO"}, 1, 11000, "2026-01-28", "C1S1-2")},
			scrubs: []events.ClaimScrubbed{passed}, submitted: at(2026, 2, 1, 10),
			ack: &events.ClaimAcknowledged{Source: events.Ack277CA, Status: events.AckAccepted, PayerClaimControlNumber: "ICN-C1",
				Reason: "accepted for adjudication", Codes: []events.AckCode{{Segment: "STC", Code: "A2", Status: "20", Text: "accepted for processing"}}}},
		{id: "c2", payerID: "DNFH1", payerName: "Northfield Health Plan (simulated)", plan: "commercial",
			patient: events.ClaimPatient{ID: "MRN002", MemberID: "NFH998877", FirstName: "Ana", LastName: "Rivera", BirthDate: "1984-09-02"},
			lines:   []events.ClaimLine{line(1, "97110", []string{"GP"}, 3, 30000, "2026-02-25", "C2S1-1")},
			scrubs:  []events.ClaimScrubbed{heldAuth, passed}, submitted: at(2026, 3, 1, 10),
			ack: &events.ClaimAcknowledged{Source: events.Ack277CA, Status: events.AckAccepted, PayerClaimControlNumber: "NFH-C2", Reason: "accepted"}},
		{id: "c3", payerID: "DMCR1", payerName: "Medicare Part B (simulated MAC)", plan: "medicare_part_b",
			patient: events.ClaimPatient{ID: "MRN003", MemberID: "7TT5MK9XY21", FirstName: "Tom", LastName: "Nguyen", BirthDate: "1948-01-15"},
			lines:   []events.ClaimLine{line(1, "97165", []string{"GO"}, 1, 20000, "2025-11-28", "C3S1-1")},
			scrubs:  []events.ClaimScrubbed{passed}, submitted: at(2025, 12, 1, 10),
			ack: &events.ClaimAcknowledged{Source: events.Ack999, Status: events.AckRejected, Reason: "rejected: syntax error in the transaction set"}},
		{id: "c4", payerID: "DNFH1", payerName: "Northfield Health Plan (simulated)", plan: "commercial",
			patient: events.ClaimPatient{ID: "MRN004", MemberID: "NFH112233", FirstName: "Lee", LastName: "Okafor", BirthDate: "1990-06-30"},
			lines: []events.ClaimLine{line(1, "97110", []string{"GP"}, 2, 20000, "2026-02-26", "C4S1-1"),
				line(2, "97140", []string{"GP"}, 1, 10000, "2026-02-26", "C4S1-2")},
			scrubs: []events.ClaimScrubbed{passed}, submitted: at(2026, 3, 1, 10),
			ack: &events.ClaimAcknowledged{Source: events.Ack277CA, Status: events.AckAccepted, PayerClaimControlNumber: "NFH-C4", Reason: "accepted"}},
		{id: "c5", scrubs: []events.ClaimScrubbed{{Status: events.ScrubHeld, Edits: []events.Edit{{Code: "npi.check_digit", Severity: events.SeverityError,
			Message: "The rendering NPI fails its check digit.", Fix: "Correct the therapist's NPI in the EMR."}}}}},
		{id: "c6", payerID: "DMCR1", payerName: "Medicare Part B (simulated MAC)", plan: "medicare_part_b",
			patient: events.ClaimPatient{ID: "MRN006", MemberID: "5QX2AB3CD45", FirstName: "Jo", LastName: "Smith", BirthDate: "1945-12-01"},
			lines:   []events.ClaimLine{line(1, "97530", []string{"GO"}, 1, 6000, "2025-10-10", "C6S1-1")},
			scrubs:  []events.ClaimScrubbed{passed}, submitted: at(2025, 10, 15, 10),
			ack: &events.ClaimAcknowledged{Source: events.Ack277CA, Status: events.AckAccepted, PayerClaimControlNumber: "ICN-C6", Reason: "accepted"}},
	}
	for _, c := range claims {
		visit := "visit-" + c.id
		control := strings.ToUpper(c.id) + "S1"
		first := c.submitted
		if first.IsZero() {
			first = today.AddDate(0, 0, -2)
		}
		if len(c.lines) > 0 {
			coded := events.VisitCoded{VisitID: visit, Revision: 1, VisitRevision: 1, RulesVersion: "2026.1", UnitMethod: events.UnitMethodCMS}
			for _, l := range c.lines {
				coded.ChargeCents += l.ChargeCents
				coded.Lines = append(coded.Lines, events.CodedLine{Line: l.Line, Code: l.Code, Timed: true, Minutes: 15 * l.Units, Units: l.Units,
					Modifiers: l.Modifiers, ChargeCents: l.ChargeCents, DiagnosisPointers: []int{1},
					Explanations: []events.Explanation{{Rule: "units.allocation", Text: fmt.Sprintf("%d minutes give %d units", 15*l.Units, l.Units), Source: "MCPM ch. 5 §20.2"}}})
			}
			f.handle(events.TypeVisitCoded, events.SourceCoder, visit, visit, first.Add(-72*time.Hour), coded)
		}
		for i, s := range c.scrubs {
			s.ClaimID, s.VisitID, s.ControlNumber = c.id, visit, control
			f.handle(events.TypeClaimScrubbed, events.SourceSubmitter, c.id, visit, first.Add(time.Duration(i-len(c.scrubs))*time.Hour), s)
		}
		if c.submitted.IsZero() {
			continue
		}
		sub := events.ClaimSubmitted{ClaimID: c.id, VisitID: visit, Submission: 1, ControlNumber: control, Frequency: events.FrequencyOriginal,
			PayerID: c.payerID, PayerName: c.payerName, PlanType: c.plan, BillingNPI: "1234567893", RenderingNPI: "1497758544",
			Patient: c.patient, PlaceOfService: "11", Diagnoses: []string{"M62.81"}, BatchID: "batch-1", FileName: "claims-1.837",
			Lines: c.lines}
		for _, l := range c.lines {
			sub.TotalChargeCents += l.ChargeCents
			sub.TotalUnits += l.Units
		}
		f.handle(events.TypeClaimSubmitted, events.SourceSubmitter, c.id, visit, c.submitted, sub)
		if c.ack != nil {
			a := *c.ack
			a.ClaimID, a.ControlNumber, a.Submission, a.FileName = c.id, control, 1, "ack-"+c.id
			f.handle(events.TypeClaimAcknowledged, events.SourceSubmitter, c.id, visit, c.submitted.Add(24*time.Hour), a)
		}
	}
}

func adj(group, reason string, cents int64) x12.Adjustment {
	return x12.Adjustment{Group: group, Reason: reason, AmountCents: cents}
}

// payment is one 835 transaction set from a payer, paid on payDate.
func payment(payerName, payerID, trace string, payDate time.Time, claims ...x12.Claim835) x12.Payment835 {
	p := x12.Payment835{Handling: "I", Method: "CHK", OriginatorID: "1123456789", PaymentDate: payDate, TraceNumber: trace,
		Payer: x12.PayerInfo{Name: payerName, ID: payerID, Contact: x12.Contact835{Name: "EDI", Phone: "8005550199"}},
		Payee: x12.PayeeInfo{Name: "RIVERSIDE THERAPY GROUP", NPI: "1234567893"}, Claims: claims}
	for _, c := range claims {
		p.TotalPaidCents += c.PaidCents
	}
	if p.TotalPaidCents == 0 {
		p.Handling, p.Method = "H", "NON"
	}
	return p
}

// importRemits posts R0, R1 and R2, each on the day after its payment
// date, so that the work items have different ages.
func (f *fixture) importRemits() {
	svc := func(code string, mods []string, units int, charge, paid int64, dos time.Time, ctl string, adjs ...x12.Adjustment) x12.Line835 {
		return x12.Line835{Code: code, Modifiers: mods, Units: units, ChargeCents: charge, PaidCents: paid, DateOfService: dos,
			ControlNumber: ctl, Adjustments: adjs}
	}
	r0 := payment("MEDICARE PART B", "DMCR1", "TRC0900", day(2025, 11, 25),
		x12.Claim835{ControlNumber: "C6S1", Status: "4", ChargeCents: 6000, FilingCode: "MB", PayerClaimNumber: "ICN-C6",
			Patient: x12.Name835{Last: "SMITH", First: "JO", MemberID: "5QX2AB3CD45"},
			Lines: []x12.Line835{func() x12.Line835 {
				l := svc("97530", []string{"GO"}, 0, 6000, 0, day(2025, 10, 10), "C6S1-1", adj("CO", "50", 6000))
				l.Remarks = []string{"N386"}
				return l
			}()}})
	r1 := payment("MEDICARE PART B", "DMCR1", "TRC1001", day(2026, 2, 9),
		x12.Claim835{ControlNumber: "C1S1", Status: "1", ChargeCents: 35000, PaidCents: 12000, PatientCents: 3000, FilingCode: "MB",
			PayerClaimNumber: "ICN-C1", Patient: x12.Name835{Last: "DOE", First: "MARGARET", MemberID: "1EG4TE5MK73"},
			Lines: []x12.Line835{
				svc("97530", []string{"GO", "KX"}, 2, 24000, 12000, day(2026, 1, 28), "C1S1-1", adj("CO", "45", 9000), adj("PR", "2", 3000)),
				func() x12.Line835 {
					l := svc("97140", []string{"GO"}, 0, 11000, 0, day(2026, 1, 28), "C1S1-2", adj("CO", "97", 11000))
					l.Remarks = []string{"M15"}
					return l
				}(),
			}})
	r2 := payment("NORTHFIELD HEALTH PLAN", "DNFH1", "TRC2002", day(2026, 3, 14),
		x12.Claim835{ControlNumber: "C2S1", Status: "4", ChargeCents: 30000, FilingCode: "CI", PayerClaimNumber: "NFH-C2",
			Patient: x12.Name835{Last: "RIVERA", First: "ANA", MemberID: "NFH998877"},
			Lines:   []x12.Line835{svc("97110", []string{"GP"}, 0, 30000, 0, day(2026, 2, 25), "C2S1-1", adj("CO", "197", 30000))}},
		x12.Claim835{ControlNumber: "C4S1", Status: "1", ChargeCents: 30000, PaidCents: 22000, PatientCents: 2000, FilingCode: "CI",
			PayerClaimNumber: "NFH-C4", Patient: x12.Name835{Last: "OKAFOR", First: "LEE", MemberID: "NFH112233"},
			Lines: []x12.Line835{
				svc("97110", []string{"GP"}, 2, 20000, 14000, day(2026, 2, 26), "C4S1-1", adj("CO", "45", 4000), adj("PR", "3", 2000)),
				svc("97140", []string{"GP"}, 1, 10000, 8000, day(2026, 2, 26), "C4S1-2", adj("CO", "45", 2000)),
			}},
		x12.Claim835{ControlNumber: "ZZUNKNOWN", Status: "1", ChargeCents: 5000, PaidCents: 5000, FilingCode: "CI", PayerClaimNumber: "NFH-ZZ",
			Patient: x12.Name835{Last: "UNKNOWN", First: "PAT"},
			Lines:   []x12.Line835{svc("97110", []string{"GP"}, 1, 5000, 5000, day(2026, 3, 1), "ZZ-1")}})
	for i, p := range []x12.Payment835{r0, r1, r2} {
		var buf bytes.Buffer
		err := x12.Write835(&buf, x12.Remit835{SenderID: "CLEARHOUSE01", ReceiverID: "RCMCLINIC01", InterchangeControl: 900 + i,
			GroupControl: 900 + i, Usage: "T", Created: p.PaymentDate, LineBreaks: true, Payments: []x12.Payment835{p}})
		if err != nil {
			f.t.Fatal(err)
		}
		posted := p.PaymentDate.AddDate(0, 0, 1).Add(9 * time.Hour)
		st := *f.store
		st.Now = func() time.Time { return posted }
		res, err := st.Import(context.Background(), buf.Bytes(), fmt.Sprintf("r%d.835", i), denials.SourceImport)
		if err != nil || res.Posted != 1 {
			f.t.Fatalf("import r%d: %+v, %v", i, res, err)
		}
	}
}

// itemOf returns the work item id of a claim's active item.
func (f *fixture) itemOf(claimID string) string {
	f.t.Helper()
	var id string
	if err := f.deps.Pool.QueryRow(context.Background(), `SELECT work_item_id FROM denials.work_items WHERE claim_id = $1
ORDER BY status IN ('written_off', 'resolved'), updated_at DESC LIMIT 1`, claimID).Scan(&id); err != nil {
		f.t.Fatalf("work item of %s: %v", claimID, err)
	}
	return id
}

// client is a browser stand-in: a cookie jar, no redirects followed, and
// the CSRF token of the last page it read.
type client struct {
	t    testing.TB
	base string
	http *http.Client
	csrf string
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: f.t, base: f.srv.URL, http: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a path and returns the response with its body read.
func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.read(resp)
}

func (c *client) read(resp *http.Response) (*http.Response, string) {
	c.t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if m := csrfInput.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp, string(b)
}

// post sends a form; withToken adds the CSRF token of the last page.
func (c *client) post(path string, form url.Values, withToken bool) (*http.Response, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if withToken {
		form.Set("csrf", c.csrf)
	}
	resp, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.read(resp)
}

// login logs in through the form and fails the test if it does not work.
func (c *client) login(user string) {
	c.t.Helper()
	c.get("/login")
	resp, body := c.post("/login", url.Values{"username": {user}, "password": {password}}, true)
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d\n%s", user, resp.StatusCode, body)
	}
	c.get("/") // for the session's CSRF token
}

func (f *fixture) loggedIn(user string) *client {
	c := f.client()
	c.login(user)
	return c
}
