package billing

import (
	"strconv"
	"sync"
)

// noteWriter builds the text of many notes in one buffer and makes one
// string of it at the end, so a visit's explanations cost one allocation for
// their text, not one per note: the coder runs at hundreds of thousands of
// visits a second. AllocateCMS and SplitTimed use a writer of their own; a
// CodeVisit call shares one writer between the unit notes, the assistant
// notes and its own explanations and issues.
//
// Notes refer to their text by offsets, never by slice headers or strings,
// so recording one stores no pointer: pointer stores into the heap pay GC
// write barriers, which at this allocation rate cost more than the text
// itself. Appending to buf stores only its length unless it grows. Writers
// are pooled, which keeps their buffers.
type noteWriter struct {
	buf  []byte
	mark int // where the text of the next note or span begins
	meta []noteMeta
}

var noteWriters = sync.Pool{New: func() any { return new(noteWriter) }}

// span is a piece of the writer's text, buf[start:end].
type span struct{ start, end int }

// noteMeta is one note: its text and what it is about. It holds no
// pointers, so filling it costs no GC write barriers.
type noteMeta struct {
	rule   ruleID
	source sourceID
	// fixed names the note's text when it is the same for every visit;
	// then text is unused.
	fixed fixedID
	// service is the input service the note concerns, -1 for the visit (as
	// Note.Service).
	service int
	// owner is the coder's: the line the note explains, or ownerVisit or
	// ownerPending.
	owner int
	text  span
	// src is the source's text when source is sText.
	src span
}

// Owners of a note in a CodeVisit call, besides a line index.
const (
	ownerVisit   = -1 // an explanation of the visit as a whole
	ownerPending = -2 // a note of an input service not (yet) given to a line; dropped if never given
)

type (
	ruleID   uint8
	sourceID uint8
)

const (
	rUnitsTotal ruleID = iota
	rUnitsAllocation
	rUnitsTie
	rUnitsBelow8
	rUnitsAddOn
	rUnitsMinutes
	rAssistantWhole
	rAssistantFullBlock
	rAssistantRemainingUnit
	rAssistantSplitPair
	rAssistantDeMinimis
	rAssistantUntimed
	// The coder's own.
	rUnitsMethod
	rUnitsMerged
	rUnitsNoLine
	rUnitsUntimed
	rModifierDiscipline
	rModifierAssistant
	rModifierDistinct
	rModifierTelehealth
	rModifierABN
	rModifierKX
	rModifierRequested
)

var ruleNames = [...]string{
	rUnitsTotal:             RuleUnitsTotal,
	rUnitsAllocation:        RuleUnitsAllocation,
	rUnitsTie:               RuleUnitsTie,
	rUnitsBelow8:            RuleUnitsBelow8,
	rUnitsAddOn:             RuleUnitsAddOn,
	rUnitsMinutes:           RuleUnitsMinutes,
	rAssistantWhole:         RuleAssistantWhole,
	rAssistantFullBlock:     RuleAssistantFullBlock,
	rAssistantRemainingUnit: RuleAssistantRemainingUnit,
	rAssistantSplitPair:     RuleAssistantSplitPair,
	rAssistantDeMinimis:     RuleAssistantDeMinimis,
	rAssistantUntimed:       RuleAssistantUntimed,
	rUnitsMethod:            "units.method",
	rUnitsMerged:            "units.merged",
	rUnitsNoLine:            "units.no_line",
	rUnitsUntimed:           "units.untimed",
	rModifierDiscipline:     "modifier.discipline",
	rModifierAssistant:      "modifier.assistant",
	rModifierDistinct:       "modifier.distinct",
	rModifierTelehealth:     "modifier.telehealth",
	rModifierABN:            "modifier.abn",
	rModifierKX:             "modifier.kx",
	rModifierRequested:      "modifier.requested",
}

