package billing

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/rcm-health/rcm/pkg/events"
)

// The files of a rules set besides codes.csv (CodesFile). A set is read
// whole: a directory that overrides the embedded set has every file, which
// `rcm rules export` writes as a starting point.
const (
	VersionFile    = "VERSION"
	PayersFile     = "payers.csv"
	ThresholdsFile = "kx_thresholds.csv"
	MUEFile        = "mue.csv"
	FeesFile       = "fees.csv"
	AllowedFile    = "allowed.csv"
	// PTPFile is the seed PTP file. Every file whose name matches a
	// PTPPatterns entry is read, so that the CMS quarterly files
	// (ccipra-v313r0-f1.txt ... f4.txt) can be dropped in unrenamed.
	PTPFile = "ncci_ptp.txt"
)

// PTPPatterns match the names of a set's PTP files (path.Match syntax).
var PTPPatterns = []string{"ncci_ptp*.txt", "ccipra*.txt"}

// PlanTypes are the plan types every set must be able to serve: payers.csv
// needs no row for them beyond plan:other, but their keys are the only
// "plan:" keys it accepts.
var PlanTypes = []string{
	events.PlanMedicarePartB, events.PlanMedicareAdvantage, events.PlanMedicaid,
	events.PlanCommercial, events.PlanWorkersComp, events.PlanOther,
}

const planPrefix = "plan:"

// Threshold buckets.
const (
	BucketOT    = events.ThresholdOT
	BucketPTSLP = events.ThresholdPTSLP
)

// LoadRules reads and checks a whole rules set: VERSION, codes.csv,
// payers.csv, kx_thresholds.csv, the PTP files, mue.csv, fees.csv,
// allowed.csv, carc.csv and rarc.csv. It returns every problem of every
// file, each a *LineError naming the file and line, joined with errors.Join
// (LineErrors lists them); the Rules is nil if there is any.
//
// Codes are checked against the catalog where the clinic chose them: fees
// and allowed amounts must be for catalog codes, and every catalog code
// needs a charge. PTP and MUE codes need only be well-formed, since the CMS
// files cover all of CPT and HCPCS; PTP edits with a code outside the
// catalog are checked, then dropped (Rules.PTPOutsideCatalog counts them).
func LoadRules(fsys fs.FS) (*Rules, error) {
	l := &rulesLoader{fsys: fsys, r: &Rules{}}
	l.version()
	l.catalog()
	l.payers()
	l.thresholds()
	l.ptp()
	l.mue()
	l.fees()
	l.allowed()
	l.carc()
	l.rarc()
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	l.r.ptpIndex = indexPTP(l.r.PTP)
	return l.r, nil
}

// LineErrors lists the problems in an error of LoadRules or of one of the
// file loaders, in order, however they were joined. An error that is not a
// *LineError becomes one without a file.
func LineErrors(err error) []*LineError {
	if err == nil {
		return nil
	}
	if le, ok := err.(*LineError); ok {
		return []*LineError{le}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*LineError
		for _, e := range j.Unwrap() {
			out = append(out, LineErrors(e)...)
		}
		return out
	}
	var le *LineError
	if errors.As(err, &le) {
		return []*LineError{le}
	}
	return []*LineError{{Msg: err.Error()}}
}

type rulesLoader struct {
	fsys fs.FS
	r    *Rules
	errs []error
}

// add keeps a loader's problems flat, so LineErrors needs no recursion on
// LoadRules's own error.
func (l *rulesLoader) add(err error) {
	if err != nil {
		for _, le := range LineErrors(err) {
			l.errs = append(l.errs, le)
		}
	}
}

func (l *rulesLoader) addSources(file string, sources []string) {
	for _, s := range sources {
		l.r.Sources = append(l.r.Sources, file+": "+s)
	}
}

// open opens a required file, reporting it missing.
func (l *rulesLoader) open(name string) (fs.File, bool) {
	f, err := l.fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.add(&LineError{File: name, Msg: "missing from the rules set"})
		} else {
			l.add(&LineError{File: name, Msg: err.Error()})
		}
		return nil, false
	}
	return f, true
}

