package payersim

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rcm-health/rcm/pkg/x12"
)

// maxErrors bounds the IK3 loops reported per set, so a hostile file with
// thousands of bad segments gets a small answer; the first ones are what a
// biller needs.
const maxErrors = 20

// input is what the answers are built from, read either from a file that
// parses or, leniently, from one that does not.
type input struct {
	sep     x12.Separators // used for the answers too
	newline bool           // the 837 put line breaks after terminators
	header  x12.ISAHeader  // of the first interchange
	created time.Time      // the 837's creation time
	groups  []group
	problem error // the parse error, nil for a file that parses
}

// group is one functional group of the 837 and its 999 verdict.
type group struct {
	id, control, version string // GS01, GS06, GS08
	sender, receiver     string // GS02, GS03
	date, time           string // GS04, GS05
	included             int    // GE01 as sent, or the sets found
	sets                 []set
	code                 string // AK905
}

// set is one transaction set and its 999 verdict.
type set struct {
	id, control, version string // ST01, ST02, ST03
	report               bool   // gets an AK2 loop
	errs                 []segError
	codes                []string // IK502…
	data                 *set837  // claims, for an accepted 837
}

// clean cuts the group's echoed values at any separator of the answers.
func (g *group) clean(c func(string) string) {
	for _, v := range []*string{&g.id, &g.control, &g.version, &g.sender, &g.receiver} {
		*v = c(*v)
	}
}

// clean cuts v at the first separator of the answers. Values read from
// the 837 contain none of its element and segment separators, but may hold
// its component or repetition separator, or the repetition separator
// chosen when the 837 declared none; echoing them whole would change the
// answer's structure.
func (in *input) clean(v string) string {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case in.sep.Element, in.sep.Component, in.sep.Repetition, in.sep.Segment:
			return v[:i]
		}
	}
	return v
}

func (s *set) accepted() bool { return s.report && len(s.codes) == 0 && len(s.errs) == 0 }

// segError is one IK3 loop with at most one IK4.
type segError struct {
	id   string // IK301
	pos  int    // IK302, ST = 1
	loop string // IK303
	code string // IK304
	elem int    // IK401, 0 for no IK4
	ref  string // IK402
	ecod string // IK403
}

// Acknowledge answers one 837P file with a 999 and, when the 999 accepted
// at least one transaction set, a 277CA for the claims of the accepted
// sets. The answers are addressed back to the sender (ISA and GS sender
// and receiver swapped) and written with the 837's own delimiters, so that
// every value echoed from it is free of them. See the package comment for
// the checks and codes.
func Acknowledge(file []byte, cfg Config) (Response, error) {
	if err := cfg.validate(); err != nil {
		return Response{}, err
	}
	in, err := read(file)
	if err != nil {
		return Response{}, err
	}
	var sum Summary
	if in.problem != nil {
		sum.Problem = in.problem.Error()
	}

	now := cfg.Now
	if now.IsZero() {
		now = in.created
	}
	ctl := cfg.ControlNumber
	if ctl == 0 {
		ctl = int(draw(cfg.Seed, "isa", in.header.SenderID, in.header.ControlNumber)%999999998) + 1
	}
	env := envelope{in: in, created: now}

	ack999, err := env.write999(ctl)
	if err != nil {
		return Response{}, err
	}
	for _, g := range in.groups {
		sum.Groups++
		sum.SetsReceived += len(g.sets)
		for _, s := range g.sets {
			if s.accepted() {
				sum.SetsAccepted++
			}
		}
	}
	resp := Response{Ack999: ack999}
	if sum.SetsAccepted > 0 {
		resp.Ack277, err = env.write277(ctl%999999999+1, &cfg, &sum)
		if err != nil {
			return Response{}, err
		}
	}
	resp.Summary = sum
	return resp, nil
}

