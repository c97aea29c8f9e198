package x12

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Writer builds X12 segments in memory. Values are checked, not escaped:
// X12 has no escape mechanism, so a value containing a separator would
// change the structure of the file, and dropping the character would change
// the claim. Either would be a silent alteration; the Writer records an
// error naming the segment and element instead.
//
// Errors are sticky, like bufio.Writer's: after the first one every call is
// a no-op and Err reports it. Nothing is sent anywhere until WriteTo.
//
// A segment is built either in one call (Segment) or piece by piece (Begin,
// Elem, Comp, Money, Int, End), which allocates nothing. Empty trailing
// elements and components are omitted, as X12 requires.
type Writer struct {
	sep     Separators
	newline bool
	buf     []byte
	err     error

	segs      int // segments written to the buffer
	inSeg     bool
	id        string
	elem      int // number of the element being written
	pendElems int // empty elements not yet written
	pendComps int // empty components not yet written
	compOpen  bool

	// Envelope state, for the trailers' counts and control numbers.
	isaControl int
	groups     int
	gsControl  int
	sets       int
	stControl  string
	stStart    int // value of segs at ST
}

// NewWriter returns a Writer using sep. When newline is true a line feed
// follows every segment terminator, which many clearinghouses accept and
// people can read; it is not counted as part of any segment.
func NewWriter(sep Separators, newline bool) (*Writer, error) {
	if !sep.valid() {
		return nil, fmt.Errorf("x12: separators %q %q %q %q are not distinct non-alphanumeric characters", sep.Element, sep.Repetition, sep.Component, sep.Segment)
	}
	return &Writer{sep: sep, newline: newline}, nil
}

// Reset empties the buffer and the envelope state and clears the error,
// keeping the buffer's memory.
func (w *Writer) Reset() {
	*w = Writer{sep: w.sep, newline: w.newline, buf: w.buf[:0]}
}

// Err returns the first error recorded.
func (w *Writer) Err() error { return w.err }

// Bytes returns the segments written so far. It is valid until the next
// call that writes.
func (w *Writer) Bytes() []byte { return w.buf }

// WriteTo writes the buffered segments to dst, unless an error has been
// recorded or a segment is unfinished.
func (w *Writer) WriteTo(dst io.Writer) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.inSeg {
		return 0, fmt.Errorf("x12: segment %s is not finished", w.id)
	}
	n, err := dst.Write(w.buf)
	return int64(n), err
}

func (w *Writer) fail(elem int, format string, args ...any) {
	if w.err == nil {
		w.err = &SyntaxError{Segment: w.segs + 1, ID: w.id, Element: elem, Msg: fmt.Sprintf(format, args...)}
	}
}

// Begin starts a segment.
func (w *Writer) Begin(id string) {
	if w.err != nil {
		return
	}
	if w.inSeg {
		w.fail(0, "segment %s begun before the previous one ended", id)
		return
	}
	w.id = id
	if !validID(id) {
		w.fail(0, "segment identifier %s is not 2 or 3 upper-case letters or digits", quoteShort(id))
		return
	}
	w.inSeg, w.elem, w.pendElems, w.compOpen = true, 0, 0, false
	w.buf = append(w.buf, id...)
}

// check reports whether v may be written as (part of) an element.
func (w *Writer) check(v string, allowComp bool) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == w.sep.Element || c == w.sep.Segment || (c == w.sep.Repetition && c != 0) || (c == w.sep.Component && !allowComp) {
			w.fail(w.elem, "%s%02d contains the separator %q", w.id, w.elem, c)
			return false
		}
	}
	return true
}

// startElem opens the next element, writing any empty elements before it.
func (w *Writer) startElem() {
	for ; w.pendElems > 0; w.pendElems-- {
		w.buf = append(w.buf, w.sep.Element)
	}
	w.buf = append(w.buf, w.sep.Element)
}

// Elem adds a simple element. v may contain no separator at all.
func (w *Writer) Elem(v string) {
	if w.err != nil {
		return
	}
	w.elem++
	w.compOpen = false
	if v == "" {
		w.pendElems++
		return
	}
	if !w.check(v, false) {
		return
	}
	w.startElem()
	w.buf = append(w.buf, v...)
}

// Comp adds a composite element made of parts; trailing empty parts are
// omitted. No part may contain a separator.
func (w *Writer) Comp(parts ...string) {
	if w.err != nil {
		return
	}
	w.elem++
	w.compOpen = false
	w.pendComps = 0
	for _, v := range parts {
		w.comp(v)
	}
	if !w.compOpen && w.err == nil {
		w.pendElems++ // every part empty: the element is empty
	}
}

