package billing

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// maxPTPFileSize is larger than for other rules files: each of the four
// quarterly CMS practitioner PTP files runs to tens of megabytes.
const maxPTPFileSize = 512 << 20

// ptpPair is a PTP edit's codes in their real column order.
type ptpPair struct{ col1, col2 string }

// ptpDate is the CMS files' date layout.
const ptpDate = "20060102"

// LoadPTP reads one NCCI procedure-to-procedure file in the layout of the
// CMS quarterly practitioner files (ccipra-vNNNrN-f1.txt ... f4.txt):
// tab-separated rows of column 1 code, column 2 code, "*" when the edit
// existed before 1996, effective date YYYYMMDD, deletion date YYYYMMDD or
// "*", modifier indicator 0, 1 or 9, and the edit's rationale.
//
// The copyright and column-heading lines that open the CMS files are
// skipped: every line before the first row that starts with a procedure
// code. After that every line must be a row. Lines starting with '#' are
// comments (rcm's own files use them; CMS's do not), CRLF line ends and
// Latin-1 text are accepted. Every problem is returned as a *LineError,
// joined with errors.Join.
func LoadPTP(file string, r io.Reader) ([]PTPEdit, error) {
	edits, _, _, err := loadPTP(file, r, nil)
	return edits, err
}

// loadPTP also returns the file's "# source:" lines and how many valid
// edits keep rejected; keep nil keeps all.
func loadPTP(file string, r io.Reader, keep func(col1, col2 string) bool) (edits []PTPEdit, sources []string, dropped int, err error) {
	p := &problems{file: file}
	lr := &io.LimitedReader{R: r, N: maxPTPFileSize + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)

	var (
		lineNo    int
		started   bool
		preamble  bool
		firstLine = map[ptpKey]int{}
		// Interning: the CMS files repeat a few dozen rationales and some
		// thousands of codes across a million rows.
		strs = map[string]string{}
	)
	intern := func(s string) string {
		if v, ok := strs[s]; ok {
			return v
		}
		strs[s] = s
		return s
	}
	for sc.Scan() && !p.stopped {
		lineNo++
		line := sc.Text()
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		line = strings.TrimRight(line, "\r")
		if !utf8.ValidString(line) {
			line = latin1(line)
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if src, ok := strings.CutPrefix(line, sourcePrefix); ok && strings.TrimSpace(src) != "" {
				sources = append(sources, strings.TrimSpace(src))
			}
			continue
		}
		fields := strings.Split(line, "\t")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		if !started && !validNCCICode(fields[0]) && !looksLikePTPRow(fields) {
			preamble = true
			continue
		}
		started = true
		e, ok := parsePTPRow(p, lineNo, fields)
		if !ok {
			continue
		}
		k := ptpKey{e.Column1, e.Column2, fields[3]}
		if first, dup := firstLine[k]; dup {
			p.errorf(lineNo, "edit %s/%s effective %s repeats line %d", e.Column1, e.Column2, fields[3], first)
			continue
		}
		firstLine[k] = lineNo
		if keep != nil && !keep(e.Column1, e.Column2) {
			dropped++
			continue
		}
		e.Column1, e.Column2, e.Rationale = intern(e.Column1), intern(e.Column2), intern(e.Rationale)
		e.Source = file
		edits = append(edits, e)
	}
	switch {
	case p.stopped:
	case errors.Is(sc.Err(), bufio.ErrTooLong):
		p.errorf(lineNo+1, "line longer than 1 MiB")
	case sc.Err() != nil:
		p.errorf(0, "read: %v", sc.Err())
	case lr.N <= 0:
		p.errorf(0, "larger than %d bytes", maxPTPFileSize)
	case !started && preamble:
		p.errorf(0, "no edit rows: want tab-separated lines of column 1 code, column 2 code, *, effective date, deletion date, modifier indicator, rationale (is this a CMS practitioner PTP file?)")
	}
	if err := p.err(); err != nil {
		return nil, nil, 0, err
	}
	return edits, sources, dropped, nil
}

type ptpKey struct{ col1, col2, effective string }

// looksLikePTPRow catches a data row whose first code is mistyped, which
// would otherwise pass for preamble and vanish: a row has a date in its
// fourth field.
func looksLikePTPRow(fields []string) bool {
	return len(fields) >= 6 && len(fields[3]) == 8 && allDigits(fields[3])
}

