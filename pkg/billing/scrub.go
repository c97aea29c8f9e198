package billing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// ScrubInput is one claim about to be built from a coded visit.
type ScrubInput struct {
	Coded         *events.VisitCoded // lines, issues, the visit
	ControlNumber string             // CLM01 the claim will carry
	Frequency     string             // "1" original, "7" replacement, "8" void
	OriginalRef   string             // payer claim control number for 7/8 (REF*F8)
	// Today is the date the claim is scrubbed, for timely filing and future
	// dates; its calendar day in its own location counts. A zero Today
	// skips those checks.
	Today time.Time
	// Submitted are lines of this patient already sent to this payer on
	// other claims (for duplicates). Lines of the claim being replaced or
	// voided, and earlier submissions under ControlNumber, are not
	// duplicates: leave them out or give them ControlNumber.
	Submitted []SubmittedLine
	Rules     *Rules
}

// SubmittedLine is a line already sent to the payer on another claim.
type SubmittedLine struct {
	ClaimControlNumber, Code string
	Modifiers                []string
	Units                    int
	DateOfService            string
}

// Limits of the checks.
const (
	maxDiagnoses         = 12
	maxPointers          = 4
	maxModifiers         = 4
	maxControlNumber     = 20
	safeControlNumber    = 17
	maxMemberID          = 80
	filingWarningDays    = 30
	progressReportVisits = 10
	authLowVisits        = 2
)

// Scrub checks a claim and returns every edit, the coder's issues included,
// sorted by line then code. It is pure and safe for concurrent use.
//
// The claim scrubber checks one claim, about to be built from a coded visit,
// against what an 837P therapy claim needs (BILLING.md §5) before it is
// sent: a claim with an error edit is held, one with only warnings passes.
//
// Every edit has a stable code. Messages name fields, never their values
// when the value is the patient's (name, birth date, member id, address) or
// is malformed free text; codes, control numbers and counts are named.
//
//	code                                severity  line  check
//	rules.missing                       error     0     no rules set was given; rule-based checks were skipped
//	payer.profile_missing               error     0     no payer profile (not even plan:other); payer checks were skipped
//	claim.no_lines                      error     0     the claim has no service line
//	claim.visit_voided                  error     0     the visit was voided, but the claim is not a void (frequency 8)
//	claim.frequency_invalid             error     0     CLM05-3 is not 1, 7 or 8
//	claim.original_ref_missing          error     0     a replacement or void has no payer claim control number (REF*F8)
//	claim.original_ref_unexpected       warning   0     an original claim carries a payer claim control number
//	claim.control_number_missing        error     0     no patient control number (CLM01)
//	claim.control_number_too_long       error     0     CLM01 longer than 20 characters
//	claim.control_number_long           warning   0     CLM01 of 18–20 characters, which some payers truncate
//	claim.control_number_characters     error     0     CLM01 has characters other than letters, digits and hyphens
//	npi.billing_invalid                 error     0     billing NPI missing, not 10 digits or wrong check digit
//	npi.rendering_invalid               error     0     rendering NPI likewise
//	npi.certifying_invalid              error     0     certifying (referring) physician's NPI likewise
//	tin.invalid                         error     0     billing TIN not 9 digits (or all zeros)
//	taxonomy.billing_missing            warning   0     no billing taxonomy (PRV*BI)
//	taxonomy.billing_format             error     0     billing taxonomy not 10 characters ending in X
//	taxonomy.billing_discipline         warning   0     an individual therapist's taxonomy of another discipline as billing taxonomy
//	taxonomy.rendering_missing          warning   0     no rendering taxonomy (PRV*PE)
//	taxonomy.rendering_format           error     0     rendering taxonomy not 10 characters ending in X
//	taxonomy.rendering_discipline       error     0     rendering taxonomy not of the rendering discipline (OT 225X…, PT 2251…, SLP 235Z…)
//	rendering.discipline_invalid        error     0     rendering discipline not OT, PT or SLP
//	address.billing_incomplete          error     0     billing address lacks street, city or a 2-letter state
//	address.billing_po_box              error     0     billing address is a PO Box
//	address.billing_zip_invalid         error     0     billing ZIP neither 5 nor 9 digits
//	address.billing_zip_plus4           error     0     billing ZIP has 5 digits; the billing provider needs ZIP+4 (837P 2010AA N403)
//	member.id_missing                   error     0     no member id
//	member.id_format                    error     0     member id has characters other than letters, digits and hyphens, or over 80
//	member.mbi_invalid                  error     0     Medicare Part B member id is not an MBI
//	patient.name_missing                error     0     patient's first or last name missing
//	patient.birth_date_invalid          error     0     patient's birth date not a valid date
//	patient.birth_after_service         error     0     patient's birth date after the date of service
//	patient.sex_invalid                 error     0     patient's sex not F, M or U
//	subscriber.relationship_invalid     error     0     relationship not self, spouse, child or other
//	subscriber.missing                  error     0     relationship is not self but no subscriber is given
//	subscriber.medicare_not_self        error     0     Medicare Part B patient who is not the subscriber
//	subscriber.birth_date_invalid       error     0     subscriber's birth date not a valid date
//	subscriber.sex_invalid              error     0     subscriber's sex not F, M or U
//	diagnosis.missing                   error     0     no diagnosis
//	diagnosis.format                    error     0     a diagnosis is not in ICD-10-CM form
//	diagnosis.duplicate                 error     0     a diagnosis appears twice
//	diagnosis.too_many                  error     0     more than 12 diagnoses
//	diagnosis.external_cause_first      error     0     the first diagnosis is an external-cause code (V00–Y99)
//	pointer.missing                     error     line  a line points at no diagnosis
//	pointer.too_many                    error     line  a line has more than 4 diagnosis pointers
//	pointer.out_of_range                error     line  a pointer names no diagnosis of the claim
//	charge.line_not_positive            error     line  a line's charge is not above zero
//	charge.total_not_positive           error     0     the claim's total charge is not above zero
//	charge.total_mismatch               error     0     the coded total differs from the sum of the lines
//	units.not_positive                  error     line  a line's units are not above zero
//	mue.exceeded                        error/warning line units above the MUE: error for MAI 2 (absolute), warning for MAI 1 and 3
//	duplicate.within_claim              error     line  the same code with the same modifiers on two lines
//	duplicate.submitted                 error     line  the same code, modifiers, units and date already sent on another claim
//	duplicate.same_day_code             warning   line  the same code and date already sent on another claim with other units or modifiers
//	modifier.invalid                    error     line  a modifier is not 2 letters or digits
//	modifier.too_many                   error     line  more than 4 modifiers
//	modifier.discipline_missing         error     line  no GO/GP/GN though the payer profile wants them
//	modifier.discipline_mismatch        error     line  GO/GP/GN not of the rendering discipline, or more than one
//	modifier.assistant_mismatch         error     line  CQ without GP, CO without GO, or both CQ and CO
//	modifier.abn_conflict               error     line  GA and GZ together
//	modifier.distinct_without_pair      error     line  59/XE/XS/XP/XU on a line that is not column 2 of an NCCI pair on the claim
//	modifier.kx_missing                 error     line  the visit takes the patient past the therapy threshold and the line has no KX
//	modifier.kx_unneeded                warning   line  KX while the patient is not past the threshold
//	modifier.telehealth_missing         warning   line  a telehealth visit's line lacks the payer's telehealth modifier
//	modifier.telehealth_unexpected      error     line  95, GT or 93 on a visit that was not telehealth
//	ncci.not_separately_payable         error     line  column-2 code of an indicator-0 NCCI pair (no bypass)
//	ncci.bundled                        error     line  column-2 code of an indicator-1 NCCI pair without 59/X
//	pos.invalid                         error     0     place of service not two digits
//	telehealth.place_of_service         error     0     telehealth visit not at the payer's telehealth place of service
//	telehealth.pos_without_telehealth   error     0     place of service 02 or 10 on a visit that was not telehealth
//	dos.invalid                         error     0     date of service not a valid date
//	dos.future                          error     0     date of service after today
//	filing.expired                      error     0     past the payer's timely-filing limit
//	filing.deadline_near                warning   0     within 30 days of the timely-filing limit
//	plan_of_care.missing                error     0     Medicare Part B claim without a certified plan of care
//	plan_of_care.dates_invalid          error     0     certification dates invalid or reversed
//	plan_of_care.outside_certification  error     0     date of service outside the certification period
//	plan_of_care.visit_number_invalid   warning   0     the last progress report is numbered after this visit
//	plan_of_care.progress_report_due    warning   0     10 or more visits since the last progress report
//	physician.certifying_missing        error     0     Medicare Part B claim without the certifying physician
//	auth.missing                        error     0     the payer profile requires prior authorization and there is none
//	auth.dates_invalid                  error     0     authorization dates invalid or reversed
//	auth.outside_dates                  error     0     date of service outside the authorization's dates
//	auth.exhausted                      error     0     no authorized visit left
//	auth.running_low                    warning   0     one or two authorized visits left, this one included
//
// The progress-report check is a warning: Medicare wants a progress report
// at least every 10 treatment days (MCPM Ch. 15 §220.3), but it is
// documentation the payer checks on medical review, not a claim element, and
// the report may be written with this visit after the claim is built.
//
// The coder's issues (VisitCoded.Issues) are carried through unchanged. A
// scrubber edit that repeats one of them (same code, on the same line or
// with the coder's on the claim as a whole) is left out, so that a biller
// sees each finding once.
func Scrub(in ScrubInput) []events.Edit {
	if in.Coded == nil {
		return []events.Edit{{Code: "claim.no_lines", Severity: events.SeverityError,
			Message: "there is no coded visit to build the claim from",
			Fix:     "code the visit before building its claim"}}
	}
	s := scrubber{in: in, lines: in.Coded.Lines}
	s.v = &s.in.Coded.Visit
	s.run()
	s.merge()
	if s.edits == nil {
		// Empty rather than nil, so that a clean claim's edits encode as
		// []; a zero-length make does not allocate.
		return make([]events.Edit, 0)
	}
	return s.edits
}

