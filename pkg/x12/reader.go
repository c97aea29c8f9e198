package x12

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
)

// Interchange is one ISA…IEA envelope.
type Interchange struct {
	Separators Separators
	Header     ISAHeader
	ISA, IEA   Segment
	TA1        []Segment // interchange acknowledgements between ISA and the first GS
	Groups     []Group
}

// ISAHeader holds the interchange header's fields with their fixed-width
// padding removed.
type ISAHeader struct {
	AuthQualifier     string // ISA01
	AuthInfo          string // ISA02
	SecurityQualifier string // ISA03
	SecurityInfo      string // ISA04
	SenderQualifier   string // ISA05
	SenderID          string // ISA06
	ReceiverQualifier string // ISA07
	ReceiverID        string // ISA08
	Date              string // ISA09, YYMMDD
	Time              string // ISA10, HHMM
	Version           string // ISA12, 00501 for 5010
	ControlNumber     string // ISA13, nine digits
	AckRequested      bool   // ISA14 = 1: the sender wants a TA1
	Usage             string // ISA15, P production or T test
}

// Group is one functional group, GS…GE.
type Group struct {
	GS           Segment
	Transactions []Transaction
	GE           Segment
}

// Transaction is one transaction set. Segments holds the segments between
// ST and SE, both excluded.
type Transaction struct {
	ST, SE   Segment
	Segments []Segment

	// The text of the segments between ST and SE, its separators and the
	// position of its first segment in the file, for segments and ids to
	// read again.
	body  string
	sep   Separators
	first int
}

// isaWidths are the fixed widths of ISA01–ISA16 (BILLING.md §6.1).
var isaWidths = [16]int{2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1}

// isaLen is the length of an ISA segment including its terminator.
const isaLen = 106

// Parse reads every interchange in data. Separators are taken from each
// ISA, so interchanges with different delimiters may follow one another.
// CR and LF after a segment terminator are ignored. Parse checks the
// envelope: ISA field widths, SE01 against the segments counted, GE01
// against the transaction sets, IEA01 against the groups, and that
// ST02/SE02, GS06/GE02 and ISA13/IEA02 match. The first problem found is
// returned as a *SyntaxError; Parse never panics.
func Parse(data []byte) ([]Interchange, error) {
	return parse(data, true)
}

// parse is Parse. keep says whether transaction sets keep their segments
// in Segments: the readers of 835, 999 and 277CA sets do not need them
// kept, as they read each set again with Transaction.segments, one segment
// at a time, so that a large file is never held in memory as segments.
func parse(data []byte, keep bool) ([]Interchange, error) {
	p := parser{src: string(data), keep: keep}
	var out []Interchange
	for {
		p.skipBreaks()
		if p.pos >= len(p.src) {
			break
		}
		if strings.TrimSpace(p.src[p.pos:]) == "" {
			break
		}
		ic, err := p.interchange()
		if err != nil {
			return nil, err
		}
		out = append(out, ic)
	}
	if len(out) == 0 {
		return nil, &SyntaxError{Segment: 1, Msg: "no ISA segment: the input is empty"}
	}
	return out, nil
}

type parser struct {
	src   string
	pos   int
	index int // segments read so far
	sep   Separators
	keep  bool // keep the segments of transaction sets in Segments

	// The segments of every transaction set and the elements of every
	// segment are runs of these, so that reading takes a few allocations
	// rather than one or more per segment.
	segs  slab[Segment]
	elems slab[string]
}

