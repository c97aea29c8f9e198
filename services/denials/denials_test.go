package denials_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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

var (
	day      = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	postedAt = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
)

// newStore migrates the denials schema on fresh infrastructure and returns
// a store whose events the test publishes with Sweep.
func newStore(t *testing.T) (*denials.Store, platform.Deps) { return newStoreB(t) }

func newStoreB(t testing.TB) (*denials.Store, platform.Deps) {
	t.Helper()
	d := ptest.Deps(t)
	ctx := context.Background()
	if err := platform.Migrate(ctx, d.Pool, denials.Schema, denials.Migrations()); err != nil {
		t.Fatal(err)
	}
	if err := platform.EnsureStreams(ctx, d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	outbox, err := platform.NewOutbox(platform.OutboxConfig{Schema: denials.Schema}, d.Pool, d.JS, d.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &denials.Store{Pool: d.Pool, Outbox: outbox, Rules: billing.DefaultRules(), Now: func() time.Time { return postedAt }}, d
}

// submit records a claim.submitted as the submitter would announce it.
func submit(t *testing.T, s *denials.Store, control string, submission int, freq string, lines ...events.ClaimLine) events.ClaimSubmitted {
	t.Helper()
	claimID := "claim-" + control[:3]
	c := events.ClaimSubmitted{ClaimID: claimID, VisitID: "visit-" + control[:3], Submission: submission, ControlNumber: control, Frequency: freq,
		PayerID: "00952", PayerName: "MEDICARE PART B", PlanType: events.PlanMedicarePartB, BillingNPI: "1234567893",
		Patient:        events.ClaimPatient{ID: "MRN-" + control[:3], MemberID: "1EG4TE5MK73", FirstName: "Pat", LastName: "Example", BirthDate: "1950-01-01"},
		PlaceOfService: "11", Diagnoses: []string{"M6281"}, FileName: "batch.837", Lines: lines}
	if freq != events.FrequencyOriginal {
		c.OriginalReference = "ICN-" + control[:3]
	}
	for i := range c.Lines {
		c.Lines[i].Line = i + 1
		c.Lines[i].LineItemControlNumber = fmt.Sprintf("%s-%d", control, i+1)
		c.Lines[i].DateOfService = "2026-03-02"
		c.TotalChargeCents += c.Lines[i].ChargeCents
	}
	env, err := events.New(events.NewID("test", control), events.TypeClaimSubmitted, events.SourceSubmitter, claimID, day, c)
	if err != nil {
		t.Fatal(err)
	}
	env.CorrelationID = c.VisitID
	err = pgx.BeginFunc(context.Background(), s.Pool, func(tx pgx.Tx) error {
		_, err := denials.Ledger{}.Handle(context.Background(), tx, env)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func line(code string, units int, cents int64, mods ...string) events.ClaimLine {
	return events.ClaimLine{Code: code, Units: units, ChargeCents: cents, Modifiers: mods}
}

// pay is a paid 835 line of a submitted line: allowed 80 %, PR-2 20 % of it.
func pay(c events.ClaimSubmitted, n int) x12.Line835 {
	l := c.Lines[n-1]
	allowed := l.ChargeCents * 8 / 10
	pr := allowed / 5
	return x12.Line835{Code: l.Code, Modifiers: l.Modifiers, ChargeCents: l.ChargeCents, PaidCents: allowed - pr, Units: l.Units, DateOfService: day,
		ControlNumber: l.LineItemControlNumber, AllowedCents: allowed,
		Adjustments: []x12.Adjustment{{Group: "CO", Reason: "45", AmountCents: l.ChargeCents - allowed}, {Group: "PR", Reason: "2", AmountCents: pr}}}
}

func deny(c events.ClaimSubmitted, n int, group, reason string, remarks ...string) x12.Line835 {
	l := c.Lines[n-1]
	return x12.Line835{Code: l.Code, Modifiers: l.Modifiers, ChargeCents: l.ChargeCents, SubmittedUnits: l.Units, DateOfService: day,
		ControlNumber: l.LineItemControlNumber, Remarks: remarks,
		Adjustments: []x12.Adjustment{{Group: group, Reason: reason, AmountCents: l.ChargeCents}}}
}

// claim835 totals a CLP from its lines.
func claim835(c events.ClaimSubmitted, status string, lines ...x12.Line835) x12.Claim835 {
	out := x12.Claim835{ControlNumber: c.ControlNumber, Status: status, FilingCode: "MB", PayerClaimNumber: "ICN-" + c.ControlNumber[:3],
		Patient: x12.Name835{Last: "EXAMPLE", First: "PAT", MemberID: "1EG4TE5MK73"}, Lines: lines}
	for _, l := range lines {
		out.ChargeCents += l.ChargeCents
		out.PaidCents += l.PaidCents
		for _, a := range l.Adjustments {
			if a.Group == "PR" {
				out.PatientCents += a.AmountCents
			}
		}
	}
	return out
}

// era writes one 835 file with one payment; isa varies the bytes of the
// same payment.
func era(t *testing.T, isa int, trace string, plb []x12.ProviderAdjustment, claims ...x12.Claim835) []byte {
	return eraPLB(t, isa, trace, plb, claims...)
}

func eraB(t testing.TB, isa int, trace string, claims ...x12.Claim835) []byte {
	return eraPLB(t, isa, trace, nil, claims...)
}

func eraPLB(t testing.TB, isa int, trace string, plb []x12.ProviderAdjustment, claims ...x12.Claim835) []byte {
	t.Helper()
	p := x12.Payment835{Handling: "C", Method: "CHK", OriginatorID: "1999999999", PaymentDate: postedAt, TraceNumber: trace,
		Payer: x12.PayerInfo{Name: "MEDICARE PART B", ID: "00952", Contact: x12.Contact835{Phone: "8005551212"}},
		Payee: x12.PayeeInfo{Name: "EXAMPLE THERAPY", NPI: "1234567893"}, Claims: claims, Adjustments: plb}
	for _, c := range claims {
		p.TotalPaidCents += c.PaidCents
	}
	for _, a := range plb {
		p.TotalPaidCents -= a.AmountCents
	}
	if p.TotalPaidCents <= 0 {
		p.Handling, p.Method = "H", "NON"
	}
	var buf bytes.Buffer
	if err := x12.Write835(&buf, x12.Remit835{SenderID: "PAYER", ReceiverID: "CLINIC", InterchangeControl: isa, GroupControl: isa, Usage: "T",
		Created: postedAt, Payments: []x12.Payment835{p}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func count(t *testing.T, s *denials.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func published(t *testing.T, s *denials.Store, d platform.Deps, want int) map[string]int {
	t.Helper()
	if _, err := s.Outbox.Sweep(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	byType := map[string]int{}
	for _, e := range ptest.Events(t, d.JS, events.StreamDenials, want, 5*time.Second) {
		byType[e.Type]++
	}
	return byType
}

func workItem(t *testing.T, s *denials.Store, claimID string) (id, status, category, carc string, amount int64) {
	t.Helper()
	err := s.Pool.QueryRow(context.Background(), `SELECT work_item_id, status, category, carc, amount_cents FROM denials.work_items WHERE claim_id = $1 ORDER BY opened_at DESC LIMIT 1`, claimID).
		Scan(&id, &status, &category, &carc, &amount)
	if err != nil {
		t.Fatalf("work item of %s: %v", claimID, err)
	}
	return
}

// TestPostRemittance posts one ERA of full, partial, denied, crossover and
// unknown claims with provider adjustments, checks the ledger and the
// events, and imports it twice more (the same file, and the same payment in
// another file): nothing posts twice.
func TestPostRemittance(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	full := submit(t, s, "AAA-1", 1, "1", line("97165", 1, 20000, "GO"), line("97530", 2, 12000, "GO"))
	partial := submit(t, s, "BBB-1", 1, "1", line("97530", 2, 12000, "GO"), line("97140", 1, 5000, "GO"))
	denied := submit(t, s, "CCC-1", 1, "1", line("97530", 2, 12000), line("97110", 1, 6000))
	cross := submit(t, s, "DDD-1", 1, "1", line("97110", 1, 6000, "GO"))

	unknown := events.ClaimSubmitted{ControlNumber: "ZZZ-1", Lines: []events.ClaimLine{{Line: 1, Code: "97110", ChargeCents: 6000, Units: 1, LineItemControlNumber: "ZZZ-1-1"}}}
	crossClaim := claim835(cross, "19", pay(cross, 1))
	file := era(t, 1, "TRACE-1", []x12.ProviderAdjustment{{Reason: "L6", Reference: "INTEREST", AmountCents: -250}, {Reason: "WO", Reference: "OLDCLAIM", AmountCents: 1000}},
		claim835(full, "1", pay(full, 1), pay(full, 2)),
		claim835(partial, "1", pay(partial, 1), deny(partial, 2, "CO", "97", "M15")),
		claim835(denied, "4", deny(denied, 1, "CO", "4"), deny(denied, 2, "CO", "4")),
		crossClaim,
		claim835(unknown, "1", pay(unknown, 1)),
	)
	res, err := s.Import(ctx, file, "era1.835", denials.SourceImport)
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || res.Posted != 1 || res.Claims != 5 || res.Unmatched != 1 || res.Denials != 2 || res.Imbalances != 0 {
		t.Fatalf("import: %+v", res)
	}
	// 6 lines of the matched claims, and the crossover's one.
	if n := count(t, s, `SELECT count(*) FROM denials.postings`); n != 7 {
		t.Errorf("%d ledger rows, want 7", n)
	}
	// The ledger balances with the 835: payments posted equal CLP04.
	var paid int64
	if err := s.Pool.QueryRow(ctx, `SELECT sum(paid_cents) FROM denials.postings`).Scan(&paid); err != nil {
		t.Fatal(err)
	}
	want := claim835(full, "1", pay(full, 1), pay(full, 2)).PaidCents + pay(partial, 1).PaidCents + crossClaim.PaidCents
	if paid != want {
		t.Errorf("posted %d cents, the 835 paid %d on matched claims", paid, want)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.provider_adjustments`); n != 2 {
		t.Errorf("%d PLB rows, want 2", n)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.exceptions WHERE control_number = 'ZZZ-1' AND line_index = 0`); n != 1 {
		t.Errorf("unknown claim: %d exceptions, want 1", n)
	}
	outcomes := map[string]string{}
	rows, _ := s.Pool.Query(ctx, `SELECT claim_id, outcome FROM denials.claims`)
	for rows.Next() {
		var id, o string
		_ = rows.Scan(&id, &o)
		outcomes[id] = o
	}
	for id, o := range map[string]string{full.ClaimID: events.OutcomePaidInFull, partial.ClaimID: events.OutcomePartlyPaid,
		denied.ClaimID: events.OutcomeDenied, cross.ClaimID: events.OutcomeForwarded} {
		if outcomes[id] != o {
			t.Errorf("%s: outcome %q, want %q", id, outcomes[id], o)
		}
	}
	_, status, category, carc, amount := workItem(t, s, partial.ClaimID)
	if status != events.DenialOpen || category != events.CategoryBundling || carc != "CO-97" || amount != 5000 {
		t.Errorf("partial's work item: %s %s %s %d", status, category, carc, amount)
	}
	_, _, category, carc, amount = workItem(t, s, denied.ClaimID)
	if category != events.CategoryCoding || carc != "CO-4" || amount != 18000 {
		t.Errorf("denied's work item: %s %s %d", category, carc, amount)
	}
	if got := published(t, s, d, 7); got[events.TypeRemitReceived] != 1 || got[events.TypeClaimReconciled] != 4 || got[events.TypeDenialOpened] != 2 {
		t.Errorf("events: %v", got)
	}

	// The same file again, and the same payment in another envelope.
	again, err := s.Import(ctx, file, "era1-copy.835", denials.SourceMailbox)
	if err != nil || !again.Duplicate {
		t.Fatalf("same file: %+v %v", again, err)
	}
	other, err := s.Import(ctx, era(t, 2, "TRACE-1", nil, claim835(full, "1", pay(full, 1), pay(full, 2))), "era1-resent.835", denials.SourceMailbox)
	if err != nil || other.Posted != 0 || other.AlreadyPosted != 1 {
		t.Fatalf("same payment in another file: %+v %v", other, err)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.postings`); n != 7 {
		t.Errorf("after re-imports: %d ledger rows, want 7", n)
	}
	if got := published(t, s, d, 8); got[events.TypeClaimReconciled] != 4 {
		t.Errorf("events after re-imports: %v", got)
	}
}

// TestReversal: a payment is reversed (CLP02 22) and paid
// again at a new amount; the net is the new amount and the reversal names
// what it takes back.
func TestReversal(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	c := submit(t, s, "EEE-1", 1, "1", line("97530", 2, 12000, "GO"))
	first := claim835(c, "1", pay(c, 1))
	if _, err := s.Import(ctx, era(t, 1, "T-1", nil, first), "a.835", denials.SourceImport); err != nil {
		t.Fatal(err)
	}
	rev := first
	rev.Status, rev.ChargeCents, rev.PaidCents, rev.PatientCents = "22", -first.ChargeCents, -first.PaidCents, -first.PatientCents
	rl := pay(c, 1)
	rl.ChargeCents, rl.PaidCents, rl.AllowedCents = -rl.ChargeCents, -rl.PaidCents, 0
	for i := range rl.Adjustments {
		rl.Adjustments[i].AmountCents = -rl.Adjustments[i].AmountCents
	}
	rev.Lines = []x12.Line835{rl}
	// The payer underpaid by $10 and pays the claim again in full.
	higher := pay(c, 1)
	higher.PaidCents += 1000
	higher.Adjustments[0].AmountCents -= 1000
	again := claim835(c, "1", higher)
	res, err := s.Import(ctx, era(t, 2, "T-2", nil, rev, again), "b.835", denials.SourceImport)
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 1 || res.Claims != 2 {
		t.Fatalf("import: %+v", res)
	}
	var net int64
	if err := s.Pool.QueryRow(ctx, `SELECT paid_cents FROM denials.claims WHERE claim_id = $1`, c.ClaimID).Scan(&net); err != nil {
		t.Fatal(err)
	}
	if net != again.PaidCents {
		t.Errorf("net paid %d, want %d", net, again.PaidCents)
	}
	var reversed, by string
	if err := s.Pool.QueryRow(ctx, `SELECT event_id, reversed_by FROM denials.reconciliations WHERE reversed_by IS NOT NULL`).Scan(&reversed, &by); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Outbox.Sweep(ctx, 0); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ptest.Events(t, d.JS, events.StreamDenials, 5, 5*time.Second) {
		if e.Type != events.TypeClaimReconciled || e.ID != by {
			continue
		}
		var r events.ClaimReconciled
		if err := e.DecodeData(&r); err != nil {
			t.Fatal(err)
		}
		found = r.Outcome == events.OutcomeReversed && r.Reverses == reversed
	}
	if !found {
		t.Error("no claim.reconciled reversing the first payment")
	}
}

// TestCrashMidPosting fails the second claim of a set inside the database;
// nothing of the set is posted, and the same file posts once afterwards.
func TestCrashMidPosting(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	a := submit(t, s, "FFF-1", 1, "1", line("97530", 2, 12000, "GO"))
	b := submit(t, s, "GGG-1", 1, "1", line("97110", 1, 6000, "GO"))
	if _, err := s.Pool.Exec(ctx, `CREATE FUNCTION denials.boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.control_number = 'GGG-1' THEN RAISE EXCEPTION 'injected crash'; END IF; RETURN NEW; END $$;
CREATE TRIGGER boom BEFORE INSERT ON denials.postings FOR EACH ROW EXECUTE FUNCTION denials.boom();`); err != nil {
		t.Fatal(err)
	}
	file := era(t, 1, "T-CRASH", nil, claim835(a, "1", pay(a, 1)), claim835(b, "1", pay(b, 1)))
	if _, err := s.Import(ctx, file, "crash.835", denials.SourceImport); err == nil {
		t.Fatal("import succeeded through the injected failure")
	}
	for _, q := range []string{`SELECT count(*) FROM denials.remits`, `SELECT count(*) FROM denials.postings`, `SELECT count(*) FROM denials.remit_files`,
		`SELECT count(*) FROM denials.reconciliations`, `SELECT count(*) FROM denials.outbox`} {
		if n := count(t, s, q); n != 0 {
			t.Errorf("%s = %d after the failed set, want 0", q, n)
		}
	}
	if _, err := s.Pool.Exec(ctx, `DROP TRIGGER boom ON denials.postings`); err != nil {
		t.Fatal(err)
	}
	res, err := s.Import(ctx, file, "crash.835", denials.SourceImport)
	if err != nil || res.Posted != 1 || res.Claims != 2 {
		t.Fatalf("after recovery: %+v %v", res, err)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.postings`); n != 2 {
		t.Errorf("%d ledger rows, want 2", n)
	}
	if got := published(t, s, d, 3); got[events.TypeClaimReconciled] != 2 {
		t.Errorf("events: %v", got)
	}
}

// TestCorrectionLoop: a denied claim's biller requests a corrected claim;
// the replacement (frequency 7) is paid and the same work item resolves.
func TestCorrectionLoop(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	c := submit(t, s, "HHH-1", 1, "1", line("97530", 2, 12000))
	if _, err := s.Import(ctx, era(t, 1, "T-D", nil, claim835(c, "4", deny(c, 1, "CO", "4"))), "d.835", denials.SourceImport); err != nil {
		t.Fatal(err)
	}
	id, _, _, _, _ := workItem(t, s, c.ClaimID)

	if _, err := s.Act(ctx, denials.Action{WorkItemID: id, UserID: "ann", Kind: denials.ActWriteOff}); !errors.Is(err, denials.ErrNeedsReason) {
		t.Errorf("write-off without a reason: %v", err)
	}
	if _, err := s.Act(ctx, denials.Action{WorkItemID: id, UserID: "ann", Kind: denials.ActCorrect, Note: "add GO",
		Lines: []events.LineCorrection{{Line: 9, Units: 1}}}); !errors.Is(err, denials.ErrBadLine) {
		t.Errorf("correction of a line not on the claim: %v", err)
	}
	it, err := s.Act(ctx, denials.Action{WorkItemID: id, UserID: "ann", Kind: denials.ActCorrect, Note: "therapy modifier was missing",
		Lines: []events.LineCorrection{{Line: 1, Units: 2, Modifiers: []string{"GO"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if it.Status != events.DenialCorrected {
		t.Errorf("status %s after the request", it.Status)
	}
	if _, err := s.Outbox.Sweep(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var req events.ClaimCorrectionRequested
	for _, e := range ptest.Events(t, d.JS, events.StreamDenials, 5, 5*time.Second) {
		if e.Type == events.TypeClaimCorrectionRequested {
			if err := e.DecodeData(&req); err != nil {
				t.Fatal(err)
			}
		}
	}
	if req.PayerClaimControlNumber != "ICN-HHH" || req.Frequency != events.FrequencyReplacement || len(req.Lines) != 1 || !slices.Equal(req.Lines[0].Modifiers, []string{"GO"}) {
		t.Fatalf("correction request: %+v", req)
	}

	// The submitter sends the replacement; the payer pays it.
	r := submit(t, s, "HHH-2", 2, events.FrequencyReplacement, line("97530", 2, 12000, "GO"))
	if _, err := s.Import(ctx, era(t, 2, "T-P", nil, claim835(r, "1", pay(r, 1))), "p.835", denials.SourceImport); err != nil {
		t.Fatal(err)
	}
	sameID, status, _, _, _ := workItem(t, s, c.ClaimID)
	if sameID != id || status != events.DenialResolved {
		t.Errorf("work item %s is %s, want %s resolved", sameID, status, id)
	}
	if _, err := s.Act(ctx, denials.Action{WorkItemID: id, UserID: "ann", Kind: denials.ActWriteOff, Note: "x"}); !errors.Is(err, denials.ErrClosed) {
		t.Errorf("action on a resolved item: %v", err)
	}
	var kinds []string
	rows, err := s.Pool.Query(ctx, `SELECT kind FROM denials.timeline WHERE visit_id = $1 ORDER BY at, event_id`, c.VisitID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		kinds = append(kinds, k)
	}
	for _, want := range []string{events.TypeClaimSubmitted, events.TypeClaimReconciled, events.TypeDenialOpened, events.TypeDenialUpdated} {
		if !slices.Contains(kinds, want) {
			t.Errorf("timeline %v lacks %s", kinds, want)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM denials.audit WHERE action = 'action.request_correction' AND user_id = 'ann'`); n != 1 {
		t.Errorf("%d audit rows for the request, want 1", n)
	}
}

// BenchmarkPostERA10000 posts one 835 of 10,000 four-line claims, a tenth
// of them partly denied, into a ledger that holds their submissions: the
// issue's "posting a 10,000-claim ERA end to end" (read, match, post,
// work items, events in the outbox, published).
//
//	go test ./services/denials -run '^$' -bench PostERA -benchtime 3x
func BenchmarkPostERA10000(b *testing.B) {
	const claims = 10000
	var postSec, publishSec float64
	defer func() {
		b.ReportMetric(postSec/float64(b.N), "post-s/op")
		b.ReportMetric(publishSec/float64(b.N), "publish-s/op")
	}()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, d := newStoreB(b)
		ctx := context.Background()
		var subs []events.ClaimSubmitted
		var envs []events.Envelope
		for n := range claims {
			control := fmt.Sprintf("B%07d-1", n)
			c := events.ClaimSubmitted{ClaimID: "claim-" + control, VisitID: "visit-" + control, Submission: 1, ControlNumber: control, Frequency: "1",
				PayerID: "00952", PlanType: events.PlanMedicarePartB, Patient: events.ClaimPatient{ID: "MRN"}}
			for l := range 4 {
				c.Lines = append(c.Lines, events.ClaimLine{Line: l + 1, LineItemControlNumber: fmt.Sprintf("%s-%d", control, l+1), Code: []string{"97165", "97530", "97110", "97140"}[l],
					Modifiers: []string{"GO"}, Units: 1, ChargeCents: 10000, DateOfService: "2026-03-02"})
				c.TotalChargeCents += 10000
			}
			env, _ := events.New(events.NewID("bench", control), events.TypeClaimSubmitted, events.SourceSubmitter, c.ClaimID, day, c)
			env.CorrelationID = c.VisitID
			subs, envs = append(subs, c), append(envs, env)
		}
		err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			for _, e := range envs {
				if _, err := (denials.Ledger{}).Handle(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		var cl []x12.Claim835
		for n, c := range subs {
			lines := []x12.Line835{pay(c, 1), pay(c, 2), pay(c, 3), pay(c, 4)}
			if n%10 == 0 {
				lines[3] = deny(c, 4, "CO", "97", "M15")
			}
			cl = append(cl, claim835(c, "1", lines...))
		}
		file := eraB(b, 1, "BIG", cl...)
		b.SetBytes(int64(len(file)))
		b.StartTimer()
		start := time.Now()
		res, err := s.Import(ctx, file, "big.835", denials.SourceImport)
		if err != nil {
			b.Fatal(err)
		}
		posted := time.Now()
		if _, err := s.Outbox.Sweep(ctx, 0); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		postSec += posted.Sub(start).Seconds()
		publishSec += time.Since(posted).Seconds()
		if res.Claims != claims || res.Denials != claims/10 || res.Unmatched != 0 {
			b.Fatalf("import: %+v", res)
		}
		_ = d
	}
}

// TestImportWhenKnownWaits: an 835 that arrives before the ledger knows its
// claims is refused without posting anything, and posts in full once the
// submission is known.
func TestImportWhenKnownWaits(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	c := events.ClaimSubmitted{ClaimID: "claim-JJJ", ControlNumber: "JJJ-1", Lines: []events.ClaimLine{{Line: 1, Code: "97110", Units: 1, ChargeCents: 6000, LineItemControlNumber: "JJJ-1-1"}}}
	file := era(t, 1, "T-EARLY", nil, claim835(c, "1", pay(c, 1)))
	if _, err := s.ImportWhenKnown(ctx, file, "early.835", denials.SourceMailbox); !errors.Is(err, denials.ErrUnknownClaims) {
		t.Fatalf("unknown claim: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.remits`) + count(t, s, `SELECT count(*) FROM denials.remit_files`); n != 0 {
		t.Fatalf("%d rows posted for a refused file", n)
	}
	submit(t, s, "JJJ-1", 1, "1", line("97110", 1, 6000, "GO"))
	res, err := s.ImportWhenKnown(ctx, file, "early.835", denials.SourceMailbox)
	if err != nil || res.Posted != 1 || res.Unmatched != 0 {
		t.Fatalf("once known: %+v %v", res, err)
	}
}

// TestResolveException: an unmatched claim is resolved once, with a note,
// and the audit log says who.
func TestResolveException(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	c := events.ClaimSubmitted{ControlNumber: "LLL-1", Lines: []events.ClaimLine{{Line: 1, Code: "97110", Units: 1, ChargeCents: 6000, LineItemControlNumber: "LLL-1-1"}}}
	if _, err := s.Import(ctx, era(t, 1, "T-EXC", nil, claim835(c, "1", pay(c, 1))), "exc.835", denials.SourceImport); err != nil {
		t.Fatal(err)
	}
	var remitID string
	if err := s.Pool.QueryRow(ctx, `SELECT remit_id FROM denials.exceptions`).Scan(&remitID); err != nil {
		t.Fatal(err)
	}
	if err := s.ResolveException(ctx, remitID, 0, 0, "ann", " "); !errors.Is(err, denials.ErrNeedsReason) {
		t.Errorf("without a note: %v", err)
	}
	if err := s.ResolveException(ctx, remitID, 0, 0, "ann", "posted by hand to the old system's claim 4711"); err != nil {
		t.Fatal(err)
	}
	if err := s.ResolveException(ctx, remitID, 0, 0, "bob", "again"); !errors.Is(err, denials.ErrExceptionResolved) {
		t.Errorf("resolved twice: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.exceptions WHERE resolved_by = 'ann' AND resolution LIKE 'posted by hand%'`); n != 1 {
		t.Errorf("%d resolved exceptions, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.audit WHERE action = 'resolve_exception' AND user_id = 'ann'`); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}
}