type scrubber struct {
	in    ScrubInput
	v     *events.Visit
	lines []events.CodedLine
	payer PayerProfile
	// havePayer says payer is a real profile.
	havePayer bool
	medicare  bool
	dos       time.Time // zero when the date of service is invalid
	today     time.Time // zero when not given
	// column2 marks the lines that are column 2 of an in-force NCCI pair
	// on the claim: line i is bit i, and lines past 64 are in column2Far.
	column2    uint64
	column2Far []bool
	edits      []events.Edit
}

func (s *scrubber) add(code, severity string, line int, msg, fix string) {
	s.edits = append(s.edits, events.Edit{Code: code, Severity: severity, Line: line, Message: msg, Fix: fix})
}

func (s *scrubber) errorf(code string, line int, fix, format string, args ...any) {
	s.add(code, events.SeverityError, line, fmt.Sprintf(format, args...), fix)
}

func (s *scrubber) warnf(code string, line int, fix, format string, args ...any) {
	s.add(code, events.SeverityWarning, line, fmt.Sprintf(format, args...), fix)
}

// lineNo is the number edits give line i.
func (s *scrubber) lineNo(i int) int {
	if n := s.lines[i].Line; n > 0 {
		return n
	}
	return i + 1
}

func (s *scrubber) run() {
	v := s.v
	r := s.in.Rules
	s.medicare = v.Coverage.PlanType == events.PlanMedicarePartB
	if r == nil {
		s.add("rules.missing", events.SeverityError, 0,
			"the claim was scrubbed without a rules set, so payer, MUE and NCCI checks were skipped",
			"start the submitter with the rules set (the embedded one or a rules directory)")
	} else {
		s.payer, s.havePayer = r.Payer(v.Coverage.PayerID, v.Coverage.PlanType)
		if !s.havePayer {
			s.add("payer.profile_missing", events.SeverityError, 0,
				"no payer profile matches the claim's payer or plan type, so payer checks were skipped",
				"add a profile for the payer, or plan:other, to payers.csv in the rules directory")
		}
	}
	s.dos = scrubDate(v.DateOfService)
	if !s.in.Today.IsZero() {
		y, m, d := s.in.Today.Date()
		s.today = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}

	s.claim()
	s.providers()
	s.member()
	s.demographics()
	s.diagnoses()
	s.serviceLines()
	s.ncci()
	s.modifiers()
	s.placeOfService()
	s.dates()
	s.planOfCare()
	s.authorization()
	s.duplicates()
}

