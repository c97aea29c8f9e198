package demo

import (
	"math/rand/v2"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
)

// Problems a visit can be given by WithProblems: each passes intake but makes
// the claim one a biller must fix, as EMR data sometimes does.
const (
	ProblemNoDistinctBlocks = "services not marked as distinct time blocks" // NCCI pairs held
	ProblemNoAuthorization  = "prior authorization missing"                 // held where the payer requires one
	ProblemPlanOfCareEnded  = "plan of care certification ended"            // held: service outside the plan
)

// WithProblems gives a share (0..1) of the visits, chosen by seed, one of the
// problems above, and returns how many visits it changed, by problem. rcm
// demo uses it so that the hold queue has something in it.
func WithProblems(visits []events.Visit, share float64, seed int64) map[string]int {
	out := map[string]int{}
	if share <= 0 {
		return out
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x9b0b1e75))
	problems := []string{ProblemNoDistinctBlocks, ProblemNoAuthorization, ProblemPlanOfCareEnded}
	for i := range visits {
		if r.Float64() >= share {
			continue
		}
		v := &visits[i]
		p := problems[r.IntN(len(problems))]
		switch p {
		case ProblemNoDistinctBlocks:
			if len(v.Services) < 2 {
				continue
			}
			for j := range v.Services {
				v.Services[j].DistinctTimeBlock = false
			}
		case ProblemNoAuthorization:
			if v.Coverage.PriorAuthorization == nil {
				continue
			}
			v.Coverage.PriorAuthorization = nil
		case ProblemPlanOfCareEnded:
			dos, err := time.Parse(time.DateOnly, v.DateOfService)
			if v.PlanOfCare == nil || err != nil {
				continue
			}
			pc := *v.PlanOfCare
			pc.CertifiedThrough = dos.AddDate(0, 0, -1).Format(time.DateOnly)
			pc.CertifiedFrom = dos.AddDate(0, 0, -90).Format(time.DateOnly)
			v.PlanOfCare = &pc
		}
		out[p]++
	}
	return out
}
