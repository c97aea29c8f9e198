package submitter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
)

// Replay rebuilds and re-scrubs claims from the coder stream's history
// with a rules set and compares each result with the claim in the
// submitter's tables. An unsent claim whose build or edits changed is
// rewritten, with its held or ready status, and announced with a new
// claim.scrubbed, in one transaction per claim through the submitter's
// outbox; a claim that comes out the same gets nothing, so a replay with
// unchanged rules changes nothing downstream.
//
// A sent claim is never rebuilt: what the payer has changes only through a
// new coding (which the handler holds for a corrected claim) or a biller's
// correction. The replay says when a sent claim would scrub differently
// now, and leaves it. A replacement or void a biller requested (a later
// submission) is left as requested. Correction requests themselves are not
// replayed: they are a biller's decisions, not the rules'.
//
// Like the coder's, the replay reads with an ordered consumer and never
// through the submitter's durable consumer or its inbox, and it handles
// only the coding each claim is built from: older codings are superseded,
// newer ones are the live submitter's to handle.
type Replay struct {
	Pool  *pgxpool.Pool
	JS    jetstream.JetStream
	Rules *billing.Rules
	// DryRun computes and prints what would change and writes nothing.
	DryRun bool
	// Out gets a few lines per changed claim and the summary: claim and
	// visit ids, codes, edit codes and dollars, never PHI or edit texts.
	Out io.Writer
	// Writers is how many changed claims are written at once (default 4).
	Writers int
}

// ReplaySummary counts what a replay did.
type ReplaySummary struct {
	Span platform.StreamSpan
	// RunID keys the replay's events (each claim changes at most once per
	// run).
	RunID string
	// Compared are the unsent claims rebuilt and re-scrubbed.
	Compared, Changed, Unchanged int
	// NowHeld and NowReady count status changes among the changed.
	NowHeld, NowReady int
	// Sent claims (and claims a rejection held after they went out) were
	// left as they are; SentDiffer of them would scrub differently now.
	Sent, SentDiffer int
	// Replacements are later submissions a biller requested, left alone.
	Replacements int
	// Superseded are older codings and copies; NotHandled are codings the
	// live submitter has not handled yet.
	Superseded, NotHandled, Unreadable int
	// Conflicts are claims the live submitter changed while the replay
	// ran; they were left alone.
	Conflicts int
	Published platform.Published
}

type claimRow struct {
	// batched says the claim went out in a file once; a 999 or 277CA may
	// have rejected it back to held since.
	batched       bool
	status        string
	submission    int
	codedEventID  string
	codedRevision int
	claim, edits  []byte
	payerID       string
}

type claimItem struct {
	env      events.Envelope
	coded    events.VisitCoded
	bad      bool
	claimID  string
	row      *claimRow
	sent     bool
	control  string
	edits    []events.Edit
	claim    x12.Claim837
	claimRaw []byte
	editsRaw []byte
	status   string
	lines    []string
	changed  bool
	conflict bool
	recs     []platform.Record
}

type claimReplay struct {
	*Replay
	h      *Handler
	sum    ReplaySummary
	seen   map[string]bool
	outbox *platform.Outbox
	w      *platform.Report
}

// Run replays the visit.coded events of rng and prints, to Out, each
// changed claim and a summary.
func (r *Replay) Run(ctx context.Context, rng platform.ReplayRange) (ReplaySummary, error) {
	if r.Rules == nil {
		return ReplaySummary{}, errors.New("submitter replay: no rules")
	}
	if r.Out == nil {
		r.Out = io.Discard
	}
	outbox, err := platform.OpenReplay(ctx, r.Pool, r.JS, Schema, "the submitter", r.DryRun)
	if err != nil {
		return ReplaySummary{}, err
	}
	s := &claimReplay{Replay: r, h: &Handler{Rules: r.Rules}, seen: map[string]bool{}, outbox: outbox, w: &platform.Report{W: r.Out}}
	s.sum.RunID = strconv.FormatInt(time.Now().UnixNano(), 36)
	s.sum.Span, err = platform.ReadStream(ctx, r.JS, events.StreamCoder, rng, platform.ReadOptions{Subjects: []string{events.SubjectVisitCoded}}, func(msgs []platform.StreamMsg) error {
		return s.batch(ctx, msgs)
	})
	s.summary(err)
	return s.sum, s.w.Done(err)
}

