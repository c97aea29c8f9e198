package x12

import (
	"fmt"
	"strconv"
	"strings"
)

// This file reads the 999 Implementation Acknowledgment (005010X231A1,
// BILLING.md §6.3). A 999 says whether each transaction set of a group we
// sent passed syntax and implementation-guide checks; it says nothing about
// whether a payer will pay. Values that could be protected health
// information are never copied: IK404 (the bad data itself) is skipped and
// CTX01-2 is kept only when it is our own patient control number.

// AckCode is an acknowledgement code of a 999: IK501 for one transaction
// set (code list 717) or AK901 for the whole functional group (code list
// 715, which adds P).
type AckCode string

// The acknowledgement codes of IK501 and AK901.
const (
	AckAccepted          AckCode = "A" // accepted
	AckAcceptedErrors    AckCode = "E" // accepted, but errors were noted
	AckPartiallyAccepted AckCode = "P" // AK901 only: at least one set rejected
	AckRejected          AckCode = "R" // rejected
	AckRejectedMAC       AckCode = "M" // rejected: message authentication code failed
	AckRejectedAssurance AckCode = "W" // rejected: assurance failed validity tests
	AckRejectedContent   AckCode = "X" // rejected: content after decryption could not be analysed
)

// Accepted reports whether the code lets the acknowledged set (or group)
// go on. E counts as accepted: the receiver noted errors but took the
// data, so resending it would duplicate it.
func (c AckCode) Accepted() bool { return c == AckAccepted || c == AckAcceptedErrors }

// Rejected reports whether the code refuses the data. P (AK901 only) is
// neither accepted nor rejected: the group's IK5 segments say which sets
// went through. An unknown code is neither too, so that callers hold the
// claims for a person instead of guessing.
func (c AckCode) Rejected() bool {
	switch c {
	case AckRejected, AckRejectedMAC, AckRejectedAssurance, AckRejectedContent:
		return true
	}
	return false
}

// String returns the code's meaning in plain words.
func (c AckCode) String() string {
	if w, ok := ackWords[c]; ok {
		return w
	}
	return "unknown acknowledgement code " + strconv.Quote(string(c))
}

var ackWords = map[AckCode]string{
	AckAccepted:          "accepted",
	AckAcceptedErrors:    "accepted with errors noted",
	AckPartiallyAccepted: "partially accepted (some transaction sets rejected)",
	AckRejected:          "rejected",
	AckRejectedMAC:       "rejected: message authentication failed",
	AckRejectedAssurance: "rejected: assurance failed validity tests",
	AckRejectedContent:   "rejected: content could not be analysed after decryption",
}

// Ack999 is one 999 transaction set: the answer to one functional group we
// sent.
type Ack999 struct {
	ControlNumber      string // ST02 of the 999 itself
	Version            string // ST03, or GS08 when ST03 is empty
	InterchangeControl string // ISA13 of the interchange holding the 999
	Segment            int    // position of the ST in the file

	FunctionalID string // AK101: GS01 of the acknowledged group (HC for an 837)
	GroupControl string // AK102: GS06 of the acknowledged group
	GroupVersion string // AK103: GS08 of the acknowledged group

	Sets []SetAck // one per AK2 loop

	Status       AckCode  // AK901
	SetsIncluded int      // AK902: transaction sets in the acknowledged group
	SetsReceived int      // AK903
	SetsAccepted int      // AK904
	GroupErrors  []string // AK905–AK909, code list 716
}

// Accepted reports whether AK901 accepts the whole group (A or E).
func (a *Ack999) Accepted() bool { return a.Status.Accepted() }

// Reason explains in plain words why the group was not wholly accepted, or
// returns "" when it was accepted without group-level errors.
func (a *Ack999) Reason() string {
	if a.Status.Accepted() && len(a.GroupErrors) == 0 {
		return ""
	}
	parts := []string{fmt.Sprintf("group %s %s (%d of %d transaction sets accepted)",
		a.GroupControl, a.Status, a.SetsAccepted, a.SetsReceived)}
	for _, c := range a.GroupErrors {
		parts = append(parts, codeWords(groupErrorWords, c, "group error"))
	}
	return strings.Join(parts, "; ")
}

