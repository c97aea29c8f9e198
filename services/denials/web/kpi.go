package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcm-health/rcm/internal/platform"
)

// KPIs are the revenue cycle's health in numbers, computed in SQL over the
// denials ledger as of a day ("today", UTC) and over all history the
// ledger holds. Each is defined here once; the page says the same in
// words.
//
//   - Clean-claim rate: claims whose first build passed the scrubber
//     (denials.claims.first_scrub = 'passed') over claims scrubbed at least
//     once (first_scrub set). A claim held and fixed later is not clean.
//   - First-pass acceptance: claims whose first submission's final
//     acknowledgement (the 277CA, or a rejecting 999) accepted it
//     (first_ack = 'accepted') over claims whose first submission has one
//     (first_ack set).
//   - Denial rate: claims with a denial work item, whatever its status now,
//     over claims reconciled with at least one remittance (reconciled_at
//     set). By category, the numerator counts claims with a work item of
//     that category (a claim denied twice for different reasons counts in
//     both), over all reconciled claims. By payer, both counts are that
//     payer's claims.
//   - Outstanding balance of a claim: what the payer may still pay, that is
//     the latest submission's charge less what was paid (net of
//     reversals), the patient's responsibility, contractual and other
//     adjustments, and the amounts of its written-off work items:
//     charge_cents − paid_cents − patient_cents − adjusted_cents −
//     Σ work_items.amount_cents where status = 'written_off'. Denied
//     amounts stay outstanding until written off, paid on a corrected
//     claim or appeal, or adjusted by the payer.
//   - Days in A/R: the average, over claims submitted at least once with an
//     outstanding balance above zero, of whole days from the first
//     submission (first_submitted_at, UTC date) to today. It is the age of
//     the open claims, not the accounting ratio (A/R ÷ average daily
//     charges), which needs a charge history the ledger does not keep.
//   - A/R aging: the same claims' outstanding dollars and counts by that
//     age: 0–30, 31–60, 61–90, 91–120 and over 120 days.
//   - ERA auto-posting: the share of 835 service lines matched to a
//     submitted line (by REF*6R or by service details) and so posted
//     without a person: Σ remits.auto_posted_lines over Σ remits.line_count.
type KPIs struct {
	AsOf                string // today, UTC
	CleanClaimRate      Ratio
	FirstPassAcceptance Ratio
	DenialRate          Ratio
	DenialsByCategory   []Share
	DenialsByPayer      []Share
	AR                  AR
	AutoPosted          Ratio
}

// Ratio is a count over a count; it is kept whole so that pages and tests
// see the numbers behind a percentage.
type Ratio struct{ Num, Den int64 }

// PerMille is the ratio in tenths of a percent, rounded half up; 0 when
// there is nothing to divide by.
func (r Ratio) PerMille() int64 {
	if r.Den <= 0 {
		return 0
	}
	return (r.Num*2000 + r.Den) / (2 * r.Den)
}

// String is the ratio as a percentage with one decimal, "—" with nothing
// to divide by.
func (r Ratio) String() string {
	if r.Den <= 0 {
		return "—"
	}
	pm := r.PerMille()
	return strconv.FormatInt(pm/10, 10) + "." + strconv.FormatInt(pm%10, 10) + "%"
}

// Share is a ratio of a group: a denial category, or a payer.
type Share struct {
	Key   string
	Label string
	Ratio
}

// AR is the outstanding claims' age and money.
type AR struct {
	Claims int64
	// DaysSum adds the claims' ages in whole days.
	DaysSum          int64
	OutstandingCents int64
	Buckets          []ARBucket
}

// AverageDays is days in A/R with one decimal, "—" without open claims.
func (a AR) AverageDays() string {
	if a.Claims == 0 {
		return "—"
	}
	tenths := (a.DaysSum*20 + a.Claims) / (2 * a.Claims)
	return strconv.FormatInt(tenths/10, 10) + "." + strconv.FormatInt(tenths%10, 10)
}

// ARBucket is one age range of the A/R aging: Lo to Hi days, Hi < 0 for
// no upper bound.
type ARBucket struct {
	Label  string
	Lo, Hi int
	Claims int64
	Cents  int64
}

// arBuckets are the aging's ranges, in days since the first submission.
var arBuckets = []ARBucket{
	{Label: "0–30", Lo: 0, Hi: 30},
	{Label: "31–60", Lo: 31, Hi: 60},
	{Label: "61–90", Lo: 61, Hi: 90},
	{Label: "91–120", Lo: 91, Hi: 120},
	{Label: "over 120", Lo: 121, Hi: -1},
}

// outstandingSQL is each submitted claim's outstanding balance and age in
// days ($1 is today); see KPIs.
const outstandingSQL = `SELECT c.claim_id,
	greatest($1::date - (c.first_submitted_at AT TIME ZONE 'UTC')::date, 0) AS age,
	c.charge_cents - c.paid_cents - c.patient_cents - c.adjusted_cents - coalesce(wo.cents, 0) AS balance
FROM denials.claims c
LEFT JOIN (SELECT claim_id, sum(amount_cents) AS cents FROM denials.work_items WHERE status = 'written_off' GROUP BY claim_id) wo
	ON wo.claim_id = c.claim_id
WHERE c.first_submitted_at IS NOT NULL`

