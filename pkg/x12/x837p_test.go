package x12

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestGolden837P(t *testing.T) {
	for _, g := range goldenClaims {
		t.Run(g.name, func(t *testing.T) {
			b := testBatch(g.claim())
			var buf bytes.Buffer
			if err := Write837P(&buf, b); err != nil {
				t.Fatal(err)
			}
			check837(t, buf.Bytes(), b)
			path := filepath.Join("testdata", "golden", g.name+".837")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", path, buf.Bytes())
			}
		})
	}
}

// TestWrite837PBatch puts every golden claim in one file, with a second
// billing provider interleaved, and without line breaks.
func TestWrite837PBatch(t *testing.T) {
	var claims []Claim837
	for i, g := range goldenClaims {
		c := g.claim()
		c.ControlNumber += strconv.Itoa(i)
		if i%2 == 1 {
			c.BillingProvider.Name = "RIVERSIDE THERAPY NORTH"
			c.BillingProvider.NPI = "1912301953"
		}
		claims = append(claims, c)
	}
	b := testBatch(claims...)
	b.LineBreaks = false
	var buf bytes.Buffer
	if err := Write837P(&buf, b); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(buf.Bytes(), "\r\n") {
		t.Error("line breaks written with LineBreaks false")
	}
	check837(t, buf.Bytes(), b)
	ics, _ := Parse(buf.Bytes())
	var providers int
	for _, s := range ics[0].Groups[0].Transactions[0].Segments {
		if s.ID == "HL" && s.Element(3) == "20" {
			providers++
		}
	}
	if providers != 2 {
		t.Errorf("%d billing provider HLs, want 2", providers)
	}
}

// check837 is the structural validator: it parses an emitted file back and
// checks the envelope, the HL tree, the loops each claim needs (BILLING.md
// §6.2) and that the key values of b survived the trip.
func check837(t *testing.T, data []byte, b Batch837) {
	t.Helper()
	if i := bytes.IndexByte(data, '~'); i+1 != isaLen {
		t.Fatalf("ISA is %d characters, want %d", i+1, isaLen)
	}
	ics, err := Parse(data)
	if err != nil {
		t.Fatalf("emitted file does not parse: %v", err)
	}
	if len(ics) != 1 || len(ics[0].Groups) != 1 || len(ics[0].Groups[0].Transactions) != 1 {
		t.Fatalf("want one interchange, group and transaction set")
	}
	ic := ics[0]
	h := ic.Header
	if h.SenderID != b.SenderID || h.ReceiverID != b.ReceiverID || h.Usage != b.Usage || h.Version != "00501" ||
		h.ControlNumber != padInt(b.InterchangeControl, 9) || ic.Separators != DefaultSeparators {
		t.Errorf("ISA header %+v does not match the batch", h)
	}
	g := ic.Groups[0]
	if g.GS.Element(1) != "HC" || g.GS.Element(6) != strconv.Itoa(b.GroupControl) || g.GS.Element(8) != Version837P {
		t.Errorf("GS %v", g.GS)
	}
	tx := g.Transactions[0]
	if tx.ST.Element(1) != "837" || tx.ST.Element(3) != Version837P {
		t.Errorf("ST %v", tx.ST)
	}
	segs := tx.Segments
	wantHeader := []string{"BHT*0019*00*", "NM1*41*2*", "PER*IC*", "NM1*40*2*"}
	for i, p := range wantHeader {
		if i >= len(segs) || !strings.HasPrefix(segs[i].String(), p) {
			t.Fatalf("header segment %d is not %s…", i+1, p)
		}
	}

	// HL tree: numbered 1, 2, 3…; a parent exists, comes earlier and is one
	// level up; HL04 says whether the HL has children.
	type hlInfo struct {
		level    string
		children string
		has      bool
	}
	hls := map[string]*hlInfo{}
	n := 0
	for _, s := range segs {
		if s.ID != "HL" {
			continue
		}
		n++
		id, parent, level := s.Element(1), s.Element(2), s.Element(3)
		if id != strconv.Itoa(n) {
			t.Errorf("HL at segment %d: HL01 %s, want %d", s.Index, id, n)
		}
		wantParent := map[string]string{"20": "", "22": "20", "23": "22"}[level]
		switch p, ok := hls[parent]; {
		case level == "20" && parent != "":
			t.Errorf("HL at segment %d: billing provider HL with a parent", s.Index)
		case level != "20" && (!ok || p.level != wantParent):
			t.Errorf("HL at segment %d: level %s under %q, want a level %s parent", s.Index, level, parent, wantParent)
		case ok:
			p.has = true
		}
		hls[id] = &hlInfo{level: level, children: s.Element(4)}
	}
	for id, h := range hls {
		if (h.children == "1") != h.has {
			t.Errorf("HL %s: HL04 %s but has children: %v", id, h.children, h.has)
		}
	}

	// Claims, in file order: claims grouped by billing provider.
	var want []*Claim837
	for _, grp := range providerGroups(b.Claims) {
		for _, i := range grp {
			want = append(want, &b.Claims[i])
		}
	}
	claims := splitClaims(segs)
	if len(claims) != len(want) {
		t.Fatalf("%d claims in the file, want %d", len(claims), len(want))
	}
	for i, cs := range claims {
		checkClaim(t, cs, want[i])
	}
}

