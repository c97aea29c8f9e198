package billing

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The CMS practitioner MUE file's column headings, compared after
// normalizeHeading.
const (
	mueCodeColumn      = "hcpcs/cpt code"
	mueValuesColumn    = "practitioner services mue values"
	mueIndicatorColumn = "mue adjudication indicator"
	mueRationaleColumn = "mue rationale"
)

// LoadMUE reads a medically unlikely edits file in the layout of the CMS
// quarterly practitioner MUE CSV: columns "HCPCS/CPT Code", "Practitioner
// Services MUE Values", "MUE Adjudication Indicator" and "MUE Rationale"
// (optional), found by name. Everything before the heading line, such as
// the CMS copyright text, is skipped; lines starting with '#' are comments.
// The indicator may be given as in the CMS file ("3 Date of Service Edit:
// Clinical") or as the digit alone. Every problem is returned as a
// *LineError, joined with errors.Join.
func LoadMUE(file string, r io.Reader) (map[string]MUE, error) {
	m, _, err := loadMUE(file, r)
	return m, err
}

func loadMUE(file string, r io.Reader) (map[string]MUE, []string, error) {
	data, err := readRulesFile(file, r)
	if err != nil {
		return nil, nil, err
	}
	if !utf8.Valid(data) {
		data = []byte(latin1(string(data)))
	}
	p := &problems{file: file}

	// Find the heading line by reading lines on their own, so that nothing
	// in the preamble, stray quotes included, can upset the CSV reader.
	var sources []string
	headerLine, offset := 0, -1
	lineNo, pos := 0, 0
	for line := range strings.Lines(string(data)) {
		lineNo++
		start := pos
		pos += len(line)
		if src, ok := strings.CutPrefix(line, sourcePrefix); ok {
			if src = strings.TrimSpace(src); src != "" {
				sources = append(sources, src)
			}
		}
		if isMUEHeading(line) {
			headerLine, offset = lineNo, start
			break
		}
	}
	if offset < 0 {
		p.errorf(0, "no heading line naming the columns %q, %q and %q", "HCPCS/CPT Code", "Practitioner Services MUE Values", "MUE Adjudication Indicator")
		return nil, nil, p.err()
	}
	// Provenance may also follow the heading.
	for line := range strings.Lines(string(data[pos:])) {
		if src, ok := strings.CutPrefix(line, sourcePrefix); ok {
			if src = strings.TrimSpace(src); src != "" {
				sources = append(sources, src)
			}
		}
	}

	cr := csv.NewReader(bytes.NewReader(data[offset:]))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	lineOf := func(l int) int { return headerLine + l - 1 }

	header, err := cr.Read()
	if err != nil {
		p.errorf(headerLine, "heading: %v", err)
		return nil, nil, p.err()
	}
	cols := map[string]int{}
	for i, h := range header {
		name := normalizeHeading(h)
		if _, dup := cols[name]; dup && name != "" {
			p.errorf(headerLine, "column %q appears twice in the heading", strings.TrimSpace(h))
		}
		cols[name] = i
	}
	for _, name := range []string{mueCodeColumn, mueValuesColumn, mueIndicatorColumn} {
		if _, ok := cols[name]; !ok {
			p.errorf(headerLine, "heading lacks the column %q", name)
		}
	}
	if len(p.errs) > 0 {
		return nil, nil, p.err()
	}
	rationaleCol, hasRationale := cols[mueRationaleColumn]

	out := map[string]MUE{}
	firstLine := map[string]int{}
	for !p.stopped {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				p.errorf(lineOf(cmp.Or(pe.StartLine, pe.Line)), "%v", pe.Err)
			} else {
				p.errorf(0, "%v", err)
			}
			// The reader's position is uncertain after a quoting error.
			break
		}
		l, _ := cr.FieldPos(0)
		line := lineOf(l)
		blank := true
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
			blank = blank && rec[i] == ""
		}
		if blank {
			continue
		}
		field := func(col int) string {
			if col < len(rec) {
				return rec[col]
			}
			return ""
		}
		m, ok := parseMUERow(p, line, field(cols[mueCodeColumn]), field(cols[mueValuesColumn]), field(cols[mueIndicatorColumn]))
		if !ok {
			continue
		}
		if hasRationale {
			m.Rationale = field(rationaleCol)
		}
		m.Source = file
		if first, dup := firstLine[m.Code]; dup {
			p.errorf(line, "code %s repeats line %d", m.Code, first)
			continue
		}
		firstLine[m.Code] = line
		out[m.Code] = m
	}
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	return out, sources, nil
}

func parseMUERow(p *problems, line int, code, units, indicator string) (m MUE, ok bool) {
	ok = true
	bad := func(format string, args ...any) {
		p.errorf(line, format, args...)
		ok = false
	}
	if m.Code = code; !validNCCICode(code) {
		bad("code %q is not a procedure code", code)
	}
	n, err := strconv.Atoi(units)
	if err != nil || n < 0 || n > 99999 || !allDigits(units) {
		bad("MUE value must be a whole number of units from 0 to 99999, not %q", units)
	}
	m.Units = n
	// "3 Date of Service Edit: Clinical": the digit decides, the words only
	// explain it.
	if len(indicator) >= 1 && indicator[0] >= '1' && indicator[0] <= '3' && (len(indicator) == 1 || !isDigit(indicator[1])) {
		m.Adjudication = int(indicator[0] - '0')
	} else {
		bad("MUE adjudication indicator must start with 1, 2 or 3, not %q", indicator)
	}
	return m, ok
}

func isMUEHeading(line string) bool {
	for field := range strings.SplitSeq(line, ",") {
		if normalizeHeading(field) == mueCodeColumn {
			return true
		}
	}
	return false
}

// normalizeHeading forgives case, quotes and spacing in column headings,
// which CMS has varied between releases.
func normalizeHeading(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	return strings.ToLower(strings.Join(strings.Fields(strings.Trim(strings.TrimSpace(s), `"`)), " "))
}

// readRulesFile reads a whole rules file within maxRulesFileSize, without a
// leading byte order mark.
func readRulesFile(file string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRulesFileSize+1))
	if err != nil {
		return nil, &LineError{File: file, Msg: "read: " + err.Error()}
	}
	if len(data) > maxRulesFileSize {
		return nil, &LineError{File: file, Msg: fmt.Sprintf("larger than %d bytes", maxRulesFileSize)}
	}
	return bytes.TrimPrefix(data, []byte("\ufeff")), nil
}

// MUEFor finds the medically unlikely edit of a code.
func (r *Rules) MUEFor(code string) (MUE, bool) {
	m, ok := r.MUE[code]
	return m, ok
}
