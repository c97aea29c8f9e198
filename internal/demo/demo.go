// Package demo makes realistic synthetic visits for `rcm demo` and for tests
// that want plausible traffic: an occupational-therapy-heavy practice with
// some PT and SLP, Medicare, Medicare Advantage, Medicaid and commercial
// coverage, real ICD-10-CM codes for the conditions therapists treat, and
// services and minutes like those a therapist documents.
//
// Everything is invented: people, ids, addresses and payers. NPIs pass the
// check digit but are random, and may by chance be issued to someone; they
// must never leave a test or demo environment.
package demo

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

// Source is the EMR source name the demo's visits carry.
const Source = "demo-emr"

const (
	dateLayout = "2006-01-02"
	// windowDays is how far back dates of service go.
	windowDays = 30
	// newPatientPercent makes an average patient come about five times in
	// the window, so that per-patient totals such as KX see repeat visits.
	newPatientPercent = 20
)

// Visits makes n signed visits, the same ones for the same seed and now.
// Dates of service fall in the 30 days before now's calendar date (never on
// it, so no time zone can put them in the future).
func Visits(seed int64, n int, now time.Time) []events.Visit {
	if n <= 0 {
		return nil
	}
	y, m, d := now.Date()
	g := &generator{
		r:     rand.New(rand.NewPCG(uint64(seed), 0x5eed_0f_de70)),
		today: time.Date(y, m, d, 0, 0, 0, 0, time.UTC),
		seed:  seed,
		npis:  make(map[string]bool),
	}
	g.setUp()
	visits := make([]events.Visit, n)
	owners := make([]*patient, n)
	for i := range visits {
		visits[i], owners[i] = g.visit(i)
	}
	numberVisits(visits, owners)
	return visits
}

type generator struct {
	r     *rand.Rand
	today time.Time
	seed  int64
	npis  map[string]bool

	clinics    [3]*clinic
	physicians []events.Physician
	patients   map[string][]*patient
	nPatients  int
}

type clinic struct {
	provider   events.BillingProvider
	therapists map[string][]events.RenderingProvider
	assistants map[string]events.Assistant
}

type patient struct {
	events.Patient
	profile   *profile
	clinic    *clinic
	therapist events.RenderingProvider
	physician events.Physician
	coverage  events.Coverage
	dx        []string
	// start is the evaluation date, which begins the plan of care.
	start time.Time
	// through ends the certified plan of care.
	through time.Time
	// perWeek is how often the patient comes.
	perWeek int
	// authVisits is the number of visits a prior authorization allows, 0
	// without one.
	authVisits int
	authNumber string
	dates      map[time.Time]bool
}

func (g *generator) setUp() {
	g.patients = make(map[string][]*patient)
	city := cities[0]
	g.clinics[adultClinic] = g.newClinic("Riverside Therapy Associates", taxRehabClinic, city.city, city.zip,
		map[string]string{events.DisciplineOT: taxOT, events.DisciplinePT: taxPT, events.DisciplineSLP: taxSLP}, true)
	city = cities[3]
	g.clinics[pediatricClinic] = g.newClinic("Little Oaks Pediatric Therapy", taxRehabClinic, city.city, city.zip,
		map[string]string{events.DisciplineOT: taxOTPeds, events.DisciplinePT: taxPTPeds, events.DisciplineSLP: taxSLP}, true)
	city = cities[4]
	g.clinics[handClinic] = g.newClinic("Harbor Hand & Upper Extremity Therapy", taxOT, city.city, city.zip,
		map[string]string{events.DisciplineOT: taxOTHand}, false)
	for range 8 {
		sex := g.sex()
		g.physicians = append(g.physicians, events.Physician{
			NPI: g.npi(), FirstName: g.firstName(sex), LastName: pick(g.r, lastNames),
		})
	}
}