// splitClaims returns, per subscriber HL, its segments up to the next
// subscriber or billing provider HL.
func splitClaims(segs []Segment) [][]Segment {
	var out [][]Segment
	cur := -1
	for _, s := range segs {
		if s.ID == "HL" && s.Element(3) != "23" {
			cur = -1
			if s.Element(3) == "22" {
				out = append(out, nil)
				cur = len(out) - 1
			}
		}
		if cur >= 0 {
			out[cur] = append(out[cur], s)
		}
	}
	return out
}

func checkClaim(t *testing.T, segs []Segment, c *Claim837) {
	t.Helper()
	// Loop order of BILLING.md §6.2, as segment keys; "LX" starts a line.
	var keys []string
	for _, s := range segs {
		k := s.ID
		switch s.ID {
		case "NM1", "REF", "PRV", "HL", "DTP":
			k += "*" + s.Element(1)
			if s.ID == "HL" {
				k = "HL*" + s.Element(3)
			}
		}
		keys = append(keys, k)
	}
	var order []string
	order = append(order, "HL*22", "SBR", "NM1*IL")
	if c.Patient == nil || !c.Subscriber.Address.empty() {
		order = append(order, "N3", "N4")
	}
	if !c.Subscriber.BirthDate.IsZero() {
		order = append(order, "DMG")
	}
	order = append(order, "NM1*PR")
	if c.Patient != nil {
		order = append(order, "HL*23", "PAT", "NM1*QC", "N3", "N4", "DMG")
	}
	order = append(order, "CLM")
	if c.PriorAuth != "" {
		order = append(order, "REF*G1")
	}
	if c.OriginalRef != "" {
		order = append(order, "REF*F8")
	}
	order = append(order, "HI")
	if c.Referring != nil {
		order = append(order, "NM1*DN")
	}
	if c.Rendering != nil {
		order = append(order, "NM1*82", "PRV*PE")
	}
	for range c.Lines {
		order = append(order, "LX", "SV1", "DTP*472", "REF*6R")
	}
	if !slices.Equal(keys, order) {
		t.Fatalf("claim %s loops:\n got %v\nwant %v", c.ControlNumber, keys, order)
	}

	var sum int64
	line := 0
	for _, s := range segs {
		switch s.ID + "*" + s.Element(1) {
		case "SBR*P":
			if rel := s.Element(2); (rel == "18") != (c.Patient == nil) {
				t.Errorf("SBR02 %q with patient %v", rel, c.Patient != nil)
			}
			if s.Element(3) != c.Subscriber.GroupNumber || s.Element(9) != c.ClaimFilingCode {
				t.Errorf("SBR %v", s)
			}
		case "NM1*IL":
			if s.Element(9) != c.Subscriber.MemberID || s.Element(8) != "MI" {
				t.Errorf("NM1*IL %v", s)
			}
		case "NM1*DN":
			if s.Element(2) != "1" || s.Element(8) != "XX" || s.Element(9) != c.Referring.NPI {
				t.Errorf("2310A %v", s)
			}
		case "NM1*82":
			if s.Element(8) != "XX" || s.Element(9) != c.Rendering.NPI {
				t.Errorf("2310B %v", s)
			}
		case "PAT*" + s.Element(1):
			if c.Patient == nil || s.Element(1) != c.Patient.Relationship {
				t.Errorf("PAT %v", s)
			}
		case "REF*G1":
			if s.Element(2) != c.PriorAuth {
				t.Errorf("REF*G1 %v", s)
			}
		case "REF*F8":
			if s.Element(2) != c.OriginalRef {
				t.Errorf("REF*F8 %v", s)
			}
		case "CLM*" + c.ControlNumber:
			if cents(t, s.Element(2)) != c.TotalChargeCents {
				t.Errorf("CLM02 %s, want %d cents", s.Element(2), c.TotalChargeCents)
			}
			freq := or(c.Frequency, "1")
			if s.Component(5, 1) != c.PlaceOfService || s.Component(5, 2) != "B" || s.Component(5, 3) != freq {
				t.Errorf("CLM05 %q", s.Element(5))
			}
		case "HI*" + s.Element(1):
			for i, d := range c.Diagnoses {
				q := "ABF"
				if i == 0 {
					q = "ABK"
				}
				if s.Component(i+1, 1) != q || s.Component(i+1, 2) != d {
					t.Errorf("HI%02d %q, want %s:%s", i+1, s.Element(i+1), q, d)
				}
			}
			if len(s.Elements) != len(c.Diagnoses) {
				t.Errorf("HI has %d diagnoses, want %d", len(s.Elements), len(c.Diagnoses))
			}
		case "LX*" + s.Element(1):
			line++
			if s.Element(1) != strconv.Itoa(line) {
				t.Errorf("LX01 %s, want %d", s.Element(1), line)
			}
		case "SV1*" + s.Element(1):
			l := &c.Lines[line-1]
			proc := append([]string{"HC", l.Code}, l.Modifiers...)
			if s.Element(1) != strings.Join(proc, ":") || s.Element(3) != "UN" || s.Element(4) != strconv.Itoa(l.Units) {
				t.Errorf("SV1 %v for line %+v", s, l)
			}
			got := cents(t, s.Element(2))
			if got != l.ChargeCents {
				t.Errorf("SV102 %s, want %d cents", s.Element(2), l.ChargeCents)
			}
			sum += got
			var ptrs []string
			for _, p := range l.DiagnosisPointers {
				ptrs = append(ptrs, strconv.Itoa(p))
			}
			if s.Element(7) != strings.Join(ptrs, ":") {
				t.Errorf("SV107 %q, want %v", s.Element(7), ptrs)
			}
		case "DTP*472":
			if want := l837(c, line).DateOfService.Format("20060102"); s.Element(2) != "D8" || s.Element(3) != want {
				t.Errorf("DTP*472 %v, want %s", s, want)
			}
		case "REF*6R":
			if s.Element(2) != l837(c, line).ControlNumber {
				t.Errorf("line %d REF*6R %q, want %q", line, s.Element(2), l837(c, line).ControlNumber)
			}
		}
	}
	if sum != c.TotalChargeCents {
		t.Errorf("claim %s: Σ SV102 = %d cents, CLM02 %d", c.ControlNumber, sum, c.TotalChargeCents)
	}
}

