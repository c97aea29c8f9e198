package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/internal/demo"
	"github.com/rcm-health/rcm/internal/emrclient"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
	"github.com/rcm-health/rcm/services/denials"
)

// furthestStage is the last event a visit reaches in this build; the demo
// waits for it, recognising a visit's events by their correlation id (the
// visit id). Later stages move it on.
var furthestStage = struct{ stream, subject string }{events.StreamSubmitter, events.SubjectClaimScrubbed}

// submittedSummary counts the claims sent, and the files they went in.
type submittedSummary struct {
	claims int
	files  map[string]bool
}

func (s *submittedSummary) add(data []byte) {
	e, err := events.Unmarshal(data)
	if err != nil {
		return
	}
	var c events.ClaimSubmitted
	if e.DecodeData(&c) != nil {
		return
	}
	if s.files == nil {
		s.files = map[string]bool{}
	}
	s.claims++
	s.files[c.FileName] = true
}

type demoOptions struct {
	visits  int
	addr    string
	natsURL string
	secret  string
	seed    int64
	wait    time.Duration
	// problems is the share of visits given a data problem that holds
	// their claim (demo.WithProblems).
	problems float64
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	var dataDir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Post realistic synthetic visits to a running rcm dev and follow them through",
		Long: `rcm demo signs synthetic visits with RCM_WEBHOOK_SECRET (or the dev default),
posts them to intake, and waits until every one has reached the furthest
stage of the pipeline. It exits 0 only if all of them did.`,
		Example: `  rcm demo --visits 50
  rcm demo --visits 500 --addr 127.0.0.1:8080 --data-dir .rcm
  rcm demo --visits 100 --problems 0.1     # a tenth of the claims held for a biller`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.natsURL == "" {
				u, err := natsURLFromDataDir(dataDir)
				if err != nil {
					return err
				}
				o.natsURL = u
			}
			o.secret = webhookSecretFromEnv()
			return runDemo(cmd.Context(), o)
		},
	}
	cmd.Flags().IntVar(&o.visits, "visits", 50, "how many visits to post")
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:8080", "intake's address")
	cmd.Flags().StringVar(&dataDir, "data-dir", ".rcm", "the data dir of the rcm dev to follow (for its NATS URL)")
	cmd.Flags().StringVar(&o.natsURL, "nats-url", "", "NATS URL of the pipeline (default: the one rcm dev wrote in --data-dir)")
	cmd.Flags().Int64Var(&o.seed, "seed", time.Now().UnixNano(), "random seed of the synthetic visits")
	cmd.Flags().DurationVar(&o.wait, "wait", 2*time.Minute, "how long to wait for the visits to get through")
	cmd.Flags().Float64Var(&o.problems, "problems", 0, "share of visits (0..1) given a data problem that holds their claim for a biller")
	return cmd
}