// claim checks the claim frequency, references and control number.
func (s *scrubber) claim() {
	in := &s.in
	if len(s.lines) == 0 {
		s.add("claim.no_lines", events.SeverityError, 0,
			"the claim has no service line",
			"check the services and minutes documented in the EMR; a visit with nothing to bill needs no claim")
	}
	if in.Coded.Void && in.Frequency != events.FrequencyVoid {
		s.add("claim.visit_voided", events.SeverityError, 0,
			"the visit was voided in the EMR, but this claim is not a void (frequency 8)",
			"do not send this claim; void the claim already sent for the visit (frequency 8), if any")
	}
	switch in.Frequency {
	case events.FrequencyOriginal:
		if in.OriginalRef != "" {
			s.add("claim.original_ref_unexpected", events.SeverityWarning, 0,
				"an original claim (frequency 1) carries a payer claim control number (REF*F8), which only replacements and voids use",
				"send it as a replacement (frequency 7) if it corrects a paid or denied claim; otherwise drop the reference")
		}
	case events.FrequencyReplacement, events.FrequencyVoid:
		if strings.TrimSpace(in.OriginalRef) == "" {
			s.errorf("claim.original_ref_missing", 0,
				"take the payer claim control number (CLP07) from the 835 of the original claim, or send an original claim (frequency 1) if the payer never received it",
				"a %s (frequency %s) needs the payer's claim control number of the original claim (REF*F8)",
				frequencyName(in.Frequency), in.Frequency)
		}
	default:
		s.add("claim.frequency_invalid", events.SeverityError, 0,
			"the claim frequency (CLM05-3) is not 1 (original), 7 (replacement) or 8 (void)",
			"report this to the rcm maintainers: the submitter chose the frequency")
	}
	cn := in.ControlNumber
	switch {
	case cn == "":
		s.add("claim.control_number_missing", events.SeverityError, 0,
			"the claim has no patient control number (CLM01)",
			"report this to the rcm maintainers: the submitter assigns control numbers")
	case len(cn) > maxControlNumber:
		s.errorf("claim.control_number_too_long", 0,
			"report this to the rcm maintainers: the submitter assigns control numbers of at most 17 characters",
			"the patient control number %s has %d characters; CLM01 holds at most %d", cn, len(cn), maxControlNumber)
	case len(cn) > safeControlNumber:
		s.warnf("claim.control_number_long", 0,
			"keep control numbers to 17 characters in the submitter's settings",
			"the patient control number %s has %d characters; some payers keep only %d and the 835 will not match it", cn, len(cn), safeControlNumber)
	}
	if !controlChars(cn) {
		s.add("claim.control_number_characters", events.SeverityError, 0,
			"the patient control number has characters other than letters, digits and hyphens, which can break the X12 file",
			"report this to the rcm maintainers: the submitter assigns control numbers")
	}
}

func frequencyName(f string) string {
	if f == events.FrequencyVoid {
		return "void"
	}
	return "replacement"
}

func controlChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// providers checks the billing, rendering and certifying providers.
func (s *scrubber) providers() {
	v := s.v
	b := &v.BillingProvider
	if !ValidNPI(b.NPI) {
		s.add("npi.billing_invalid", events.SeverityError, 0,
			"the billing provider's NPI "+npiProblem(b.NPI),
			"correct the clinic's NPI in the EMR's billing provider settings (look it up in NPPES)")
	}
	rp := &v.RenderingProvider
	if !ValidNPI(rp.NPI) {
		s.add("npi.rendering_invalid", events.SeverityError, 0,
			"the rendering therapist's NPI "+npiProblem(rp.NPI),
			"correct the therapist's NPI in the EMR's provider record (look it up in NPPES)")
	}
	if cp := v.CertifyingPhysician; cp != nil && !ValidNPI(cp.NPI) {
		s.add("npi.certifying_invalid", events.SeverityError, 0,
			"the certifying physician's NPI "+npiProblem(cp.NPI),
			"correct the physician's NPI on the plan of care in the EMR (look it up in NPPES)")
	}
	if len(b.TIN) != 9 || !allDigits(b.TIN) || b.TIN == "000000000" {
		s.add("tin.invalid", events.SeverityError, 0,
			"the billing provider's tax id (TIN) is not 9 digits",
			"enter the clinic's EIN as 9 digits without a hyphen in the EMR's billing provider settings")
	}

	discipline := rp.Discipline
	known := discipline == events.DisciplineOT || discipline == events.DisciplinePT || discipline == events.DisciplineSLP
	if !known {
		s.add("rendering.discipline_invalid", events.SeverityError, 0,
			"the rendering therapist's discipline is not OT, PT or SLP",
			"set the therapist's discipline in the EMR's provider record")
	}
	switch {
	case b.Taxonomy == "":
		s.add("taxonomy.billing_missing", events.SeverityWarning, 0,
			"the billing provider has no taxonomy code (PRV*BI); many payers match it against enrollment",
			"enter the clinic's taxonomy as enrolled with the payer in the EMR's billing provider settings")
	case !validTaxonomy(b.Taxonomy):
		s.add("taxonomy.billing_format", events.SeverityError, 0,
			"the billing provider's taxonomy code is not 10 letters or digits ending in X",
			"correct the clinic's taxonomy in the EMR's billing provider settings (NUCC code list)")
	case known:
		if d := taxonomyDiscipline(b.Taxonomy); d != "" && d != discipline {
			s.warnf("taxonomy.billing_discipline", 0,
				"check that the billing taxonomy is the one enrolled with the payer; a clinic taxonomy (261Q…) avoids the mismatch",
				"the billing provider's taxonomy %s is an individual %s therapist's, but the visit is %s", b.Taxonomy, d, discipline)
		}
	}
	switch {
	case rp.Taxonomy == "":
		s.add("taxonomy.rendering_missing", events.SeverityWarning, 0,
			"the rendering therapist has no taxonomy code (PRV*PE); many payers match it against enrollment",
			"enter the therapist's taxonomy in the EMR's provider record")
	case !validTaxonomy(rp.Taxonomy):
		s.add("taxonomy.rendering_format", events.SeverityError, 0,
			"the rendering therapist's taxonomy code is not 10 letters or digits ending in X",
			"correct the therapist's taxonomy in the EMR's provider record (NUCC code list)")
	case known && !strings.HasPrefix(rp.Taxonomy, therapistTaxonomyPrefix(discipline)):
		s.errorf("taxonomy.rendering_discipline", 0,
			"correct the therapist's taxonomy or discipline in the EMR's provider record; the payer denies a mismatch with enrollment (CARC 8/185)",
			"the rendering therapist's taxonomy %s is not an %s therapist's (%s)", rp.Taxonomy, discipline, therapistTaxonomy(discipline))
	}

	a := &b.Address
	if strings.TrimSpace(a.Line1) == "" || strings.TrimSpace(a.City) == "" || len(a.State) != 2 || !isUpper(a.State[0]) || !isUpper(a.State[1]) {
		s.add("address.billing_incomplete", events.SeverityError, 0,
			"the billing provider's address lacks a street, a city or a two-letter state",
			"complete the clinic's address in the EMR's billing provider settings")
	}
	if poBox(a.Line1) || poBox(a.Line2) {
		s.add("address.billing_po_box", events.SeverityError, 0,
			"the billing provider's address is a PO Box; the billing provider (2010AA) needs a street address",
			"enter the clinic's street address as billing address in the EMR; a PO Box goes in the pay-to address")
	}
	switch zip := a.PostalCode; {
	case len(zip) == 9 && allDigits(zip):
	case len(zip) == 5 && allDigits(zip):
		s.add("address.billing_zip_plus4", events.SeverityError, 0,
			"the billing provider's ZIP code has 5 digits; an 837P needs ZIP+4 (9 digits) for the billing provider",
			"enter the clinic's 9-digit ZIP code, without a hyphen, in the EMR's billing provider settings")
	default:
		s.add("address.billing_zip_invalid", events.SeverityError, 0,
			"the billing provider's ZIP code is not 9 digits (or 5)",
			"enter the clinic's 9-digit ZIP code, without a hyphen, in the EMR's billing provider settings")
	}
}