// comp adds one component to the composite element being written. Empty
// components are held back so that trailing ones can be dropped; leading
// and inner ones keep their positions.
func (w *Writer) comp(v string) {
	if v == "" {
		w.pendComps++
		return
	}
	if !w.check(v, false) {
		return
	}
	if !w.compOpen {
		w.startElem()
		w.compOpen = true
	} else {
		w.buf = append(w.buf, w.sep.Component)
	}
	for ; w.pendComps > 0; w.pendComps-- {
		w.buf = append(w.buf, w.sep.Component)
	}
	w.buf = append(w.buf, v...)
}

// Int adds a numeric element.
func (w *Writer) Int(n int64) {
	if w.err != nil {
		return
	}
	w.elem++
	w.compOpen = false
	w.startElem()
	w.buf = strconv.AppendInt(w.buf, n, 10)
}

// Money adds an amount given in cents as an X12 decimal (type R). The
// shortest exact form is written: 24000 → "240", 6550 → "65.5",
// 6505 → "65.05". The X12 R type makes the decimal point optional for whole
// numbers and trailing zeros unnecessary, and BILLING.md §6.2's example
// lines use this form. No floating point is involved.
func (w *Writer) Money(cents int64) {
	if w.err != nil {
		return
	}
	w.elem++
	w.compOpen = false
	w.startElem()
	w.buf = AppendMoney(w.buf, cents)
}

// AppendMoney appends cents formatted as Money does.
func AppendMoney(dst []byte, cents int64) []byte {
	if cents < 0 {
		dst = append(dst, '-')
		if cents == -cents { // math.MinInt64 has no positive counterpart
			return append(dst, "92233720368547758.08"...)
		}
		cents = -cents
	}
	dst = strconv.AppendInt(dst, cents/100, 10)
	switch c := cents % 100; {
	case c == 0:
	case c%10 == 0:
		dst = append(dst, '.', byte('0'+c/10))
	default:
		dst = append(dst, '.', byte('0'+c/10), byte('0'+c%10))
	}
	return dst
}

// Date adds a CCYYMMDD date element (X12 DT, 8 digits).
func (w *Writer) Date(t time.Time) {
	if w.err != nil {
		return
	}
	w.elem++
	w.compOpen = false
	if t.IsZero() {
		w.pendElems++
		return
	}
	w.startElem()
	w.buf = appendDate(w.buf, t)
}

func appendDate(dst []byte, t time.Time) []byte {
	y, m, d := t.Date()
	dst = appendPad(dst, y, 4)
	dst = appendPad(dst, int(m), 2)
	return appendPad(dst, d, 2)
}