func (g *generator) newClinic(name, taxonomy, city, zip string, disciplines map[string]string, assistants bool) *clinic {
	c := &clinic{
		provider: events.BillingProvider{
			NPI:      g.npi(),
			TIN:      g.tin(),
			Name:     name,
			Taxonomy: taxonomy,
			Address: events.Address{
				Line1:      fmt.Sprintf("%d %s", 100+g.r.IntN(8900), pick(g.r, streets)),
				City:       city,
				State:      "OH",
				PostalCode: zip + fmt.Sprintf("%04d", 1+g.r.IntN(9998)),
			},
		},
		therapists: make(map[string][]events.RenderingProvider),
		assistants: make(map[string]events.Assistant),
	}
	for _, d := range []string{events.DisciplineOT, events.DisciplinePT, events.DisciplineSLP} {
		tax, ok := disciplines[d]
		if !ok {
			continue
		}
		for range 2 + g.r.IntN(2) {
			sex := g.sex()
			c.therapists[d] = append(c.therapists[d], events.RenderingProvider{
				NPI: g.npi(), FirstName: g.firstName(sex), LastName: pick(g.r, lastNames),
				Discipline: d, Taxonomy: tax,
			})
		}
	}
	if assistants {
		for _, a := range []struct{ discipline, kind string }{
			{events.DisciplineOT, "OTA"}, {events.DisciplinePT, "PTA"},
		} {
			sex := g.sex()
			c.assistants[a.discipline] = events.Assistant{
				Kind: a.kind, FirstName: g.firstName(sex), LastName: pick(g.r, lastNames), NPI: g.npi(),
			}
		}
	}
	return c
}

// visit makes visit i and says whose it is.
func (g *generator) visit(i int) (events.Visit, *patient) {
	discipline := choose(g.r, []weighted[string]{
		{70, events.DisciplineOT}, {18, events.DisciplinePT}, {12, events.DisciplineSLP},
	})
	p, dos, eval := g.patientAndDate(discipline)
	v := events.Visit{
		Source:            Source,
		SourceVisitID:     fmt.Sprintf("demo-%s-%06d", strconv.FormatUint(uint64(g.seed), 36), i+1),
		Revision:          1,
		Status:            events.VisitSigned,
		DateOfService:     dos.Format(dateLayout),
		PlaceOfService:    "11",
		BillingProvider:   p.clinic.provider,
		RenderingProvider: p.therapist,
		Patient:           p.Patient,
		Diagnoses:         slices.Clone(p.dx),
		PlanOfCare: &events.PlanOfCare{
			CertifiedFrom:    p.start.Format(dateLayout),
			CertifiedThrough: p.through.Format(dateLayout),
		},
	}
	physician := p.physician
	v.CertifyingPhysician = &physician
	v.Coverage = p.coverage
	if p.coverage.Subscriber != nil {
		s := *p.coverage.Subscriber
		v.Coverage.Subscriber = &s
	}
	if p.authVisits > 0 {
		v.Coverage.PriorAuthorization = &events.PriorAuthorization{
			Number:           p.authNumber,
			VisitsAuthorized: p.authVisits,
			ValidFrom:        p.start.Format(dateLayout),
			ValidThrough:     p.through.Format(dateLayout),
		}
	}

	switch {
	case eval:
		g.evaluation(&v, p)
	case p.profile.caregiver && g.percent(3):
		g.caregiverTraining(&v)
	default:
		g.treatment(&v, p)
	}
	// The clinician documents every service, evaluation included, as its
	// own time block: what lets an NCCI pair be billed with 59/X.
	for j := range v.Services {
		v.Services[j].DistinctTimeBlock = true
	}
	return v, p
}