func npiProblem(npi string) string {
	switch {
	case npi == "":
		return "is missing"
	case len(npi) != 10 || !allDigits(npi):
		return "is not 10 digits"
	}
	return "fails its check digit (a typing error)"
}

// validTaxonomy reports whether t has the form of a NUCC taxonomy code:
// nine capital letters or digits and an X.
func validTaxonomy(t string) bool {
	if len(t) != 10 || t[9] != 'X' {
		return false
	}
	for i := 0; i < 9; i++ {
		if !isUpper(t[i]) && !isDigit(t[i]) {
			return false
		}
	}
	return true
}

// taxonomyDiscipline names the discipline of an individual therapist's or
// assistant's taxonomy (OT 225X…, OTA 224Z…, PT 2251…, PTA 2252…, SLP
// 235Z…), or "" for any other, such as a clinic's.
func taxonomyDiscipline(t string) string {
	if len(t) < 4 {
		return ""
	}
	switch t[:4] {
	case "225X", "224Z":
		return events.DisciplineOT
	case "2251", "2252":
		return events.DisciplinePT
	case "235Z":
		return events.DisciplineSLP
	}
	return ""
}

// therapistTaxonomyPrefix is what the taxonomy of a therapist (not an
// assistant, who is never the rendering provider) of a discipline starts with.
func therapistTaxonomyPrefix(discipline string) string {
	switch discipline {
	case events.DisciplineOT:
		return "225X"
	case events.DisciplinePT:
		return "2251"
	}
	return "235Z"
}

func therapistTaxonomy(discipline string) string {
	switch discipline {
	case events.DisciplineOT:
		return "225X00000X or a 225X… specialty"
	case events.DisciplinePT:
		return "225100000X or a 2251… specialty"
	}
	return "235Z00000X"
}

// poBox reports whether an address line is a post office box: "PO Box 12",
// "P.O. Box", "Post Office Box", "POB 12", "Box 12".
func poBox(line string) bool {
	var words [4]string
	n := 0
	for i := 0; i < len(line) && n < len(words); {
		for i < len(line) && !isLetter(line[i]) && !isDigit(line[i]) {
			i++
		}
		j := i
		for j < len(line) && (isLetter(line[j]) || isDigit(line[j])) {
			j++
		}
		if j > i {
			words[n] = line[i:j]
			n++
		}
		i = j
	}
	eq := strings.EqualFold
	for k := 0; k < n; k++ {
		w := words[k]
		next := func(d int) string {
			if k+d < n {
				return words[k+d]
			}
			return ""
		}
		switch {
		case eq(w, "POBOX"), eq(w, "POB") && next(1) != "" && allDigits(next(1)):
			return true
		case eq(w, "PO") && eq(next(1), "BOX"):
			return true
		case eq(w, "P") && eq(next(1), "O") && eq(next(2), "BOX"):
			return true
		case eq(w, "POST") && eq(next(1), "OFFICE") && eq(next(2), "BOX"):
			return true
		case k == 0 && eq(w, "BOX") && next(1) != "" && allDigits(next(1)):
			return true
		}
	}
	return false
}

// member checks the member id: an MBI for Medicare Part B.
func (s *scrubber) member() {
	id := s.v.Coverage.MemberID
	switch {
	case strings.TrimSpace(id) == "":
		s.add("member.id_missing", events.SeverityError, 0,
			"the subscriber's member id is missing",
			"enter the member id from the insurance card in the EMR's coverage record")
	case s.medicare:
		if !validMBI(id) {
			s.add("member.mbi_invalid", events.SeverityError, 0,
				"the subscriber's member id is not a valid Medicare MBI (11 characters, no dashes: digit 1–9, letter, letter or digit, digit, letter, letter or digit, digit, letter, letter, digit, digit; never S, L, O, I, B or Z)",
				"enter the MBI from the Medicare card, in capitals and without dashes, in the EMR's coverage record; check eligibility if in doubt")
		}
	case len(id) > maxMemberID || !controlChars(id):
		s.add("member.id_format", events.SeverityError, 0,
			"the subscriber's member id has characters other than letters, digits and hyphens, or more than 80",
			"enter the member id exactly as on the insurance card, without spaces, in the EMR's coverage record")
	}
}

// validMBI reports whether id is a Medicare Beneficiary Identifier: the
// CMS pattern C A AN N A AN N A A N N, where C is a digit 1–9, N a digit,
// A a capital letter but S, L, O, I, B and Z, and AN either.
func validMBI(id string) bool {
	// N a digit, A a letter, B either.
	const pattern = "NABNABNAANN"
	if len(id) != len(pattern) || id[0] == '0' {
		return false
	}
	for i := 0; i < len(pattern); i++ {
		c := id[i]
		letter := isUpper(c) && strings.IndexByte("SLOIBZ", c) < 0
		switch pattern[i] {
		case 'N':
			if !isDigit(c) {
				return false
			}
		case 'A':
			if !letter {
				return false
			}
		default:
			if !letter && !isDigit(c) {
				return false
			}
		}
	}
	return true
}

// demographics checks the patient and the subscriber.
func (s *scrubber) demographics() {
	v := s.v
	p := &v.Patient
	if strings.TrimSpace(p.FirstName) == "" || strings.TrimSpace(p.LastName) == "" {
		s.add("patient.name_missing", events.SeverityError, 0,
			"the patient's first or last name is missing",
			"complete the patient's name, as on the insurance card, in the EMR")
	}
	dob := scrubDate(p.BirthDate)
	switch {
	case dob.IsZero():
		s.add("patient.birth_date_invalid", events.SeverityError, 0,
			"the patient's birth date is missing or not a valid date",
			"correct the patient's birth date in the EMR")
	case !s.dos.IsZero() && dob.After(s.dos):
		s.add("patient.birth_after_service", events.SeverityError, 0,
			"the patient's birth date is after the date of service",
			"correct the patient's birth date or the date of service in the EMR")
	}
	if !validSex(p.Sex) {
		s.add("patient.sex_invalid", events.SeverityError, 0,
			"the patient's sex is not F, M or U",
			"correct the patient's sex in the EMR (F, M or U)")
	}
	c := &v.Coverage
	switch c.Relationship {
	case events.RelationshipSelf:
	case events.RelationshipSpouse, events.RelationshipChild, events.RelationshipOther:
		if s.medicare {
			s.add("subscriber.medicare_not_self", events.SeverityError, 0,
				"the patient is not the subscriber, but a Medicare beneficiary is always their own subscriber",
				"set the relationship to self and use the patient's own MBI in the EMR's coverage record")
		}
		sub := c.Subscriber
		if sub == nil {
			s.add("subscriber.missing", events.SeverityError, 0,
				"the patient is not the subscriber, but the subscriber's name, birth date and sex are missing",
				"enter the subscriber (the insured person) in the EMR's coverage record")
			break
		}
		if scrubDate(sub.BirthDate).IsZero() {
			s.add("subscriber.birth_date_invalid", events.SeverityError, 0,
				"the subscriber's birth date is missing or not a valid date",
				"correct the subscriber's birth date in the EMR's coverage record")
		}
		if !validSex(sub.Sex) {
			s.add("subscriber.sex_invalid", events.SeverityError, 0,
				"the subscriber's sex is not F, M or U",
				"correct the subscriber's sex in the EMR's coverage record (F, M or U)")
		}
	default:
		s.add("subscriber.relationship_invalid", events.SeverityError, 0,
			"the patient's relationship to the subscriber is not self, spouse, child or other",
			"set the relationship in the EMR's coverage record")
	}
}