func (s *claimReplay) batch(ctx context.Context, msgs []platform.StreamMsg) error {
	items := make([]claimItem, len(msgs))
	platform.Parallel(len(msgs), func(i int) {
		it := &items[i]
		env, err := events.Unmarshal(msgs[i].Data)
		if err != nil || env.Type != events.TypeVisitCoded || env.DecodeData(&it.coded) != nil || it.coded.VisitID == "" || it.coded.Revision < 1 {
			it.bad = true
			return
		}
		it.env, it.claimID = env, ClaimID(it.coded.VisitID)
	})
	ids := make([]string, 0, len(items))
	for i := range items {
		if !items[i].bad {
			ids = append(ids, items[i].claimID)
		}
	}
	rows, err := loadClaims(ctx, s.Pool, ids)
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
		row := rows[it.claimID]
		switch {
		case row == nil || (row.codedEventID != it.env.ID && it.coded.Revision > row.codedRevision):
			s.sum.NotHandled++
		case row.codedEventID != it.env.ID || s.seen[it.claimID]:
			s.sum.Superseded++
		case row.submission > 1:
			s.seen[it.claimID] = true
			s.sum.Replacements++
		default:
			s.seen[it.claimID] = true
			it.row = row
			// A claim that went out is sent even when a rejection held it
			// again: what to send next is a biller's decision, under a new
			// control number, not a rebuild's.
			it.sent = row.batched || row.status == StatusBatched || row.status == StatusSubmitted
			todo = append(todo, i)
		}
	}
	submitted, err := s.submittedLines(ctx, items, todo)
	if err != nil {
		return err
	}
	// Building and scrubbing are the work; spread them over the CPUs.
	errs := make([]error, len(todo))
	platform.Parallel(len(todo), func(k int) {
		it := &items[todo[k]]
		it.control = ControlNumber(it.coded.VisitID, it.row.submission)
		var mine []billing.SubmittedLine
		for _, l := range submitted[memberKey{it.coded.Visit.Coverage.PayerID, it.coded.Visit.Coverage.MemberID}] {
			if l.claimID != it.claimID {
				mine = append(mine, l.line)
			}
		}
		it.edits, it.claim = s.h.scrub(&it.coded, it.control, it.row.submission, it.env, mine)
		it.status = StatusReady
		for _, e := range it.edits {
			if e.Severity == events.SeverityError {
				it.status = StatusHeld
				break
			}
		}
		if it.claimRaw, errs[k] = json.Marshal(it.claim); errs[k] != nil {
			return
		}
		it.editsRaw, errs[k] = json.Marshal(it.edits)
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("submitter replay: %w", err)
	}
	var changed []int
	for _, i := range todo {
		it := &items[i]
		sameClaim, sameEdits := string(it.claimRaw) == string(it.row.claim), string(it.editsRaw) == string(it.row.edits)
		if it.sent {
			s.sum.Sent++
			// A sent claim's stored build differs from its coding's only
			// when a newer coding is already held for a corrected claim,
			// and a rejected claim's edits are the rejection: nothing to
			// say about the rules then.
			if sameClaim && !sameEdits && it.row.status != StatusHeld {
				s.sum.SentDiffer++
				it.lines = s.diff(it, sameClaim)
				s.w.Printf("claim %s (visit %s) is %s: would now scrub differently; left as sent (it changes only through a new coding or a correction)\n",
					it.claimID, it.coded.VisitID, it.row.status)
				for _, l := range it.lines {
					s.w.Printf("    %s\n", l)
				}
			}
			continue
		}
		s.sum.Compared++
		if sameClaim && sameEdits && it.status == it.row.status {
			s.sum.Unchanged++
			continue
		}
		it.changed = true
		it.lines = s.diff(it, sameClaim)
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
			s.w.Printf("claim %s (visit %s): changed by the live submitter during the replay; left alone (replay again)\n", it.claimID, it.coded.VisitID)
			continue
		}
		s.sum.Changed++
		switch {
		case it.status == it.row.status:
		case it.status == StatusHeld:
			s.sum.NowHeld++
		default:
			s.sum.NowReady++
		}
		verb := "rebuilt"
		if s.DryRun {
			verb = "would be rebuilt"
		}
		s.w.Printf("claim %s (visit %s, coding %d): %s, %s → %s (rules %s)\n", it.claimID, it.coded.VisitID, it.coded.Revision, verb, it.row.status, it.status, s.Rules.Version)
		for _, l := range it.lines {
			s.w.Printf("    %s\n", l)
		}
	}
	return s.w.Err
}