// patientAndDate picks a patient of the discipline and a free date in the
// window, or makes a new patient; eval says the date is the new patient's
// evaluation.
func (g *generator) patientAndDate(discipline string) (p *patient, dos time.Time, eval bool) {
	first := g.today.AddDate(0, 0, -windowDays)
	last := g.today.AddDate(0, 0, -1)
	pool := g.patients[discipline]
	if len(pool) > 0 && !g.percent(newPatientPercent) {
		// A few tries, since a patient may have no free day left.
		for range 4 {
			p := pick(g.r, pool)
			var free []time.Time
			for d := later(first, p.start.AddDate(0, 0, 1)); !d.After(last); d = d.AddDate(0, 0, 1) {
				if !p.dates[d] {
					free = append(free, d)
				}
			}
			if len(free) > 0 {
				dos := pick(g.r, free)
				p.dates[dos] = true
				return p, dos, false
			}
		}
	}
	p = g.newPatient(discipline)
	g.patients[discipline] = append(g.patients[discipline], p)
	if p.start.Before(first) {
		// Evaluated before the window: any day in it will do.
		dos = first.AddDate(0, 0, g.r.IntN(windowDays))
		p.dates[dos] = true
		return p, dos, false
	}
	p.dates[p.start] = true
	return p, p.start, true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (g *generator) newPatient(discipline string) *patient {
	var profiles []weighted[*profile]
	switch discipline {
	case events.DisciplinePT:
		profiles = ptProfiles
	case events.DisciplineSLP:
		profiles = slpProfiles
	default:
		profiles = otProfiles
	}
	pr := choose(g.r, profiles)
	g.nPatients++
	p := &patient{profile: pr, dates: make(map[time.Time]bool), perWeek: 1 + g.r.IntN(3)}

	c := g.clinics[pr.setting]
	if pr.setting == handClinic && g.percent(30) {
		// Hand patients are seen at the general clinic too.
		c = g.clinics[adultClinic]
	}
	p.clinic = c
	p.therapist = pick(g.r, c.therapists[discipline])
	p.physician = pick(g.r, g.physicians)

	age := pr.minAge + g.r.IntN(pr.maxAge-pr.minAge+1)
	sex := g.sex()
	p.Patient = events.Patient{
		ID:        fmt.Sprintf("MRN%07d", 1_000_000+g.nPatients*7+g.r.IntN(7)),
		FirstName: g.firstName(sex),
		LastName:  pick(g.r, lastNames),
		BirthDate: g.birthDate(age).Format(dateLayout),
		Sex:       sex,
		Address:   g.address(),
	}

	set := pick(g.r, pr.dxSets)
	p.dx = []string{set[0]}
	for _, dx := range set[1:] {
		if g.percent(70) {
			p.dx = append(p.dx, dx)
		}
	}

	// A third of new patients start inside the window, so the demo shows
	// evaluations; the rest started up to 88 days back, inside a 90-day
	// certification that still covers today.
	if g.percent(35) {
		p.start = g.today.AddDate(0, 0, -windowDays+g.r.IntN(windowDays))
	} else {
		p.start = g.today.AddDate(0, 0, -88+g.r.IntN(88-windowDays))
	}
	p.through = p.start.AddDate(0, 0, 89)

	p.coverage = g.coverage(p, age)
	return p
}

func (g *generator) coverage(p *patient, age int) events.Coverage {
	var payer Payer
	switch {
	case age >= 65:
		payer = choose(g.r, []weighted[Payer]{{60, payerMedicare}, {22, payerNorthMA}, {18, payerGraniteMA}})
	case age < 18:
		payer = choose(g.r, []weighted[Payer]{{55, payerMedicaid}, {25, payerNorthfield}, {20, payerGranite}})
	default:
		payer = choose(g.r, []weighted[Payer]{{25, payerMedicaid}, {40, payerNorthfield}, {35, payerGranite}})
	}
	cov := events.Coverage{
		PayerID:      payer.ID,
		PayerName:    payer.Name,
		PlanType:     payer.PlanType,
		Relationship: events.RelationshipSelf,
	}
	authPercent := 0
	switch payer.PlanType {
	case events.PlanMedicarePartB:
		cov.MemberID = g.mbi()
	case events.PlanMedicaid:
		cov.MemberID = g.digits(12)
		authPercent = 80
	case events.PlanMedicareAdvantage:
		// Advantage plans issue their own ids, here with the plan's initials.
		cov.MemberID = payer.ID[1:3] + g.digits(9)
		cov.GroupNumber = "MA" + g.digits(5)
		authPercent = 35
	default:
		cov.MemberID = g.letters(3) + g.digits(9)
		cov.GroupNumber = g.digits(6)
		authPercent = 50
		switch {
		case age < 18:
			// Children are on a parent's plan.
			cov.Relationship = events.RelationshipChild
			cov.Subscriber = g.subscriber(p, age+20+g.r.IntN(21))
		case g.percent(15):
			cov.Relationship = events.RelationshipSpouse
			cov.Subscriber = g.subscriber(p, max(18, age-6+g.r.IntN(13)))
		}
	}
	// A payer that requires authorization gets one: demo visits are meant to
	// go through cleanly (rcm demo --errors adds the problems back).
	if prof, ok := billing.DefaultRules().Payer(payer.ID, payer.PlanType); ok && prof.PriorAuthRequired {
		authPercent = 100
	}
	if g.percent(authPercent) {
		p.authVisits = choose(g.r, []weighted[int]{{3, 12}, {3, 20}, {2, 24}, {1, 30}})
		p.authNumber = "PA" + g.digits(10)
	}
	return cov
}

func (g *generator) subscriber(p *patient, age int) *events.Subscriber {
	sex := g.sex()
	last := p.LastName
	if g.percent(20) {
		last = pick(g.r, lastNames)
	}
	return &events.Subscriber{
		FirstName: g.firstName(sex),
		LastName:  last,
		BirthDate: g.birthDate(age).Format(dateLayout),
		Sex:       sex,
		Address:   p.Address,
	}
}

// evaluation is the first visit: the evaluation, and sometimes a first
// treatment after it.
func (g *generator) evaluation(v *events.Visit, p *patient) {
	evalMinutes := 30 + g.r.IntN(31)
	v.Services = append(v.Services, events.Service{Code: pick(g.r, p.profile.evals), DiagnosisPointers: g.pointers(len(v.Diagnoses))})
	v.TotalTreatmentMinutes = evalMinutes
	if len(p.profile.timed) > 0 && g.percent(40) {
		code := choose(g.r, p.profile.timed)
		g.addTimed(v, code, 8+g.r.IntN(15), false)
	}
}

// caregiverTraining is a session with the caregiver alone (97550-97552),
// never by telehealth and without the patient.
func (g *generator) caregiverTraining(v *events.Visit) {
	if g.percent(15) {
		minutes := 45 + g.r.IntN(31)
		v.Services = []events.Service{{Code: "97552", DiagnosisPointers: g.pointers(len(v.Diagnoses))}}
		v.TotalTreatmentMinutes = minutes
		return
	}
	g.addTimed(v, "97550", 30+g.r.IntN(24), false)
}

// treatment is an ordinary visit: 38 to 60 minutes of one-on-one timed
// codes (or an SLP session), now and then an untimed modality, a
// re-evaluation, an assistant or telehealth.
func (g *generator) treatment(v *events.Visit, p *patient) {
	pr := p.profile
	telePercent := 7
	if pr.discipline == events.DisciplineSLP {
		telePercent = 20
	}
	telehealth := pr.setting != handClinic && g.percent(telePercent)
	if telehealth {
		v.Telehealth = true
		v.PlaceOfService = choose(g.r, []weighted[string]{{4, "10"}, {1, "02"}})
	} else if pr.setting == adultClinic && g.percent(2) {
		v.PlaceOfService = "12" // a home visit
	}

	if len(pr.speech) > 0 {
		code := choose(g.r, pr.speech)
		minutes := 30 + g.r.IntN(16)
		v.Services = append(v.Services, events.Service{Code: code, DiagnosisPointers: g.pointers(len(v.Diagnoses))})
		v.TotalTreatmentMinutes += minutes
		if len(pr.timed) > 0 && g.percent(15) {
			g.addTimed(v, choose(g.r, pr.timed), 15+g.r.IntN(16), false)
		}
		return
	}

	assisted := false
	if a, ok := p.clinic.assistants[pr.discipline]; ok && !telehealth && g.percent(30) {
		v.RenderingProvider.Assistant = &a
		assisted = true
	}

	// Re-evaluations come now and then once care is under way, and leave
	// less time for treatment.
	total := 38 + g.r.IntN(23)
	if reeval := reevaluations[pr.discipline]; reeval != "" && !telehealth && g.percent(4) {
		v.Services = append(v.Services, events.Service{Code: reeval, DiagnosisPointers: g.pointers(len(v.Diagnoses))})
		v.TotalTreatmentMinutes += 20 + g.r.IntN(11)
		total = 15 + g.r.IntN(16)
	}

	var candidates []weighted[string]
	for _, c := range pr.timed {
		if !telehealth || telehealthCodes[c.v] {
			candidates = append(candidates, c)
		}
	}
	k := choose(g.r, []weighted[int]{{15, 1}, {45, 2}, {35, 3}, {5, 4}})
	k = min(k, len(candidates), total/8)
	codes := make([]string, 0, k)
	for range k {
		i := chooseIndex(g.r, candidates)
		codes = append(codes, candidates[i].v)
		candidates = slices.Delete(candidates, i, i+1)
	}
	for j, minutes := range g.split(total, len(codes)) {
		g.addTimed(v, codes[j], minutes, assisted)
	}

	if !telehealth {
		for _, e := range pr.extras {
			if !g.percent(e.w) {
				continue
			}
			code := e.v
			if code == estimUnattended {
				code = "97014"
				if v.Coverage.PlanType == events.PlanMedicarePartB || v.Coverage.PlanType == events.PlanMedicareAdvantage {
					code = "G0283"
				}
			}
			v.Services = append(v.Services, events.Service{Code: code, DiagnosisPointers: g.pointers(len(v.Diagnoses))})
			v.TotalTreatmentMinutes += 8 + g.r.IntN(8)
		}
	}
}

// reevaluations are the re-evaluation codes; SLP has none and bills a new
// evaluation instead.
var reevaluations = map[string]string{events.DisciplineOT: "97168", events.DisciplinePT: "97164"}

// addOns maps a base code to its add-on (97129 to 97130, 97550 to 97551).
var addOns = func() map[string]string {
	m := make(map[string]string)
	for _, k := range billing.DefaultCatalog().Codes() {
		if k.AddOnTo != "" {
			m[k.AddOnTo] = k.Code
		}
	}
	return m
}()

// addTimed adds a timed service of the given length. The time past the
// first unit of a code with an add-on goes on the add-on, the way therapists
// document 97129/97130 and 97550/97551. With an assistant, part of the time
// may be the assistant's alone: sometimes a sliver under the 10% de minimis,
// sometimes a real share.
func (g *generator) addTimed(v *events.Visit, code string, minutes int, assisted bool) {
	v.TotalTreatmentMinutes += minutes
	first := minutes
	addOn, hasAddOn := addOns[code]
	if hasAddOn {
		base, _ := billing.DefaultCatalog().Lookup(code)
		if initial := cmp.Or(base.InitialMinutes, 15); minutes-initial >= 8 {
			first = initial
		}
	}
	for _, part := range []struct {
		code    string
		minutes int
	}{{code, first}, {addOn, minutes - first}} {
		if part.minutes == 0 {
			continue
		}
		s := events.Service{Code: part.code, Minutes: part.minutes, DiagnosisPointers: g.pointers(len(v.Diagnoses))}
		if assisted && part.minutes >= 12 && g.percent(60) {
			var own int
			if g.percent(25) {
				own = 1 + part.minutes/20
			} else {
				own = 4 + g.r.IntN(part.minutes-11)
			}
			// Minutes are the therapist's (joint time included); the
			// assistant's own minutes are apart from them.
			s.Minutes -= own
			s.AssistantMinutes = own
		}
		v.Services = append(v.Services, s)
	}
}

// split divides total minutes among k services, each at least 8 minutes.
func (g *generator) split(total, k int) []int {
	if k == 0 {
		return nil
	}
	spare := total - 8*k
	if spare < 0 {
		spare = 0
	}
	cuts := make([]int, k-1)
	for i := range cuts {
		cuts[i] = g.r.IntN(spare + 1)
	}
	slices.Sort(cuts)
	parts := make([]int, k)
	prev := 0
	for i, c := range append(cuts, spare) {
		parts[i] = 8 + c - prev
		prev = c
	}
	return parts
}

// pointers points a service at the primary diagnosis, and sometimes at
// one or two more.
func (g *generator) pointers(n int) []int {
	ptrs := []int{1}
	for p := 2; p <= min(n, 4); p++ {
		if g.percent(40) {
			ptrs = append(ptrs, p)
		}
	}
	return ptrs
}

// numberVisits sets visit numbers under the plan of care, progress-report
// visits and authorization usage, which depend on a patient's other visits.
func numberVisits(visits []events.Visit, owners []*patient) {
	byPatient := make(map[*patient][]int)
	var order []*patient
	for i, p := range owners {
		if _, ok := byPatient[p]; !ok {
			order = append(order, p)
		}
		byPatient[p] = append(byPatient[p], i)
	}
	for _, p := range order {
		idx := byPatient[p]
		slices.SortFunc(idx, func(a, b int) int {
			return cmp.Compare(visits[a].DateOfService, visits[b].DateOfService)
		})
		// Visits before the first one here, at the patient's usual pace.
		first, _ := time.Parse(dateLayout, visits[idx[0]].DateOfService)
		before := 0
		if days := int(first.Sub(p.start).Hours() / 24); days > 0 {
			before = max(1, days*p.perWeek/7)
		}
		for rank, i := range idx {
			v := &visits[i]
			n := before + rank + 1
			v.PlanOfCare.VisitNumber = n
			if n > 10 {
				v.PlanOfCare.LastProgressReportVisit = (n - 1) / 10 * 10
			}
			if a := v.Coverage.PriorAuthorization; a != nil {
				a.VisitsUsed = n - 1
				// The payer extended the authorization as care went on.
				for a.VisitsAuthorized < n {
					a.VisitsAuthorized += 12
				}
			}
		}
	}
}