// fixedID names a note text that is the same for every visit. Such a text
// is a constant rather than written into each visit's text, which saves
// writing it and keeps it out of the string every visit allocates.
type fixedID uint8

const (
	fNone fixedID = iota // the note's text is its span
	fDisciplineOT
	fDisciplinePT
	fDisciplineSLP
)

var fixedTexts = [...]string{
	fNone:          "",
	fDisciplineOT:  "GO: service under the OT plan of care",
	fDisciplinePT:  "GP: service under the PT plan of care",
	fDisciplineSLP: "GN: service under the SLP plan of care",
}

// textIn is the note's text, in text, the writer's buffer as a string,
// unless it is fixed.
func (m *noteMeta) textIn(text string) string {
	if m.fixed != fNone {
		return fixedTexts[m.fixed]
	}
	return text[m.text.start:m.text.end]
}

const (
	sCMSUnits sourceID = iota
	sAMAUnits
	sAddOn
	sInput
	sCQDeMinimis
	sCQSteps
	// The coder's own.
	sNone
	sPayers
	sMerged
	sModifiers
	sAssistant
	sKX
	sABN
	sText // the note's src span
)

var sourceNames = [...]string{
	sCMSUnits:    SourceCMSUnits,
	sAMAUnits:    SourceAMAUnits,
	sAddOn:       SourceAddOn,
	sInput:       SourceInput,
	sCQDeMinimis: SourceCQDeMinimis,
	sCQSteps:     SourceCQSteps,
	sNone:        "",
	sPayers:      "rules payers.csv",
	sMerged:      "First Coast, timed codes one line per DOS",
	sModifiers:   srcModifiers,
	sAssistant:   srcAssistant,
	sKX:          srcKX,
	sABN:         "CMS ABN instructions (Form CMS-R-131)",
	sText:        "",
}

// getNoteWriter takes a writer from the pool. The caller works on w, a copy
// on its own stack, so that appending to the buffers stores no pointer into
// the heap, and gives it back with release(home).
func getNoteWriter() (w noteWriter, home *noteWriter) {
	home = noteWriters.Get().(*noteWriter)
	w = *home
	w.reset()
	return w, home
}

func (w *noteWriter) reset() {
	if w.buf == nil {
		w.buf, w.meta = make([]byte, 0, 1024), make([]noteMeta, 0, 16)
	}
	w.buf, w.meta, w.mark = w.buf[:0], w.meta[:0], 0
}

// release returns the notes written and gives the writer's buffers back to
// the pool through home.
func (w *noteWriter) release(home *noteWriter) []Note {
	notes := w.notes()
	if w.small() {
		*home = *w
		noteWriters.Put(home)
	}
	return notes
}

// small reports whether the writer is worth pooling: an odd huge visit
// should not pin its buffers.
func (w *noteWriter) small() bool { return cap(w.buf) <= 64<<10 && cap(w.meta) <= 1024 }

// s writes a string. Reslicing buf in place stores only its length, where
// an append would store its pointer too and pay a GC write barrier; append
// is left for the rare growth, which keeps s small enough to be inlined at
// its hundreds of call sites. Inlined, the copy of a short constant, its
// length known, compiles to a few moves rather than a call of memmove.
func (w *noteWriter) s(s string) {
	n := len(w.buf)
	if len(s) > cap(w.buf)-n {
		w.buf = append(w.buf, s...)
		return
	}
	w.buf = w.buf[:n+len(s)]
	copy(w.buf[n:n+len(s)], s)
}

func (w *noteWriter) bytes(b []byte) {
	n := len(w.buf)
	if len(b) > cap(w.buf)-n {
		w.buf = append(w.buf, b...)
		return
	}
	w.buf = w.buf[:n+len(b)]
	copy(w.buf[n:], b)
}

