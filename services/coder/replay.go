package coder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// Replay re-codes visits from the intake stream's history with a rules set
// and compares each result with the visit's current coding in the coder's
// tables. A visit whose coding changed gets a new visit.coded revision,
// carrying the replay's rules version and superseding the current one,
// written with the coder's state in one transaction per visit and
// published through the coder's outbox; a visit whose coding is the same
// gets nothing, so a replay with unchanged rules changes nothing
// downstream.
//
// The replay reads the stream with an ordered consumer and never goes
// through the coder's durable consumer or its inbox, which would skip
// every event as already handled. It re-codes only the revision the coder
// has made current: older revisions stay superseded, and revisions the
// live coder has not reached yet are left to it.
type Replay struct {
	Pool  *pgxpool.Pool
	JS    jetstream.JetStream
	Rules *billing.Rules
	// Method overrides every payer's unit method, as the live coder's
	// Method does; give the replay what the coder runs with.
	Method string
	// DryRun computes and prints what would change and writes nothing.
	DryRun bool
	// Out gets a few lines per changed visit and the summary. They name
	// visits by id and carry codes and dollars, never PHI.
	Out io.Writer
	// Writers is how many changed visits are written at once (default 4).
	Writers int
}

// ReplaySummary counts what a replay did.
type ReplaySummary struct {
	Span platform.StreamSpan
	// Compared are the current codings re-coded.
	Compared int
	// Changed codings got (or, dry, would get) a new revision; ExpectedOnly
	// of them differ only in expected (allowed) amounts, not on the claim.
	Changed, ExpectedOnly, Unchanged int
	// Superseded are older revisions, and copies of a revision already
	// compared; NotCoded are revisions the live coder has not coded yet.
	Superseded, NotCoded int
	// Unreadable messages are not visit.recorded events (the live coder
	// dead-lettered them).
	Unreadable int
	// Conflicts are visits the live coder changed while the replay ran;
	// they were left alone (replay again to re-code them).
	Conflicts int
	Published platform.Published
	// Deltas over the changed visits, new minus current.
	ChargeDeltaCents, ExpectedDeltaCents int64
	// CodedWith counts the compared codings by the rules version that made
	// them.
	CodedWith map[string]int
}

// thKey locates one threshold total, as coder.threshold_totals does.
type thKey struct {
	patient, payer string
	year           int
	bucket         string
}

// codedRow is a visit's current coding in coder.visits.
type codedRow struct {
	patientKey, payerID, bucket string
	year                        int
	allowedCents                int64
	codedRevision               int
	visitRevision               int
	lastEventID, rulesVersion   string
	voided                      bool
	coded                       []byte
}

// codingView is what a comparison looks at in a coding: what goes on the
// claim, what it is expected to pay, and what holds it. Explanations are
// words about the decisions and are left out, as is the visit.
type codingView struct {
	Void        bool                    `json:"void"`
	UnitMethod  string                  `json:"unit_method"`
	ChargeCents int64                   `json:"charge_cents"`
	Threshold   *events.ThresholdStatus `json:"threshold,omitempty"`
	Lines       []lineView              `json:"lines"`
	Issues      []issueView             `json:"issues,omitempty"`
}

type lineView struct {
	Code              string   `json:"code"`
	Units             int      `json:"units"`
	Modifiers         []string `json:"modifiers"`
	ChargeCents       int64    `json:"charge_cents"`
	AllowedCents      int64    `json:"allowed_cents"`
	DiagnosisPointers []int    `json:"diagnosis_pointers"`
}

type issueView struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Line     int    `json:"line,omitempty"`
}

func viewOf(c *events.VisitCoded) codingView {
	v := codingView{Void: c.Void, UnitMethod: c.UnitMethod, ChargeCents: c.ChargeCents, Threshold: c.Threshold}
	for _, l := range c.Lines {
		v.Lines = append(v.Lines, lineView{Code: l.Code, Units: l.Units, Modifiers: l.Modifiers, ChargeCents: l.ChargeCents,
			AllowedCents: l.AllowedCents, DiagnosisPointers: l.DiagnosisPointers})
	}
	for _, is := range c.Issues {
		v.Issues = append(v.Issues, issueView{Code: is.Code, Severity: is.Severity, Line: is.Line})
	}
	return v
}

func (v *codingView) expected() int64 {
	var n int64
	for _, l := range v.Lines {
		n += l.AllowedCents
	}
	return n
}

