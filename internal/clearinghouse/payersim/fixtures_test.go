package payersim

import (
	"bytes"
	"testing"
	"time"

	"github.com/rcm-health/rcm/pkg/x12"
)

// Synthetic claims: names, member ids and addresses are invented; the
// good NPIs pass the Luhn check, 1234567890 does not.

const (
	goodNPI = "1234567893"
	badNPI  = "1234567890"
	unknown = "NOSUCHMEMBER1"
)

var fileTime = time.Date(2026, 3, 5, 14, 15, 0, 0, time.UTC)

func day(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }

func clinic(npi string) x12.BillingProvider {
	return x12.BillingProvider{
		Name: "RIVERSIDE THERAPY GROUP", NPI: npi, TIN: "123456789",
		Address: x12.Address{Line1: "100 MAIN ST", City: "SPRINGFIELD", State: "IL", ZIP: "627011234"},
	}
}

// selfClaim is a claim whose patient is the subscriber, one line.
func selfClaim(pcn, member string) x12.Claim837 {
	return x12.Claim837{
		ControlNumber: pcn, TotalChargeCents: 17550, PlaceOfService: "11",
		Diagnoses:       []string{"M6281"},
		BillingProvider: clinic(goodNPI),
		Subscriber: x12.Subscriber{
			Person: x12.Person{Last: "DOE", First: "MARGARET", Sex: "F", BirthDate: time.Date(1948, 7, 14, 0, 0, 0, 0, time.UTC),
				Address: x12.Address{Line1: "12 ELM ST", City: "SPRINGFIELD", State: "IL", ZIP: "62704"}},
			MemberID: member,
		},
		PayerName: "MEDICARE PART B", PayerID: "00952", ClaimFilingCode: "MB",
		Lines: []x12.Line837{
			{Code: "97530", Modifiers: []string{"GO"}, ChargeCents: 17550, Units: 2, DiagnosisPointers: []int{1}, DateOfService: day(2), ControlNumber: pcn + "-1"},
		},
	}
}

// childClaim is a claim for a dependent, two lines on two dates.
func childClaim(pcn string) x12.Claim837 {
	home := x12.Address{Line1: "7 BIRCH LN", City: "SHERMAN", State: "IL", ZIP: "62684"}
	return x12.Claim837{
		ControlNumber: pcn, TotalChargeCents: 48000, PlaceOfService: "11",
		Diagnoses:       []string{"F802"},
		BillingProvider: clinic(goodNPI),
		Subscriber: x12.Subscriber{
			Person:   x12.Person{Last: "PATEL", First: "ANITA", Sex: "F", BirthDate: time.Date(1987, 4, 9, 0, 0, 0, 0, time.UTC), Address: home},
			MemberID: "ZGP44120987", GroupNumber: "77120",
		},
		PayerName: "EXAMPLE HEALTH PLAN", PayerID: "60054", ClaimFilingCode: "CI",
		Patient: &x12.Patient{Relationship: "19", Person: x12.Person{Last: "PATEL", First: "NIKHIL", Sex: "M",
			BirthDate: time.Date(2019, 8, 30, 0, 0, 0, 0, time.UTC), Address: home}},
		Lines: []x12.Line837{
			{Code: "92507", Modifiers: []string{"GN"}, ChargeCents: 24000, Units: 1, DiagnosisPointers: []int{1}, DateOfService: day(3), ControlNumber: pcn + "-1"},
			{Code: "92507", Modifiers: []string{"GN"}, ChargeCents: 24000, Units: 1, DiagnosisPointers: []int{1}, DateOfService: day(5), ControlNumber: pcn + "-2"},
		},
	}
}

func batch(icn int, claims ...x12.Claim837) x12.Batch837 {
	return x12.Batch837{
		SenderID: "RCMCLINIC01", SenderName: "RIVERSIDE THERAPY GROUP",
		ReceiverID: "CLEARHOUSE01", ReceiverName: "EXAMPLE CLEARINGHOUSE",
		Contact:            x12.Contact{Name: "BILLING OFFICE", Phone: "2175550100"},
		InterchangeControl: icn, GroupControl: icn, Usage: "T",
		Created:    fileTime,
		LineBreaks: true,
		Claims:     claims,
	}
}

func write837(t testing.TB, b x12.Batch837) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := x12.Write837P(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// transaction returns the only transaction set of an 837 file.
func transaction(t testing.TB, file []byte) x12.Transaction {
	t.Helper()
	ics, err := x12.Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	return ics[0].Groups[0].Transactions[0]
}

// txSpec is one transaction set for assemble: ST03 and the segments
// between ST and SE.
type txSpec struct {
	version string
	segs    []x12.Segment
}

// assemble writes one interchange with one HC group (GS08 gsVersion)
// holding the given sets, numbered 0001, 0002…, with correct counts.
func assemble(t testing.TB, gsVersion string, sets ...txSpec) []byte {
	t.Helper()
	w, err := x12.NewWriter(x12.DefaultSeparators, true)
	if err != nil {
		t.Fatal(err)
	}
	w.ISA(x12.InterchangeHeader{SenderID: "RCMCLINIC01", ReceiverID: "CLEARHOUSE01", Created: fileTime, ControlNumber: 300, Usage: "T"})
	w.GS("HC", "RCMCLINIC01", "CLEARHOUSE01", fileTime, 300, gsVersion)
	for i, s := range sets {
		w.ST("837", i+1, s.version)
		for _, seg := range s.segs {
			w.Segment(seg.ID, seg.Elements...)
		}
		w.SE()
	}
	w.GE()
	w.IEA()
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(w.Bytes())
}

// without returns segs without the segments whose ID is one of ids.
func without(segs []x12.Segment, ids ...string) []x12.Segment {
	var out []x12.Segment
next:
	for _, s := range segs {
		for _, id := range ids {
			if s.ID == id {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// knownMembers knows every member but the one called unknown.
func knownMembers(_, member string) bool { return member != unknown }