// diff describes how the rebuilt claim differs from the stored one: its
// edits by code and severity, and its lines.
func (s *claimReplay) diff(it *claimItem, sameClaim bool) []string {
	var out []string
	var old []events.Edit
	_ = json.Unmarshal(it.row.edits, &old)
	key := func(e events.Edit) string {
		k := e.Code + " (" + e.Severity
		if e.Line > 0 {
			k += ", line " + strconv.Itoa(e.Line)
		}
		return k + ")"
	}
	oldKeys, newKeys := make([]string, len(old)), make([]string, len(it.edits))
	for i, e := range old {
		oldKeys[i] = key(e)
	}
	for i, e := range it.edits {
		newKeys[i] = key(e)
	}
	var parts []string
	for _, k := range newKeys {
		if !slices.Contains(oldKeys, k) {
			parts = append(parts, "+ "+k)
		}
	}
	for _, k := range oldKeys {
		if !slices.Contains(newKeys, k) {
			parts = append(parts, "- "+k)
		}
	}
	if len(parts) > 0 {
		out = append(out, "edits: "+strings.Join(parts, ", "))
	} else if string(it.editsRaw) != string(it.row.edits) {
		out = append(out, "edits: the same codes, reworded")
	}
	if !sameClaim {
		var prev x12.Claim837
		_ = json.Unmarshal(it.row.claim, &prev)
		out = append(out, claimLinesDiff(prev.Lines, it.claim.Lines)...)
		if prev.TotalChargeCents != it.claim.TotalChargeCents {
			out = append(out, fmt.Sprintf("claim charge %s → %s (%s)", billing.Dollars(prev.TotalChargeCents), billing.Dollars(it.claim.TotalChargeCents),
				billing.SignedDollars(it.claim.TotalChargeCents-prev.TotalChargeCents)))
		}
	}
	return out
}

func claimLinesDiff(a, b []x12.Line837) []string {
	var out []string
	words := func(l x12.Line837) string {
		s := l.Code + "×" + strconv.Itoa(l.Units)
		if len(l.Modifiers) > 0 {
			s += " " + strings.Join(l.Modifiers, " ")
		}
		return s + " " + billing.Dollars(l.ChargeCents)
	}
	used := make([]bool, len(b))
	for _, la := range a {
		j := slices.IndexFunc(b, func(lb x12.Line837) bool { return lb.Code == la.Code })
		for j >= 0 && used[j] {
			k := slices.IndexFunc(b[j+1:], func(lb x12.Line837) bool { return lb.Code == la.Code })
			if k < 0 {
				j = -1
			} else {
				j += 1 + k
			}
		}
		if j < 0 {
			out = append(out, "- "+words(la))
			continue
		}
		used[j] = true
		if lb := b[j]; la.Units != lb.Units || la.ChargeCents != lb.ChargeCents || !slices.Equal(la.Modifiers, lb.Modifiers) {
			out = append(out, la.Code+": "+words(la)+" → "+words(lb))
		}
	}
	for j, lb := range b {
		if !used[j] {
			out = append(out, "+ "+words(lb))
		}
	}
	return out
}

