package demo

import "github.com/rcm-health/rcm/pkg/events"

// Payer is one of the simulated payers the demo bills. The ids are invented
// so that nothing here can be mistaken for a real payer's routing id.
type Payer struct {
	ID       string
	Name     string
	PlanType string
}

var (
	payerMedicare   = Payer{"DMCR1", "Medicare Part B (simulated MAC)", events.PlanMedicarePartB}
	payerMedicaid   = Payer{"DMCD1", "State Medicaid (simulated)", events.PlanMedicaid}
	payerNorthfield = Payer{"DNFH1", "Northfield Health Plan (simulated)", events.PlanCommercial}
	payerGranite    = Payer{"DGRN1", "Granite Life & Health PPO (simulated)", events.PlanCommercial}
	payerNorthMA    = Payer{"DNFA1", "Northfield Medicare Advantage HMO (simulated)", events.PlanMedicareAdvantage}
	payerGraniteMA  = Payer{"DGRA1", "Granite Senior Advantage PPO (simulated)", events.PlanMedicareAdvantage}
)

// Payers lists every payer the demo's visits name, so that default payer
// profiles and the payer simulator can be checked against them.
func Payers() []Payer {
	return []Payer{payerMedicare, payerMedicaid, payerNorthfield, payerGranite, payerNorthMA, payerGraniteMA}
}

// NUCC taxonomy codes. 261QR0400X is "Clinic/Center, Rehabilitation";
// 261QR1100X, which looks similar, is a research clinic.
const (
	taxRehabClinic = "261QR0400X"
	taxOT          = "225X00000X"
	taxOTHand      = "225XH1200X"
	taxOTPeds      = "225XP0200X"
	taxPT          = "225100000X"
	taxPTPeds      = "2251P0200X"
	taxSLP         = "235Z00000X"
)

// setting says which kind of clinic treats a case.
type setting int

const (
	adultClinic setting = iota
	pediatricClinic
	handClinic
)

// weighted is a choice with a relative weight.
type weighted[T any] struct {
	w int
	v T
}

// profile is a kind of case a therapist sees: who has it, how it is coded,
// and what is done about it.
type profile struct {
	name       string
	discipline string
	setting    setting
	minAge     int
	maxAge     int
	// dxSets are clinically coherent diagnosis lists, primary first (same
	// side for injuries); a patient gets one set, the primary and some of
	// the rest.
	dxSets [][]string
	evals  []string
	// timed are the 15-minute codes picked for a treatment visit.
	timed []weighted[string]
	// extras are untimed codes added now and then, each with a chance in
	// percent.
	extras []weighted[string]
	// caregiver cases may have a caregiver-only training visit.
	caregiver bool
	// speech cases are treated with untimed SLP codes.
	speech []weighted[string]
}

// estimUnattended stands for unattended electrical stimulation, which
// Medicare and Medicare Advantage want as G0283 and others as 97014.
const estimUnattended = "ESTIM"

