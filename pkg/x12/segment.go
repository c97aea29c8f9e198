package x12

import (
	"fmt"
	"strings"
)

// Separators are the four delimiters of an interchange. In 5010 they are
// declared by the ISA segment itself: the element separator is the byte at
// offset 3, the repetition separator is ISA11, the component separator is
// ISA16 (offset 104) and the segment terminator follows it (offset 105)
// (BILLING.md §6.1).
type Separators struct {
	Element    byte
	Repetition byte // 0 when the interchange declares none
	Component  byte
	Segment    byte
}

// DefaultSeparators are the delimiters most trading partners expect.
var DefaultSeparators = Separators{Element: '*', Repetition: '^', Component: ':', Segment: '~'}

// valid reports whether the separators are usable: present, distinct and
// not characters that occur in ordinary data.
func (s Separators) valid() bool {
	seps := [...]byte{s.Element, s.Component, s.Segment, s.Repetition}
	for i, c := range seps {
		if c == 0 && i < 3 {
			return false
		}
		if c == 0 {
			continue
		}
		if isAlnum(c) || c == ' ' {
			return false
		}
		for _, d := range seps[:i] {
			if c == d {
				return false
			}
		}
	}
	return true
}

// contains returns the first separator in v, or 0.
func (s Separators) contains(v string) byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case s.Element, s.Component, s.Segment:
			return c
		case s.Repetition:
			if c != 0 {
				return c
			}
		}
	}
	return 0
}

// Segment is one segment of an interchange.
type Segment struct {
	ID       string
	Elements []string // Elements[0] is element 01
	Index    int      // 1-based position of the segment in the file

	comp, rep byte
}

// Element returns element n (1-based), or "" if the segment has fewer.
func (s Segment) Element(n int) string {
	if n < 1 || n > len(s.Elements) {
		return ""
	}
	return s.Elements[n-1]
}

// Component returns component k (1-based) of element n, or "" if absent. A
// simple element is its own first component.
func (s Segment) Component(n, k int) string {
	return nth(s.Element(n), s.comp, k)
}

// components fills parts with the first len(parts) components of element
// n, as Component(n, 1), Component(n, 2)… would return them, reading the
// element once rather than once per component.
func (s Segment) components(n int, parts []string) {
	clear(parts)
	v := s.Element(n)
	if v == "" {
		return
	}
	if s.comp == 0 {
		parts[0] = v
		return
	}
	for i := range parts {
		var more bool
		parts[i], v, more = cutByte(v, s.comp)
		if !more {
			return
		}
	}
}

// Repetitions returns the repeats of element n. An element without a
// repetition separator is one repeat; an empty element has none.
func (s Segment) Repetitions(n int) []string {
	e := s.Element(n)
	if e == "" {
		return nil
	}
	if s.rep == 0 {
		return []string{e}
	}
	return strings.Split(e, string(s.rep))
}

// String renders the segment with the default separators, for messages
// and tests.
func (s Segment) String() string {
	var b strings.Builder
	b.WriteString(s.ID)
	for _, e := range s.Elements {
		b.WriteByte('*')
		if s.comp != 0 && s.comp != ':' {
			e = strings.ReplaceAll(e, string(s.comp), ":")
		}
		b.WriteString(e)
	}
	b.WriteByte('~')
	return b.String()
}

// cutByte is strings.Cut for a one-byte separator, which IndexByte finds
// faster than Index finds a one-byte string.
func cutByte(s string, sep byte) (before, after string, found bool) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// slab hands out runs of consecutive items of shared backing arrays, so
// that many small slices, such as the elements of every segment of a file,
// cost a few allocations rather than one each. Items are added to the open
// run until close ends it. When the array is full the open run moves to a
// larger one; the runs closed before stay where they are.
type slab[T any] struct {
	buf   []T
	start int // index in buf of the open run's first item
}

// makeSlab returns a slab whose first array holds n items.
func makeSlab[T any](n int) slab[T] {
	return slab[T]{buf: make([]T, 0, n)}
}

func (s *slab[T]) add(v T) {
	if len(s.buf) == cap(s.buf) {
		open := s.buf[s.start:]
		buf := make([]T, len(open), max(2*cap(s.buf), 2*len(open), 16))
		copy(buf, open)
		s.buf, s.start = buf, 0
	}
	s.buf = append(s.buf, v)
}

// open returns the items of the open run, or nil if it has none. The
// slice's capacity is its length, so that appending to it copies it rather
// than overwriting the next item added. A later add does not change it:
// call open again.
func (s *slab[T]) open() []T {
	if len(s.buf) == s.start {
		return nil
	}
	return s.buf[s.start:len(s.buf):len(s.buf)]
}

// reset empties the slab to fill its array again, overwriting the runs
// handed out before.
func (s *slab[T]) reset() { s.buf, s.start = s.buf[:0], 0 }

// close ends the open run; the next add starts another.
func (s *slab[T]) close() { s.start = len(s.buf) }

// run closes the open run and returns it.
func (s *slab[T]) run() []T {
	r := s.open()
	s.close()
	return r
}

func nth(v string, sep byte, k int) string {
	if k < 1 || v == "" {
		return ""
	}
	for ; k > 1; k-- {
		i := strings.IndexByte(v, sep)
		if sep == 0 || i < 0 {
			return ""
		}
		v = v[i+1:]
	}
	if i := strings.IndexByte(v, sep); sep != 0 && i >= 0 {
		v = v[:i]
	}
	return v
}

// SyntaxError reports a problem in an interchange being read or written.
// Segment is the 1-based position of the segment in the file and Element
// the 1-based element (0 when the problem concerns the whole segment).
// Messages name positions and lengths, never values, because values may be
// protected health information.
type SyntaxError struct {
	Segment int
	ID      string
	Element int
	Msg     string
}

func (e *SyntaxError) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("x12: segment %d: %s", e.Segment, e.Msg)
	}
	return fmt.Sprintf("x12: %s at segment %d: %s", e.ID, e.Segment, e.Msg)
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