func runDemo(ctx context.Context, o demoOptions) error {
	secret, err := webhook.ParseSecret(o.secret)
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	if o.wait == 0 {
		o.wait = 2 * time.Minute
	}
	start := time.Now()
	visits := demo.Visits(o.seed, o.visits, start)
	// A run tag keeps two demo runs against one database from colliding.
	tag := fmt.Sprintf("%x", uint32(o.seed))
	for i := range visits {
		visits[i].SourceVisitID = visits[i].SourceVisitID + "-" + tag
	}
	problems := demo.WithProblems(visits, o.problems, o.seed)

	client := emrclient.New("http://"+o.addr, secret, 8)
	type result struct {
		resp emrclient.Response
		err  error
	}
	results := make([]result, len(visits))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := client.Post(ctx, &visits[i])
				results[i] = result{r, err}
			}
		}()
	}
	for i := range visits {
		next <- i
	}
	close(next)
	wg.Wait()

	want := map[string]bool{} // visit.recorded event ids
	visitIDs := map[string]bool{}
	var rejected []string
	for i, r := range results {
		switch {
		case r.err != nil:
			rejected = append(rejected, fmt.Sprintf("visit %s: %v", visits[i].SourceVisitID, r.err))
		case r.resp.Status != http.StatusAccepted:
			rejected = append(rejected, fmt.Sprintf("visit %s: %d %s", visits[i].SourceVisitID, r.resp.Status, strings.TrimSpace(string(r.resp.Body))))
		default:
			rec, err := r.resp.Receipt()
			if err != nil {
				rejected = append(rejected, fmt.Sprintf("visit %s: unreadable receipt", visits[i].SourceVisitID))
				continue
			}
			want[rec.EventID] = true
			visitIDs[rec.VisitID] = true
		}
	}
	posted := time.Since(start)

	nc, err := nats.Connect(o.natsURL)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", o.natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	// visit.coded names the visit.recorded it was coded from.
	var sum codedSummary
	_, _ = platform.WaitForCauses(wctx, js, events.StreamCoder, events.SubjectVisitCoded, start.Add(-time.Minute), want, sum.add)
	var scrub scrubSummary
	seen, werr := platform.WaitForCorrelations(wctx, js, furthestStage.stream, furthestStage.subject, start.Add(-time.Minute), visitIDs, scrub.add)
	// A claim that passed is sent in the next batch and acknowledged by the
	// clearinghouse: that is as far as it goes today. A held claim waits
	// for a biller.
	var sent submittedSummary
	var acked ackSummary
	var ackErr error
	if len(scrub.passedVisits) > 0 {
		_, _ = platform.WaitForCorrelations(wctx, js, events.StreamSubmitter, events.SubjectClaimSubmitted, start.Add(-time.Minute), scrub.passedVisits, sent.add)
		ackSeen, aerr := platform.WaitForCorrelations(wctx, js, events.StreamSubmitter, events.SubjectClaimAcknowledged, start.Add(-time.Minute), scrub.passedVisits, acked.add)
		if aerr != nil || len(ackSeen) < len(scrub.passedVisits) {
			ackErr = fmt.Errorf("%d of %d sent claims were not acknowledged: %v", len(scrub.passedVisits)-len(ackSeen), len(scrub.passedVisits), aerr)
		}
	}
	// A claim the payer accepted comes back in an 835 and is reconciled by
	// the denials stage, when it runs.
	var recon reconciledSummary
	var reconErr error
	_, noDenials := js.Consumer(ctx, events.StreamSubmitter, denials.ConsumerClaims)
	if accepted := acked.acceptedVisits(scrub.passedVisits); len(accepted) > 0 && ackErr == nil && noDenials == nil {
		recSeen, rerr := platform.WaitForCorrelations(wctx, js, events.StreamDenials, events.SubjectClaimReconciled, start.Add(-time.Minute), accepted, recon.add)
		if rerr != nil || len(recSeen) < len(accepted) {
			reconErr = fmt.Errorf("%d of %d accepted claims were not reconciled: %v", len(accepted)-len(recSeen), len(accepted), rerr)
		}
		wait, cancelWait := context.WithTimeout(ctx, 3*time.Second)
		_, _ = platform.WaitForCorrelations(wait, js, events.StreamDenials, events.SubjectDenialOpened, start.Add(-time.Minute), recon.deniedVisits, recon.addDenial)
		cancelWait()
	}

	fmt.Printf("\ndemo: %d visits posted in %s\n", len(visits), posted.Round(time.Millisecond))
	fmt.Printf("  mix        %s\n", mix(visits))
	if len(problems) > 0 {
		fmt.Printf("  problems   %v\n", problems)
	}
	fmt.Printf("  accepted   %d\n", len(want))
	fmt.Printf("  rejected   %d\n", len(rejected))
	fmt.Printf("  reached %s: %d of %d (%s)\n", furthestStage.subject, len(seen), len(visits), time.Since(start).Round(time.Millisecond))
	sum.print()
	scrub.print()
	if sent.claims > 0 {
		fmt.Printf("  submitted  %d claims in %d 837P file(s)\n", sent.claims, len(sent.files))
	}
	acked.print()
	recon.print()
	for _, r := range rejected {
		fmt.Println("  !", r)
	}
	if len(rejected) > 0 || len(seen) < len(visits) {
		if werr != nil {
			return fmt.Errorf("%d of %d visits did not reach %s: %w", len(visits)-len(seen), len(visits), furthestStage.subject, werr)
		}
		return fmt.Errorf("%d of %d visits did not reach %s", len(visits)-len(seen), len(visits), furthestStage.subject)
	}
	return errors.Join(ackErr, reconErr)
}

// reconciledSummary counts reconciliation outcomes and the denials opened.
type reconciledSummary struct {
	outcomes     map[string]int
	paidCents    int64
	deniedVisits map[string]bool
	categories   map[string]int
}

func (s *reconciledSummary) add(data []byte) {
	e, err := events.Unmarshal(data)
	if err != nil {
		return
	}
	var r events.ClaimReconciled
	if e.DecodeData(&r) != nil {
		return
	}
	if s.outcomes == nil {
		s.outcomes, s.deniedVisits = map[string]int{}, map[string]bool{}
	}
	s.outcomes[r.Outcome]++
	s.paidCents += r.PaidCents
	if r.Outcome == events.OutcomeDenied || r.Outcome == events.OutcomePartlyPaid {
		s.deniedVisits[e.CorrelationID] = true
	}
}

func (s *reconciledSummary) addDenial(data []byte) {
	e, err := events.Unmarshal(data)
	if err != nil {
		return
	}
	var d events.DenialOpened
	if e.DecodeData(&d) != nil {
		return
	}
	if s.categories == nil {
		s.categories = map[string]int{}
	}
	s.categories[d.Category+" "+d.Group+"-"+d.CARC]++
}

