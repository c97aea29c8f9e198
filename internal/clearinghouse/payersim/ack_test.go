package payersim

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rcm-health/rcm/pkg/x12"
)

// wantSet is the expected 999 answer for one transaction set.
type wantSet struct {
	status x12.AckCode
	codes  []string
	errs   []string // IK3 as "ID/position/code", IK4 as "+position/code"
}

// wantClaim is the expected 277CA answer for one claim.
type wantClaim struct {
	pcn      string
	status   string // category:code[:entity]
	accepted bool
	from, to string
}

func TestAcknowledge(t *testing.T) {
	t.Parallel()
	valid := write837(t, batch(101, selfClaim("OT260302A", "1EG4TE5MK73"), childClaim("SLP260303P")))
	setA := transaction(t, write837(t, batch(201, selfClaim("OT260302A", "1EG4TE5MK73")))).Segments
	setB := transaction(t, write837(t, batch(202, childClaim("SLP260303P")))).Segments
	badNPIClaim := selfClaim("PT260302N", "1EG4TE5MK73")
	badNPIClaim.BillingProvider = clinic(badNPI)
	seWrong := regexp.MustCompile(`SE\*\d+\*0001~`).ReplaceAll(bytes.Clone(valid), []byte("SE*7*0001~"))

	tests := []struct {
		name    string
		file    []byte
		cfg     Config
		group   x12.AckCode
		counts  [3]int   // AK902–AK904
		gerrs   []string // AK905…
		sets    []wantSet
		claims  []wantClaim // nil: no 277CA expected
		problem bool        // the file did not parse
	}{
		{
			name: "valid", file: valid, cfg: Config{Seed: 7, KnownMember: knownMembers},
			group: x12.AckAccepted, counts: [3]int{1, 1, 1},
			sets: []wantSet{{status: x12.AckAccepted}},
			claims: []wantClaim{
				{pcn: "OT260302A", status: "A2:20", accepted: true, from: "20260302", to: "20260302"},
				{pcn: "SLP260303P", status: "A2:20", accepted: true, from: "20260303", to: "20260305"},
			},
		},
		{
			name: "unknown member", cfg: Config{Seed: 7, KnownMember: knownMembers},
			file:  write837(t, batch(102, selfClaim("OT260302U", unknown), childClaim("SLP260303P"))),
			group: x12.AckAccepted, counts: [3]int{1, 1, 1},
			sets: []wantSet{{status: x12.AckAccepted}},
			claims: []wantClaim{
				{pcn: "OT260302U", status: "A3:33:IL", from: "20260302", to: "20260302"},
				{pcn: "SLP260303P", status: "A2:20", accepted: true, from: "20260303", to: "20260305"},
			},
		},
		{
			name: "bad billing NPI", cfg: Config{Seed: 7, KnownMember: knownMembers},
			file:  write837(t, batch(103, badNPIClaim)),
			group: x12.AckAccepted, counts: [3]int{1, 1, 1},
			sets:   []wantSet{{status: x12.AckAccepted}},
			claims: []wantClaim{{pcn: "PT260302N", status: "A7:562:85", from: "20260302", to: "20260302"}},
		},
		{
			name: "every claim drawn for rejection", cfg: Config{Seed: 7, RejectRate: 1},
			file:  valid,
			group: x12.AckAccepted, counts: [3]int{1, 1, 1},
			sets: []wantSet{{status: x12.AckAccepted}},
			claims: []wantClaim{
				{pcn: "OT260302A", status: "A7:21", from: "20260302", to: "20260302"},
				{pcn: "SLP260303P", status: "A7:21", from: "20260303", to: "20260305"},
			},
		},
		{
			name: "second set with wrong ST03",
			file: assemble(t, x12.Version837P,
				txSpec{x12.Version837P, setA},
				txSpec{"005010X222A2", setB}),
			group: x12.AckPartiallyAccepted, counts: [3]int{2, 2, 1},
			sets: []wantSet{
				{status: x12.AckAccepted},
				{status: x12.AckRejected, codes: []string{"I6"}, errs: []string{"ST/1/8", "+3/7"}},
			},
			claims: []wantClaim{{pcn: "OT260302A", status: "A2:20", accepted: true, from: "20260302", to: "20260302"}},
		},
		{
			name:  "wrong GS08",
			file:  assemble(t, "005010X222A2", txSpec{"", setA}),
			group: x12.AckRejected, counts: [3]int{1, 1, 0}, gerrs: []string{"2"},
			sets: []wantSet{{status: x12.AckRejected, codes: []string{"I6"}}},
		},
		{
			name: "no BHT and no claim",
			file: assemble(t, x12.Version837P,
				txSpec{x12.Version837P, without(setA, "BHT", "CLM")},
				txSpec{x12.Version837P, setB}),
			group: x12.AckPartiallyAccepted, counts: [3]int{2, 2, 1},
			sets: []wantSet{
				{status: x12.AckRejected, codes: []string{"5"}, errs: []string{"BHT/2/3", "CLM/" + strconv.Itoa(len(setA)) + "/3"}},
				{status: x12.AckAccepted},
			},
			claims: []wantClaim{{pcn: "SLP260303P", status: "A2:20", accepted: true, from: "20260303", to: "20260305"}},
		},
		{
			name: "truncated", file: valid[:len(valid)/2], problem: true,
			group: x12.AckRejected, counts: [3]int{1, 1, 0}, gerrs: []string{"3"},
			sets: []wantSet{{status: x12.AckRejected, codes: []string{"2"}}},
		},
		{
			name: "SE count wrong", file: seWrong, problem: true,
			group: x12.AckRejected, counts: [3]int{1, 1, 0},
			sets: []wantSet{{status: x12.AckRejected, codes: []string{"4"}}},
		},
		{
			name: "segment identifier unreadable", problem: true,
			file:  bytes.Replace(bytes.Clone(valid), []byte("\nDTP*472"), []byte("\nd*472"), 1),
			group: x12.AckRejected, counts: [3]int{1, 1, 0},
			sets: []wantSet{{status: x12.AckRejected, codes: []string{"5"}, errs: []string{"UNK/" + strconv.Itoa(dtpPosition(t, valid)) + "/1"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := Acknowledge(tc.file, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Problem != ""; got != tc.problem {
				t.Errorf("Problem = %q, want a problem: %v", resp.Problem, tc.problem)
			}
			acks, err := x12.Read999(resp.Ack999)
			if err != nil {
				t.Fatalf("Read999: %v\n%s", err, resp.Ack999)
			}
			if len(acks) != 1 {
				t.Fatalf("%d 999 sets, want 1", len(acks))
			}
			a := acks[0]
			if a.FunctionalID != "HC" || a.Status != tc.group {
				t.Errorf("AK1 %s, AK901 %s; want HC, %s\n%s", a.FunctionalID, a.Status, tc.group, resp.Ack999)
			}
			if got := [3]int{a.SetsIncluded, a.SetsReceived, a.SetsAccepted}; got != tc.counts {
				t.Errorf("AK902–904 = %v, want %v", got, tc.counts)
			}
			if !slices.Equal(a.GroupErrors, tc.gerrs) {
				t.Errorf("AK905 = %v, want %v", a.GroupErrors, tc.gerrs)
			}
			if len(a.Sets) != len(tc.sets) {
				t.Fatalf("%d AK2 loops, want %d\n%s", len(a.Sets), len(tc.sets), resp.Ack999)
			}
			for i, w := range tc.sets {
				s := a.Sets[i]
				if s.Status != w.status || !slices.Equal(s.Codes, w.codes) {
					t.Errorf("set %d: IK5 %s %v, want %s %v", i, s.Status, s.Codes, w.status, w.codes)
				}
				var errs []string
				for _, e := range s.Errors {
					errs = append(errs, e.SegmentID+"/"+strconv.Itoa(e.Position)+"/"+e.Code)
					for _, el := range e.Elements {
						errs = append(errs, "+"+strconv.Itoa(el.Position)+"/"+el.Code)
					}
				}
				if !slices.Equal(errs, w.errs) {
					t.Errorf("set %d: errors %v, want %v\n%s", i, errs, w.errs, resp.Ack999)
				}
			}

			if tc.claims == nil {
				if resp.Ack277 != nil {
					t.Fatalf("unexpected 277CA:\n%s", resp.Ack277)
				}
				return
			}
			cas, err := x12.Read277CA(resp.Ack277)
			if err != nil {
				t.Fatalf("Read277CA: %v\n%s", err, resp.Ack277)
			}
			var got []x12.Claim277
			var totals x12.Totals
			for _, ca := range cas {
				got = append(got, ca.Claims...)
				for _, b := range ca.Batches {
					totals.AcceptedCount += b.AcceptedCount
					totals.RejectedCount += b.RejectedCount
					totals.AcceptedCents += b.AcceptedCents
					totals.RejectedCents += b.RejectedCents
				}
			}
			if len(got) != len(tc.claims) {
				t.Fatalf("%d claims in the 277CA, want %d", len(got), len(tc.claims))
			}
			var want x12.Totals
			for i, w := range tc.claims {
				c := got[i]
				st := c.Statuses[0].Codes[0]
				status := st.Category + ":" + st.Code
				if st.Entity != "" {
					status += ":" + st.Entity
				}
				if c.PatientControlNumber != w.pcn || status != w.status || c.Accepted() != w.accepted {
					t.Errorf("claim %d: %s %s accepted %v, want %s %s %v", i, c.PatientControlNumber, status, c.Accepted(), w.pcn, w.status, w.accepted)
				}
				if c.ServiceFrom != w.from || c.ServiceTo != w.to {
					t.Errorf("claim %d: service %s–%s, want %s–%s", i, c.ServiceFrom, c.ServiceTo, w.from, w.to)
				}
				if c.PayerClaimNumber != PayerClaimNumber(tc.cfg.Seed, w.pcn) || len(c.PayerClaimNumber) != 13 {
					t.Errorf("claim %d: REF*1K %q, want %q", i, c.PayerClaimNumber, PayerClaimNumber(tc.cfg.Seed, w.pcn))
				}
				sum := resp.Claims[i]
				if sum.ControlNumber != w.pcn || sum.Status != w.status || sum.Accepted != w.accepted || sum.ChargeCents != c.Statuses[0].ChargeCents {
					t.Errorf("claim %d: summary %+v disagrees with the 277CA", i, sum)
				}
				if w.accepted {
					want.AcceptedCount++
					want.AcceptedCents += sum.ChargeCents
				} else {
					want.RejectedCount++
					want.RejectedCents += sum.ChargeCents
				}
			}
			if totals.AcceptedCount != want.AcceptedCount || totals.RejectedCount != want.RejectedCount ||
				totals.AcceptedCents != want.AcceptedCents || totals.RejectedCents != want.RejectedCents {
				t.Errorf("batch totals %+v, want %+v", totals, want)
			}
			if resp.ClaimsAccepted != want.AcceptedCount || resp.AcceptedCents != want.AcceptedCents ||
				resp.ClaimsRejected != want.RejectedCount || resp.RejectedCents != want.RejectedCents {
				t.Errorf("summary %+v, want totals %+v", resp.Summary, want)
			}
		})
	}
}

// dtpPosition is the position, within its set, of the first DTP of an
// 837 file with one set.
func dtpPosition(t *testing.T, file []byte) int {
	tx := transaction(t, file)
	for _, s := range tx.Segments {
		if s.ID == "DTP" {
			return s.Index - tx.ST.Index + 1
		}
	}
	t.Fatal("no DTP")
	return 0
}

// TestAcknowledgeEnvelope checks the answers' envelopes: they parse, go
// back to the sender, and carry the right functional groups and versions.
func TestAcknowledgeEnvelope(t *testing.T) {
	t.Parallel()
	file := write837(t, batch(101, selfClaim("OT260302A", "1EG4TE5MK73")))
	resp, err := Acknowledge(file, Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := x12.Parse(file)
	for _, tc := range []struct {
		name      string
		data      []byte
		fid, vers string
	}{
		{"999", resp.Ack999, "FA", Version999},
		{"277CA", resp.Ack277, "HN", Version277},
	} {
		ics, err := x12.Parse(tc.data)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h := ics[0].Header
		if h.SenderID != in[0].Header.ReceiverID || h.ReceiverID != in[0].Header.SenderID || h.Usage != "T" {
			t.Errorf("%s: ISA from %s to %s usage %s", tc.name, h.SenderID, h.ReceiverID, h.Usage)
		}
		gs := ics[0].Groups[0].GS
		if gs.Element(1) != tc.fid || gs.Element(8) != tc.vers || gs.Element(2) != "CLEARHOUSE01" || gs.Element(3) != "RCMCLINIC01" {
			t.Errorf("%s: %v", tc.name, gs)
		}
		if gs.Element(6) != strings.TrimLeft(h.ControlNumber, "0") {
			t.Errorf("%s: GS06 %s, ISA13 %s", tc.name, gs.Element(6), h.ControlNumber)
		}
	}
	a, _ := x12.Parse(resp.Ack999)
	b, _ := x12.Parse(resp.Ack277)
	if a[0].Header.ControlNumber == b[0].Header.ControlNumber {
		t.Error("the 999 and the 277CA share an interchange control number")
	}
	// The patient's name is echoed as sent, as a clearinghouse does.
	if !bytes.Contains(resp.Ack277, []byte("NM1*QC*1*DOE*MARGARET****MI*1EG4TE5MK73~")) {
		t.Errorf("patient name not echoed:\n%s", resp.Ack277)
	}

	fixed, err := Acknowledge(file, Config{ControlNumber: 42})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(fixed.Ack999, []byte("*000000042*0*T*:~")) || !bytes.Contains(fixed.Ack277, []byte("*000000043*0*T*:~")) {
		t.Errorf("Config.ControlNumber not used:\n%s\n%s", fixed.Ack999, fixed.Ack277)
	}
}

func TestAcknowledgeDeterministic(t *testing.T) {
	t.Parallel()
	file := write837(t, batch(101, selfClaim("OT260302A", "1EG4TE5MK73"), childClaim("SLP260303P")))
	cfg := Config{Seed: 11, RejectRate: 0.5}
	a, err := Acknowledge(file, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Acknowledge(file, cfg)
	if !bytes.Equal(a.Ack999, b.Ack999) || !bytes.Equal(a.Ack277, b.Ack277) {
		t.Error("the same seed gave different answers")
	}
	cfg.Seed = 12
	c, _ := Acknowledge(file, cfg)
	for i := range a.Claims {
		if a.Claims[i].PayerClaimNumber == c.Claims[i].PayerClaimNumber {
			t.Errorf("claim %d: seeds 11 and 12 gave the same payer claim number", i)
		}
	}
}

// TestRejectRate checks that the random share is roughly the configured
// one and independent of the claim's neighbours.
func TestRejectRate(t *testing.T) {
	t.Parallel()
	var claims []x12.Claim837
	for i := range 400 {
		claims = append(claims, selfClaim("C"+strconv.Itoa(i+1000), "1EG4TE5MK73"))
	}
	resp, err := Acknowledge(write837(t, batch(5, claims...)), Config{Seed: 1, RejectRate: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.ClaimsRejected; r < 60 || r > 140 {
		t.Errorf("%d of 400 claims rejected at a rate of 0.25", r)
	}
	one, _ := Acknowledge(write837(t, batch(5, claims[7])), Config{Seed: 1, RejectRate: 0.25})
	if one.Claims[0].Status != resp.Claims[7].Status {
		t.Error("a claim's draw depends on the other claims in the file")
	}
}

func TestAcknowledgeErrors(t *testing.T) {
	t.Parallel()
	valid := write837(t, batch(101, selfClaim("OT260302A", "1EG4TE5MK73")))
	noGroup := []byte(string(valid[:106]) + "\nIEA*0*000000101~\n")
	tests := []struct {
		name string
		file []byte
		cfg  Config
		want error // nil: any error
	}{
		{"empty", nil, Config{}, ErrUnreadable},
		{"not X12", []byte("hello, world"), Config{}, ErrUnreadable},
		{"ISA cut", valid[:50], Config{}, ErrUnreadable},
		{"ISA widths wrong", append([]byte("ISA*0*"), valid[6:]...), Config{}, ErrUnreadable},
		{"no functional group", noGroup, Config{}, ErrUnreadable},
		{"GS cut", valid[:strings.Index(string(valid), "GS*")+5], Config{}, ErrUnreadable},
		{"reject rate above 1", valid, Config{RejectRate: 1.5}, nil},
		{"control number too large", valid, Config{ControlNumber: 999999999}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Acknowledge(tc.file, tc.cfg)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidNPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		npi  string
		want bool
	}{
		{"1234567893", true}, {"1987654328", true}, {"1234567890", false},
		{"123456789", false}, {"12345678931", false}, {"12345678a3", false}, {"", false},
	} {
		if got := validNPI(tc.npi); got != tc.want {
			t.Errorf("validNPI(%q) = %v", tc.npi, got)
		}
	}
}

func TestParseMoney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"415", 41500, true}, {"65.5", 6550, true}, {"199.14", 19914, true}, {".5", 50, true},
		{"1.500", 150, true}, {"1.505", 0, false}, {"-5", 0, false}, {"", 0, false}, {"1e3", 0, false},
	} {
		got, ok := parseMoney(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseMoney(%q) = %d, %v", tc.in, got, ok)
		}
	}
}
