package x12

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
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
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || ics != nil {
				t.Fatalf("error %v (%T) with %d interchanges", err, err, len(ics))
			}
			return
		}
		for _, ic := range ics {
			if ic.IEA.Element(2) != ic.Header.ControlNumber {
				t.Fatal("IEA02 mismatch accepted")
			}
			for _, g := range ic.Groups {
				for _, tx := range g.Transactions {
					if tx.SE.Element(2) != tx.ST.Element(2) {
						t.Fatal("SE02 mismatch accepted")
					}
					for _, s := range tx.Segments {
						_ = s.Component(1, 2)
						_ = s.Repetitions(1)
					}
				}
			}
		}
	})
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