// SetAck is the acknowledgement of one transaction set (AK2 … IK5).
type SetAck struct {
	ID            string // AK201: ST01 of the acknowledged set, e.g. 837
	ControlNumber string // AK202: ST02 of the acknowledged set
	Version       string // AK203: ST03 of the acknowledged set
	Segment       int    // position of the AK2 in the file

	Errors []SegmentError // IK3 loops

	Status AckCode  // IK501
	Codes  []string // IK502–IK506, code list 618
}

// Accepted reports whether IK501 accepts the set (A or E).
func (s *SetAck) Accepted() bool { return s.Status.Accepted() }

// Reason explains the set's status in plain words from IK5, IK3 and IK4,
// with the raw codes in brackets so a biller can look them up. It returns
// "" for a set accepted without any noted error.
func (s *SetAck) Reason() string {
	if s.Status == AckAccepted && len(s.Codes) == 0 && len(s.Errors) == 0 {
		return ""
	}
	parts := []string{fmt.Sprintf("transaction set %s %s", s.ControlNumber, s.Status)}
	for _, c := range s.Codes {
		parts = append(parts, codeWords(setErrorWords, c, "transaction set error"))
	}
	for _, e := range s.Errors {
		parts = append(parts, e.words())
	}
	return strings.Join(parts, "; ")
}

// SegmentError is one IK3 loop: a segment of the acknowledged set that
// failed a check.
type SegmentError struct {
	SegmentID string // IK301
	Position  int    // IK302: 1-based position in the acknowledged set, ST = 1
	LoopID    string // IK303, e.g. 2300
	Code      string // IK304, code list 620 (1–8 and I-codes)
	Segment   int    // position of the IK3 in the file

	Context  []Context      // CTX segments of the IK3 loop
	Elements []ElementError // IK4 loops
}

func (e SegmentError) words() string {
	var b strings.Builder
	fmt.Fprintf(&b, "segment %s at position %d", e.SegmentID, e.Position)
	if e.LoopID != "" {
		fmt.Fprintf(&b, " in loop %s", e.LoopID)
	}
	if pcn := e.claim(); pcn != "" {
		fmt.Fprintf(&b, " of claim %s", pcn)
	}
	if e.Code != "" {
		b.WriteString(": " + codeWords(segmentErrorWords, e.Code, "segment error"))
	}
	for _, el := range e.Elements {
		fmt.Fprintf(&b, "; element %s%02d", e.SegmentID, el.Position)
		if el.Component > 0 {
			fmt.Fprintf(&b, "-%d", el.Component)
		}
		if el.Reference != "" {
			fmt.Fprintf(&b, " (data element %s)", el.Reference)
		}
		b.WriteString(": " + codeWords(elementErrorWords, el.Code, "element error"))
	}
	return b.String()
}

// claim returns the patient control number a business-unit CTX names.
func (e SegmentError) claim() string {
	for _, c := range e.Context {
		if c.Reference != "" {
			return c.Reference
		}
	}
	return ""
}

// ElementError is one IK4 loop: an element of a segment in error. The bad
// value (IK404) is deliberately not kept: it may be a member id or a name.
type ElementError struct {
	Position  int    // IK401-1: element position in the segment
	Component int    // IK401-2: component position, 0 if none
	Repeat    int    // IK401-3: repetition, 0 if none
	Reference string // IK402: data element reference number
	Code      string // IK403, code list 621 (1–13 and I-codes)
	Segment   int    // position of the IK4 in the file

	Context []Context // CTX segments of the IK4 loop
}