func (s *reconciledSummary) print() {
	if len(s.outcomes) == 0 {
		return
	}
	fmt.Printf("  reconciled %s; paid %s\n", countList(s.outcomes), usd(s.paidCents))
	if len(s.categories) > 0 {
		fmt.Printf("  denials    %s (in the work queue)\n", countList(s.categories))
	}
}

func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// mix summarises disciplines and plan types, so the summary shows what
// the demo exercised.
func mix(vs []events.Visit) string {
	counts := map[string]int{}
	for _, v := range vs {
		counts[v.RenderingProvider.Discipline]++
		counts[v.Coverage.PlanType]++
		if v.RenderingProvider.Assistant != nil {
			counts["with assistant"]++
		}
		if v.Telehealth {
			counts["telehealth"]++
		}
		if v.Coverage.PriorAuthorization != nil {
			counts["prior auth"]++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// codedSummary is what the demo says about the coder's work.
type codedSummary struct {
	visits, lines, units, held int
	charges                    int64
	issues                     map[string]int
}

func (s *codedSummary) add(data []byte) {
	e, err := events.Unmarshal(data)
	if err != nil {
		return
	}
	var c events.VisitCoded
	if e.DecodeData(&c) != nil {
		return
	}
	s.visits++
	s.charges += c.ChargeCents
	held := false
	for _, l := range c.Lines {
		s.lines++
		s.units += l.Units
	}
	for _, is := range c.Issues {
		if s.issues == nil {
			s.issues = map[string]int{}
		}
		s.issues[is.Code]++
		held = held || is.Severity == events.SeverityError
	}
	if held {
		s.held++
	}
}

func (s *codedSummary) print() {
	if s.visits == 0 {
		return
	}
	fmt.Printf("  coded      %d lines, %d units, $%d.%02d charges; %d held for a biller", s.lines, s.units, s.charges/100, s.charges%100, s.held)
	keys := make([]string, 0, len(s.issues))
	for k := range s.issues {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		fmt.Printf("%s%s %d", sep, k, s.issues[k])
	}
	if len(keys) > 0 {
		fmt.Print(")")
	}
	fmt.Println()
}

// scrubSummary is what the demo says about the claims the submitter built.
type scrubSummary struct {
	passed, held int
	edits        map[string]int
	passedVisits map[string]bool
}

func (s *scrubSummary) add(data []byte) {
	e, err := events.Unmarshal(data)
	if err != nil {
		return
	}
	var c events.ClaimScrubbed
	if e.DecodeData(&c) != nil {
		return
	}
	if c.Status == events.ScrubPassed {
		s.passed++
		if s.passedVisits == nil {
			s.passedVisits = map[string]bool{}
		}
		s.passedVisits[c.VisitID] = true
	} else {
		s.held++
	}
	for _, ed := range c.Edits {
		if s.edits == nil {
			s.edits = map[string]int{}
		}
		s.edits[ed.Code+" ("+ed.Severity+")"]++
	}
}

func (s *scrubSummary) print() {
	if s.passed+s.held == 0 {
		return
	}
	fmt.Printf("  claims     %d passed the scrubber, %d held", s.passed, s.held)
	keys := make([]string, 0, len(s.edits))
	for k := range s.edits {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		sep := ", "
		if i == 0 {
			sep = "; edits: "
		}
		fmt.Printf("%s%s %d", sep, k, s.edits[k])
	}
	fmt.Println()
}

// ackSummary counts acknowledgements by source and status.
type ackSummary struct {
	counts   map[string]int
	reasons  map[string]int
	rejected map[string]bool // visits with a rejected claim
}

// acceptedVisits are the sent visits whose claims were not rejected: the
// payer adjudicates them.
func (s *ackSummary) acceptedVisits(sent map[string]bool) map[string]bool {
	out := map[string]bool{}
	for v := range sent {
		if !s.rejected[v] {
			out[v] = true
		}
	}
	return out
}

func (s *ackSummary) add(data []byte) {
	e, err := events.Unmarshal(data)
	if err != nil {
		return
	}
	var a events.ClaimAcknowledged
	if e.DecodeData(&a) != nil {
		return
	}
	if s.counts == nil {
		s.counts, s.reasons, s.rejected = map[string]int{}, map[string]int{}, map[string]bool{}
	}
	s.counts[a.Source+" "+a.Status]++
	if a.Status == events.AckRejected {
		s.rejected[e.CorrelationID] = true
	}
	if a.Status == events.AckRejected {
		s.reasons[a.Reason]++
	}
}

func (s *ackSummary) print() {
	if len(s.counts) == 0 {
		return
	}
	keys := make([]string, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, s.counts[k])
	}
	fmt.Printf("  acks       %s\n", strings.Join(parts, ", "))
	for r, n := range s.reasons {
		fmt.Printf("    rejected %d: %s\n", n, r)
	}
}
