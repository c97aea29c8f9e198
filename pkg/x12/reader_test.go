package x12

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseSamples runs the reader over every copied sample. The expected
// outcomes were checked by hand once: the imsweb loop-structure files all
// declare SE01 = 25 whatever their length (counted with tr/awk), and
// x12_bad_segment_identifier's sixth segment starts with the separator
// (its PER identifier is missing).
func TestParseSamples(t *testing.T) {
	want := map[string]string{
		"imsweb__x12_ambiguous_loop.txt":                                    "SE at segment 35: SE01 is 25, the transaction has 33 segments",
		"imsweb__x12_bad_first_line.txt":                                    "ISA at segment 1: ISA02 is 9 characters, want 10",
		"imsweb__x12_bad_segment_identifier.txt":                            `segment 6: the segment identifier (0 characters) is not 2 or 3 upper-case letters or digits`,
		"imsweb__x12_bad_valid_code.txt":                                    "SE at segment 36: SE01 is 25, the transaction has 34 segments",
		"imsweb__x12_complex.txt":                                           "SE at segment 149: SE01 is 25, the transaction has 147 segments",
		"imsweb__x12_loop_errors1_exceeds_max_1_parent.txt":                 "SE at segment 33: SE01 is 25, the transaction has 31 segments",
		"imsweb__x12_loop_errors2_exceeds_max_repeats_multiple_parents.txt": "SE at segment 52: SE01 is 25, the transaction has 50 segments",
		"imsweb__x12_loop_errors3_missing_loops.txt":                        "SE at segment 21: SE01 is 25, the transaction has 19 segments",
		"imsweb__x12_missing_elements.txt":                                  "SE at segment 36: SE01 is 25, the transaction has 34 segments",
		"imsweb__x12_missing_required_loop_in_one_repeat.txt":               "SE at segment 42: SE01 is 25, the transaction has 40 segments",
		"imsweb__x12_missing_required_loops_mult_repeats.txt":               "SE at segment 61: SE01 is 25, the transaction has 59 segments",
		"imsweb__x12_multiple_gs.txt":                                       "SE at segment 36: SE01 is 25, the transaction has 34 segments",
		"imsweb__x12_multiple_isa.txt":                                      "SE at segment 36: SE01 is 25, the transaction has 34 segments",
		"imsweb__x12_multiple_st.txt":                                       "SE at segment 36: SE01 is 25, the transaction has 34 segments",
		"imsweb__x12_no_errors.txt":                                         "SE at segment 43: SE01 is 25, the transaction has 41 segments",
		"imsweb__x12_segment_errors.txt":                                    "SE at segment 25: SE01 is 25, the transaction has 23 segments",
		"imsweb__x12_segments_out_of_order.txt":                             "SE at segment 36: SE01 is 25, the transaction has 34 segments",
		"imsweb__x12_valid.txt":                                             "SE at segment 36: SE01 is 25, the transaction has 34 segments",
		// Same file with ~ ^ _ separators: the same error proves they were
		// taken from the ISA.
		"imsweb__x12_valid_different_separators.txt": "SE at segment 36: SE01 is 25, the transaction has 34 segments",
		"imsweb__x12_writer_test.txt":                "SE at segment 33: SE01 is 25, the transaction has 31 segments",
	}
	files, err := filepath.Glob("testdata/samples/*")
	if err != nil || len(files) == 0 {
		t.Fatal("no samples")
	}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "SOURCES.md" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ics, err := Parse(data)
			if strings.HasPrefix(name, "lfh__") {
				// The derived LinuxForHealth examples are well-formed 5010
				// 837Ps: one interchange, group and claim transaction each.
				if err != nil {
					t.Fatal(err)
				}
				if len(ics) != 1 || len(ics[0].Groups) != 1 || len(ics[0].Groups[0].Transactions) != 1 {
					t.Fatal("want one interchange, group and transaction set")
				}
				tx := ics[0].Groups[0].Transactions[0]
				if tx.ST.Element(3) != Version837P || ics[0].Groups[0].GS.Element(8) != Version837P {
					t.Errorf("ST03/GS08 %s/%s", tx.ST.Element(3), ics[0].Groups[0].GS.Element(8))
				}
				if len(tx.Segments)+2 != atoi(tx.SE.Element(1)) {
					t.Error("SE01 mismatch passed")
				}
				return
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation; Parse said %v", err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || err.Error() != "x12: "+w {
				t.Fatalf("got %v, want %q", err, w)
			}
		})
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestParseSeveralInterchanges concatenates interchanges with different
// separators and line endings (none, LF, CRLF, CR).
func TestParseSeveralInterchanges(t *testing.T) {
	a := golden(t, "ot_assistant.837")
	b := bytes.ReplaceAll(golden(t, "telehealth.837"), []byte("~\n"), []byte("~\r\n"))
	c := bytes.ReplaceAll(golden(t, "replacement.837"), []byte("~\n"), []byte("~"))
	// The same file with | ! > and a CR after each terminator.
	d := strings.NewReplacer("*", "|", "^", "!", ":", ">", "~\n", "~\r").Replace(string(a))
	var in []byte
	in = append(in, a...)
	in = append(in, b...)
	in = append(in, c...)
	in = append(in, d...)
	in = append(in, "\r\n\r\n"...)
	ics, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ics) != 4 {
		t.Fatalf("%d interchanges, want 4", len(ics))
	}
	if ics[3].Separators != (Separators{'|', '!', '>', '~'}) {
		t.Errorf("separators %+v", ics[3].Separators)
	}
	sv1 := ics[3].Groups[0].Transactions[0].Segments[27]
	if sv1.ID != "SV1" || sv1.Component(1, 4) != "CO" || sv1.Component(7, 2) != "2" || sv1.Component(7, 3) != "" {
		t.Errorf("segment %v", sv1)
	}
	// 44 + 36 + 45 + 44 segments.
	if ics[1].ISA.Index != 45 || ics[3].IEA.Index != 169 {
		t.Errorf("segment indexes %d %d", ics[1].ISA.Index, ics[3].IEA.Index)
	}
	if h := ics[0].Header; h.SenderID != "RCMCLINIC01" || h.ControlNumber != "000000101" || h.Usage != "T" || h.Date != "260305" {
		t.Errorf("header %+v", h)
	}
}