// Context is a CTX segment: where an error sits, or which business object
// (for an 837, the claim) it belongs to.
type Context struct {
	Name string // CTX01-1: "SITUATIONAL TRIGGER" or a business unit such as CLM01
	// Reference is CTX01-2 when Name is CLM01: the patient control number
	// we assigned, which finds the claim. Any other CTX01-2 is dropped as
	// it could be patient data.
	Reference  string
	SegmentID  string // CTX02
	Position   int    // CTX03: segment position in the acknowledged set
	LoopID     string // CTX04
	Element    int    // CTX05-1
	Component  int    // CTX05-2
	Repeat     int    // CTX05-3
	ElementRef string // CTX06-1: data element reference number
}

// TransactionTypeError reports an input holding another kind of
// transaction than the reader handles, such as a 999 given to Read277CA.
// Callers may route the file elsewhere instead of setting it aside as
// broken.
type TransactionTypeError struct {
	Segment int    // 1-based position of the segment that tells the type
	ID      string // that segment: GS, ST, BHT or ISA
	Got     string // the code found (GS01, ST01 or BHT01:BHT02); "" if none
	Want    string // what the reader reads: "999" or "277CA"
}

func (e *TransactionTypeError) Error() string {
	got := "nothing"
	if e.Got != "" {
		got = quoteShort(e.Got)
		if w, ok := kindWords[e.Got]; ok {
			got += " (" + w + ")"
		}
	}
	return fmt.Sprintf("x12: %s at segment %d: found %s where a %s was expected", e.ID, e.Segment, got, e.Want)
}

var kindWords = map[string]string{
	"FA": "a 999 or 997 acknowledgement", "HN": "a 277 claim acknowledgement", "HC": "an 837 claim",
	"HP": "an 835 remittance", "HS": "a 270 eligibility inquiry", "HB": "a 271 eligibility response",
	"HR": "a 276 claim status inquiry", "0010:08": "a 277 claim status response",
	"997": "a 4010 functional acknowledgement", "837": "a claim", "835": "a remittance",
}

// Read999 reads every 999 transaction set in data. The envelope is checked
// by Parse; Read999 then checks the 999's own structure (AK1 first, each
// AK2 closed by an IK5, IK4 inside an IK3, one AK9 last) and that the
// numbers are numbers. Malformed input gives a *SyntaxError naming the
// segment; a group that is not a 999 (GS01 other than FA, or ST01 other
// than 999) gives a *TransactionTypeError. Read999 never panics.
func Read999(data []byte) ([]Ack999, error) {
	return readSets(data, "FA", "999", "999", read999, func(a *Ack999, ic Interchange, g Group) {
		a.InterchangeControl = ic.Header.ControlNumber
		if a.Version == "" {
			a.Version = g.GS.Element(8)
		}
	})
}

// readSets parses data and reads every transaction set of functional group
// gs01 and set type st01 with read; finish fills what the set takes from its
// envelope. Another group or set type is a *TransactionTypeError naming
// want, and so is a file with no set at all.
func readSets[T any](data []byte, gs01, st01, want string, read func(Transaction) (T, error), finish func(*T, Interchange, Group)) ([]T, error) {
	ics, err := parse(data, false)
	if err != nil {
		return nil, err
	}
	// Size the result once: a payer's file may hold hundreds of sets, and
	// a Remit is large to copy as a growing slice would.
	var sets int
	for _, ic := range ics {
		for _, g := range ic.Groups {
			sets += len(g.Transactions)
		}
	}
	out := make([]T, 0, sets)
	for _, ic := range ics {
		for _, g := range ic.Groups {
			if f := g.GS.Element(1); f != gs01 {
				return nil, &TransactionTypeError{Segment: g.GS.Index, ID: "GS", Got: f, Want: want}
			}
			for _, tx := range g.Transactions {
				if id := tx.ST.Element(1); id != st01 {
					return nil, &TransactionTypeError{Segment: tx.ST.Index, ID: "ST", Got: id, Want: want}
				}
				a, err := read(tx)
				if err != nil {
					return nil, err
				}
				// finish takes the element of out, not &a, which would
				// move every a to the heap.
				out = append(out, a)
				finish(&out[len(out)-1], ic, g)
			}
		}
	}
	if len(out) == 0 {
		return nil, &TransactionTypeError{Segment: ics[0].ISA.Index, ID: "ISA", Want: want}
	}
	return out, nil
}