// skipBreaks skips the line breaks many senders put after a terminator.
func (p *parser) skipBreaks() {
	for p.pos < len(p.src) && (p.src[p.pos] == '\r' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

func (p *parser) errorf(id string, elem int, format string, args ...any) error {
	return &SyntaxError{Segment: p.index, ID: id, Element: elem, Msg: fmt.Sprintf(format, args...)}
}

// isa reads the interchange header, whose fixed layout declares the
// separators of everything up to the IEA.
func (p *parser) isa() (Segment, error) {
	p.index++
	rest := p.src[p.pos:]
	if !strings.HasPrefix(rest, "ISA") {
		return Segment{}, p.errorf("", 0, "expected an ISA segment")
	}
	if len(rest) < isaLen {
		return Segment{}, p.errorf("ISA", 0, "the input ends %d bytes into the ISA segment, which has %d", len(rest), isaLen)
	}
	elem := rest[3]
	if isAlnum(elem) || elem == ' ' {
		return Segment{}, p.errorf("ISA", 0, "element separator %q is a letter, digit or space", elem)
	}
	elems := make([]string, 16)
	off := 4
	for i, w := range isaWidths[:15] {
		j := strings.IndexByte(rest[off:isaLen-1], elem)
		if j < 0 {
			return Segment{}, p.errorf("ISA", i+1, "ISA%02d is not followed by an element separator", i+1)
		}
		if j != w {
			return Segment{}, p.errorf("ISA", i+1, "ISA%02d is %d characters, want %d", i+1, j, w)
		}
		elems[i] = rest[off : off+j]
		off += j + 1
	}
	// The widths above put ISA16 at offset 104.
	elems[15] = rest[104:105]
	sep := Separators{Element: elem, Repetition: elems[10][0], Component: rest[104], Segment: rest[105]}
	if isAlnum(sep.Repetition) || sep.Repetition == ' ' {
		// 4010 used ISA11 for a standards identifier ("U"), and some
		// 5010 files kept it: such a file has no repetition separator.
		sep.Repetition = 0
	}
	if !sep.valid() {
		return Segment{}, p.errorf("ISA", 16, "separators element %q, repetition %q, component %q, segment %q are not distinct non-alphanumeric characters",
			sep.Element, sep.Repetition, sep.Component, sep.Segment)
	}
	if elems[12] == "" || !isDigits(elems[12]) {
		return Segment{}, p.errorf("ISA", 13, "ISA13 is not nine digits")
	}
	p.sep = sep
	p.pos += isaLen
	p.skipBreaks()
	if p.keep && p.segs.buf == nil {
		// Size the backing arrays once, for the whole input, from the
		// first interchange's separators: each segment ends with a
		// terminator and each element follows an element separator. An
		// interchange declaring other separators makes them grow.
		rest := p.src[p.pos:]
		p.segs = makeSlab[Segment](strings.Count(rest, string(sep.Segment)))
		p.elems = makeSlab[string](strings.Count(rest, string(sep.Element)))
	}
	return Segment{ID: "ISA", Elements: elems, Index: p.index, comp: sep.Component, rep: sep.Repetition}, nil
}

// segment reads the next segment with the current separators. ok is false
// at the end of the input.
func (p *parser) segment() (seg Segment, ok bool, err error) {
	id, raw, ok, err := p.next()
	if !ok {
		return Segment{}, false, err
	}
	return p.split(id, raw), true, nil
}

// next reads the next segment's text, without its terminator, and checks
// its identifier. ok is false at the end of the input.
func (p *parser) next() (id, raw string, ok bool, err error) {
	if p.pos >= len(p.src) {
		return "", "", false, nil
	}
	p.index++
	rest := p.src[p.pos:]
	end := strings.IndexByte(rest, p.sep.Segment)
	if end < 0 {
		if strings.TrimSpace(rest) == "" {
			p.index--
			p.pos = len(p.src)
			return "", "", false, nil
		}
		return "", "", false, p.errorf("", 0, "no segment terminator %q before the end of the input", p.sep.Segment)
	}
	raw = rest[:end]
	if p.sep.Segment == '\n' {
		raw = strings.TrimSuffix(raw, "\r")
	}
	p.pos += end + 1
	p.skipBreaks()

	// A valid identifier has two or three characters, so the element
	// separator after it is among the first four bytes, where a loop finds
	// it sooner than a call to IndexByte.
	n := 0
	for n < len(raw) && n < 4 && raw[n] != p.sep.Element {
		n++
	}
	if id = raw[:n]; !validID(id) {
		// The text is not repeated: where an identifier should be, a broken
		// file may have patient data.
		id, _, _ = cutByte(raw, p.sep.Element)
		return "", "", false, p.errorf("", 0, "the segment identifier (%d characters) is not 2 or 3 upper-case letters or digits", len(id))
	}
	return id, raw, true, nil
}

// split makes the segment next has just read from its text.
func (p *parser) split(id, raw string) Segment {
	seg := Segment{ID: id, Index: p.index, comp: p.sep.Component, rep: p.sep.Repetition}
	if len(raw) == len(id) {
		return seg // no element separator: no elements
	}
	// A loop over the bytes rather than IndexByte for each element: most
	// elements are a few bytes, shorter than a call is worth.
	raw = raw[len(id)+1:]
	start := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] == p.sep.Element {
			p.elems.add(raw[start:i])
			start = i + 1
		}
	}
	p.elems.add(raw[start:])
	seg.Elements = p.elems.run()
	return seg
}

// ids yields the identifiers of the segments between ST and SE, for a
// reader to count what it will read before it reads it with segments.
func (t *Transaction) ids() iter.Seq[string] {
	return func(yield func(string) bool) {
		p := parser{src: t.body, sep: t.sep}
		for {
			// As in segments, reading again finds no error.
			id, _, ok, _ := p.next()
			if !ok || !yield(id) {
				return
			}
		}
	}
}

// segments yields the segments between ST and SE with their position in
// the set from 0, read again from the input. Unlike Segments they take no
// memory per segment: each segment's Elements are overwritten by the next
// one's, so a reader keeps the values of elements, never the slice.
func (t *Transaction) segments() iter.Seq2[int, Segment] {
	return func(yield func(int, Segment) bool) {
		p := parser{src: t.body, index: t.first - 1, sep: t.sep}
		for i := 0; ; i++ {
			p.elems.reset()
			// parse has read this text with these separators already, so
			// reading it again finds no error.
			s, ok, _ := p.segment()
			if !ok || !yield(i, s) {
				return
			}
		}
	}
}

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

// quoteShort quotes a segment identifier for a message; anything long is
// more likely data than an identifier and is not repeated.
func quoteShort(s string) string {
	if len(s) > 8 {
		return fmt.Sprintf("of %d characters", len(s))
	}
	return strconv.Quote(s)
}