var otProfiles = []weighted[*profile]{
	{22, &profile{
		name: "stroke, upper extremity", discipline: events.DisciplineOT, setting: adultClinic, minAge: 55, maxAge: 89,
		dxSets: [][]string{
			{"I69.351", "M62.81", "R27.8", "Z91.81"},
			{"I69.354", "M62.81", "R27.8", "R41.841"},
			{"I69.352", "R27.8", "M62.81"},
			{"I69.353", "R27.8", "R26.89"},
			{"I69.331", "M62.81", "R27.8"},
			{"I69.334", "R27.8", "I69.314"},
			{"I69.351", "I69.310", "R41.841"},
		},
		evals:     []string{"97166", "97167", "97167"},
		timed:     []weighted[string]{{6, "97530"}, {5, "97535"}, {4, "97112"}, {3, "97110"}, {2, "97129"}, {1, "97140"}, {1, "97760"}},
		extras:    []weighted[string]{{5, estimUnattended}},
		caregiver: true,
	}},
	{16, &profile{
		name: "distal radius fracture", discipline: events.DisciplineOT, setting: handClinic, minAge: 45, maxAge: 88,
		dxSets: [][]string{
			{"S52.531D", "M25.631", "M25.531"},
			{"S52.532D", "M25.632", "M25.532"},
			{"S52.501D", "M25.631", "M79.641"},
			{"S52.502D", "M25.632", "M79.642"},
			{"S52.571D", "M25.631", "M25.531"},
			{"S52.541D", "M25.631"},
		},
		evals:  []string{"97165", "97166"},
		timed:  []weighted[string]{{6, "97140"}, {6, "97110"}, {3, "97530"}, {1, "97535"}, {1, "97035"}, {1, "97763"}},
		extras: []weighted[string]{{30, "97018"}, {15, "97010"}},
	}},
	{9, &profile{
		name: "hand fracture", discipline: events.DisciplineOT, setting: handClinic, minAge: 16, maxAge: 65,
		dxSets: [][]string{
			{"S62.336D", "M79.641"},
			{"S62.337D", "M79.642"},
			{"S62.336A", "M79.641"},
			{"S62.024D", "M25.631", "M25.531"},
			{"S62.001D", "M25.631"},
		},
		evals:  []string{"97165", "97166"},
		timed:  []weighted[string]{{6, "97110"}, {4, "97140"}, {3, "97530"}, {2, "97760"}, {1, "97763"}},
		extras: []weighted[string]{{25, "97018"}},
	}},
	{11, &profile{
		name: "nerve and tendon conditions of the hand", discipline: events.DisciplineOT, setting: handClinic, minAge: 28, maxAge: 80,
		dxSets: [][]string{
			{"G56.01", "M79.641"},
			{"G56.02", "M79.642"},
			{"G56.03"},
			{"M65.311", "M79.641"},
			{"M65.331", "M79.641"},
			{"M65.4", "M25.531"},
			{"M18.11", "M79.641"},
			{"M18.12", "M79.642"},
		},
		evals:  []string{"97165", "97165", "97166"},
		timed:  []weighted[string]{{5, "97110"}, {5, "97140"}, {3, "97530"}, {2, "97760"}, {1, "97035"}, {1, "97033"}},
		extras: []weighted[string]{{25, "97018"}},
	}},
	{5, &profile{
		name: "shoulder", discipline: events.DisciplineOT, setting: adultClinic, minAge: 40, maxAge: 82,
		dxSets: [][]string{
			{"M75.01", "M25.511"},
			{"M75.02", "M25.512"},
			{"M75.41", "M25.511"},
			{"M75.42", "M25.512"},
		},
		evals:  []string{"97165", "97166"},
		timed:  []weighted[string]{{5, "97110"}, {4, "97140"}, {4, "97530"}, {2, "97535"}},
		extras: []weighted[string]{{15, "97010"}},
	}},
	{6, &profile{
		name: "Parkinson disease", discipline: events.DisciplineOT, setting: adultClinic, minAge: 58, maxAge: 88,
		dxSets: [][]string{
			{"G20.A1", "R27.8", "M62.81"},
			{"G20.A1", "R26.81", "Z91.81"},
		},
		evals: []string{"97166", "97167"},
		timed: []weighted[string]{{5, "97530"}, {5, "97535"}, {3, "97112"}, {2, "97110"}, {1, "97129"}},
	}},
	{31, &profile{
		name: "pediatric development", discipline: events.DisciplineOT, setting: pediatricClinic, minAge: 2, maxAge: 12,
		dxSets: [][]string{
			{"F82", "R27.8"},
			{"F84.0", "F82"},
			{"F84.0", "R62.50"},
			{"F88", "R62.50"},
			{"R62.50"},
			{"R62.0", "F82"},
			{"F90.2", "F82"},
			{"F90.0", "R27.8"},
			{"F90.1", "F82"},
			{"F90.9", "F82"},
			{"Q90.9", "F82", "R62.50"},
			{"G80.1", "R27.8"},
			{"F81.81", "F82"},
		},
		evals:     []string{"97165", "97166", "97167"},
		timed:     []weighted[string]{{6, "97530"}, {4, "97533"}, {3, "97112"}, {2, "97535"}, {1, "97110"}},
		caregiver: true,
	}},
}