func read999(tx Transaction) (Ack999, error) {
	a := Ack999{ControlNumber: tx.ST.Element(2), Version: tx.ST.Element(3), Segment: tx.ST.Index}
	var (
		set     *SetAck       // open AK2 loop, nil once its IK5 is read
		segErr  *SegmentError // open IK3 loop
		elemErr *ElementError // open IK4 loop
		haveAK1 bool
		haveAK9 bool
	)
	for _, s := range tx.segments() {
		if haveAK9 {
			return Ack999{}, segError(s, 0, "segment after the AK9, which ends the 999")
		}
		if !haveAK1 && s.ID != "AK1" {
			return Ack999{}, segError(s, 0, "the 999 must start with AK1")
		}
		switch s.ID {
		case "AK1":
			if haveAK1 {
				return Ack999{}, segError(s, 0, "a second AK1 in one 999")
			}
			haveAK1 = true
			a.FunctionalID, a.GroupControl, a.GroupVersion = s.Element(1), s.Element(2), s.Element(3)
			if a.FunctionalID == "" {
				return Ack999{}, segError(s, 1, "AK101 (functional identifier) is missing")
			}
			if a.GroupControl == "" {
				return Ack999{}, segError(s, 2, "AK102 (group control number) is missing")
			}
		case "AK2":
			if set != nil {
				return Ack999{}, segError(s, 0, "AK2 before the IK5 of the AK2 at segment %d", set.Segment)
			}
			a.Sets = append(a.Sets, SetAck{ID: s.Element(1), ControlNumber: s.Element(2), Version: s.Element(3), Segment: s.Index})
			set, segErr, elemErr = &a.Sets[len(a.Sets)-1], nil, nil
			if set.ID == "" {
				return Ack999{}, segError(s, 1, "AK201 (transaction set identifier) is missing")
			}
			if set.ControlNumber == "" {
				return Ack999{}, segError(s, 2, "AK202 (transaction set control number) is missing")
			}
		case "IK3":
			if set == nil {
				return Ack999{}, segError(s, 0, "IK3 outside an AK2 loop")
			}
			pos, err := intElem(s, 2, true)
			if err != nil {
				return Ack999{}, err
			}
			set.Errors = append(set.Errors, SegmentError{SegmentID: s.Element(1), Position: pos, LoopID: s.Element(3), Code: s.Element(4), Segment: s.Index})
			segErr, elemErr = &set.Errors[len(set.Errors)-1], nil
			if segErr.SegmentID == "" {
				return Ack999{}, segError(s, 1, "IK301 (segment identifier) is missing")
			}
		case "IK4":
			if segErr == nil {
				return Ack999{}, segError(s, 0, "IK4 outside an IK3 loop")
			}
			e := ElementError{Reference: s.Element(2), Code: s.Element(3), Segment: s.Index}
			var err error
			if e.Position, err = intComp(s, 1, 1, true); err != nil {
				return Ack999{}, err
			}
			if e.Component, err = intComp(s, 1, 2, false); err != nil {
				return Ack999{}, err
			}
			if e.Repeat, err = intComp(s, 1, 3, false); err != nil {
				return Ack999{}, err
			}
			if e.Code == "" {
				return Ack999{}, segError(s, 3, "IK403 (element error code) is missing")
			}
			segErr.Elements = append(segErr.Elements, e)
			elemErr = &segErr.Elements[len(segErr.Elements)-1]
		case "CTX":
			c, err := readCTX(s)
			if err != nil {
				return Ack999{}, err
			}
			switch {
			case elemErr != nil:
				elemErr.Context = append(elemErr.Context, c)
			case segErr != nil:
				segErr.Context = append(segErr.Context, c)
			default:
				return Ack999{}, segError(s, 0, "CTX outside an IK3 or IK4 loop")
			}
		case "IK5":
			if set == nil {
				return Ack999{}, segError(s, 0, "IK5 outside an AK2 loop")
			}
			set.Status = AckCode(s.Element(1))
			if set.Status == "" {
				return Ack999{}, segError(s, 1, "IK501 (acknowledgement code) is missing")
			}
			set.Codes = codes(s, 2, 6)
			set, segErr, elemErr = nil, nil, nil
		case "AK9":
			if set != nil {
				return Ack999{}, segError(s, 0, "AK9 before the IK5 of the AK2 at segment %d", set.Segment)
			}
			haveAK9 = true
			a.Status = AckCode(s.Element(1))
			if a.Status == "" {
				return Ack999{}, segError(s, 1, "AK901 (acknowledgement code) is missing")
			}
			var err error
			for i, p := range []*int{&a.SetsIncluded, &a.SetsReceived, &a.SetsAccepted} {
				if *p, err = intElem(s, i+2, true); err != nil {
					return Ack999{}, err
				}
			}
			a.GroupErrors = codes(s, 5, 9)
		default:
			return Ack999{}, segError(s, 0, "segment %s has no place in a 999", quoteShort(s.ID))
		}
	}
	if !haveAK1 {
		return Ack999{}, &SyntaxError{Segment: tx.ST.Index, ID: "ST", Msg: "the 999 has no AK1"}
	}
	if set != nil {
		return Ack999{}, &SyntaxError{Segment: set.Segment, ID: "AK2", Msg: "the AK2 loop has no IK5"}
	}
	if !haveAK9 {
		return Ack999{}, &SyntaxError{Segment: tx.SE.Index, ID: "SE", Msg: "the 999 has no AK9"}
	}
	return a, nil
}