func (p *parser) interchange() (Interchange, error) {
	isa, err := p.isa()
	if err != nil {
		return Interchange{}, err
	}
	e := isa.Elements
	ic := Interchange{
		Separators: p.sep,
		ISA:        isa,
		Header: ISAHeader{
			AuthQualifier: e[0], AuthInfo: strings.TrimRight(e[1], " "),
			SecurityQualifier: e[2], SecurityInfo: strings.TrimRight(e[3], " "),
			SenderQualifier: e[4], SenderID: strings.TrimRight(e[5], " "),
			ReceiverQualifier: e[6], ReceiverID: strings.TrimRight(e[7], " "),
			Date: e[8], Time: e[9], Version: e[11], ControlNumber: e[12],
			AckRequested: e[13] == "1", Usage: e[14],
		},
	}
	for {
		seg, ok, err := p.segment()
		if err != nil {
			return Interchange{}, err
		}
		if !ok {
			return Interchange{}, &SyntaxError{Segment: isa.Index, ID: "ISA", Msg: "the interchange has no IEA"}
		}
		switch seg.ID {
		case "GS":
			g, err := p.group(seg)
			if err != nil {
				return Interchange{}, err
			}
			ic.Groups = append(ic.Groups, g)
		case "TA1":
			if len(ic.Groups) > 0 {
				return Interchange{}, p.errorf("TA1", 0, "TA1 after a functional group")
			}
			ic.TA1 = append(ic.TA1, seg)
		case "IEA":
			ic.IEA = seg
			if err := p.count(seg, 1, len(ic.Groups), "the interchange has %d functional groups"); err != nil {
				return Interchange{}, err
			}
			if got := seg.Element(2); got != ic.Header.ControlNumber {
				return Interchange{}, p.errorf("IEA", 2, "IEA02 %s does not match ISA13 %s at segment %d", got, ic.Header.ControlNumber, isa.Index)
			}
			return ic, nil
		default:
			return Interchange{}, p.errorf(seg.ID, 0, "expected GS or IEA")
		}
	}
}

func (p *parser) group(gs Segment) (Group, error) {
	g := Group{GS: gs}
	if gs.Element(6) == "" {
		return Group{}, p.errorf("GS", 6, "GS06 (group control number) is missing")
	}
	for {
		seg, ok, err := p.segment()
		if err != nil {
			return Group{}, err
		}
		if !ok {
			return Group{}, &SyntaxError{Segment: gs.Index, ID: "GS", Msg: "the functional group has no GE"}
		}
		switch seg.ID {
		case "ST":
			t, err := p.transaction(seg)
			if err != nil {
				return Group{}, err
			}
			g.Transactions = append(g.Transactions, t)
		case "GE":
			g.GE = seg
			if err := p.count(seg, 1, len(g.Transactions), "the group has %d transaction sets"); err != nil {
				return Group{}, err
			}
			if got, want := seg.Element(2), gs.Element(6); got != want {
				return Group{}, p.errorf("GE", 2, "GE02 %s does not match GS06 %s at segment %d", got, want, gs.Index)
			}
			return g, nil
		default:
			return Group{}, p.errorf(seg.ID, 0, "expected ST or GE")
		}
	}
}

func (p *parser) transaction(st Segment) (Transaction, error) {
	t := Transaction{ST: st, sep: p.sep, first: p.index + 1}
	if st.Element(2) == "" {
		return Transaction{}, p.errorf("ST", 2, "ST02 (transaction set control number) is missing")
	}
	start, n := p.pos, 0 // n counts the segments between ST and SE
	for {
		end := p.pos
		id, raw, ok, err := p.next()
		if err != nil {
			return Transaction{}, err
		}
		switch {
		case !ok:
			return Transaction{}, &SyntaxError{Segment: st.Index, ID: "ST", Msg: "the transaction set has no SE"}
		case id == "SE":
			t.SE = p.split(id, raw)
			t.body = p.src[start:end]
			t.Segments = p.segs.run()
			if err := p.count(t.SE, 1, n+2, "the transaction has %d segments"); err != nil {
				return Transaction{}, err
			}
			if got, want := t.SE.Element(2), st.Element(2); got != want {
				return Transaction{}, p.errorf("SE", 2, "SE02 %s does not match ST02 %s at segment %d", got, want, st.Index)
			}
			return t, nil
		case id == "ST" || id == "GE" || id == "GS" || id == "IEA" || id == "ISA":
			return Transaction{}, p.errorf(id, 0, "%s before the SE of the transaction set at segment %d", id, st.Index)
		}
		if p.keep {
			p.segs.add(p.split(id, raw))
		}
		n++
	}
}

// count checks a trailer's count element against what was read.
func (p *parser) count(seg Segment, elem, want int, what string) error {
	v := seg.Element(elem)
	got, err := strconv.Atoi(v)
	if err != nil || got < 0 {
		return p.errorf(seg.ID, elem, "%s%02d is not a count", seg.ID, elem)
	}
	if got != want {
		return p.errorf(seg.ID, elem, "%s%02d is %d, "+what, seg.ID, elem, got, want)
	}
	return nil
}