// read parses the file, checks every set of a file that parses, and falls
// back to a lenient reading of one that does not.
func read(file []byte) (*input, error) {
	ics, perr := x12.Parse(file)
	if perr != nil {
		return readBroken(file, perr)
	}
	in := &input{sep: answerSeparators(ics[0].Separators), header: ics[0].Header}
	in.newline = lineBreaks(file)
	for _, ic := range ics {
		for _, g := range ic.Groups {
			gr := group{
				id: g.GS.Element(1), control: g.GS.Element(6), version: g.GS.Element(8),
				sender: g.GS.Element(2), receiver: g.GS.Element(3),
				date: g.GS.Element(4), time: g.GS.Element(5),
				included: len(g.Transactions),
			}
			gr.clean(in.clean)
			if gr.id == "" || gr.control == "" {
				// AK101 must echo GS01; a group without one cannot be
				// acknowledged, and its sets are counted nowhere.
				continue
			}
			in.check(&gr, g.Transactions)
			in.groups = append(in.groups, gr)
		}
	}
	if len(in.groups) == 0 {
		return nil, fmt.Errorf("%w: the file holds no functional group with GS01 and GS06", ErrUnreadable)
	}
	in.created = created(in.groups[0], in.header)
	return in, nil
}

// check gives each transaction set of a parsed group its 999 verdict.
func (in *input) check(g *group, txs []x12.Transaction) {
	switch {
	case g.id != "HC":
		g.code = "1" // functional group not supported
	case g.version != Version837P:
		g.code = "2" // functional group version not supported
	}
	seen := make(map[string]bool, len(txs))
	for _, tx := range txs {
		s := set{id: in.clean(tx.ST.Element(1)), control: in.clean(tx.ST.Element(2)), version: in.clean(tx.ST.Element(3))}
		s.report = s.id != "" && s.control != "" // AK201 and AK202 are required
		switch {
		case !s.report:
			// Nothing to echo in AK2: the set is counted in AK903 only.
		case g.code == "1" || s.id != "837":
			s.codes = []string{"1"}
		case seen[s.control]:
			s.codes = []string{"23"} // control number not unique in the group
		case s.version != "" && s.version != Version837P:
			s.errs = []segError{{id: "ST", pos: 1, code: "8", elem: 3, ref: "1705", ecod: "7"}}
			s.codes = []string{"I6"}
		case g.code == "2":
			s.codes = []string{"I6"}
		default:
			d, errs := readSet(tx, in.clean)
			if len(errs) > 0 {
				s.errs, s.codes = errs, []string{"5"}
			} else {
				s.data = d
			}
		}
		seen[s.control] = true
		g.sets = append(g.sets, s)
	}
}