// num writes a whole number as strconv.Itoa does; minutes and units are
// nearly always under 100, which skip strconv.
func (w *noteWriter) num(i int) {
	n := len(w.buf)
	switch {
	case i >= 0 && i < 10 && cap(w.buf)-n >= 1:
		w.buf = w.buf[:n+1]
		w.buf[n] = byte('0' + i)
	case i >= 10 && i < 100 && cap(w.buf)-n >= 2:
		w.buf = w.buf[:n+2]
		w.buf[n], w.buf[n+1] = byte('0'+i/10), byte('0'+i%10)
	default:
		var tmp [20]byte
		w.bytes(strconv.AppendInt(tmp[:0], int64(i), 10))
	}
}

// mins writes "23 min".
func (w *noteWriter) mins(m int) {
	w.num(m)
	w.s(" min")
}

// count writes "1 unit", "2 units".
func (w *noteWriter) count(n int, one, many string) {
	w.num(n)
	if n == 1 {
		w.s(one)
	} else {
		w.s(many)
	}
}

// dollars writes cents as $1,234.56 without floating point. Every visit
// writes three or four amounts, so the usual one, not negative, is written
// digit by digit from the right into a small buffer, without strconv and
// its copies; dollarsAnySign writes the others.
func (w *noteWriter) dollars(cents int64) {
	if cents < 0 {
		w.dollarsAnySign(cents)
		return
	}
	u := uint64(cents) // unsigned division by 10 is a little cheaper
	var tmp [26]byte   // "$92,233,720,368,547,758.07", math.MaxInt64 cents
	i := len(tmp) - 3
	tmp[i], tmp[i+1], tmp[i+2] = '.', byte('0'+u/10%10), byte('0'+u%10)
	for whole, n := u/100, uint(1); ; n++ {
		i--
		tmp[i] = byte('0' + whole%10)
		if whole /= 10; whole == 0 {
			break
		}
		if n%3 == 0 {
			i--
			tmp[i] = ','
		}
	}
	i--
	tmp[i] = '$'
	w.bytes(tmp[i:])
}

// dollarsAnySign is dollars for any amount.
func (w *noteWriter) dollarsAnySign(cents int64) {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	var digits [20]byte
	whole := strconv.AppendInt(digits[:0], cents/100, 10)
	var tmp [32]byte
	b := tmp[:0]
	if neg {
		b = append(b, '-')
	}
	b = append(b, '$')
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, d)
	}
	// Only math.MinInt64 is still negative here; it is written as it
	// always was rather than made right.
	frac := cents % 100
	b = append(b, '.', byte('0'+frac/10), byte('0'+frac%10))
	w.bytes(b)
}

// span closes the text written since the last note or span, for a text
// that is not a note of its own (an issue's message, a note's source, a
// text several notes share).
func (w *noteWriter) span() span {
	sp := span{w.mark, len(w.buf)}
	w.mark = len(w.buf)
	return sp
}

// end closes the note of an input service (or the visit, service -1) whose
// text was written since the last note or span.
func (w *noteWriter) end(rule ruleID, source sourceID, service int) {
	w.add(noteMeta{rule: rule, source: source, service: service, owner: ownerPending, text: w.span()})
}

// add records a note whose text is already written. Like s, it reslices
// meta in place rather than append to it, so that it stores no pointer.
func (w *noteWriter) add(m noteMeta) {
	n := len(w.meta)
	if n == cap(w.meta) {
		w.meta = append(w.meta, m)
		return
	}
	w.meta = w.meta[:n+1]
	w.meta[n] = m
}

// notes makes the notes written, for the exported functions that return
// []Note.
func (w *noteWriter) notes() []Note {
	if len(w.meta) == 0 {
		return nil
	}
	text := string(w.buf)
	out := make([]Note, len(w.meta))
	for i := range w.meta {
		m := &w.meta[i]
		out[i] = Note{Rule: ruleNames[m.rule], Text: m.textIn(text), Source: sourceNames[m.source], Service: m.service}
	}
	return out
}
