package payersim

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rcm-health/rcm/pkg/x12"
)

// FuzzAcknowledge checks that Acknowledge never panics and that whatever
// it answers reads back: the 999 with Read999, the 277CA with Read277CA.
func FuzzAcknowledge(f *testing.F) {
	valid := write837(f, batch(101, selfClaim("OT260302A", "1EG4TE5MK73"), childClaim("SLP260303P")))
	setA := transaction(f, valid).Segments
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:120])
	f.Add(bytes.ReplaceAll(valid, []byte("\n"), nil))
	f.Add(bytes.Replace(valid, []byte("\nDTP*472"), []byte("\nd*472"), 1))
	f.Add(assemble(f, x12.Version837P, txSpec{x12.Version837P, setA}, txSpec{"005010X222A2", without(setA, "BHT")}))
	f.Add(assemble(f, "005010X222A2", txSpec{"", without(setA, "CLM")}))
	f.Add([]byte("ISA*00*          *00*          *ZZ*A              *ZZ*B              *260305*1415*U*00401*000000001*0*T*:~GS*HC*A*B*20260305*1415*1*X*005010X222A1~ST*837*1~SE*2*1~GE*1*1~IEA*1*000000001~"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := Acknowledge(data, Config{Seed: 1, RejectRate: 0.3, KnownMember: knownMembers})
		if err != nil {
			// Only a file with no readable ISA or GS goes unanswered: every
			// value echoed is cut at the separators, so writing cannot fail.
			if !errors.Is(err, ErrUnreadable) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if _, err := x12.Read999(resp.Ack999); err != nil {
			t.Fatalf("Read999: %v\n%s", err, resp.Ack999)
		}
		if resp.Ack277 != nil {
			if _, err := x12.Read277CA(resp.Ack277); err != nil {
				t.Fatalf("Read277CA: %v\n%s", err, resp.Ack277)
			}
		}
	})
}