func TestParseErrors(t *testing.T) {
	good := string(golden(t, "patient_not_subscriber.837"))
	tests := []struct {
		name, old, new string
		want           string
		seg, elem      int
	}{
		{"SE01", "SE*33*0001", "SE*32*0001", "SE at segment 35: SE01 is 32, the transaction has 33 segments", 35, 1},
		{"SE01 not a number", "SE*33*0001", "SE*3X*0001", "SE at segment 35: SE01 is not a count", 35, 1},
		{"SE02", "SE*33*0001", "SE*33*0002", "SE at segment 35: SE02 0002 does not match ST02 0001 at segment 3", 35, 2},
		{"GE01", "GE*1*101", "GE*2*101", "GE at segment 36: GE01 is 2, the group has 1 transaction sets", 36, 1},
		{"GE02", "GE*1*101", "GE*1*102", "GE at segment 36: GE02 102 does not match GS06 101 at segment 2", 36, 2},
		{"IEA01", "IEA*1*", "IEA*0*", "IEA at segment 37: IEA01 is 0, the interchange has 1 functional groups", 37, 1},
		{"IEA02", "IEA*1*000000101", "IEA*1*000000102", "IEA at segment 37: IEA02 000000102 does not match ISA13 000000101 at segment 1", 37, 2},
		{"ISA06 short", "RCMCLINIC01    *", "RCMCLINIC01   *", "ISA at segment 1: ISA06 is 14 characters, want 15", 1, 6},
		{"no SE", "SE*33*0001~\n", "", "GE at segment 35: GE before the SE of the transaction set at segment 3", 35, 0},
		{"no IEA", "IEA*1*000000101~\n", "", "ISA at segment 1: the interchange has no IEA", 1, 0},
		{"stray segment", "ST*837", "XX*1~\nST*837", "XX at segment 3: expected ST or GE", 3, 0},
		{"no terminator", "IEA*1*000000101~\n", "IEA*1*000000101", `segment 37: no segment terminator '~' before the end of the input`, 37, 0},
		{"garbage after", "IEA*1*000000101~\n", "IEA*1*000000101~\nHELLO", "segment 38: expected an ISA segment", 38, 0},
		{"separators clash", "*^*00501", "*:*00501", "ISA at segment 1: separators element '*', repetition ':', component ':', segment '~' are not distinct non-alphanumeric characters", 1, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(good, tt.old, tt.new, 1)
			if in == good {
				t.Fatal("edit did not apply")
			}
			_, err := Parse([]byte(in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if err.Error() != "x12: "+tt.want || se.Segment != tt.seg || se.Element != tt.elem {
				t.Errorf("got %q (segment %d element %d)\nwant %q (segment %d element %d)", err, se.Segment, se.Element, tt.want, tt.seg, tt.elem)
			}
		})
	}
	for _, in := range []string{"", "\r\n", "ISA*00", "IS"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}

func TestSegmentAccessors(t *testing.T) {
	s := Segment{ID: "SV1", Elements: []string{"HC:97530:GO", "160", "", "2"}, comp: ':', rep: '^'}
	for _, tt := range []struct {
		got, want string
	}{
		{s.Element(0), ""}, {s.Element(1), "HC:97530:GO"}, {s.Element(3), ""}, {s.Element(5), ""},
		{s.Component(1, 1), "HC"}, {s.Component(1, 3), "GO"}, {s.Component(1, 4), ""}, {s.Component(2, 1), "160"},
		{s.Component(2, 2), ""}, {s.Component(9, 1), ""}, {s.Component(1, 0), ""},
		{s.String(), "SV1*HC:97530:GO*160**2~"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	r := Segment{ID: "HI", Elements: []string{"A^B"}, rep: '^'}
	if got := r.Repetitions(1); len(got) != 2 || got[1] != "B" {
		t.Errorf("Repetitions %q", got)
	}
}

// TestSlab checks that runs keep their items when the slab moves to a new
// array, and that appending to a run does not overwrite the next one.
func TestSlab(t *testing.T) {
	var s slab[int]
	var runs [][]int
	for n := range 40 { // runs of 0, 1, 2… items: several arrays
		for i := range n % 7 {
			s.add(100*n + i)
		}
		runs = append(runs, s.run())
	}
	_ = append(runs[3], -1)
	for n, r := range runs {
		if len(r) != n%7 || len(r) == 0 && r != nil {
			t.Fatalf("run %d is %v", n, r)
		}
		for i, v := range r {
			if v != 100*n+i {
				t.Fatalf("run %d is %v", n, r)
			}
		}
	}
	s.reset()
	s.add(7)
	if r := s.open(); len(r) != 1 || r[0] != 7 {
		t.Fatalf("after reset: %v", r)
	}
}