// readBroken reads what it can of a file x12.Parse refused: the ISA (via a
// probe that Parse checks), then the GS, ST, SE and GE segments by their
// position, to reject the file with a 999 that points at the error.
func readBroken(file []byte, perr error) (*input, error) {
	unreadable := func() error { return fmt.Errorf("%w: %w", ErrUnreadable, perr) }
	s := strings.TrimLeft(string(file), "\r\n")
	const isaLen = 106
	if len(s) < isaLen || !strings.HasPrefix(s, "ISA") {
		return nil, unreadable()
	}
	isa := s[:isaLen]
	// An interchange with no group is valid; Parse checks the ISA's widths
	// and separators for us. ISA13 sits at offset 90 when they are right.
	el, term := string(isa[3]), string(isa[105])
	probe := isa + "IEA" + el + "0" + el + isa[90:99] + term
	ics, err := x12.Parse([]byte(probe))
	if err != nil {
		return nil, unreadable()
	}
	in := &input{sep: answerSeparators(ics[0].Separators), header: ics[0].Header, problem: perr}
	in.newline = lineBreaks(file)

	at := 0 // the segment in error, 1-based as Parse counts
	var se *x12.SyntaxError
	if errors.As(perr, &se) {
		at = se.Segment
	}
	groups := scan(s[isaLen:], ics[0].Separators)
	for _, sg := range groups {
		g := group{
			id: sg.id, control: sg.control, version: sg.version,
			sender: sg.sender, receiver: sg.receiver, date: sg.date, time: sg.time,
			included: len(sg.sets),
		}
		g.clean(in.clean)
		if g.id == "" || g.control == "" {
			continue // AK101 and AK102 are required
		}
		if n, err := strconv.Atoi(sg.ge01); err == nil && n >= 0 && n <= 999999999 {
			g.included = n
		}
		for _, ss := range sg.sets {
			st := set{id: in.clean(ss.id), control: in.clean(ss.control), version: in.clean(ss.version)}
			if st.id != "" && st.control != "" && ss.start <= at && (ss.end == 0 || at <= ss.end) {
				st.report = true
				brokenSet(&st, ss, se, at)
			}
			g.sets = append(g.sets, st)
		}
		switch {
		case sg.geIndex == 0:
			g.code = "3" // functional group trailer missing
		case at == sg.geIndex && se != nil && se.Element == 1:
			g.code = "5" // number of included sets does not match
		case at == sg.geIndex && se != nil && se.Element == 2:
			g.code = "4" // group control numbers do not agree
		}
		in.groups = append(in.groups, g)
	}
	if len(in.groups) == 0 {
		return nil, unreadable()
	}
	in.created = created(in.groups[0], in.header)
	return in, nil
}

// brokenSet describes the error at segment at, which lies in the set.
func brokenSet(st *set, ss scannedSet, se *x12.SyntaxError, at int) {
	switch {
	case ss.end == 0:
		st.codes = []string{"2"} // transaction set trailer missing
	case at == ss.end && se != nil && se.Element == 1:
		st.codes = []string{"4"} // segment count does not match
	case at == ss.end && se != nil && se.Element == 2:
		st.codes = []string{"3"} // control numbers do not match
	}
	if at > ss.start && at != ss.end {
		if seg, ok := ss.segment(at); ok && !seg.partial {
			e := segError{id: seg.id, pos: at - ss.start + 1, code: "2"} // unexpected segment
			if !validID(seg.id) {
				// The identifier found is not echoed: it is not one, and
				// may be data.
				e.id, e.code = "UNK", "1" // unrecognized segment ID
			}
			st.errs = append(st.errs, e)
		}
	}
	if len(st.codes) == 0 || len(st.errs) > 0 && st.codes[0] != "5" {
		st.codes = append(st.codes, "5") // one or more segments in error
	}
}

// created returns the 837's creation time from GS04/GS05, or ISA09/ISA10,
// or a fixed date, so the answers' dates depend only on the file.
func created(g group, h x12.ISAHeader) time.Time {
	hhmm := func(v string) string {
		if len(v) >= 4 {
			return v[:4]
		}
		return "0000"
	}
	if t, err := time.Parse("200601021504", g.date+hhmm(g.time)); err == nil {
		return t
	}
	if t, err := time.Parse("0601021504", h.Date+hhmm(h.Time)); err == nil {
		return t
	}
	return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
}

// answerSeparators returns the separators for the answers: the 837's, with
// a repetition separator chosen when it declared none (4010 style), since
// the writer needs one for ISA11.
func answerSeparators(s x12.Separators) x12.Separators {
	if s.Repetition != 0 {
		return s
	}
	for _, c := range []byte("^{}!`|\\") {
		if c != s.Element && c != s.Component && c != s.Segment {
			s.Repetition = c
			break
		}
	}
	return s
}

// lineBreaks reports whether the 837 put a line break after its ISA, so
// the answers are laid out the same way.
func lineBreaks(file []byte) bool {
	f := bytes.TrimLeft(file, "\r\n")
	return len(f) > 106 && f[105] != '\n' && (f[106] == '\n' || f[106] == '\r')
}

// validID reports whether id has the shape of a segment identifier.
func validID(id string) bool {
	if len(id) < 2 || len(id) > 3 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
