package x12

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestAppendMoney(t *testing.T) {
	for cents, want := range map[int64]string{
		0: "0", 1: "0.01", 10: "0.1", 24000: "240", 6550: "65.5", 6505: "65.05", 100: "1",
		-1250: "-12.5", 123456789: "1234567.89", -9223372036854775808: "-92233720368547758.08",
	} {
		if got := string(AppendMoney(nil, cents)); got != want {
			t.Errorf("AppendMoney(%d) = %q, want %q", cents, got, want)
		}
	}
}

func TestWriterEnvelope(t *testing.T) {
	w, err := NewWriter(DefaultSeparators, false)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 3, 5, 14, 15, 0, 0, time.UTC)
	w.ISA(InterchangeHeader{SenderID: "CLINICSUBMIT01", ReceiverID: "CLEARINGHOUSE", Created: created, ControlNumber: 101, AckRequested: true, Usage: "T"})
	w.GS("HC", "CLINICSUBMIT01", "CLEARINGHOUSE", created, 101, Version837P)
	w.ST("837", 1, Version837P)
	w.Segment("BHT", "0019", "00", "1", "20250305", "1415", "CH")
	w.Segment("REF", "EI", "", "", "") // trailing empties dropped
	w.Begin("HI")
	w.Comp("ABK", "M6281")
	w.Comp("", "")  // empty composite, dropped at the end
	w.Comp("", "x") // leading empty component kept
	w.Comp("A", "", "", "")
	w.End()
	w.Segment("SV1", w.Composite("HC", "97530", "GO", ""), "240", "UN", "3", "", "", w.Composite("1", "2"))
	w.SE()
	w.GE()
	w.IEA()
	if w.Err() != nil {
		t.Fatal(w.Err())
	}
	var out bytes.Buffer
	if _, err := w.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	// The ISA line is BILLING.md §6.2's illustrative one, verified there to
	// be 106 characters.
	want := "ISA*00*          *00*          *ZZ*CLINICSUBMIT01 *ZZ*CLEARINGHOUSE  *250305*1415*^*00501*000000101*1*T*:~" +
		"GS*HC*CLINICSUBMIT01*CLEARINGHOUSE*20250305*1415*101*X*005010X222A1~" +
		"ST*837*0001*005010X222A1~BHT*0019*00*1*20250305*1415*CH~REF*EI~HI*ABK:M6281**:x*A~" +
		"SV1*HC:97530:GO*240*UN*3***1:2~SE*6*0001~GE*1*101~IEA*1*000000101~"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if _, err := Parse(out.Bytes()); err != nil {
		t.Error(err)
	}
}

func TestWriterRejectsSeparators(t *testing.T) {
	for _, tt := range []struct {
		name string
		do   func(w *Writer)
		want string
	}{
		{"element", func(w *Writer) { w.Segment("NM1", "IL", "1", "O*BRIEN") }, "x12: NM1 at segment 1: NM103 contains the separator '*'"},
		{"terminator", func(w *Writer) { w.Segment("N3", "12~ELM") }, "x12: N3 at segment 1: N301 contains the separator '~'"},
		{"repetition", func(w *Writer) { w.Begin("N4"); w.Elem("A"); w.Elem("B^C") }, "x12: N4 at segment 1: N402 contains the separator '^'"},
		{"component in a simple element", func(w *Writer) { w.Segment("N3", "X"); w.Begin("N3"); w.Elem("4:B") }, "x12: N3 at segment 2: N301 contains the separator ':'"},
		{"component part", func(w *Writer) { w.Begin("SV1"); w.Comp("HC", "97*30") }, "x12: SV1 at segment 1: SV101 contains the separator '*'"},
		{"composite part", func(w *Writer) { w.Segment("SV1", w.Composite("HC", "97:30")) }, "x12: segment 1: component 2 of a composite contains the separator ':'"},
		{"bad id", func(w *Writer) { w.Segment("nm1") }, `x12: nm1 at segment 1: segment identifier "nm1" is not 2 or 3 upper-case letters or digits`},
		{"ISA width", func(w *Writer) {
			w.ISA(InterchangeHeader{SenderID: strings.Repeat("X", 16), ControlNumber: 1, Usage: "P"})
		}, "x12: ISA at segment 1: ISA06 is 16 characters, at most 15 allowed"},
		{"ISA13", func(w *Writer) { w.ISA(InterchangeHeader{ControlNumber: 1e9, Usage: "P"}) }, "x12: ISA at segment 1: ISA13 must be 1–999999999, got 1000000000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := NewWriter(DefaultSeparators, true)
			tt.do(w)
			var se *SyntaxError
			if err := w.Err(); !errors.As(err, &se) || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if n, err := w.WriteTo(io.Discard); n != 0 || err == nil {
				t.Error("WriteTo wrote after an error")
			}
		})
	}
	if _, err := NewWriter(Separators{'*', '^', '*', '~'}, false); err == nil {
		t.Error("NewWriter accepted clashing separators")
	}
}
