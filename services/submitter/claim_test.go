package submitter_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/docs"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/x12"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/intake"
	"github.com/rcm-health/rcm/services/submitter"
)

var update = flag.Bool("update", false, "rewrite golden files")

func codedExample(t *testing.T, name string) *events.VisitCoded {
	t.Helper()
	v, err := docs.ExampleVisit(name)
	if err != nil {
		t.Fatal(err)
	}
	rec := events.VisitRecorded{VisitID: intake.VisitID(v.Source, v.SourceVisitID), Revision: v.Revision, Change: events.ChangeNew, Visit: v}
	c, _ := coder.Build(rec, billing.DefaultRules(), coder.Options{})
	c.Revision = 1 // the coder service numbers its codings
	return &c
}

func batch(claims ...x12.Claim837) x12.Batch837 {
	return x12.Batch837{
		SenderID: "RCMCLINIC01", SenderName: "RCM DEMO CLINIC", ReceiverID: "CLEARHOUSE01", ReceiverName: "DEMO CLEARINGHOUSE",
		Contact:            x12.Contact{Name: "BILLING OFFICE", Phone: "6125550100"},
		InterchangeControl: 101, GroupControl: 101, Usage: "T", LineBreaks: true,
		Created: time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC),
		Claims:  claims,
	}
}

// TestExamplesMakeClaims: every documented example visit, coded as the
// coder service codes it, becomes an 837P that the reader parses back with
// the claim's control numbers and totals; the result is compared byte for
// byte with a reviewed golden file.
func TestExamplesMakeClaims(t *testing.T) {
	t.Parallel()
	entries, err := docs.FS.ReadDir("examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		coded := codedExample(t, name)
		if coded.Void {
			if _, err := submitter.BuildClaim(submitter.ClaimRequest{Coded: coded, Submission: 1}); err == nil {
				t.Errorf("%s: a void visit made an original claim", name)
			}
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			claim, err := submitter.BuildClaim(submitter.ClaimRequest{Coded: coded, Submission: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(claim.ControlNumber) > 17 || claim.TotalChargeCents != coded.ChargeCents || len(claim.Lines) != len(coded.Lines) {
				t.Fatalf("claim %s total %d lines %d; coded total %d lines %d", claim.ControlNumber, claim.TotalChargeCents, len(claim.Lines), coded.ChargeCents, len(coded.Lines))
			}
			var out bytes.Buffer
			if err := x12.Write837P(&out, batch(claim)); err != nil {
				t.Fatal(err)
			}
			ics, err := x12.Parse(out.Bytes())
			if err != nil {
				t.Fatalf("written 837P does not parse: %v", err)
			}
			segs := ics[0].Groups[0].Transactions[0].Segments
			var clm01 string
			var refs []string
			for _, s := range segs {
				switch {
				case s.ID == "CLM":
					clm01 = s.Element(1)
				case s.ID == "REF" && s.Element(1) == "6R":
					refs = append(refs, s.Element(2))
				}
			}
			if clm01 != claim.ControlNumber || len(refs) != len(claim.Lines) {
				t.Fatalf("parsed CLM01 %q and %d REF*6R; want %q and %d", clm01, len(refs), claim.ControlNumber, len(claim.Lines))
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".json")+".837")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("837P differs from %s; run with -update and review the diff", golden)
			}
		})
	}
}

func TestControlNumbers(t *testing.T) {
	t.Parallel()
	a1 := submitter.ControlNumber("visit-a", 1)
	if a1 != submitter.ControlNumber("visit-a", 1) {
		t.Fatal("control number not deterministic")
	}
	seen := map[string]bool{}
	for _, n := range []string{a1, submitter.ControlNumber("visit-a", 2), submitter.ControlNumber("visit-b", 1), submitter.ControlNumber("visit-a", 9999)} {
		if seen[n] {
			t.Fatalf("control number %s repeats", n)
		}
		seen[n] = true
		if len(n) > 17 {
			t.Fatalf("control number %s longer than 17", n)
		}
	}
	if l := submitter.LineControlNumber(submitter.ControlNumber("visit-a", 9999), 50); len(l) > 30 {
		t.Fatalf("line control number %s longer than 30", l)
	}
}

func TestBuildClaimRefusesWhatCannotBeAClaim(t *testing.T) {
	t.Parallel()
	base := codedExample(t, "visit-ot-medicare.json")
	cases := map[string]func(c *events.VisitCoded){
		"void":                func(c *events.VisitCoded) { c.Void = true },
		"no lines":            func(c *events.VisitCoded) { c.Lines = nil },
		"bad date of service": func(c *events.VisitCoded) { c.Visit.DateOfService = "soon" },
		"bad birth date":      func(c *events.VisitCoded) { c.Visit.Patient.BirthDate = "1950-13-01" },
		"subscriber missing": func(c *events.VisitCoded) {
			c.Visit.Coverage.Relationship = events.RelationshipChild
			c.Visit.Coverage.Subscriber = nil
		},
	}
	for name, mutate := range cases {
		c := *base
		mutate(&c)
		_, err := submitter.BuildClaim(submitter.ClaimRequest{Coded: &c, Submission: 1})
		if err == nil {
			t.Errorf("%s: built a claim", name)
			continue
		}
		// Errors name fields, never the patient's values.
		for _, phi := range []string{base.Visit.Patient.LastName, base.Visit.Patient.BirthDate, base.Visit.Coverage.MemberID} {
			if phi != "" && strings.Contains(err.Error(), phi) {
				t.Errorf("%s: error carries PHI: %v", name, err)
			}
		}
	}
}