// bucketSQL is the index in arBuckets of a claim's age.
func bucketSQL() string {
	var b strings.Builder
	b.WriteString("CASE")
	for i, r := range arBuckets {
		if r.Hi >= 0 {
			fmt.Fprintf(&b, " WHEN age <= %d THEN %d", r.Hi, i)
		}
	}
	fmt.Fprintf(&b, " ELSE %d END", len(arBuckets)-1)
	return b.String()
}

// loadKPIs computes the KPIs as of now's UTC date, from one snapshot.
func loadKPIs(ctx context.Context, pool *pgxpool.Pool, now time.Time) (KPIs, error) {
	var k KPIs
	err := platform.ReportTx(ctx, pool, func(tx pgx.Tx) error {
		var err error
		k, err = kpisIn(ctx, tx, now)
		return err
	})
	return k, err
}

func kpisIn(ctx context.Context, tx pgx.Tx, now time.Time) (KPIs, error) {
	today := now.UTC().Format("2006-01-02")
	k := KPIs{AsOf: today}
	err := tx.QueryRow(ctx, `SELECT
	count(*) FILTER (WHERE first_scrub = 'passed'), count(*) FILTER (WHERE first_scrub <> ''),
	count(*) FILTER (WHERE first_ack = 'accepted'), count(*) FILTER (WHERE first_ack <> ''),
	count(*) FILTER (WHERE reconciled_at IS NOT NULL AND EXISTS (SELECT 1 FROM denials.work_items w WHERE w.claim_id = c.claim_id)),
	count(*) FILTER (WHERE reconciled_at IS NOT NULL)
FROM denials.claims c`).Scan(&k.CleanClaimRate.Num, &k.CleanClaimRate.Den, &k.FirstPassAcceptance.Num, &k.FirstPassAcceptance.Den,
		&k.DenialRate.Num, &k.DenialRate.Den)
	if err != nil {
		return k, fmt.Errorf("kpis: claims: %w", err)
	}

	rows, err := tx.Query(ctx, `SELECT w.category, count(DISTINCT w.claim_id)
FROM denials.work_items w JOIN denials.claims c ON c.claim_id = w.claim_id AND c.reconciled_at IS NOT NULL
GROUP BY w.category ORDER BY 2 DESC, 1`)
	if err != nil {
		return k, fmt.Errorf("kpis: categories: %w", err)
	}
	for rows.Next() {
		sh := Share{Ratio: Ratio{Den: k.DenialRate.Den}}
		if err := rows.Scan(&sh.Key, &sh.Num); err != nil {
			rows.Close()
			return k, fmt.Errorf("kpis: categories: %w", err)
		}
		sh.Label = sh.Key
		k.DenialsByCategory = append(k.DenialsByCategory, sh)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return k, fmt.Errorf("kpis: categories: %w", err)
	}

	rows, err = tx.Query(ctx, `SELECT c.payer_id, max(c.payer_name),
	count(*) FILTER (WHERE EXISTS (SELECT 1 FROM denials.work_items w WHERE w.claim_id = c.claim_id)), count(*)
FROM denials.claims c WHERE c.reconciled_at IS NOT NULL GROUP BY c.payer_id ORDER BY 2, 1`)
	if err != nil {
		return k, fmt.Errorf("kpis: payers: %w", err)
	}
	for rows.Next() {
		var sh Share
		if err := rows.Scan(&sh.Key, &sh.Label, &sh.Num, &sh.Den); err != nil {
			rows.Close()
			return k, fmt.Errorf("kpis: payers: %w", err)
		}
		if sh.Label == "" {
			sh.Label = sh.Key
		}
		k.DenialsByPayer = append(k.DenialsByPayer, sh)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return k, fmt.Errorf("kpis: payers: %w", err)
	}

	k.AR.Buckets = append([]ARBucket(nil), arBuckets...)
	rows, err = tx.Query(ctx, `SELECT `+bucketSQL()+` AS bucket, count(*), sum(age)::bigint, sum(balance)::bigint
FROM (`+outstandingSQL+`) o WHERE balance > 0 GROUP BY bucket`, today)
	if err != nil {
		return k, fmt.Errorf("kpis: a/r: %w", err)
	}
	for rows.Next() {
		var i int
		var n, days, cents int64
		if err := rows.Scan(&i, &n, &days, &cents); err != nil {
			rows.Close()
			return k, fmt.Errorf("kpis: a/r: %w", err)
		}
		k.AR.Buckets[i].Claims, k.AR.Buckets[i].Cents = n, cents
		k.AR.Claims += n
		k.AR.DaysSum += days
		k.AR.OutstandingCents += cents
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return k, fmt.Errorf("kpis: a/r: %w", err)
	}

	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(auto_posted_lines), 0), coalesce(sum(line_count), 0) FROM denials.remits`).
		Scan(&k.AutoPosted.Num, &k.AutoPosted.Den); err != nil {
		return k, fmt.Errorf("kpis: remits: %w", err)
	}
	return k, nil
}

// kpis is the KPI page.
func (s *server) kpis(w http.ResponseWriter, r *http.Request) {
	k, err := loadKPIs(r.Context(), s.pool, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "kpis", view{Title: "KPIs", Nav: "kpis", User: userOf(r), Data: k})
}