type replayItem struct {
	env    events.Envelope
	rec    events.VisitRecorded
	bad    bool
	row    *codedRow // the visit's current coding, when this is its revision
	old    codingView
	oldErr error
	before int64
	coded  events.VisitCoded
	coding billing.Coding
	claim  bool // the claim lines changed, not only expected amounts
	lines  []string
	// outcome of the write
	conflict bool
	recs     []platform.Record
}

type replayRun struct {
	*Replay
	sum  ReplaySummary
	seen map[string]bool // visits compared already
	// deltas are what the replay has changed, so far in stream order, in
	// each threshold total: a visit is re-coded with the year-to-date
	// total its current coding saw plus its key's delta. Under unchanged
	// rules every delta stays 0 and every visit sees what it saw, so no
	// KX comes or goes; under new rules a visit sees the new amounts of
	// the patient's visits before it. (A superseded revision's part in a
	// total stays at the amount it was coded with.)
	deltas map[thKey]int64
	outbox *platform.Outbox
	w      *platform.Report
}

// Run replays the visit.recorded events of rng and prints, to Out, each
// changed visit and a summary.
func (r *Replay) Run(ctx context.Context, rng platform.ReplayRange) (ReplaySummary, error) {
	if r.Rules == nil {
		return ReplaySummary{}, errors.New("coder replay: no rules")
	}
	if r.Out == nil {
		r.Out = io.Discard
	}
	outbox, err := platform.OpenReplay(ctx, r.Pool, r.JS, Schema, "the coder", r.DryRun)
	if err != nil {
		return ReplaySummary{}, err
	}
	s := &replayRun{Replay: r, seen: map[string]bool{}, deltas: map[thKey]int64{}, outbox: outbox, w: &platform.Report{W: r.Out}}
	s.sum.CodedWith = map[string]int{}
	s.sum.Span, err = platform.ReadStream(ctx, r.JS, events.StreamIntake, rng, platform.ReadOptions{Subjects: []string{events.SubjectVisitRecorded}}, func(msgs []platform.StreamMsg) error {
		return s.batch(ctx, msgs)
	})
	s.summary(err)
	return s.sum, s.w.Done(err)
}

func (s *replayRun) batch(ctx context.Context, msgs []platform.StreamMsg) error {
	items := make([]replayItem, len(msgs))
	platform.Parallel(len(msgs), func(i int) {
		it := &items[i]
		env, err := events.Unmarshal(msgs[i].Data)
		if err != nil || env.Type != events.TypeVisitRecorded || env.DecodeData(&it.rec) != nil || it.rec.VisitID == "" {
			it.bad = true
			return
		}
		it.env = env
	})
	ids := make([]string, 0, len(items))
	for i := range items {
		if !items[i].bad {
			ids = append(ids, items[i].rec.VisitID)
		}
	}
	rows, err := loadCoded(ctx, s.Pool, ids)
	if err != nil {
		return err
	}
	var todo []int
	for i := range items {
		it := &items[i]
		if it.bad {
			s.sum.Unreadable++
			continue
		}
		row := rows[it.rec.VisitID]
		switch {
		case row == nil || it.rec.Revision > row.visitRevision:
			s.sum.NotCoded++
		case it.rec.Revision < row.visitRevision || s.seen[it.rec.VisitID]:
			s.sum.Superseded++
		default:
			s.seen[it.rec.VisitID] = true
			it.row = row
			todo = append(todo, i)
		}
	}
	// Decoding and coding are the work; spread them over the CPUs. Each
	// visit is first coded with the year-to-date total its current coding
	// saw, which is right unless an earlier visit of the patient changed
	// in this replay: those few are coded again below, in stream order.
	platform.Parallel(len(todo), func(k int) {
		it := &items[todo[k]]
		if it.oldErr = json.Unmarshal(it.row.coded, &it.old); it.oldErr != nil {
			return
		}
		if it.old.Threshold != nil {
			it.before = it.old.Threshold.BeforeCents
		}
		it.coded, it.coding = Build(it.rec, s.Rules, Options{Method: s.Method, YTDAllowedCents: it.before})
	})
	var changed []int
	for _, i := range todo {
		it := &items[i]
		if it.oldErr != nil {
			return fmt.Errorf("coder replay: stored coding of visit %s: %w", it.rec.VisitID, it.oldErr)
		}
		s.sum.Compared++
		s.sum.CodedWith[it.row.rulesVersion]++
		v := &it.rec.Visit
		year, bucket := thresholdKey(v)
		key := thKey{PatientKey(v), v.Coverage.PayerID, year, bucket}
		if d := s.deltas[key]; d != 0 {
			it.coded, it.coding = Build(it.rec, s.Rules, Options{Method: s.Method, YTDAllowedCents: it.before + d})
		}
		voided := it.coded.Void
		var added int64
		if !voided && it.coding.Bucket != "" {
			added = it.coding.AllowedCents
		}
		if it.row.bucket != "" {
			s.deltas[thKey{it.row.patientKey, it.row.payerID, it.row.year, it.row.bucket}] -= it.row.allowedCents
		}
		if added != 0 {
			s.deltas[key] += added
		}
		newView := viewOf(&it.coded)
		it.lines, it.claim = diffCoding(&it.old, &newView)
		if len(it.lines) == 0 {
			s.sum.Unchanged++
			continue
		}
		s.sum.ChargeDeltaCents += newView.ChargeCents - it.old.ChargeCents
		s.sum.ExpectedDeltaCents += newView.expected() - it.old.expected()
		changed = append(changed, i)
	}
	if !s.DryRun && len(changed) > 0 {
		if err := s.write(ctx, items, changed); err != nil {
			return err
		}
	}
	for _, i := range changed {
		it := &items[i]
		if it.conflict {
			s.sum.Conflicts++
			s.w.Printf("visit %s revision %d: recoded by the live coder during the replay; left alone (replay again)\n", it.rec.VisitID, it.rec.Revision)
			continue
		}
		s.sum.Changed++
		if !it.claim {
			s.sum.ExpectedOnly++
		}
		verb := "coding"
		if s.DryRun {
			verb = "would be coding"
		}
		note := ""
		if !it.claim {
			note = "; claim lines unchanged, expected amounts only"
		}
		s.w.Printf("visit %s revision %d: coding %d (rules %s) → %s %d (rules %s)%s\n", it.rec.VisitID, it.rec.Revision,
			it.row.codedRevision, it.row.rulesVersion, verb, it.row.codedRevision+1, s.Rules.Version, note)
		for _, l := range it.lines {
			s.w.Printf("    %s\n", l)
		}
	}
	return s.w.Err
}