func validSex(x string) bool { return x == "F" || x == "M" || x == "U" }

// diagnoses checks the HI segment's codes.
func (s *scrubber) diagnoses() {
	dx := s.v.Diagnoses
	if len(dx) == 0 {
		s.add("diagnosis.missing", events.SeverityError, 0,
			"the claim has no diagnosis",
			"document the treating diagnoses (ICD-10-CM) in the EMR")
		return
	}
	if len(dx) > maxDiagnoses {
		s.errorf("diagnosis.too_many", 0,
			"keep the 12 diagnoses that support the services in the EMR, the principal one first",
			"the claim has %d diagnoses; an 837P holds at most %d", len(dx), maxDiagnoses)
	}
	for i, d := range dx {
		if !ValidICD10CM(d) {
			s.errorf("diagnosis.format", 0,
				"correct the diagnosis in the EMR: a letter, a digit, a letter or digit, then up to four letters or digits",
				"diagnosis %d is not an ICD-10-CM code", i+1)
			continue
		}
		if c := d[0] &^ ('a' - 'A'); i == 0 && c >= 'V' && c <= 'Y' {
			s.errorf("diagnosis.external_cause_first", 0,
				"put the condition treated first in the EMR and the external-cause code after it",
				"the first diagnosis %s is an external-cause code (V00–Y99), which is never the principal diagnosis", NormalizeICD10(d))
		}
		for j := 0; j < i; j++ {
			if sameICD10(dx[j], d) {
				s.errorf("diagnosis.duplicate", 0,
					"remove the repeated diagnosis in the EMR and point the services at the first",
					"diagnosis %d repeats diagnosis %d (%s)", i+1, j+1, NormalizeICD10(d))
				break
			}
		}
	}
}