func parsePTPRow(p *problems, line int, fields []string) (e PTPEdit, ok bool) {
	// Trailing tabs are harmless; a text editor or spreadsheet adds them.
	for len(fields) > 7 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1]
	}
	if len(fields) < 6 || len(fields) > 7 {
		p.errorf(line, "%d tab-separated fields, want 7: column 1, column 2, *, effective date, deletion date, modifier indicator, rationale", len(fields))
		return e, false
	}
	ok = true
	bad := func(format string, args ...any) {
		p.errorf(line, format, args...)
		ok = false
	}
	e.Column1, e.Column2 = fields[0], fields[1]
	if !validNCCICode(e.Column1) {
		bad("column 1 %q is not a procedure code", e.Column1)
	}
	if !validNCCICode(e.Column2) {
		bad("column 2 %q is not a procedure code", e.Column2)
	}
	if f := fields[2]; f != "" && f != "*" {
		bad("the prior-to-1996 field must be * or blank, not %q", f)
	}
	var err error
	if e.Effective, err = parsePTPDate(fields[3]); err != nil {
		bad("effective date: %v", err)
	}
	if f := fields[4]; f != "*" && f != "" {
		if e.Deleted, err = parsePTPDate(f); err != nil {
			bad("deletion date: %v", err)
		} else if !e.Effective.IsZero() && e.Deleted.Before(e.Effective) {
			bad("deletion date %s is before the effective date %s", f, fields[3])
		}
	}
	switch fields[5] {
	case "0", "1", "9":
		e.Indicator = int(fields[5][0] - '0')
	default:
		bad("modifier indicator must be 0, 1 or 9, not %q", fields[5])
	}
	if len(fields) == 7 {
		e.Rationale = fields[6]
	}
	return e, ok
}

func parsePTPDate(s string) (time.Time, error) {
	if len(s) != 8 || !allDigits(s) {
		return time.Time{}, fmt.Errorf("%q is not YYYYMMDD", s)
	}
	t, err := time.Parse(ptpDate, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a calendar date", s)
	}
	// NCCI began in 1996; year 1 would also read as "no date" (IsZero).
	if t.Year() < 1990 || t.Year() > 2199 {
		return time.Time{}, fmt.Errorf("%q is not a date of the NCCI era", s)
	}
	return t, nil
}

// validNCCICode accepts the codes of the CMS NCCI files, which besides the
// shapes validProcedureCode knows carry CPT codes ending in A (vaccine
// administration) and M (multianalyte assays): five capital letters or
// digits. Such codes are never in the catalog, so they are checked but
// not kept.
func validNCCICode(s string) bool {
	if len(s) != 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && !isUpper(s[i]) {
			return false
		}
	}
	return true
}

// latin1 reads s as ISO 8859-1, which the CMS text files use.
func latin1(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// inForce reports whether the edit applies to services on the date: from
// the effective date up to, not including, the deletion date (CMS deletes
// an edit retroactively by giving it a deletion date equal to its effective
// date). Indicator 9 edits never apply.
func (e PTPEdit) inForce(day time.Time) bool {
	return e.Indicator != 9 && !day.Before(e.Effective) && (e.Deleted.IsZero() || day.Before(e.Deleted))
}

// PTPFor finds the PTP edit in force on the date of service between two
// codes given in either order; the edit keeps its real column order, so
// Column2 is the code that is denied or needs the distinct-service
// modifier. Edits with indicator 9 (not applicable) are never returned.
func (r *Rules) PTPFor(code1, code2 string, dos time.Time) (PTPEdit, bool) {
	return r.ptpFor(code1, code2, calendarDay(dos))
}

// calendarDay is the date of service as the PTP files hold dates: its
// calendar day at midnight UTC, whatever its clock and zone.
func calendarDay(dos time.Time) time.Time {
	y, m, d := dos.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ptpFor is PTPFor on a calendarDay, which CodeVisit computes once for all
// its pairs.
func (r *Rules) ptpFor(code1, code2 string, day time.Time) (PTPEdit, bool) {
	for _, pair := range [2]ptpPair{{code1, code2}, {code2, code1}} {
		if r.ptpIndex != nil {
			for _, i := range r.ptpIndex[pair] {
				if r.PTP[i].inForce(day) {
					return r.PTP[i], true
				}
			}
			continue
		}
		for _, e := range r.PTP {
			if e.Column1 == pair.col1 && e.Column2 == pair.col2 && e.inForce(day) {
				return e, true
			}
		}
	}
	return PTPEdit{}, false
}

func indexPTP(edits []PTPEdit) map[ptpPair][]int {
	idx := make(map[ptpPair][]int, len(edits))
	for i, e := range edits {
		k := ptpPair{e.Column1, e.Column2}
		idx[k] = append(idx[k], i)
	}
	return idx
}

// problems collects the *LineErrors of a loader that does not read through
// table, with the same cap.
type problems struct {
	file    string
	errs    []error
	stopped bool
}

func (p *problems) errorf(line int, format string, args ...any) {
	if p.stopped {
		return
	}
	if len(p.errs) == maxReportedProblems {
		p.errs = append(p.errs, &LineError{File: p.file, Msg: "too many problems; stopped reading"})
		p.stopped = true
		return
	}
	p.errs = append(p.errs, &LineError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error { return errors.Join(p.errs...) }
