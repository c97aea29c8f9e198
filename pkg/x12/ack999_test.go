package x12

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// ackFile wraps transaction bodies (segments between ST and SE, without
// terminators) in a well-formed interchange so that hand-built cases test
// the readers, not the envelope.
func ackFile(gs01, st01, version string, bodies ...[]string) []byte {
	var b strings.Builder
	b.WriteString("ISA*00*          *00*          *ZZ*CLEARHOUSE01   *ZZ*RCMCLINIC01    *260306*0900*^*00501*000000501*0*T*:~\n")
	fmt.Fprintf(&b, "GS*%s*CLEARHOUSE01*RCMCLINIC01*20260306*0900*501*X*%s~\n", gs01, version)
	for i, body := range bodies {
		fmt.Fprintf(&b, "ST*%s*%04d*%s~\n", st01, i+1, version)
		for _, s := range body {
			b.WriteString(s + "~\n")
		}
		fmt.Fprintf(&b, "SE*%d*%04d~\n", len(body)+2, i+1)
	}
	fmt.Fprintf(&b, "GE*%d*501~\nIEA*1*000000501~\n", len(bodies))
	return []byte(b.String())
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/acks/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRead999Samples checks the copied 999s. The expected values were read
// off the files by hand once: imsweb's rejected 999 has IK3*NM*17**1,
// IK5*R*5 and AK9*R*1*1*0; its accepted 999 ends with IEA*1*000000001
// although ISA13 is 000000286, so the envelope check refuses it.
func TestRead999Samples(t *testing.T) {
	t.Parallel()
	type set struct {
		id, control string
		status      AckCode
		codes       string
		errors      string // IK3s as id/position/loop/code
	}
	tests := []struct {
		file    string
		err     string
		group   string // AK101/AK102/AK103
		status  AckCode
		counts  [3]int
		sets    [][]set // per 999 transaction set
		reasons []string
	}{
		{file: "imsweb__x12_999_rejected.txt", group: "HC/28/005010X223A2", status: AckRejected, counts: [3]int{1, 1, 0},
			sets:    [][]set{{{"837", "0028", AckRejected, "5", "NM/17//1"}}},
			reasons: []string{"transaction set 0028 rejected; one or more segments in error [5]; segment NM at position 17: unrecognised segment [1]"}},
		{file: "imsweb__x12_999_accepted.txt", err: "x12: IEA at segment 10: IEA02 000000001 does not match ISA13 000000286 at segment 1"},
		{file: "pyx12__834_ls_le_ls_5010.999.txt", group: "BE/146/005010X220A1", status: AckAccepted, counts: [3]int{1, 1, 1},
			sets: [][]set{{{"834", "146001", AckAccepted, "", ""}}}, reasons: []string{""}},
		{file: "pyx12__834_lui_id_5010.999.txt", group: "BE/13360001/005010X220A1", status: AckAccepted, counts: [3]int{1, 1, 1},
			sets: [][]set{
				{{"834", "0001", AckAccepted, "", ""}}, {{"834", "0001", AckAccepted, "", ""}},
				{{"834", "0001", AckAccepted, "", ""}}, {{"834", "0001", AckAccepted, "", ""}},
			}, reasons: []string{"", "", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			acks, err := Read999(readSample(t, tt.file))
			if tt.err != "" {
				var se *SyntaxError
				if !errors.As(err, &se) || err.Error() != tt.err || acks != nil {
					t.Fatalf("got %v, want *SyntaxError %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(acks) != len(tt.sets) {
				t.Fatalf("got %d 999s, want %d", len(acks), len(tt.sets))
			}
			for i, a := range acks {
				if g := a.FunctionalID + "/" + a.GroupControl + "/" + a.GroupVersion; g != tt.group {
					t.Errorf("AK1 %s, want %s", g, tt.group)
				}
				if a.Status != tt.status || [3]int{a.SetsIncluded, a.SetsReceived, a.SetsAccepted} != tt.counts {
					t.Errorf("AK9 %s %d/%d/%d, want %s %v", a.Status, a.SetsIncluded, a.SetsReceived, a.SetsAccepted, tt.status, tt.counts)
				}
				if a.Accepted() != tt.status.Accepted() {
					t.Error("Accepted disagrees with AK901")
				}
				if len(a.Sets) != len(tt.sets[i]) {
					t.Fatalf("got %d AK2 loops, want %d", len(a.Sets), len(tt.sets[i]))
				}
				for j, s := range a.Sets {
					var errs []string
					for _, e := range s.Errors {
						errs = append(errs, fmt.Sprintf("%s/%d/%s/%s", e.SegmentID, e.Position, e.LoopID, e.Code))
					}
					got := set{s.ID, s.ControlNumber, s.Status, strings.Join(s.Codes, ","), strings.Join(errs, ",")}
					if got != tt.sets[i][j] {
						t.Errorf("set %d: got %+v, want %+v", j, got, tt.sets[i][j])
					}
					if r := s.Reason(); r != tt.reasons[i] {
						t.Errorf("reason %q, want %q", r, tt.reasons[i])
					}
				}
			}
		})
	}
}

// TestRead999AcceptedBody reads the imsweb accepted 999 with its IEA02
// corrected in memory, to check the content the envelope error hides.
func TestRead999AcceptedBody(t *testing.T) {
	t.Parallel()
	data := strings.Replace(string(readSample(t, "imsweb__x12_999_accepted.txt")), "IEA*1*000000001", "IEA*1*000000286", 1)
	acks, err := Read999([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	a := acks[0]
	if a.GroupControl != "17456" || len(a.Sets) != 1 || a.Sets[0].ControlNumber != "0001" || !a.Sets[0].Accepted() || !a.Accepted() || a.Reason() != "" {
		t.Errorf("got %+v", a)
	}
}

// TestRead999Hand covers what the samples do not: a group whose 999
// rejects one of its two transaction sets, an IK4 with a bad value that
// must not be copied, a CTX naming the claim, and accepted-with-errors.
func TestRead999Hand(t *testing.T) {
	t.Parallel()
	data := ackFile("FA", "999", "005010X231A1", []string{
		"AK1*HC*101*005010X222A1",
		"AK2*837*0001*005010X222A1",
		"IK5*A",
		"AK2*837*0002*005010X222A1",
		"IK3*NM1*8*2010BA*8",
		"CTX*CLM01:OT260302B",
		"IK4*9*67*6*DOE*JANE*SECRET1",
		"CTX*SITUATIONAL TRIGGER*CLM*12*2300*5:1*1331",
		"IK3*SV1*20*2400*8",
		"IK4*1:2*235*7*ZZ",
		"IK5*R*5*I5",
		"AK2*837*0003*005010X222A1",
		"IK3*PRV*5*2000A*I4",
		"IK5*E",
		"AK9*P*3*3*2",
	})
	acks, err := Read999(data)
	if err != nil {
		t.Fatal(err)
	}
	a := acks[0]
	if a.GroupControl != "101" || a.Status != AckPartiallyAccepted || a.Accepted() || a.Status.Rejected() {
		t.Errorf("group: %+v", a)
	}
	if want := "group 101 partially accepted (some transaction sets rejected) (2 of 3 transaction sets accepted)"; a.Reason() != want {
		t.Errorf("group reason %q, want %q", a.Reason(), want)
	}
	tests := []struct {
		control  string
		accepted bool
		reason   string
	}{
		{"0001", true, ""},
		{"0002", false, "transaction set 0002 rejected; one or more segments in error [5]; one or more segments in error against the implementation guide [I5]; " +
			"segment NM1 at position 8 in loop 2010BA of claim OT260302B: segment has element errors [8]; element NM109 (data element 67): invalid character [6]; " +
			"segment SV1 at position 20 in loop 2400: segment has element errors [8]; element SV101-2 (data element 235): invalid code value [7]"},
		{"0003", true, "transaction set 0003 accepted with errors noted; segment PRV at position 5 in loop 2000A: segment the guide says is not used is present [I4]"},
	}
	for i, tt := range tests {
		s := a.Sets[i]
		if s.ControlNumber != tt.control || s.Accepted() != tt.accepted || s.Reason() != tt.reason {
			t.Errorf("set %d: %s accepted=%v reason\n%q\nwant %s %v\n%q", i, s.ControlNumber, s.Accepted(), s.Reason(), tt.control, tt.accepted, tt.reason)
		}
	}
	el := a.Sets[1].Errors[0].Elements[0]
	if el.Position != 9 || el.Reference != "67" || el.Code != "6" || len(el.Context) != 1 {
		t.Errorf("IK4: %+v", el)
	}
	c := el.Context[0]
	if c != (Context{Name: "SITUATIONAL TRIGGER", SegmentID: "CLM", Position: 12, LoopID: "2300", Element: 5, Component: 1, ElementRef: "1331"}) {
		t.Errorf("CTX: %+v", c)
	}
	if got := fmt.Sprintf("%+v", acks); strings.Contains(got, "SECRET1") || strings.Contains(got, "DOE") || strings.Contains(got, "ZZ") {
		t.Error("an IK404 bad value was copied")
	}
}

func TestRead999Errors(t *testing.T) {
	t.Parallel()
	ok := []string{"AK1*HC*101*005010X222A1", "AK2*837*0001", "IK5*A", "AK9*A*1*1*1"}
	edit := func(i int, seg ...string) []string {
		out := append([]string{}, ok[:i]...)
		out = append(out, seg...)
		return append(out, ok[i+1:]...)
	}
	tests := []struct {
		name string
		data []byte
		want string // *SyntaxError text, or "type:" + *TransactionTypeError text
	}{
		{"no AK1", ackFile("FA", "999", "005010X231A1", ok[1:]), "x12: AK2 at segment 4: the 999 must start with AK1"},
		{"two AK1", ackFile("FA", "999", "005010X231A1", edit(0, ok[0], ok[0])), "x12: AK1 at segment 5: a second AK1 in one 999"},
		{"AK102 missing", ackFile("FA", "999", "005010X231A1", edit(0, "AK1*HC")), "x12: AK1 at segment 4: AK102 (group control number) is missing"},
		{"no IK5", ackFile("FA", "999", "005010X231A1", edit(2)), "x12: AK9 at segment 6: AK9 before the IK5 of the AK2 at segment 5"},
		{"no AK9", ackFile("FA", "999", "005010X231A1", ok[:3]), "x12: SE at segment 7: the 999 has no AK9"},
		{"AK2 left open", ackFile("FA", "999", "005010X231A1", ok[:2]), "x12: AK2 at segment 5: the AK2 loop has no IK5"},
		{"AK2 in AK2", ackFile("FA", "999", "005010X231A1", edit(2, "AK2*837*0002")), "x12: AK2 at segment 6: AK2 before the IK5 of the AK2 at segment 5"},
		{"IK3 outside", ackFile("FA", "999", "005010X231A1", edit(1, "IK3*CLM*3**8")), "x12: IK3 at segment 5: IK3 outside an AK2 loop"},
		{"IK4 outside", ackFile("FA", "999", "005010X231A1", edit(1, ok[1], "IK4*1**1")), "x12: IK4 at segment 6: IK4 outside an IK3 loop"},
		{"CTX outside", ackFile("FA", "999", "005010X231A1", edit(1, ok[1], "CTX*CLM01:X")), "x12: CTX at segment 6: CTX outside an IK3 or IK4 loop"},
		{"IK302 letters", ackFile("FA", "999", "005010X231A1", edit(1, ok[1], "IK3*CLM*X3**8")), "x12: IK3 at segment 6: IK302 is not a whole number"},
		{"IK401 missing", ackFile("FA", "999", "005010X231A1", edit(1, ok[1], "IK3*CLM*3**8", "IK4**66*1")), "x12: IK4 at segment 7: IK401-1 is missing"},
		{"IK501 missing", ackFile("FA", "999", "005010X231A1", edit(2, "IK5")), "x12: IK5 at segment 6: IK501 (acknowledgement code) is missing"},
		{"AK904 letters", ackFile("FA", "999", "005010X231A1", edit(3, "AK9*A*1*1*one")), "x12: AK9 at segment 7: AK904 is not a whole number"},
		{"after AK9", ackFile("FA", "999", "005010X231A1", append(append([]string{}, ok...), "IK5*A")), "x12: IK5 at segment 8: segment after the AK9, which ends the 999"},
		{"stranger", ackFile("FA", "999", "005010X231A1", edit(2, "AK5*A")), `x12: AK5 at segment 6: segment "AK5" has no place in a 999`},
		{"997", ackFile("FA", "997", "004010", ok), `type:x12: ST at segment 3: found "997" (a 4010 functional acknowledgement) where a 999 was expected`},
		{"277CA", readSample(t, "imsweb__x12_277CA_rejected.txt"), `type:x12: GS at segment 2: found "HN" (a 277 claim acknowledgement) where a 999 was expected`},
		{"no group", []byte("ISA*00*          *00*          *ZZ*CLEARHOUSE01   *ZZ*RCMCLINIC01    *260306*0900*^*00501*000000501*0*T*:~TA1*000000101*260305*1415*R*022~IEA*0*000000501~"),
			"type:x12: ISA at segment 1: found nothing where a 999 was expected"},
		{"envelope", []byte("ISA*00"), "x12: ISA at segment 1: the input ends 6 bytes into the ISA segment, which has 106"},
		{"empty", nil, "x12: segment 1: no ISA segment: the input is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			acks, err := Read999(tt.data)
			checkAckError(t, acks == nil, err, tt.want)
		})
	}
}

// checkAckError checks the error's type and text: want starts with "type:"
// for a *TransactionTypeError.
func checkAckError(t *testing.T, nilResult bool, err error, want string) {
	t.Helper()
	if !nilResult {
		t.Error("a result came with the error")
	}
	if w, ok := strings.CutPrefix(want, "type:"); ok {
		var te *TransactionTypeError
		if !errors.As(err, &te) || err.Error() != w {
			t.Errorf("got %v (%T), want *TransactionTypeError %q", err, err, w)
		}
		return
	}
	var se *SyntaxError
	if !errors.As(err, &se) || err.Error() != want {
		t.Errorf("got %v (%T), want *SyntaxError %q", err, err, want)
	}
}

func TestAckCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code               AckCode
		accepted, rejected bool
	}{
		{AckAccepted, true, false}, {AckAcceptedErrors, true, false}, {AckPartiallyAccepted, false, false},
		{AckRejected, false, true}, {AckRejectedMAC, false, true}, {AckRejectedAssurance, false, true},
		{AckRejectedContent, false, true}, {"Q", false, false},
	}
	for _, tt := range tests {
		if tt.code.Accepted() != tt.accepted || tt.code.Rejected() != tt.rejected || tt.code.String() == "" {
			t.Errorf("%q: accepted %v rejected %v", tt.code, tt.code.Accepted(), tt.code.Rejected())
		}
	}
}

// FuzzRead999 checks that Read999 never panics, fails only with the
// package's error types, and that what it accepts is complete. The
// committed corpus in testdata/fuzz/FuzzRead999 holds the sample 999s and
// the hand-built cases.
func FuzzRead999(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		acks, err := Read999(data)
		if err != nil {
			var se *SyntaxError
			var te *TransactionTypeError
			if acks != nil || !errors.As(err, &se) && !errors.As(err, &te) {
				t.Fatalf("error %v (%T) with %d acks", err, err, len(acks))
			}
			return
		}
		if len(acks) == 0 {
			t.Fatal("no error and no 999")
		}
		for _, a := range acks {
			if a.Status == "" || a.GroupControl == "" {
				t.Fatal("999 without AK9 or AK102 accepted")
			}
			_ = a.Reason()
			for _, s := range a.Sets {
				if s.Status == "" || s.ControlNumber == "" {
					t.Fatal("AK2 without IK5 or AK202 accepted")
				}
				_ = s.Reason()
			}
		}
	})
}