func readCTX(s Segment) (Context, error) {
	c := Context{Name: s.Component(1, 1), SegmentID: s.Element(2), LoopID: s.Element(4), ElementRef: s.Component(6, 1)}
	if c.Name == "" {
		return Context{}, segError(s, 1, "CTX01-1 (context name) is missing")
	}
	if c.Name == "CLM01" {
		c.Reference = s.Component(1, 2)
	}
	var err error
	if c.Position, err = intElem(s, 3, false); err != nil {
		return Context{}, err
	}
	for i, p := range []*int{&c.Element, &c.Component, &c.Repeat} {
		if *p, err = intComp(s, 5, i+1, false); err != nil {
			return Context{}, err
		}
	}
	return c, nil
}

// segError is a *SyntaxError about the content of an acknowledgement.
func segError(s Segment, elem int, format string, args ...any) error {
	return &SyntaxError{Segment: s.Index, ID: s.ID, Element: elem, Msg: fmt.Sprintf(format, args...)}
}

// intElem reads element n as a non-negative integer; 0 if absent and not
// required.
func intElem(s Segment, n int, required bool) (int, error) {
	return toInt(s, n, s.Element(n), fmt.Sprintf("%s%02d", s.ID, n), required)
}

func intComp(s Segment, n, k int, required bool) (int, error) {
	return toInt(s, n, s.Component(n, k), fmt.Sprintf("%s%02d-%d", s.ID, n, k), required)
}

func toInt(s Segment, n int, v, name string, required bool) (int, error) {
	if v == "" {
		if required {
			return 0, segError(s, n, "%s is missing", name)
		}
		return 0, nil
	}
	// Nine digits is far beyond any position or count in a file and keeps
	// the conversion from overflowing.
	if !isDigits(v) || len(v) > 9 {
		return 0, segError(s, n, "%s is not a whole number", name)
	}
	i, _ := strconv.Atoi(v)
	return i, nil
}

