package x12

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that it returns either
// interchanges or a *SyntaxError, and that what it accepts is consistent
// with its own envelope rules. The committed corpus in
// testdata/fuzz/FuzzParse holds the sample files; f.Add adds the goldens.
func FuzzParse(f *testing.F) {
	goldens, _ := filepath.Glob("testdata/golden/*.837")
	for _, g := range goldens {
		if data, err := os.ReadFile(g); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ics, err := Parse(data)
		// The 835, 999 and 277CA readers parse without keeping segments
		// and read each set again: both ways must agree with Parse.
		scanned, scanErr := parse(data, false)
		if fmt.Sprint(scanErr) != fmt.Sprint(err) || len(scanned) != len(ics) {
			t.Fatalf("parse without segments: %d interchanges, %v; Parse: %d, %v", len(scanned), scanErr, len(ics), err)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || ics != nil {
				t.Fatalf("error %v (%T) with %d interchanges", err, err, len(ics))
			}
			return
		}
		for i, ic := range ics {
			if ic.IEA.Element(2) != ic.Header.ControlNumber {
				t.Fatal("IEA02 mismatch accepted")
			}
			for j, g := range ic.Groups {
				for k, tx := range g.Transactions {
					if tx.SE.Element(2) != tx.ST.Element(2) {
						t.Fatal("SE02 mismatch accepted")
					}
					for _, s := range tx.Segments {
						_ = s.Component(1, 2)
						_ = s.Repetitions(1)
					}
					checkReadAgain(t, scanned[i].Groups[j].Transactions[k], tx.Segments)
				}
			}
		}
	})
}

// checkReadAgain checks that tx.segments and tx.ids read the segments
// Parse kept.
func checkReadAgain(t *testing.T, tx Transaction, want []Segment) {
	t.Helper()
	n := 0
	for i, s := range tx.segments() {
		if i != n || i >= len(want) || !reflect.DeepEqual(s, want[i]) {
			t.Fatalf("segment %d of the set at segment %d read again as %v, want %v", i, tx.ST.Index, s, want[min(i, len(want)-1)])
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("%d segments read again in the set at segment %d, want %d", n, tx.ST.Index, len(want))
	}
	n = 0
	for id := range tx.ids() {
		if n >= len(want) || id != want[n].ID {
			t.Fatalf("identifier %d of the set at segment %d read again wrong", n, tx.ST.Index)
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("%d identifiers read again in the set at segment %d, want %d", n, tx.ST.Index, len(want))
	}
}

func BenchmarkWrite837P(b *testing.B) {
	const perBatch = 1000
	claims := make([]Claim837, perBatch)
	for i := range claims {
		claims[i] = medicareOT("OT260302A")
	}
	batch := testBatch(claims...)
	batch.LineBreaks = false
	var buf bytes.Buffer
	if err := Write837P(&buf, batch); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if err := Write837P(io.Discard, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "claims/s")
}

func BenchmarkParse(b *testing.B) {
	claims := make([]Claim837, 1000)
	for i := range claims {
		claims[i] = medicareOT("OT260302A")
	}
	var buf bytes.Buffer
	if err := Write837P(&buf, testBatch(claims...)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "claims/s")
}