// table opens a required CSV file through openTable.
func (l *rulesLoader) table(name string, columns []string) *table {
	f, ok := l.open(name)
	if !ok {
		return nil
	}
	defer f.Close()
	t, err := openTable(name, f, columns)
	if err != nil {
		l.add(err)
		return nil
	}
	l.addSources(name, t.sources)
	return t
}

func (l *rulesLoader) version() {
	f, ok := l.open(VersionFile)
	if !ok {
		return
	}
	defer f.Close()
	data, err := readRulesFile(VersionFile, f)
	if err != nil {
		l.add(err)
		return
	}
	p := &problems{file: VersionFile}
	var sources []string
	first := 0
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		s := strings.TrimSpace(line)
		switch {
		case s == "":
		case strings.HasPrefix(s, "#"):
			if src, ok := strings.CutPrefix(s, sourcePrefix); ok && strings.TrimSpace(src) != "" {
				sources = append(sources, strings.TrimSpace(src))
			}
		case first != 0:
			p.errorf(n, "a second version line (the first is line %d)", first)
		case !validVersion(s):
			p.errorf(n, "version %q must be 1 to 64 letters, digits, '.', '-', '_' or '+'", s)
			first = n
		default:
			l.r.Version = s
			first = n
		}
	}
	if first == 0 {
		p.errorf(0, "no version line")
	}
	l.add(p.err())
	l.addSources(VersionFile, sources)
}

func validVersion(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && !isUpper(c) && !(c >= 'a' && c <= 'z') && !strings.ContainsRune(".-_+", rune(c)) {
			return false
		}
	}
	return true
}

func (l *rulesLoader) catalog() {
	f, ok := l.open(CodesFile)
	if !ok {
		return
	}
	defer f.Close()
	c, err := LoadCatalog(f)
	if err != nil {
		l.add(err)
		return
	}
	l.r.Catalog = c
	l.addSources(CodesFile, c.Sources())
}

var payerColumns = []string{
	"key", "name", "unit_method", "discipline_modifiers", "assistant_modifiers", "assistant_payment_percent",
	"kx", "distinct_modifier", "telehealth_modifier", "telehealth_pos_home", "telehealth_pos_other",
	"abn_modifiers", "timely_filing_days", "prior_auth_required", "appeal_days",
}

// Unit methods of PayerProfile.UnitMethod.
const (
	UnitMethodCMS = "cms"
	UnitMethodAMA = "ama"
)

func (l *rulesLoader) payers() {
	t := l.table(PayersFile, payerColumns)
	if t == nil {
		return
	}
	l.r.Payers = map[string]PayerProfile{}
	lineOf := map[string]int{}
	for row := range t.rows() {
		p, ok := parsePayer(row)
		if !ok {
			continue
		}
		if first, dup := lineOf[p.Key]; dup {
			row.errorf("payer key %s repeats line %d", p.Key, first)
			continue
		}
		lineOf[p.Key] = row.line
		l.r.Payers[p.Key] = p
	}
	if _, ok := lineOf[planPrefix+events.PlanOther]; !ok && len(t.errs) == 0 {
		t.errorf(0, "no row for plan:other, the profile of a payer nothing else matches")
	}
	l.add(t.err())
}