// codes returns the non-empty elements from..to.
func codes(s Segment, from, to int) []string {
	var out []string
	for n := from; n <= to; n++ {
		if v := s.Element(n); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// codeWords renders a code with its meaning, keeping the raw code so the
// words never hide what was sent.
func codeWords(table map[string]string, code, what string) string {
	if w, ok := table[code]; ok {
		return fmt.Sprintf("%s [%s]", w, code)
	}
	return fmt.Sprintf("%s code %s (not in our table)", what, quoteShort(code))
}

// The tables below are our own short wording of the X12 code lists named
// in each comment; they cover the 5010 codes a 999 uses.

// segmentErrorWords: IK304, code list 620.
var segmentErrorWords = map[string]string{
	"1":  "unrecognised segment",
	"2":  "unexpected segment",
	"3":  "required segment missing",
	"4":  "loop repeats more than allowed",
	"5":  "segment repeats more than allowed",
	"6":  "segment not defined in this transaction set",
	"7":  "segment out of order",
	"8":  "segment has element errors",
	"I4": "segment the guide says is not used is present",
	"I6": "segment required by the guide in this situation is missing",
	"I7": "loop occurs fewer times than the guide requires",
	"I8": "segment occurs fewer times than the guide requires",
	"I9": "segment the guide says is not used in this situation is present",
}

// elementErrorWords: IK403, code list 621.
var elementErrorWords = map[string]string{
	"1":   "required element missing",
	"2":   "conditionally required element missing",
	"3":   "too many elements",
	"4":   "value too short",
	"5":   "value too long",
	"6":   "invalid character",
	"7":   "invalid code value",
	"8":   "invalid date",
	"9":   "invalid time",
	"10":  "element present although another element excludes it",
	"12":  "too many repetitions",
	"13":  "too many components",
	"I6":  "code value not used by the implementation guide",
	"I9":  "element required by the guide in this situation is missing",
	"I10": "element the guide says is not used is present",
	"I11": "fewer repetitions than the guide requires",
	"I12": "value does not match the pattern the guide requires",
	"I13": "element the guide says is not used in this situation is present",
}

// setErrorWords: IK502–IK506, code list 618.
var setErrorWords = map[string]string{
	"1":  "transaction set type not supported",
	"2":  "transaction set trailer (SE) missing",
	"3":  "ST02 and SE02 control numbers differ",
	"4":  "SE01 segment count is wrong",
	"5":  "one or more segments in error",
	"6":  "transaction set identifier missing or invalid",
	"7":  "transaction set control number missing or invalid",
	"8":  "authentication key name unknown",
	"9":  "encryption key name unknown",
	"10": "requested authentication or encryption not available",
	"11": "unknown security recipient",
	"12": "incorrect message length (encryption)",
	"13": "message authentication code failed",
	"15": "unknown security originator",
	"16": "syntax error in decrypted text",
	"17": "security not supported",
	"18": "transaction set not inside a functional group",
	"19": "invalid implementation convention reference (ST03)",
	"23": "transaction set control number repeated within the group",
	"24": "S3E security end segment missing for S3S",
	"25": "S3S security start segment missing for S3E",
	"26": "S4E security end segment missing for S4S",
	"27": "S4S security start segment missing for S4E",
	"I5": "one or more segments in error against the implementation guide",
	"I6": "implementation convention not supported",
}

// groupErrorWords: AK905–AK909, code list 716.
var groupErrorWords = map[string]string{
	"1":  "functional group type not supported",
	"2":  "functional group version not supported",
	"3":  "functional group trailer (GE) missing",
	"4":  "GS06 and GE02 control numbers differ",
	"5":  "GE01 transaction set count is wrong",
	"6":  "group control number violates syntax",
	"10": "authentication key name unknown",
	"11": "encryption key name unknown",
	"12": "requested authentication or encryption not available",
	"13": "unknown security recipient",
	"14": "unknown security originator",
	"15": "syntax error in decrypted text",
	"16": "security not supported",
	"17": "incorrect message length (encryption)",
	"18": "message authentication code failed",
	"19": "group control number repeated within the interchange",
	"23": "S3E security end segment missing for S3S",
	"24": "S3S security start segment missing for S3E",
	"25": "S4E security end segment missing for S4S",
	"26": "S4S security start segment missing for S4E",
}