func loadClaims(ctx context.Context, pool *pgxpool.Pool, ids []string) (map[string]*claimRow, error) {
	out := make(map[string]*claimRow, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := pool.Query(ctx, `SELECT claim_id, batch_id IS NOT NULL, status, submission, coded_event_id, coded_revision, claim, edits, payer_id
FROM submitter.claims WHERE claim_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("submitter replay: read claims: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		r := new(claimRow)
		if err := rows.Scan(&id, &r.batched, &r.status, &r.submission, &r.codedEventID, &r.codedRevision, &r.claim, &r.edits, &r.payerID); err != nil {
			return nil, fmt.Errorf("submitter replay: read claims: %w", err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("submitter replay: read claims: %w", err)
	}
	return out, nil
}

type memberKey struct{ payer, member string }

type ownedLine struct {
	claimID string
	line    billing.SubmittedLine
}

// submittedLines reads, in one query, the lines already sent for the
// members of the batch's claims: what the duplicate edit compares with,
// as the handler reads it per claim.
func (s *claimReplay) submittedLines(ctx context.Context, items []claimItem, todo []int) (map[memberKey][]ownedLine, error) {
	out := map[memberKey][]ownedLine{}
	var payers, members []string
	for _, i := range todo {
		k := memberKey{items[i].coded.Visit.Coverage.PayerID, items[i].coded.Visit.Coverage.MemberID}
		if _, ok := out[k]; !ok {
			out[k] = nil
			payers, members = append(payers, k.payer), append(members, k.member)
		}
	}
	if len(payers) == 0 {
		return out, nil
	}
	rows, err := s.Pool.Query(ctx, `SELECT l.claim_id, l.control_number, l.payer_id, l.member_id, l.code, l.modifiers, l.units, l.dos
FROM submitter.submitted_lines l JOIN unnest($1::text[], $2::text[]) AS m(payer_id, member_id) USING (payer_id, member_id)`, payers, members)
	if err != nil {
		return nil, fmt.Errorf("submitter replay: read submitted lines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o ownedLine
		var k memberKey
		if err := rows.Scan(&o.claimID, &o.line.ClaimControlNumber, &k.payer, &k.member, &o.line.Code, &o.line.Modifiers, &o.line.Units, &o.line.DateOfService); err != nil {
			return nil, fmt.Errorf("submitter replay: read submitted lines: %w", err)
		}
		out[k] = append(out[k], o)
	}
	return out, rows.Err()
}

func (s *claimReplay) write(ctx context.Context, items []claimItem, changed []int) error {
	recs, err := platform.WriteEach(s.Writers, len(changed), func(k int) ([]platform.Record, error) {
		it := &items[changed[k]]
		if err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return s.writeTx(ctx, tx, it) }); err != nil {
			return nil, fmt.Errorf("submitter replay: claim %s: %w", it.claimID, err)
		}
		return it.recs, nil
	})
	if err != nil {
		return err
	}
	p, err := s.outbox.PublishNow(ctx, recs)
	s.sum.Published.Add(p)
	if err != nil {
		return fmt.Errorf("submitter replay: publish (the submitter's outbox sweeper will retry): %w", err)
	}
	return nil
}

func (s *claimReplay) writeTx(ctx context.Context, tx pgx.Tx, it *claimItem) error {
	it.conflict, it.recs = false, nil
	if err := lockClaim(ctx, tx, it.claimID); err != nil {
		return err
	}
	var status, codedEventID string
	var submission int
	if err := tx.QueryRow(ctx, `SELECT status, coded_event_id, submission FROM submitter.claims WHERE claim_id = $1 FOR UPDATE`, it.claimID).
		Scan(&status, &codedEventID, &submission); err != nil {
		return fmt.Errorf("read claim: %w", err)
	}
	if status != it.row.status || codedEventID != it.row.codedEventID || submission != it.row.submission {
		it.conflict = true // batched, recoded or corrected meanwhile
		return nil
	}
	summary, err := json.Marshal(Summary(&it.coded, it.claimID, it.control, it.row.submission))
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE submitter.claims SET status = $2, claim = $3, summary = $4, edits = $5, updated_at = now() WHERE claim_id = $1`,
		it.claimID, it.status, it.claimRaw, summary, it.editsRaw); err != nil {
		return fmt.Errorf("write claim: %w", err)
	}
	scrub := events.ScrubPassed
	if it.status == StatusHeld {
		scrub = events.ScrubHeld
	}
	// The run id keeps the event new when a claim goes back and forth
	// between rules sets over several replays.
	env, err := events.New(events.NewID("submitter", events.TypeClaimScrubbed, it.env.ID, "replay", s.sum.RunID), events.TypeClaimScrubbed, events.SourceSubmitter,
		it.claimID, it.env.Time, events.ClaimScrubbed{ClaimID: it.claimID, VisitID: it.coded.VisitID, ControlNumber: it.control, Status: scrub, Edits: it.edits})
	if err != nil {
		return err
	}
	env.CorrelationID, env.CausationID, env.RulesVersion = it.coded.VisitID, it.env.ID, s.Rules.Version
	it.recs, err = s.outbox.Add(ctx, tx, env)
	return err
}

func (s *claimReplay) summary(readErr error) {
	sum, w := &s.sum, s.w
	w.Printf("submitter replay of %s visit.coded", events.StreamCoder)
	if sum.Span.Read > 0 {
		w.Printf(", stream sequence %d–%d", sum.Span.FirstSeq, sum.Span.LastSeq)
	}
	w.Printf(", rules %s", s.Rules.Version)
	if s.DryRun {
		w.Printf(" (dry run)")
	}
	w.Printf(":\n  %d events read; %d unsent claims rebuilt and re-scrubbed\n  %d changed", sum.Span.Read, sum.Compared, sum.Changed)
	if sum.NowHeld+sum.NowReady > 0 {
		w.Printf(" (%d now held, %d now ready)", sum.NowHeld, sum.NowReady)
	}
	w.Printf(", %d unchanged", sum.Unchanged)
	if sum.Conflicts > 0 {
		w.Printf(", %d left alone because the live submitter changed them meanwhile", sum.Conflicts)
	}
	w.Printf("\n")
	if sum.Sent > 0 {
		w.Printf("  %d claims that went out left as they are (%d would scrub differently now)\n", sum.Sent, sum.SentDiffer)
	}
	if sum.Replacements+sum.Superseded+sum.NotHandled+sum.Unreadable > 0 {
		w.Printf("  skipped: %d replacements or voids a biller requested, %d older codings or copies, %d not yet handled by the live submitter (it will), %d not visit.coded events\n",
			sum.Replacements, sum.Superseded, sum.NotHandled, sum.Unreadable)
	}
	if w.Stopped(readErr, s.DryRun) {
		return
	}
	if sum.Changed == 0 {
		w.Printf("  nothing published: downstream sees no change\n")
		return
	}
	w.Printf("  published %d claim.scrubbed", sum.Published.Stored)
	if sum.Published.Duplicates > 0 {
		w.Printf(" (%d more JetStream already had)", sum.Published.Duplicates)
	}
	w.Printf(" (replay run %s)\n", sum.RunID)
}