func parsePayer(r row) (p PayerProfile, ok bool) {
	ok = true
	bad := func(format string, args ...any) {
		r.errorf(format, args...)
		ok = false
	}
	yesNo := func(column string) bool {
		switch v := r.get(column); v {
		case "yes":
			return true
		case "no":
			return false
		default:
			bad("%s must be yes or no, not %q", column, v)
			return false
		}
	}
	days := func(column string) int {
		v := r.get(column)
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3660 || !allDigits(v) {
			bad("%s must be a whole number of days from 1 to 3660, not %q", column, v)
		}
		return n
	}
	pos := func(column string) string {
		v := r.get(column)
		if len(v) != 2 || !allDigits(v) || v == "00" {
			bad("%s must be a two-digit CMS place of service code such as 10 or 02, not %q", column, v)
		}
		return v
	}

	p.Key = r.get("key")
	if msg := checkPayerKey(p.Key); msg != "" {
		bad("%s", msg)
	}
	if p.Name = r.get("name"); p.Name == "" {
		bad("name is empty")
	}
	switch p.UnitMethod = r.get("unit_method"); p.UnitMethod {
	case UnitMethodCMS, UnitMethodAMA:
	default:
		bad("unit_method must be cms (total time, the 8-minute rule) or ama (per code), not %q", p.UnitMethod)
	}
	p.DisciplineModifiers = yesNo("discipline_modifiers")
	p.AssistantModifiers = yesNo("assistant_modifiers")
	v := r.get("assistant_payment_percent")
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 100 || !allDigits(v) {
		bad("assistant_payment_percent must be a whole number from 0 to 100, not %q", v)
	}
	p.AssistantPaymentPercent = n
	p.KX = yesNo("kx")
	switch p.DistinctModifier = r.get("distinct_modifier"); p.DistinctModifier {
	case "59", "X":
	default:
		bad("distinct_modifier must be 59 or X (for XU), not %q", p.DistinctModifier)
	}
	switch v := r.get("telehealth_modifier"); v {
	case "95", "GT":
		p.TelehealthModifier = v
	case "none":
	default:
		bad("telehealth_modifier must be 95, GT or none, not %q", v)
	}
	p.TelehealthPOSHome = pos("telehealth_pos_home")
	p.TelehealthPOSOther = pos("telehealth_pos_other")
	p.ABNModifiers = yesNo("abn_modifiers")
	p.TimelyFilingDays = days("timely_filing_days")
	p.PriorAuthRequired = yesNo("prior_auth_required")
	p.AppealDays = days("appeal_days")
	return p, ok
}

// checkPayerKey says what is wrong with a payer key, or "".
func checkPayerKey(key string) string {
	if plan, ok := strings.CutPrefix(key, planPrefix); ok {
		if !slices.Contains(PlanTypes, plan) {
			return fmt.Sprintf("payer key %q names no plan type (want plan: and one of %s)", key, strings.Join(PlanTypes, ", "))
		}
		return ""
	}
	if !validPayerID(key) {
		return fmt.Sprintf("payer key %q must be plan:<plan_type> or a payer id of 1 to 80 letters, digits, '-', '_' or '.'", key)
	}
	return ""
}