// loadCoded reads the current coding of each visit in ids.
func loadCoded(ctx context.Context, pool *pgxpool.Pool, ids []string) (map[string]*codedRow, error) {
	out := make(map[string]*codedRow, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := pool.Query(ctx, `SELECT visit_id, patient_key, payer_id, year, bucket, allowed_cents, coded_revision, visit_revision,
	last_event_id, rules_version, voided, coded FROM coder.visits WHERE visit_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("coder replay: read codings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		r := new(codedRow)
		if err := rows.Scan(&id, &r.patientKey, &r.payerID, &r.year, &r.bucket, &r.allowedCents, &r.codedRevision, &r.visitRevision,
			&r.lastEventID, &r.rulesVersion, &r.voided, &r.coded); err != nil {
			return nil, fmt.Errorf("coder replay: read codings: %w", err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("coder replay: read codings: %w", err)
	}
	return out, nil
}

// write records each changed visit's new coding in its own transaction,
// several at once, then publishes the batch's events.
func (s *replayRun) write(ctx context.Context, items []replayItem, changed []int) error {
	recs, err := platform.WriteEach(s.Writers, len(changed), func(k int) ([]platform.Record, error) {
		it := &items[changed[k]]
		err := s.writeOne(ctx, it)
		return it.recs, err
	})
	if err != nil {
		return err
	}
	p, err := s.outbox.PublishNow(ctx, recs)
	s.sum.Published.Add(p)
	if err != nil {
		// Committed: the live coder's sweeper publishes what is left.
		return fmt.Errorf("coder replay: publish (the coder's outbox sweeper will retry): %w", err)
	}
	return nil
}

func (s *replayRun) writeOne(ctx context.Context, it *replayItem) error {
	var err error
	for range 3 {
		err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return s.writeTx(ctx, tx, it) })
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			continue // two visits of a patient moved between threshold buckets at once
		}
		break
	}
	if err != nil {
		return fmt.Errorf("coder replay: visit %s: %w", it.rec.VisitID, err)
	}
	return nil
}

func (s *replayRun) writeTx(ctx context.Context, tx pgx.Tx, it *replayItem) error {
	it.conflict, it.recs = false, nil
	v := &it.rec.Visit
	if err := lockVisit(ctx, tx, it.rec.VisitID); err != nil {
		return err
	}
	var last string
	if err := tx.QueryRow(ctx, `SELECT last_event_id FROM coder.visits WHERE visit_id = $1 FOR UPDATE`, it.rec.VisitID).Scan(&last); err != nil {
		return fmt.Errorf("read coded visit: %w", err)
	}
	if last != it.row.lastEventID {
		it.conflict = true
		return nil
	}
	row := it.row
	if row.bucket != "" && row.allowedCents != 0 {
		if _, err := tx.Exec(ctx, `UPDATE coder.threshold_totals SET allowed_cents = allowed_cents - $5
WHERE patient_key = $1 AND payer_id = $2 AND year = $3 AND bucket = $4`, row.patientKey, row.payerID, row.year, row.bucket, row.allowedCents); err != nil {
			return fmt.Errorf("reverse threshold total: %w", err)
		}
	}
	year, bucket := thresholdKey(v)
	allowed := it.coding.AllowedCents
	if it.coding.Bucket == "" {
		bucket = ""
	}
	if it.coded.Void {
		allowed = 0
	}
	if bucket != "" && allowed != 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO coder.threshold_totals AS t (patient_key, payer_id, year, bucket, allowed_cents) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (patient_key, payer_id, year, bucket) DO UPDATE SET allowed_cents = t.allowed_cents + $5`,
			PatientKey(v), v.Coverage.PayerID, year, bucket, allowed); err != nil {
			return fmt.Errorf("add threshold total: %w", err)
		}
	}
	coded := it.coded
	coded.Revision = row.codedRevision + 1
	coded.Supersedes = row.lastEventID
	// The revision number keeps the id unique if the visit is replayed
	// again under the same rules after another rules change in between.
	eventID := events.NewID("coder", events.TypeVisitCoded, it.env.ID, s.Rules.Version, "revision", strconv.Itoa(coded.Revision))
	data, err := json.Marshal(coded)
	if err != nil {
		return fmt.Errorf("encode visit.coded: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE coder.visits SET patient_key = $2, payer_id = $3, year = $4, bucket = $5, allowed_cents = $6, coded_revision = $7,
	last_event_id = $8, rules_version = $9, held = $10, coded = $11, updated_at = now() WHERE visit_id = $1`,
		it.rec.VisitID, PatientKey(v), v.Coverage.PayerID, year, bucket, allowed, coded.Revision, eventID, s.Rules.Version, it.coding.Held(), data); err != nil {
		return fmt.Errorf("write coded visit: %w", err)
	}
	// The event keeps the visit.recorded's time, as the handler's does: the
	// submitter scrubs as of it, so a rebuilt claim is judged on the same
	// day as the first build.
	env := events.Envelope{
		ID: eventID, Type: events.TypeVisitCoded, Source: events.SourceCoder, Subject: it.rec.VisitID,
		Time: it.env.Time, CorrelationID: it.rec.VisitID, CausationID: it.env.ID, RulesVersion: s.Rules.Version, Data: data,
	}
	it.recs, err = s.outbox.Add(ctx, tx, env)
	return err
}

func (s *replayRun) summary(readErr error) {
	sum := &s.sum
	w := s.w
	w.Printf("coder replay of %s visit.recorded", events.StreamIntake)
	if sum.Span.Read > 0 {
		w.Printf(", stream sequence %d–%d", sum.Span.FirstSeq, sum.Span.LastSeq)
	}
	w.Printf(", rules %s", s.Rules.Version)
	if s.Method != "" {
		w.Printf(", unit method %s for every payer", s.Method)
	}
	if s.DryRun {
		w.Printf(" (dry run)")
	}
	w.Printf(":\n  %d events read; %d current codings compared", sum.Span.Read, sum.Compared)
	if len(sum.CodedWith) > 0 {
		versions := make([]string, 0, len(sum.CodedWith))
		for v, n := range sum.CodedWith {
			versions = append(versions, fmt.Sprintf("%s ×%d", v, n))
		}
		sort.Strings(versions)
		w.Printf(" (made with rules %s)", strings.Join(versions, ", "))
	}
	w.Printf("\n  %d changed", sum.Changed)
	if sum.ExpectedOnly > 0 {
		w.Printf(" (%d in expected amounts only)", sum.ExpectedOnly)
	}
	w.Printf(", %d unchanged", sum.Unchanged)
	if sum.Conflicts > 0 {
		w.Printf(", %d left alone because the live coder recoded them meanwhile", sum.Conflicts)
	}
	w.Printf("\n")
	if sum.Superseded+sum.NotCoded+sum.Unreadable > 0 {
		w.Printf("  skipped: %d older revisions or copies, %d not yet coded by the live coder (it will), %d not visit.recorded events\n",
			sum.Superseded, sum.NotCoded, sum.Unreadable)
	}
	if sum.Changed > 0 {
		w.Printf("  charges %s, expected %s\n", billing.SignedDollars(sum.ChargeDeltaCents), billing.SignedDollars(sum.ExpectedDeltaCents))
	}
	if w.Stopped(readErr, s.DryRun) {
		return
	}
	if sum.Changed == 0 {
		w.Printf("  nothing published: downstream sees no change\n")
		return
	}
	w.Printf("  published %d visit.coded revisions", sum.Published.Stored)
	if sum.Published.Duplicates > 0 {
		w.Printf(" (%d more JetStream already had)", sum.Published.Duplicates)
	}
	w.Printf("; the submitter rebuilds unsent claims and holds sent ones for a corrected claim\n")
}

// diffCoding describes, line by line, how b differs from a, and says
// whether anything that goes on the claim changed (rather than only the
// expected amounts). Lines pair up by code, in order.
func diffCoding(a, b *codingView) (out []string, claim bool) {
	if a.Void != b.Void {
		out = append(out, fmt.Sprintf("void %t → %t", a.Void, b.Void))
		claim = true
	}
	used := make([]bool, len(b.Lines))
	for _, la := range a.Lines {
		j := -1
		for k, lb := range b.Lines {
			if !used[k] && lb.Code == la.Code {
				j = k
				break
			}
		}
		if j < 0 {
			out = append(out, "- "+lineWords(la))
			claim = true
			continue
		}
		used[j] = true
		lb := b.Lines[j]
		var parts []string
		if la.Units != lb.Units {
			parts = append(parts, fmt.Sprintf("units %d → %d", la.Units, lb.Units))
		}
		if !slices.Equal(la.Modifiers, lb.Modifiers) {
			parts = append(parts, fmt.Sprintf("modifiers %s → %s", mods(la.Modifiers), mods(lb.Modifiers)))
		}
		if la.ChargeCents != lb.ChargeCents {
			parts = append(parts, fmt.Sprintf("charge %s → %s", billing.Dollars(la.ChargeCents), billing.Dollars(lb.ChargeCents)))
		}
		if !slices.Equal(la.DiagnosisPointers, lb.DiagnosisPointers) {
			parts = append(parts, fmt.Sprintf("diagnosis pointers %v → %v", la.DiagnosisPointers, lb.DiagnosisPointers))
		}
		if len(parts) > 0 {
			claim = true
		}
		if la.AllowedCents != lb.AllowedCents {
			parts = append(parts, fmt.Sprintf("expected %s → %s", billing.Dollars(la.AllowedCents), billing.Dollars(lb.AllowedCents)))
		}
		if len(parts) > 0 {
			out = append(out, la.Code+": "+strings.Join(parts, ", "))
		}
	}
	for k, lb := range b.Lines {
		if !used[k] {
			out = append(out, "+ "+lineWords(lb))
			claim = true
		}
	}
	added, removed := issueDiff(a.Issues, b.Issues)
	if len(added)+len(removed) > 0 {
		claim = true // an error issue holds the claim; any issue reaches a biller
		var parts []string
		for _, is := range added {
			parts = append(parts, "+ "+is)
		}
		for _, is := range removed {
			parts = append(parts, "- "+is)
		}
		out = append(out, "issues: "+strings.Join(parts, ", "))
	}
	if len(out) == 0 {
		return nil, false
	}
	if a.UnitMethod != b.UnitMethod {
		out = append(out, fmt.Sprintf("unit method %s → %s", a.UnitMethod, b.UnitMethod))
	}
	ea, eb := a.expected(), b.expected()
	out = append(out, fmt.Sprintf("visit: charge %s → %s (%s), expected %s → %s (%s)",
		billing.Dollars(a.ChargeCents), billing.Dollars(b.ChargeCents), billing.SignedDollars(b.ChargeCents-a.ChargeCents),
		billing.Dollars(ea), billing.Dollars(eb), billing.SignedDollars(eb-ea)))
	return out, claim
}

func issueDiff(a, b []issueView) (added, removed []string) {
	words := func(is issueView) string {
		s := is.Code + " (" + is.Severity
		if is.Line > 0 {
			s += ", line " + strconv.Itoa(is.Line)
		}
		return s + ")"
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			added = append(added, words(x))
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			removed = append(removed, words(x))
		}
	}
	return added, removed
}

// lineWords is a line as billers write it: 97530×2 GO KX, charge and
// expected amount.
func lineWords(l lineView) string {
	s := l.Code + "×" + strconv.Itoa(l.Units)
	if len(l.Modifiers) > 0 {
		s += " " + strings.Join(l.Modifiers, " ")
	}
	return s + ", charge " + billing.Dollars(l.ChargeCents) + ", expected " + billing.Dollars(l.AllowedCents)
}

func mods(m []string) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(m, " ")
}