var ptProfiles = []weighted[*profile]{
	{30, &profile{
		name: "joint replacement", discipline: events.DisciplinePT, setting: adultClinic, minAge: 52, maxAge: 86,
		dxSets: [][]string{
			{"Z47.1", "Z96.651", "M25.661", "R26.2"},
			{"Z47.1", "Z96.652", "M25.662", "R26.2"},
			{"Z47.1", "Z96.641", "R26.89"},
		},
		evals:  []string{"97162", "97163"},
		timed:  []weighted[string]{{5, "97110"}, {4, "97116"}, {3, "97140"}, {3, "97530"}, {2, "97112"}},
		extras: []weighted[string]{{15, "97010"}, {10, "97016"}},
	}},
	{28, &profile{
		name: "spine", discipline: events.DisciplinePT, setting: adultClinic, minAge: 24, maxAge: 80,
		dxSets: [][]string{
			{"M54.50", "M62.81"},
			{"M54.50"},
			{"M54.16"},
			{"M48.061", "M54.50"},
			{"M54.2"},
		},
		evals:  []string{"97161", "97162"},
		timed:  []weighted[string]{{5, "97110"}, {5, "97140"}, {3, "97112"}, {2, "97530"}},
		extras: []weighted[string]{{20, estimUnattended}, {15, "97010"}, {10, "97012"}},
	}},
	{22, &profile{
		name: "balance and gait", discipline: events.DisciplinePT, setting: adultClinic, minAge: 65, maxAge: 92,
		dxSets: [][]string{
			{"R26.81", "Z91.81", "M62.81"},
			{"R26.2", "R29.6", "M62.81"},
			{"I69.351", "R26.89"},
			{"I69.354", "R26.89", "Z91.81"},
		},
		evals: []string{"97162", "97163"},
		timed: []weighted[string]{{5, "97116"}, {5, "97112"}, {4, "97110"}, {3, "97530"}},
	}},
	{12, &profile{
		name: "knee osteoarthritis", discipline: events.DisciplinePT, setting: adultClinic, minAge: 50, maxAge: 85,
		dxSets: [][]string{
			{"M17.11", "M25.561"},
			{"M17.12", "M25.562"},
		},
		evals:  []string{"97161", "97162"},
		timed:  []weighted[string]{{5, "97110"}, {3, "97140"}, {2, "97530"}, {2, "97116"}},
		extras: []weighted[string]{{15, "97010"}},
	}},
	{8, &profile{
		name: "pediatric motor", discipline: events.DisciplinePT, setting: pediatricClinic, minAge: 1, maxAge: 10,
		dxSets: [][]string{
			{"R62.0", "F82"},
			{"G80.1", "R26.89"},
			{"Q90.9", "R62.50"},
		},
		evals: []string{"97162", "97163"},
		timed: []weighted[string]{{5, "97530"}, {4, "97112"}, {3, "97110"}, {2, "97116"}},
	}},
}