// validPayerID accepts what X12 payer ids look like (NM109, up to 80
// characters), without blanks so that a key cannot hide a typo.
func validPayerID(s string) bool {
	if len(s) == 0 || len(s) > 80 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && !isUpper(c) && !(c >= 'a' && c <= 'z') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

var thresholdColumns = []string{"year", "bucket", "cents", "source"}

func (l *rulesLoader) thresholds() {
	t := l.table(ThresholdsFile, thresholdColumns)
	if t == nil {
		return
	}
	type key struct {
		year   int
		bucket string
	}
	lineOf := map[key]int{}
	for row := range t.rows() {
		ok := true
		var th Threshold
		v := row.get("year")
		y, err := strconv.Atoi(v)
		// Medicare therapy caps began in 1999.
		if err != nil || y < 1999 || y > 2100 {
			row.errorf("year must be from 1999 to 2100, not %q", v)
			ok = false
		}
		th.Year = y
		switch th.Bucket = row.get("bucket"); th.Bucket {
		case BucketOT, BucketPTSLP:
		default:
			row.errorf("bucket must be %s or %s, not %q", BucketOT, BucketPTSLP, th.Bucket)
			ok = false
		}
		if th.Cents, err = parseCents(row.get("cents")); err != nil || th.Cents == 0 {
			if err == nil {
				err = errors.New("must be more than 0")
			}
			row.errorf("cents: %v", err)
			ok = false
		}
		th.Source = row.get("source")
		if !ok {
			continue
		}
		k := key{th.Year, th.Bucket}
		if first, dup := lineOf[k]; dup {
			row.errorf("threshold %d %s repeats line %d", th.Year, th.Bucket, first)
			continue
		}
		lineOf[k] = row.line
		l.r.Thresholds = append(l.r.Thresholds, th)
	}
	// Both buckets or neither: a year with one would leave half the
	// patients without KX.
	for _, th := range l.r.Thresholds {
		other := key{th.Year, BucketOT}
		if th.Bucket == BucketOT {
			other.bucket = BucketPTSLP
		}
		if _, ok := lineOf[other]; !ok {
			t.errorf(lineOf[key{th.Year, th.Bucket}], "year %d has a threshold for %s but none for %s", th.Year, th.Bucket, other.bucket)
		}
	}
	l.add(t.err())
}

// parseCents reads a whole number of cents, 0 or more.
func parseCents(s string) (int64, error) {
	if strings.Contains(s, ".") || strings.Contains(s, "$") {
		return 0, fmt.Errorf("%q must be whole cents (6500 for $65.00)", s)
	}
	if s == "" || !allDigits(s) {
		return 0, fmt.Errorf("%q must be a whole number of cents, 0 or more", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	// A billion dollars is no price; the bound keeps sums from overflowing.
	if err != nil || n > 100_000_000_000 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n, nil
}

func (l *rulesLoader) ptp() {
	var names []string
	err := fs.WalkDir(l.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." {
				return fs.SkipDir
			}
			return nil
		}
		for _, pat := range PTPPatterns {
			// The CMS archives have used both cases for file names.
			if ok, _ := path.Match(pat, strings.ToLower(p)); ok {
				names = append(names, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		l.add(&LineError{File: ".", Msg: "list PTP files: " + err.Error()})
		return
	}
	if len(names) == 0 {
		l.add(&LineError{File: PTPFile, Msg: "missing from the rules set (no file named " + strings.Join(PTPPatterns, " or ") + ")"})
		return
	}
	var keep func(a, b string) bool
	if c := l.r.Catalog; c != nil {
		keep = func(a, b string) bool {
			_, okA := c.codes[a]
			_, okB := c.codes[b]
			return okA && okB
		}
	}
	for _, name := range names {
		f, ok := l.open(name)
		if !ok {
			continue
		}
		edits, sources, dropped, err := loadPTP(name, f, keep)
		f.Close()
		l.add(err)
		l.r.PTP = append(l.r.PTP, edits...)
		l.r.PTPOutsideCatalog += dropped
		l.addSources(name, sources)
	}
}

func (l *rulesLoader) mue() {
	f, ok := l.open(MUEFile)
	if !ok {
		return
	}
	defer f.Close()
	m, sources, err := loadMUE(MUEFile, f)
	l.add(err)
	l.r.MUE = m
	l.addSources(MUEFile, sources)
}

// catalogCode checks a code of fees.csv or allowed.csv: the clinic prices
// only what its coder can bill.
func (l *rulesLoader) catalogCode(r row, code string) bool {
	if !validProcedureCode(code) {
		r.errorf("code %q is not a procedure code", code)
		return false
	}
	if l.r.Catalog != nil {
		if _, ok := l.r.Catalog.codes[code]; !ok {
			r.errorf("code %s is not in %s", code, CodesFile)
			return false
		}
	}
	return true
}

func (l *rulesLoader) fees() {
	t := l.table(FeesFile, []string{"code", "charge_cents"})
	if t == nil {
		return
	}
	l.r.Fees.Charges = map[string]int64{}
	lineOf := map[string]int{}
	for row := range t.rows() {
		code := row.get("code")
		ok := l.catalogCode(row, code)
		cents, err := parseCents(row.get("charge_cents"))
		if err == nil && cents == 0 {
			err = errors.New("a charge must be more than 0")
		}
		if err != nil {
			row.errorf("charge_cents: %v", err)
			ok = false
		}
		if !ok {
			continue
		}
		if first, dup := lineOf[code]; dup {
			row.errorf("code %s repeats line %d", code, first)
			continue
		}
		lineOf[code] = row.line
		l.r.Fees.Charges[code] = cents
	}
	if c := l.r.Catalog; c != nil && len(t.errs) == 0 {
		var missing []string
		for _, code := range c.order {
			if _, ok := lineOf[code]; !ok {
				missing = append(missing, code)
			}
		}
		if len(missing) > 0 {
			t.errorf(0, "no charge for %s of %s: %s", plural(len(missing), "code"), CodesFile, strings.Join(missing, ", "))
		}
	}
	l.add(t.err())
}

func (l *rulesLoader) allowed() {
	t := l.table(AllowedFile, []string{"payer_key", "code", "allowed_cents"})
	if t == nil {
		return
	}
	l.r.Fees.Allowed = map[string]map[string]int64{}
	type key struct{ payer, code string }
	lineOf := map[key]int{}
	for row := range t.rows() {
		ok := true
		payer := row.get("payer_key")
		if payer != "" {
			if msg := checkPayerKey(payer); msg != "" {
				row.errorf("%s", msg)
				ok = false
			}
		}
		code := row.get("code")
		ok = l.catalogCode(row, code) && ok
		cents, err := parseCents(row.get("allowed_cents"))
		if err != nil {
			row.errorf("allowed_cents: %v", err)
			ok = false
		}
		if !ok {
			continue
		}
		k := key{payer, code}
		if first, dup := lineOf[k]; dup {
			row.errorf("payer %q code %s repeats line %d", payer, code, first)
			continue
		}
		lineOf[k] = row.line
		m := l.r.Fees.Allowed[payer]
		if m == nil {
			m = map[string]int64{}
			l.r.Fees.Allowed[payer] = m
		}
		m[code] = cents
	}
	l.add(t.err())
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// Payer finds the profile for a payer: by payer id, then by the plan
// type's default ("plan:<planType>"), then "plan:other". The profile's Key
// says which matched. ok is false only for a set without plan:other, which
// LoadRules refuses.
func (r *Rules) Payer(payerID, planType string) (PayerProfile, bool) {
	return r.payer(payerID, planKey(planType))
}

// planKey is the key of a plan type's default profile and fee table
// ("plan:<planType>"), "" for no plan type. CodeVisit makes it once for
// both lookups.
func planKey(planType string) string {
	if planType == "" {
		return ""
	}
	return planPrefix + planType
}

// payer is Payer with the plan type's key made.
func (r *Rules) payer(payerID, planKey string) (PayerProfile, bool) {
	if payerID != "" {
		if p, ok := r.Payers[payerID]; ok {
			return p, true
		}
	}
	if planKey != "" {
		if p, ok := r.Payers[planKey]; ok {
			return p, true
		}
	}
	p, ok := r.Payers[planPrefix+events.PlanOther]
	return p, ok
}

// Threshold finds the therapy threshold of a calendar year and bucket
// (BucketOT or BucketPTSLP).
func (r *Rules) Threshold(year int, bucket string) (Threshold, bool) {
	for _, t := range r.Thresholds {
		if t.Year == year && t.Bucket == bucket {
			return t, true
		}
	}
	return Threshold{}, false
}

// AllowedCents is the expected allowed amount per unit of a code: the
// payer's own, else its plan type's ("plan:<planType>"), else the set's
// fallback (payer key ""). Zero with ok true means bundled, not separately
// paid.
func (r *Rules) AllowedCents(payerID, planType, code string) (int64, bool) {
	t := r.allowedTables(payerID, planKey(planType))
	return t.cents(code)
}

// allowedTables are the tables AllowedCents consults for a payer, in
// order, so that CodeVisit finds them once per visit rather than once per
// line.
type allowedTables [3]map[string]int64

func (r *Rules) allowedTables(payerID, planKey string) allowedTables {
	var t allowedTables
	if payerID != "" {
		t[0] = r.Fees.Allowed[payerID]
	}
	if planKey != "" {
		t[1] = r.Fees.Allowed[planKey]
	}
	t[2] = r.Fees.Allowed[""]
	return t
}

func (t *allowedTables) cents(code string) (int64, bool) {
	for _, m := range t {
		if c, ok := m[code]; ok {
			return c, true
		}
	}
	return 0, false
}

// ChargeCents is the clinic's charge per unit of a code.
func (r *Rules) ChargeCents(code string) (int64, bool) {
	c, ok := r.Fees.Charges[code]
	return c, ok
}
