package billing

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
)

// LineError is one problem in a rules file. Loaders return every problem they
// find, joined with errors.Join, so that a person fixing an override
// directory sees them all at once; errors.As finds the first.
type LineError struct {
	File string
	// Line is 1-based; 0 means the file as a whole.
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
}

const (
	// maxRulesFileSize bounds what a loader reads: rules files are small,
	// and an override pointing at the wrong file should fail, not eat memory.
	maxRulesFileSize = 8 << 20
	// maxReportedProblems keeps the error of a file that is not CSV at all
	// readable.
	maxReportedProblems = 50
	sourcePrefix        = "# source:"
)

// table reads a rules CSV file: '#' starts a comment line, "# source: ..."
// comments are kept as provenance, the first other line is the header, and
// columns are found by header name so that a file's column order is free.
// Fields are trimmed of surrounding blanks. The reusable part of every
// rules loader lives here, so each loader only checks its own fields.
type table struct {
	file    string
	sources []string
	columns map[string]int
	width   int
	r       *csv.Reader
	errs    []error
	stopped bool
}

type row struct {
	line   int
	fields []string
	t      *table
}

// get returns the trimmed field of a column the header was checked to have.
func (r row) get(column string) string { return r.fields[r.t.columns[column]] }

func (r row) errorf(format string, args ...any) { r.t.errorf(r.line, format, args...) }

// openTable reads the whole file and its header, which must name exactly the
// given columns: an unknown column is more likely a typo than an extension.
// A nil table comes back only with an error about the file as a whole.
func openTable(file string, r io.Reader, columns []string) (*table, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRulesFileSize+1))
	if err != nil {
		return nil, &LineError{File: file, Msg: "read: " + err.Error()}
	}
	if len(data) > maxRulesFileSize {
		return nil, &LineError{File: file, Msg: fmt.Sprintf("larger than %d bytes", maxRulesFileSize)}
	}
	// Spreadsheets save CSV with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))

	t := &table{file: file}
	for line := range strings.Lines(string(data)) {
		if s, ok := strings.CutPrefix(line, sourcePrefix); ok {
			if s = strings.TrimSpace(s); s != "" {
				t.sources = append(t.sources, s)
			}
		}
	}
	t.r = csv.NewReader(bytes.NewReader(data))
	t.r.Comment = '#'
	t.r.TrimLeadingSpace = true
	// Field counts are checked here, against the header, for a clearer message.
	t.r.FieldsPerRecord = -1

	header, line, ok := t.record()
	if !ok {
		if err := t.err(); err != nil {
			return nil, err
		}
		return nil, &LineError{File: file, Msg: "no header line (want " + strings.Join(columns, ",") + ")"}
	}
	t.columns = make(map[string]int, len(header))
	for i, name := range header {
		switch {
		case !slices.Contains(columns, name):
			t.errorf(line, "unknown column %q in header (want %s)", name, strings.Join(columns, ","))
		case t.has(name):
			t.errorf(line, "column %q appears twice in header", name)
		default:
			t.columns[name] = i
		}
	}
	for _, name := range columns {
		if !t.has(name) {
			t.errorf(line, "header lacks column %q", name)
		}
	}
	if len(t.errs) > 0 {
		return nil, t.err()
	}
	t.width = len(header)
	return t, nil
}

func (t *table) has(column string) bool {
	_, ok := t.columns[column]
	return ok
}

// next returns the next data row; rows of the wrong width are reported and
// skipped so that one bad line does not hide the problems after it.
func (t *table) next() (row, bool) {
	for {
		fields, line, ok := t.record()
		if !ok {
			return row{}, false
		}
		if len(fields) != t.width {
			t.errorf(line, "%d fields, but the header has %d", len(fields), t.width)
			continue
		}
		return row{line: line, fields: fields, t: t}, true
	}
}

// rows ranges over what next returns.
func (t *table) rows() iter.Seq[row] {
	return func(yield func(row) bool) {
		for {
			r, ok := t.next()
			if !ok || !yield(r) {
				return
			}
		}
	}
}

// record reads one non-blank record with its line number.
func (t *table) record() ([]string, int, bool) {
	for !t.stopped {
		fields, err := t.r.Read()
		if err == io.EOF {
			return nil, 0, false
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// The record's first line is where a person looks for an
				// unclosed quote, not the end of the file where it shows.
				t.errorf(cmp.Or(pe.StartLine, pe.Line), "%v", pe.Err)
			} else {
				t.errorf(0, "%v", err)
			}
			// A quoting error leaves the reader's position uncertain, so
			// later line numbers could be wrong: stop at the first.
			t.stopped = true
			return nil, 0, false
		}
		line, _ := t.r.FieldPos(0)
		blank := true
		for i, f := range fields {
			fields[i] = strings.TrimSpace(f)
			if fields[i] != "" {
				blank = false
			}
		}
		if !blank {
			return fields, line, true
		}
	}
	return nil, 0, false
}

func (t *table) errorf(line int, format string, args ...any) {
	if t.stopped {
		return
	}
	if len(t.errs) == maxReportedProblems {
		t.errs = append(t.errs, &LineError{File: t.file, Msg: "too many problems; stopped reading"})
		t.stopped = true
		return
	}
	t.errs = append(t.errs, &LineError{File: t.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err is every problem reported so far, or nil.
func (t *table) err() error { return errors.Join(t.errs...) }