var slpProfiles = []weighted[*profile]{
	{18, &profile{
		name: "post-stroke aphasia and dysarthria", discipline: events.DisciplineSLP, setting: adultClinic, minAge: 55, maxAge: 90,
		dxSets: [][]string{
			{"I69.320", "R41.841"},
			{"I69.322"},
			{"I69.320", "I69.322"},
		},
		evals:  []string{"92523", "92523", "92522"},
		speech: []weighted[string]{{1, "92507"}},
		timed:  []weighted[string]{{1, "97129"}},
	}},
	{14, &profile{
		name: "dysphagia", discipline: events.DisciplineSLP, setting: adultClinic, minAge: 55, maxAge: 92,
		dxSets: [][]string{
			{"I69.391", "R13.12"},
			{"I69.391", "R13.11"},
			{"R13.12", "G20.A1"},
		},
		evals:  []string{"92610"},
		speech: []weighted[string]{{1, "92526"}},
	}},
	{8, &profile{
		name: "voice", discipline: events.DisciplineSLP, setting: adultClinic, minAge: 25, maxAge: 80,
		dxSets: [][]string{{"R49.0"}},
		evals:  []string{"92524"},
		speech: []weighted[string]{{1, "92507"}},
	}},
	{30, &profile{
		name: "pediatric language", discipline: events.DisciplineSLP, setting: pediatricClinic, minAge: 2, maxAge: 10,
		dxSets: [][]string{
			{"F80.2"},
			{"F80.1"},
			{"F84.0", "F80.2"},
			{"F80.82", "F84.0"},
		},
		evals:     []string{"92523"},
		speech:    []weighted[string]{{1, "92507"}},
		caregiver: true,
	}},
	{18, &profile{
		name: "pediatric speech sound", discipline: events.DisciplineSLP, setting: pediatricClinic, minAge: 2, maxAge: 9,
		dxSets: [][]string{
			{"F80.0"},
			{"R48.2", "F80.0"},
		},
		evals:  []string{"92522"},
		speech: []weighted[string]{{1, "92507"}},
	}},
	{5, &profile{
		name: "stuttering", discipline: events.DisciplineSLP, setting: pediatricClinic, minAge: 3, maxAge: 12,
		dxSets: [][]string{{"F80.81"}},
		evals:  []string{"92521"},
		speech: []weighted[string]{{1, "92507"}},
	}},
	{7, &profile{
		name: "pediatric feeding", discipline: events.DisciplineSLP, setting: pediatricClinic, minAge: 1, maxAge: 8,
		dxSets: [][]string{
			{"R63.32", "F84.0"},
			{"R63.39", "R62.50"},
		},
		evals:     []string{"92610"},
		speech:    []weighted[string]{{1, "92526"}},
		caregiver: true,
	}},
}

// telehealthCodes can be furnished by video; hands-on codes and modalities
// cannot, and caregiver training is not on Medicare's telehealth list.
var telehealthCodes = map[string]bool{
	"97110": true, "97112": true, "97530": true, "97535": true, "97129": true, "97130": true,
	"92507": true, "92526": true,
}

var (
	femaleNames = []string{
		"Ava", "Beatrice", "Carmen", "Dolores", "Elena", "Fiona", "Gloria", "Hazel", "Ingrid", "June",
		"Keisha", "Lorraine", "Mabel", "Nadia", "Opal", "Priya", "Rosa", "Sylvia", "Tamara", "Vera",
		"Wanda", "Yolanda", "Zoe", "Harper", "Lily", "Maya", "Nora", "Sofia",
	}
	maleNames = []string{
		"Abel", "Bernard", "Calvin", "Desmond", "Eduardo", "Floyd", "Gordon", "Harold", "Isaac", "Jerome",
		"Kenji", "Leon", "Marcus", "Nolan", "Otis", "Pedro", "Raymond", "Samuel", "Theo", "Victor",
		"Walter", "Xavier", "Elijah", "Liam", "Mateo", "Noah", "Owen",
	}
	// lastNames are invented or rare enough to be plainly synthetic.
	lastNames = []string{
		"Ashgrove", "Birchfield", "Copperton", "Dunmere", "Elmstead", "Fairhollow", "Glenbrook",
		"Hartwell", "Ironvale", "Juniperwood", "Kestrel", "Larkspur", "Millbank", "Northcote",
		"Oakhurst", "Pinecrest", "Quarrington", "Ravensworth", "Stonebridge", "Thistlewood",
		"Underhill", "Valewood", "Westmarch", "Yarrowby", "Zephyrine", "Amberley", "Brackenridge",
		"Cobblestone", "Driftwood", "Emberton",
	}
	streets = []string{
		"Maple Ave", "High St", "Oak St", "Riverside Dr", "Sawmill Rd", "Elm St", "Cherry Ln",
		"Lakeview Dr", "Park Pl", "Sycamore Ct", "Walnut St", "Hillcrest Rd", "Meadow Way",
		"Church St", "Broad St", "Willow Bend",
	}
	// cities are around Columbus, Ohio, with their real five-digit ZIP codes.
	cities = []struct{ city, zip string }{
		{"Columbus", "43215"}, {"Columbus", "43201"}, {"Columbus", "43214"}, {"Dublin", "43017"},
		{"Westerville", "43081"}, {"Worthington", "43085"}, {"Grove City", "43123"},
		{"Hilliard", "43026"}, {"Gahanna", "43230"}, {"Reynoldsburg", "43068"},
	}
)