func l837(c *Claim837, line int) *Line837 { return &c.Lines[line-1] }

// cents parses an X12 decimal amount without floating point.
func cents(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		t.Fatalf("amount %q has more than 2 decimals", s)
	}
	frac += "00"[len(frac):]
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("amount %q", s)
	}
	return w*100 + f
}

func padInt(n, width int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", width-len(s)) + s
}

func TestWrite837PInvalid(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(b *Batch837)
		claim  int
		field  string
		inText string
	}{
		{"missing billing NPI", func(b *Batch837) { b.Claims[1].BillingProvider.NPI = "" }, 1, "BillingProvider.NPI", "missing"},
		{"short rendering NPI", func(b *Batch837) { b.Claims[0].Rendering.NPI = "12345" }, 0, "Rendering.NPI", "10 digits"},
		{"five modifiers", func(b *Batch837) { b.Claims[0].Lines[2].Modifiers = []string{"GO", "KX", "59", "CO", "95"} }, 0, "Lines[2].Modifiers", "at most 4"},
		{"five pointers", func(b *Batch837) { b.Claims[0].Lines[0].DiagnosisPointers = []int{1, 2, 3, 1, 2} }, 0, "Lines[0].DiagnosisPointers", "at most 4"},
		{"pointer past the diagnoses", func(b *Batch837) { b.Claims[0].Lines[1].DiagnosisPointers = []int{4} }, 0, "Lines[1].DiagnosisPointers[0]", "3 diagnoses"},
		{"13 diagnoses", func(b *Batch837) { b.Claims[1].Diagnoses = slices.Repeat([]string{"M6281"}, 13) }, 1, "Diagnoses", "at most 12"},
		{"diagnosis with a dot", func(b *Batch837) { b.Claims[0].Diagnoses[1] = "R26.89" }, 0, "Diagnoses[1]", "without the dot"},
		{"separator in a name", func(b *Batch837) { b.Claims[1].Subscriber.Last = "O*BRIEN" }, 1, "Subscriber.Last", "separator '*'"},
		{"component separator in an address", func(b *Batch837) { b.Claims[0].Subscriber.Address.Line1 = "SUITE 4:B" }, 0, "Subscriber.Address.Line1", "separator ':'"},
		{"terminator in prior auth", func(b *Batch837) { b.Claims[0].PriorAuth = "A~1" }, 0, "PriorAuth", "separator '~'"},
		{"repetition separator in a line control number", func(b *Batch837) { b.Claims[0].Lines[3].ControlNumber = "X^1" }, 0, "Lines[3].ControlNumber", "separator '^'"},
		{"replacement without REF*F8", func(b *Batch837) { b.Claims[0].Frequency = "7" }, 0, "OriginalRef", "frequency 7"},
		{"total off by a cent", func(b *Batch837) { b.Claims[0].TotalChargeCents++ }, 0, "TotalChargeCents", "sum of SV102"},
		{"duplicate line control number", func(b *Batch837) { b.Claims[0].Lines[2].ControlNumber = b.Claims[0].Lines[0].ControlNumber }, 0, "Lines[2].ControlNumber", "unique"},
		{"long line control number", func(b *Batch837) { b.Claims[0].Lines[0].ControlNumber = strings.Repeat("9", 31) }, 0, "Lines[0].ControlNumber", "at most 30"},
		{"long CLM01", func(b *Batch837) { b.Claims[1].ControlNumber = strings.Repeat("A", 21) }, 1, "ControlNumber", "at most 20"},
		{"patient as self", func(b *Batch837) {
			b.Claims[1].Patient = &Patient{Relationship: "18", Person: b.Claims[1].Subscriber.Person}
		}, 1, "Patient.Relationship", "leave Patient nil"},
		{"5-digit billing ZIP", func(b *Batch837) { b.Claims[0].BillingProvider.Address.ZIP = "62701" }, 0, "BillingProvider.Address.ZIP", "9 digits"},
		{"bad usage", func(b *Batch837) { b.Usage = "X" }, -1, "Usage", "P or T"},
		{"ISA sender too long", func(b *Batch837) { b.SenderID = strings.Repeat("S", 16) }, -1, "SenderID", "at most 15"},
		{"no claims", func(b *Batch837) { b.Claims = nil }, -1, "Claims", "no claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testBatch(medicareOT("OT1"), goldenClaims[1].claim())
			r := *b.Claims[0].Rendering
			b.Claims[0].Rendering = &r
			tt.edit(&b)
			var buf bytes.Buffer
			err := Write837P(&buf, b)
			var ce *ClaimError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ClaimError", err)
			}
			if ce.Claim != tt.claim || ce.Field != tt.field || !strings.Contains(ce.Msg, tt.inText) {
				t.Errorf("got claim %d field %s msg %q; want claim %d field %s msg containing %q", ce.Claim, ce.Field, ce.Msg, tt.claim, tt.field, tt.inText)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written despite the error", buf.Len())
			}
			if tt.claim >= 0 && !strings.Contains(err.Error(), b.Claims[tt.claim].ControlNumber[:3]) {
				t.Errorf("error %q does not name the claim", err)
			}
		})
	}
}