func appendPad(dst []byte, n, width int) []byte {
	var b [20]byte
	s := strconv.AppendInt(b[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// End finishes the segment.
func (w *Writer) End() {
	if w.err != nil {
		return
	}
	if !w.inSeg {
		w.fail(0, "End without Begin")
		return
	}
	w.inSeg = false
	w.buf = append(w.buf, w.sep.Segment)
	if w.newline {
		w.buf = append(w.buf, '\n')
	}
	w.segs++
}

// Segment writes a whole segment. Each element may be a composite built
// with Composite, so the component separator is allowed in elements here;
// the other three separators are not. Use Begin/Elem/Comp/End for elements
// whose every character must be data.
func (w *Writer) Segment(id string, elements ...string) {
	w.Begin(id)
	for _, e := range elements {
		if w.err != nil {
			return
		}
		w.elem++
		if e == "" {
			w.pendElems++
			continue
		}
		if !w.check(e, true) {
			return
		}
		w.startElem()
		w.buf = append(w.buf, e...)
	}
	w.End()
}

// Composite joins parts with the component separator, dropping trailing
// empty parts, for use with Segment. A part containing a separator records
// an error and yields "".
func (w *Writer) Composite(parts ...string) string {
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	for i, p := range parts {
		if c := w.sep.contains(p); c != 0 {
			if w.err == nil {
				// Composite runs before the segment it feeds is begun, so
				// only the segment's position is known.
				w.err = &SyntaxError{Segment: w.segs + 1,
					Msg: fmt.Sprintf("component %d of a composite contains the separator %q", i+1, c)}
			}
			return ""
		}
	}
	return strings.Join(parts, string(w.sep.Component))
}

// InterchangeHeader holds what ISA and GS need beyond the separators.
type InterchangeHeader struct {
	AuthQualifier     string // ISA01, "00" when empty
	AuthInfo          string // ISA02, ≤ 10
	SecurityQualifier string // ISA03, "00" when empty
	SecurityInfo      string // ISA04, ≤ 10
	SenderQualifier   string // ISA05, "ZZ" (mutually defined) when empty
	SenderID          string // ISA06, ≤ 15
	ReceiverQualifier string // ISA07, "ZZ" when empty
	ReceiverID        string // ISA08, ≤ 15
	Created           time.Time
	ControlNumber     int  // ISA13, 1–999999999
	AckRequested      bool // ISA14: ask for a TA1
	Usage             string
}

// ISA writes the interchange header: exactly 106 characters with its
// terminator, fields padded to their fixed widths (BILLING.md §6.1).
func (w *Writer) ISA(h InterchangeHeader) {
	if w.err != nil {
		return
	}
	if w.sep.Repetition == 0 {
		w.fail(11, "5010 needs a repetition separator for ISA11")
		return
	}
	if h.ControlNumber < 1 || h.ControlNumber > 999999999 {
		w.id = "ISA"
		w.fail(13, "ISA13 must be 1–999999999, got %d", h.ControlNumber)
		return
	}
	if h.Usage != "P" && h.Usage != "T" {
		w.id = "ISA"
		w.fail(15, "ISA15 must be P or T")
		return
	}
	w.Begin("ISA")
	w.fixed(or(h.AuthQualifier, "00"), 2)
	w.fixed(h.AuthInfo, 10)
	w.fixed(or(h.SecurityQualifier, "00"), 2)
	w.fixed(h.SecurityInfo, 10)
	w.fixed(or(h.SenderQualifier, "ZZ"), 2)
	w.fixed(h.SenderID, 15)
	w.fixed(or(h.ReceiverQualifier, "ZZ"), 2)
	w.fixed(h.ReceiverID, 15)
	t := h.Created
	w.elem++
	w.startElem()
	w.buf = appendPad(w.buf, t.Year()%100, 2)
	w.buf = appendPad(w.buf, int(t.Month()), 2)
	w.buf = appendPad(w.buf, t.Day(), 2)
	w.elem++
	w.startElem()
	w.buf = appendPad(w.buf, t.Hour(), 2)
	w.buf = appendPad(w.buf, t.Minute(), 2)
	w.elem++
	w.startElem()
	w.buf = append(w.buf, w.sep.Repetition)
	w.fixed("00501", 5)
	w.elem++
	w.startElem()
	w.buf = appendPad(w.buf, h.ControlNumber, 9)
	if h.AckRequested {
		w.fixed("1", 1)
	} else {
		w.fixed("0", 1)
	}
	w.fixed(h.Usage, 1)
	w.elem++
	w.startElem()
	w.buf = append(w.buf, w.sep.Component)
	w.End()
	w.isaControl, w.groups = h.ControlNumber, 0
}

// fixed writes a fixed-width ISA element, padded with spaces.
func (w *Writer) fixed(v string, width int) {
	w.elem++
	if len(v) > width {
		w.fail(w.elem, "ISA%02d is %d characters, at most %d allowed", w.elem, len(v), width)
		return
	}
	if !w.check(v, false) {
		return
	}
	w.startElem()
	w.buf = append(w.buf, v...)
	for i := len(v); i < width; i++ {
		w.buf = append(w.buf, ' ')
	}
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// GS writes a functional group header. functionalID is HC for 837, version
// e.g. 005010X222A1 (BILLING.md §6.1).
func (w *Writer) GS(functionalID, sender, receiver string, created time.Time, control int, version string) {
	if w.err != nil {
		return
	}
	w.Begin("GS")
	if control < 1 || control > 999999999 {
		w.fail(6, "GS06 must be 1–999999999, got %d", control)
		return
	}
	w.Elem(functionalID)
	w.Elem(sender)
	w.Elem(receiver)
	w.Date(created)
	w.elem++
	w.startElem()
	w.buf = appendPad(w.buf, created.Hour(), 2)
	w.buf = appendPad(w.buf, created.Minute(), 2)
	w.Int(int64(control))
	w.Elem("X") // GS07: responsible agency X12
	w.Elem(version)
	w.End()
	w.groups++
	w.gsControl, w.sets = control, 0
}

// ST starts a transaction set; segment counting for SE01 starts here.
// control is written with at least four digits.
func (w *Writer) ST(id string, control int, version string) {
	if w.err != nil {
		return
	}
	w.stStart = w.segs
	w.Begin("ST")
	if control < 1 || control > 999999999 {
		w.fail(2, "ST02 must be 1–999999999, got %d", control)
		return
	}
	w.Elem(id)
	w.elem++
	w.startElem()
	start := len(w.buf)
	w.buf = appendPad(w.buf, control, 4)
	w.stControl = string(w.buf[start:])
	w.Elem(version)
	w.End()
	w.sets++
}

// SE ends the transaction set with its segment count, ST and SE included.
func (w *Writer) SE() {
	if w.err != nil {
		return
	}
	w.Begin("SE")
	w.Int(int64(w.segs - w.stStart + 1))
	w.Elem(w.stControl)
	w.End()
}

// GE ends the functional group with its count of transaction sets.
func (w *Writer) GE() {
	w.Begin("GE")
	w.Int(int64(w.sets))
	w.Int(int64(w.gsControl))
	w.End()
}

// IEA ends the interchange with its count of functional groups.
func (w *Writer) IEA() {
	w.Begin("IEA")
	w.Int(int64(w.groups))
	if w.err == nil {
		w.elem++
		w.startElem()
		w.buf = appendPad(w.buf, w.isaControl, 9)
	}
	w.End()
}