// sameICD10 reports whether two codes are the same once normalized (case
// and the dot aside), without allocating.
func sameICD10(a, b string) bool {
	i, j := 0, 0
	for {
		if i == 3 && i < len(a) && a[i] == '.' {
			i++
		}
		if j == 3 && j < len(b) && b[j] == '.' {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if upper(a[i]) != upper(b[j]) {
			return false
		}
		i++
		j++
	}
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// serviceLines checks pointers, charges, units, MUEs and repeated lines.
func (s *scrubber) serviceLines() {
	ndx := len(s.v.Diagnoses)
	var total int64
	for i := range s.lines {
		l := &s.lines[i]
		no := s.lineNo(i)
		switch {
		case len(l.DiagnosisPointers) == 0:
			s.errorf("pointer.missing", no, "point the service at the diagnoses it treats in the EMR",
				"line %d (%s) points at no diagnosis", no, shownCode(l.Code))
		case len(l.DiagnosisPointers) > maxPointers:
			s.errorf("pointer.too_many", no, "keep the 4 most relevant diagnoses of the service in the EMR",
				"line %d (%s) has %d diagnosis pointers; a line holds at most %d", no, shownCode(l.Code), len(l.DiagnosisPointers), maxPointers)
		}
		for _, p := range l.DiagnosisPointers {
			if p < 1 || p > ndx || p > maxDiagnoses {
				s.errorf("pointer.out_of_range", no, "point the service at one of the claim's diagnoses in the EMR",
					"line %d (%s) points at diagnosis %d, but the claim has %d", no, shownCode(l.Code), p, ndx)
				break
			}
		}
		if l.ChargeCents <= 0 {
			s.errorf("charge.line_not_positive", no, "add a charge for the code to fees.csv in the rules directory",
				"line %d (%s) has no charge above zero", no, shownCode(l.Code))
		}
		total += l.ChargeCents
		if l.Units <= 0 {
			s.errorf("units.not_positive", no, "check the minutes of the service in the EMR",
				"line %d (%s) has %d units; a line needs at least 1", no, shownCode(l.Code), l.Units)
		}
		for j := 0; j < i; j++ {
			if s.lines[j].Code == l.Code && sameModifiers(s.lines[j].Modifiers, l.Modifiers) {
				s.errorf("duplicate.within_claim", no,
					"report the code once in the EMR; a timed code is billed on one line per date of service",
					"line %d repeats line %d (%s with the same modifiers)", no, s.lineNo(j), shownCode(l.Code))
				break
			}
		}
	}
	if len(s.lines) > 0 {
		if total <= 0 {
			s.add("charge.total_not_positive", events.SeverityError, 0,
				"the claim's total charge is not above zero",
				"add charges for the claim's codes to fees.csv in the rules directory")
		}
		if total != s.in.Coded.ChargeCents {
			s.errorf("charge.total_mismatch", 0, "report this to the rcm maintainers and re-code the visit",
				"the coded total charge %s differs from the sum of the lines, %s", scrubDollars(s.in.Coded.ChargeCents), scrubDollars(total))
		}
	}
	s.mue()
}

// mue checks units against the medically unlikely edits: per line for
// adjudication indicator 1, per date of service (all lines of the code)
// for 2 and 3.
func (s *scrubber) mue() {
	r := s.in.Rules
	if r == nil {
		return
	}
	for i := range s.lines {
		l := &s.lines[i]
		m, ok := r.MUEFor(l.Code)
		if !ok {
			continue
		}
		units := l.Units
		if m.Adjudication != 1 {
			first := true
			for j := range s.lines {
				if j == i {
					continue
				}
				if s.lines[j].Code == l.Code {
					if j < i {
						first = false
						break
					}
					units += s.lines[j].Units
				}
			}
			if !first {
				continue
			}
		}
		if units <= m.Units {
			continue
		}
		no := s.lineNo(i)
		var kind, fix string
		severity := events.SeverityWarning
		switch m.Adjudication {
		case 1:
			kind = "MAI 1, a claim-line edit"
			fix = "check the units in the EMR; units above the MUE on one line are denied (CARC 151), and bigger days need documentation per payer policy"
		case 2:
			kind = "MAI 2, an absolute date-of-service limit that no appeal overrides"
			fix = "correct the units in the EMR: no more than the MUE can be paid for the day"
			severity = events.SeverityError
		default:
			kind = "MAI " + strconv.Itoa(m.Adjudication) + ", a clinical date-of-service limit that is appealable with documentation"
			fix = "check the units in the EMR; if they are right, be ready to appeal the denial with the treatment notes"
		}
		what := "line " + strconv.Itoa(no) + " (" + l.Code + ")"
		if units != l.Units {
			what = l.Code + " (from line " + strconv.Itoa(no) + ")"
		}
		s.add("mue.exceeded", severity, no,
			fmt.Sprintf("%s has %d units for the day, above the MUE of %d (%s)", what, units, m.Units, kind), fix)
	}
}

// ncci checks every pair of lines against the PTP edits: the column-2 line
// of an indicator-0 pair is not payable, and of an indicator-1 pair needs
// 59 or an X modifier.
func (s *scrubber) ncci() {
	r := s.in.Rules
	if r == nil || len(s.lines) < 2 || s.dos.IsZero() {
		return
	}
	for i := range s.lines {
		for j := i + 1; j < len(s.lines); j++ {
			a, b := &s.lines[i], &s.lines[j]
			if a.Code == b.Code {
				continue
			}
			edit, ok := r.PTPFor(a.Code, b.Code, s.dos)
			if !ok {
				continue
			}
			col2 := j
			if edit.Column2 == a.Code {
				col2 = i
			}
			s.markColumn2(col2)
			l := &s.lines[col2]
			no := s.lineNo(col2)
			switch edit.Indicator {
			case 0:
				s.errorf("ncci.not_separately_payable", no,
					"bill only "+edit.Column1+", or correct the codes in the EMR",
					"line %d (%s) is not payable with %s on the same day: NCCI pair %s/%s has modifier indicator 0, which no modifier bypasses",
					no, shownCode(l.Code), edit.Column1, edit.Column1, edit.Column2)
			case 1:
				if !hasDistinct(l.Modifiers) {
					s.errorf("ncci.bundled", no,
						"if the services were done in separate time blocks, mark the service as distinct in the EMR and send an amended visit; otherwise remove "+edit.Column2,
						"line %d (%s) is bundled into %s (NCCI pair %s/%s, modifier indicator 1) and has no 59 or X modifier",
						no, shownCode(l.Code), edit.Column1, edit.Column1, edit.Column2)
				}
			}
		}
	}
}

func (s *scrubber) markColumn2(i int) {
	if i < 64 {
		s.column2 |= 1 << i
		return
	}
	if s.column2Far == nil {
		s.column2Far = make([]bool, len(s.lines))
	}
	s.column2Far[i] = true
}

func (s *scrubber) isColumn2(i int) bool {
	if i < 64 {
		return s.column2&(1<<i) != 0
	}
	return s.column2Far != nil && s.column2Far[i]
}

func hasDistinct(mods []string) bool {
	for _, m := range mods {
		if isDistinct(m) {
			return true
		}
	}
	return false
}

func isDistinct(m string) bool {
	switch m {
	case "59", "XE", "XS", "XP", "XU":
		return true
	}
	return false
}

func isTelehealthModifier(m string) bool { return m == "95" || m == "GT" || m == "93" }

// modifiers checks each line's modifiers for form, count and consistency.
func (s *scrubber) modifiers() {
	v := s.v
	want := disciplineModifier(v.RenderingProvider.Discipline)
	th := s.in.Coded.Threshold
	kxNeeded := th != nil && th.AfterCents > th.ThresholdCents
	kxPayer := !s.havePayer || s.payer.KX
	for i := range s.lines {
		l := &s.lines[i]
		no := s.lineNo(i)
		mods := l.Modifiers
		for _, m := range mods {
			if !validModifier(m) {
				s.errorf("modifier.invalid", no, "correct the requested modifiers of the service in the EMR",
					"line %d (%s) has a modifier that is not 2 capital letters or digits", no, shownCode(l.Code))
				break
			}
		}
		if len(mods) > maxModifiers {
			s.errorf("modifier.too_many", no,
				"drop a requested modifier in the EMR or move informational modifiers per the payer's instructions",
				"line %d (%s) has %d modifiers%s; a claim line carries at most %d", no, shownCode(l.Code), len(mods), shownModifiers(mods), maxModifiers)
		}
		ndiscipline, discipline := 0, ""
		for _, m := range mods {
			if m == "GO" || m == "GP" || m == "GN" {
				if ndiscipline > 0 {
					discipline += " and "
				}
				discipline += m
				ndiscipline++
			}
		}
		switch {
		case ndiscipline == 0:
			if s.havePayer && s.payer.DisciplineModifiers {
				s.errorf("modifier.discipline_missing", no,
					"re-code the visit; check the rendering therapist's discipline in the EMR and discipline_modifiers in payers.csv",
					"line %d (%s) has no therapy modifier (GO, GP or GN), which the payer requires (payer profile %s)", no, shownCode(l.Code), s.payer.Key)
			}
		case ndiscipline > 1 || (want != "" && discipline != want):
			s.errorf("modifier.discipline_mismatch", no,
				"check the rendering therapist's discipline in the EMR and re-code the visit",
				"line %d (%s) has therapy modifier %s, but the rendering therapist is %s (%s)", no, shownCode(l.Code), discipline, v.RenderingProvider.Discipline, orNone(want))
		}
		cq, co := hasMod(mods, "CQ"), hasMod(mods, "CO")
		switch {
		case cq && co:
			s.errorf("modifier.assistant_mismatch", no, "check the assistant's kind (OTA or PTA) in the EMR and re-code the visit",
				"line %d (%s) has both CQ (PTA) and CO (OTA)", no, shownCode(l.Code))
		case cq && !hasMod(mods, "GP"):
			s.errorf("modifier.assistant_mismatch", no, "check the assistant's kind and the therapist's discipline in the EMR and re-code the visit",
				"line %d (%s) has CQ (PTA) without GP; CQ is reported only with GP", no, shownCode(l.Code))
		case co && !hasMod(mods, "GO"):
			s.errorf("modifier.assistant_mismatch", no, "check the assistant's kind and the therapist's discipline in the EMR and re-code the visit",
				"line %d (%s) has CO (OTA) without GO; CO is reported only with GO", no, shownCode(l.Code))
		}
		if hasMod(mods, "GA") && hasMod(mods, "GZ") {
			s.errorf("modifier.abn_conflict", no, "record the ABN status once in the EMR: signed (GA) or not obtained (GZ)",
				"line %d (%s) has both GA (ABN on file) and GZ (no ABN on file)", no, shownCode(l.Code))
		}
		if hasDistinct(mods) && !s.isColumn2(i) {
			s.errorf("modifier.distinct_without_pair", no,
				"remove the modifier in the EMR; 59 and X modifiers are only for the column-2 code of an NCCI pair billed the same day",
				"line %d (%s) has a distinct-service modifier (59/XE/XS/XP/XU) but is not the column-2 code of any NCCI pair on the claim", no, shownCode(l.Code))
		}
		if kxPayer && th != nil {
			switch kx := hasMod(mods, "KX"); {
			case kxNeeded && !kx:
				s.errorf("modifier.kx_missing", no,
					"re-code the visit; if the therapy is not medically necessary above the threshold, obtain an ABN",
					"line %d (%s) has no KX, but this visit takes the patient's %d therapy total (%s) to %s, above the threshold of %s; lines above it without KX are denied",
					no, shownCode(l.Code), th.Year, th.Bucket, scrubDollars(th.AfterCents), scrubDollars(th.ThresholdCents))
			case !kxNeeded && kx:
				s.warnf("modifier.kx_unneeded", no,
					"re-code the visit; KX belongs only on visits past the threshold",
					"line %d (%s) has KX, but the patient's %d therapy total (%s) stays at %s, not above the threshold of %s",
					no, shownCode(l.Code), th.Year, th.Bucket, scrubDollars(th.AfterCents), scrubDollars(th.ThresholdCents))
			}
		}
		if v.Telehealth {
			if s.havePayer && s.payer.TelehealthModifier != "" && !hasMod(mods, s.payer.TelehealthModifier) {
				s.warnf("modifier.telehealth_missing", no,
					"re-code the visit, or set telehealth_modifier in payers.csv to what the payer wants",
					"line %d (%s) of a telehealth visit has no %s, which the payer profile %s asks for", no, shownCode(l.Code), s.payer.TelehealthModifier, s.payer.Key)
			}
		} else {
			for _, m := range mods {
				if isTelehealthModifier(m) {
					s.errorf("modifier.telehealth_unexpected", no,
						"mark the visit as telehealth in the EMR if it was, or remove the modifier",
						"line %d (%s) has telehealth modifier %s, but the visit was not telehealth", no, shownCode(l.Code), m)
					break
				}
			}
		}
	}
}

// shownCode is a line's code as messages show it: malformed text, which
// could be anything typed in the wrong field, is not repeated.
func shownCode(code string) string {
	if validProcedureCode(code) {
		return code
	}
	return "a malformed code"
}

// shownModifiers lists modifiers for a message, " (GO, 59)", unless one is
// malformed.
func shownModifiers(mods []string) string {
	for _, m := range mods {
		if !validModifier(m) {
			return ""
		}
	}
	return " (" + strings.Join(mods, ", ") + ")"
}

func validModifier(m string) bool {
	return len(m) == 2 && (isUpper(m[0]) || isDigit(m[0])) && (isUpper(m[1]) || isDigit(m[1]))
}

func orNone(m string) string {
	if m == "" {
		return "no therapy modifier"
	}
	return m
}

func hasMod(mods []string, m string) bool { return slices.Contains(mods, m) }

// sameModifiers reports whether a and b hold the same modifiers in any
// order.
func sameModifiers(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, m := range a {
		if !slices.Contains(b, m) {
			return false
		}
	}
	for _, m := range b {
		if !slices.Contains(a, m) {
			return false
		}
	}
	return true
}

// placeOfService checks CLM05-1 and its agreement with telehealth.
func (s *scrubber) placeOfService() {
	v := s.v
	pos := v.PlaceOfService
	if len(pos) != 2 || !allDigits(pos) || pos == "00" {
		s.add("pos.invalid", events.SeverityError, 0,
			"the place of service is not a two-digit CMS code",
			"correct the place of service in the EMR (11 office, 12 home, 02/10 telehealth…)")
		return
	}
	if v.Telehealth {
		if s.havePayer && pos != s.payer.TelehealthPOSHome && pos != s.payer.TelehealthPOSOther {
			s.errorf("telehealth.place_of_service", 0, "correct the place of service in the EMR",
				"a telehealth visit is billed with place of service %s (patient at home) or %s (elsewhere) for this payer, not %s",
				s.payer.TelehealthPOSHome, s.payer.TelehealthPOSOther, pos)
		}
	} else if pos == "02" || pos == "10" {
		s.errorf("telehealth.pos_without_telehealth", 0,
			"mark the visit as telehealth in the EMR if it was; otherwise correct the place of service",
			"place of service %s is telehealth, but the visit was not marked as telehealth", pos)
	}
}

// dates checks the date of service and the timely-filing window.
func (s *scrubber) dates() {
	if s.dos.IsZero() {
		s.add("dos.invalid", events.SeverityError, 0,
			"the date of service is missing or not a valid date",
			"correct the date of service in the EMR")
		return
	}
	if s.today.IsZero() {
		return
	}
	if s.dos.After(s.today) {
		s.errorf("dos.future", 0, "correct the date of service in the EMR, or build the claim on or after the date of service",
			"the date of service %s is after today (%s)", s.v.DateOfService, s.today.Format(time.DateOnly))
		return
	}
	if !s.havePayer || s.payer.TimelyFilingDays <= 0 {
		return
	}
	limit := s.payer.TimelyFilingDays
	days := int((s.today.Unix() - s.dos.Unix()) / 86400)
	deadline := func() string { return s.dos.AddDate(0, 0, limit).Format(time.DateOnly) }
	switch left := limit - days; {
	case left < 0:
		s.errorf("filing.expired", 0,
			"the claim can no longer be filed; write the charge off per the clinic's policy, or, if an earlier claim was filed in time, send a replacement of it with proof of timely filing",
			"the claim is %d days past the date of service, beyond the payer's timely-filing limit of %d days (deadline %s); the payer would deny it (CO-29)",
			days, limit, deadline())
	case left <= filingWarningDays:
		s.warnf("filing.deadline_near", 0, "send the claim now and resolve any held edits first",
			"%d days of the payer's %d-day timely-filing limit are left (deadline %s)", left, limit, deadline())
	}
}

// planOfCare checks the certification, the certifying physician and the
// progress report.
func (s *scrubber) planOfCare() {
	v := s.v
	if s.medicare && v.CertifyingPhysician == nil {
		s.add("physician.certifying_missing", events.SeverityError, 0,
			"the physician or NPP who certified the plan of care is missing; Medicare requires them on therapy claims",
			"enter the certifying physician, with their NPI, on the plan of care in the EMR")
	}
	poc := v.PlanOfCare
	if poc == nil {
		if s.medicare {
			s.add("plan_of_care.missing", events.SeverityError, 0,
				"the visit has no plan of care; Medicare pays outpatient therapy only under a certified plan of care",
				"record the plan of care and its certification dates in the EMR, and have the physician certify it")
		}
		return
	}
	from, through := scrubDate(poc.CertifiedFrom), scrubDate(poc.CertifiedThrough)
	switch {
	case from.IsZero() || through.IsZero() || through.Before(from):
		s.add("plan_of_care.dates_invalid", events.SeverityError, 0,
			"the plan of care's certification dates are missing, invalid or reversed",
			"correct the certification period of the plan of care in the EMR")
	case !s.dos.IsZero() && (s.dos.Before(from) || s.dos.After(through)):
		s.errorf("plan_of_care.outside_certification", 0,
			"have the physician certify (or recertify) the plan of care for the date of service, and record the dates in the EMR",
			"the date of service %s is outside the plan of care's certification period %s to %s",
			v.DateOfService, poc.CertifiedFrom, poc.CertifiedThrough)
	}
	switch since := poc.VisitNumber - poc.LastProgressReportVisit; {
	case since < 0:
		s.warnf("plan_of_care.visit_number_invalid", 0, "correct the plan of care's visit numbers in the EMR",
			"the last progress report is numbered visit %d, after this visit (%d)", poc.LastProgressReportVisit, poc.VisitNumber)
	case since >= progressReportVisits:
		s.warnf("plan_of_care.progress_report_due", 0,
			"write a progress report with this visit (or before the next) and record it in the EMR; visits after it is due may be denied on medical review",
			"this is visit %d of the plan of care, %d visits since the last progress report; one is due at least every %d visits",
			poc.VisitNumber, since, progressReportVisits)
	}
}

// authorization checks the prior authorization against the payer profile
// and the visit.
func (s *scrubber) authorization() {
	pa := s.v.Coverage.PriorAuthorization
	if pa == nil || strings.TrimSpace(pa.Number) == "" {
		if s.havePayer && s.payer.PriorAuthRequired {
			s.errorf("auth.missing", 0,
				"obtain the authorization from the payer and enter its number in the EMR's coverage record",
				"the payer requires prior authorization (payer profile %s) and the visit has no authorization number; the payer would deny it (CO-197)", s.payer.Key)
		}
		if pa == nil {
			return
		}
	}
	from, through := scrubDate(pa.ValidFrom), scrubDate(pa.ValidThrough)
	switch {
	case (pa.ValidFrom != "" && from.IsZero()) || (pa.ValidThrough != "" && through.IsZero()) ||
		(!from.IsZero() && !through.IsZero() && through.Before(from)):
		s.add("auth.dates_invalid", events.SeverityError, 0,
			"the authorization's dates are invalid or reversed",
			"correct the authorization's dates in the EMR's coverage record")
	case !s.dos.IsZero() && ((!from.IsZero() && s.dos.Before(from)) || (!through.IsZero() && s.dos.After(through))):
		s.errorf("auth.outside_dates", 0,
			"ask the payer to extend the authorization, or obtain a new one, and update it in the EMR",
			"the date of service %s is outside the authorization's dates (%s to %s)", s.v.DateOfService, orOpen(pa.ValidFrom), orOpen(pa.ValidThrough))
	}
	if pa.VisitsAuthorized > 0 {
		switch left := pa.VisitsAuthorized - pa.VisitsUsed; {
		case left <= 0:
			s.errorf("auth.exhausted", 0,
				"obtain more visits from the payer and update the authorization in the EMR",
				"all %d authorized visits were used before this one", pa.VisitsAuthorized)
		case left <= authLowVisits:
			s.warnf("auth.running_low", 0,
				"request more visits from the payer now if care continues",
				"%d of %d authorized visits left, this one included", left, pa.VisitsAuthorized)
		}
	}
}

func orOpen(d string) string {
	if d == "" {
		return "open"
	}
	return d
}

// duplicates compares the lines with those already sent on other claims.
func (s *scrubber) duplicates() {
	dos := s.v.DateOfService
	for i := range s.lines {
		l := &s.lines[i]
		no := s.lineNo(i)
		same := -1
		for k := range s.in.Submitted {
			sl := &s.in.Submitted[k]
			if sl.ClaimControlNumber == s.in.ControlNumber || sl.Code != l.Code || sl.DateOfService != dos {
				continue
			}
			if sl.Units == l.Units && sameModifiers(sl.Modifiers, l.Modifiers) {
				same = k
				break
			}
			if same < 0 {
				same = len(s.in.Submitted) + k // a same-day match, kept unless an exact one turns up
			}
		}
		switch {
		case same < 0:
		case same < len(s.in.Submitted):
			s.errorf("duplicate.submitted", no,
				"do not send it again: correct the earlier claim with a replacement (frequency 7) instead; if the service was really given twice, document it in the EMR",
				"line %d (%s ×%d) duplicates a line of claim %s already sent for the same date of service; the payer would deny it (CO-18)",
				no, shownCode(l.Code), l.Units, s.in.Submitted[same].ClaimControlNumber)
		default:
			sl := &s.in.Submitted[same-len(s.in.Submitted)]
			s.warnf("duplicate.same_day_code", no,
				"if this corrects the earlier claim, send a replacement (frequency 7) of it instead; otherwise check that both were given and documented in the EMR",
				"line %d (%s) was already billed on claim %s for the same date of service with other units or modifiers; the payer may deny it as a duplicate (CO-18)",
				no, shownCode(l.Code), sl.ClaimControlNumber)
		}
	}
}

// merge puts the coder's issues first, leaves out the scrubber's edits that
// repeat one, and sorts everything by line, then code.
func (s *scrubber) merge() {
	issues := s.in.Coded.Issues
	if len(issues) > 0 {
		own := s.edits
		out := make([]events.Edit, 0, len(issues)+len(own))
		out = append(out, issues...)
		for _, e := range own {
			if !repeats(issues, e) {
				out = append(out, e)
			}
		}
		s.edits = out
	}
	slices.SortStableFunc(s.edits, func(a, b events.Edit) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Code, b.Code)
	})
}

func repeats(issues []events.Edit, e events.Edit) bool {
	for _, is := range issues {
		if is.Code == e.Code && (is.Line == e.Line || is.Line == 0) {
			return true
		}
	}
	return false
}

// scrubDate reads a "YYYY-MM-DD" date as midnight UTC; the zero time when
// s is not a valid date.
func scrubDate(s string) time.Time {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[:4]) || !allDigits(s[5:7]) || !allDigits(s[8:]) {
		return time.Time{}
	}
	y, _ := strconv.Atoi(s[:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:])
	if y == 0 || m < 1 || m > 12 || d < 1 {
		return time.Time{}
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}
	}
	return t
}

// dollars formats cents as "$1,234.56" without a thousands separator:
// "$1234.56".
func scrubDollars(c int64) string {
	sign := ""
	if c < 0 {
		sign = "-"
		c = -c
	}
	cents := c % 100
	pad := ""
	if cents < 10 {
		pad = "0"
	}
	return sign + "$" + strconv.FormatInt(c/100, 10) + "." + pad + strconv.FormatInt(cents, 10)
}
