package payersim

import (
	"fmt"
	"time"

	"github.com/rcm-health/rcm/pkg/x12"
)

// envelope writes the answers' interchanges, addressed back to the 837's
// sender.
type envelope struct {
	in      *input
	created time.Time
}

// open writes ISA and GS with the 837's sender and receiver swapped. GS06
// equals ISA13: one group per interchange, so one number serves both.
func (e envelope) open(w *x12.Writer, ctl int, functionalID, version string) {
	h := e.in.header
	usage := "T"
	if h.Usage == "P" {
		usage = "P"
	}
	c := e.in.clean
	w.ISA(x12.InterchangeHeader{
		SenderQualifier: c(h.ReceiverQualifier), SenderID: c(h.ReceiverID),
		ReceiverQualifier: c(h.SenderQualifier), ReceiverID: c(h.SenderID),
		Created: e.created, ControlNumber: ctl, Usage: usage,
	})
	g := e.in.groups[0]
	sender, receiver := g.receiver, g.sender
	if sender == "" {
		sender = c(h.ReceiverID)
	}
	if receiver == "" {
		receiver = c(h.SenderID)
	}
	w.GS(functionalID, sender, receiver, e.created, ctl, version)
}

func (e envelope) writer() (*x12.Writer, error) {
	return x12.NewWriter(e.in.sep, e.in.newline)
}

// write999 writes one 999 transaction set per functional group of the 837.
func (e envelope) write999(ctl int) ([]byte, error) {
	w, err := e.writer()
	if err != nil {
		return nil, err
	}
	e.open(w, ctl, "FA", Version999)
	for i, g := range e.in.groups {
		w.ST("999", i+1, Version999)
		w.Segment("AK1", g.id, g.control, g.version)
		accepted := 0
		for _, s := range g.sets {
			if s.accepted() {
				accepted++
			}
			if !s.report {
				continue
			}
			w.Segment("AK2", s.id, s.control, s.version)
			for _, se := range s.errs {
				w.Begin("IK3")
				w.Elem(se.id)
				w.Int(int64(se.pos))
				w.Elem(se.loop)
				w.Elem(se.code)
				w.End()
				if se.elem > 0 {
					w.Begin("IK4")
					w.Int(int64(se.elem))
					w.Elem(se.ref)
					w.Elem(se.ecod)
					w.End()
				}
			}
			w.Begin("IK5")
			if s.accepted() {
				w.Elem(string(x12.AckAccepted))
			} else {
				w.Elem(string(x12.AckRejected))
			}
			for _, c := range s.codes {
				w.Elem(c)
			}
			w.End()
		}
		status := x12.AckPartiallyAccepted
		switch {
		case accepted == 0 || g.code != "":
			status = x12.AckRejected
		case accepted == len(g.sets):
			status = x12.AckAccepted
		}
		w.Begin("AK9")
		w.Elem(string(status))
		w.Int(int64(g.included))
		w.Int(int64(len(g.sets)))
		w.Int(int64(accepted))
		w.Elem(g.code)
		w.End()
		w.SE()
	}
	w.GE()
	w.IEA()
	if err := w.Err(); err != nil {
		return nil, fmt.Errorf("payersim: write 999: %w", err)
	}
	return append([]byte(nil), w.Bytes()...), nil
}

// outcome is the 277CA status of one claim.
type outcome struct {
	category, code, entity string
}

func (o outcome) accepted() bool { return o.category == "A2" }

func (o outcome) String() string {
	s := o.category + ":" + o.code
	if o.entity != "" {
		s += ":" + o.entity
	}
	return s
}

// decide returns a claim's status; the order is the package comment's.
func decide(cfg *Config, h x12.ISAHeader, c *claim837, p provider837) outcome {
	switch {
	case !validNPI(p.npi):
		return outcome{"A7", "562", "85"} // invalid information: billing provider NPI
	case cfg.KnownMember != nil && !cfg.KnownMember(c.payerID, c.memberID):
		return outcome{"A3", "33", "IL"} // returned: subscriber and subscriber id not found
	case cfg.RejectRate > 0 && unit(draw(cfg.Seed, "reject", h.SenderID, h.ControlNumber, c.pcn)) < cfg.RejectRate:
		return outcome{"A7", "21", ""} // invalid information: missing or invalid information
	}
	return outcome{"A2", "20", ""} // accepted for processing
}

// write277 writes one 277CA transaction set per accepted 837 set.
func (e envelope) write277(ctl int, cfg *Config, sum *Summary) ([]byte, error) {
	w, err := e.writer()
	if err != nil {
		return nil, err
	}
	e.open(w, ctl, "HN", Version277)
	n := 0
	for _, g := range e.in.groups {
		for _, s := range g.sets {
			if s.accepted() && s.data != nil {
				n++
				e.set277(w, ctl, n, s.data, cfg, sum)
			}
		}
	}
	w.GE()
	w.IEA()
	if err := w.Err(); err != nil {
		return nil, fmt.Errorf("payersim: write 277CA: %w", err)
	}
	return append([]byte(nil), w.Bytes()...), nil
}

// totals are the counts and amounts of a summary level.
type totals struct {
	accepted, rejected           int
	acceptedCents, rejectedCents int64
}

func (t *totals) add(o outcome, cents int64) {
	if o.accepted() {
		t.accepted++
		t.acceptedCents += cents
	} else {
		t.rejected++
		t.rejectedCents += cents
	}
}

// write emits QTY and AMT for the non-zero counts (the TR3 sends each only
// when there is something to count).
func (t *totals) write(w *x12.Writer, acceptedQty, rejectedQty string) {
	qty := func(q string, n int) {
		if n > 0 {
			w.Begin("QTY")
			w.Elem(q)
			w.Int(int64(n))
			w.End()
		}
	}
	amt := func(q string, n int, cents int64) {
		if n > 0 {
			w.Begin("AMT")
			w.Elem(q)
			w.Money(cents)
			w.End()
		}
	}
	qty(acceptedQty, t.accepted)
	qty(rejectedQty, t.rejected)
	amt("YU", t.accepted, t.acceptedCents)
	amt("YY", t.rejected, t.rejectedCents)
}

// set277 writes the HL tree 20 → 21 → 19 → PT for one 837 set
// (BILLING.md §6.4).
func (e envelope) set277(w *x12.Writer, ctl, n int, d *set837, cfg *Config, sum *Summary) {
	h := e.in.header
	outcomes := make([]outcome, len(d.claims))
	perProvider := make([]totals, len(d.providers))
	var batch totals
	var charged int64
	for i := range d.claims {
		c := &d.claims[i]
		o := decide(cfg, h, c, d.providers[c.provider])
		outcomes[i] = o
		batch.add(o, c.chargeCents)
		perProvider[c.provider].add(o, c.chargeCents)
		charged += c.chargeCents
		icn := PayerClaimNumber(cfg.Seed, c.pcn)
		sum.Claims = append(sum.Claims, ClaimResult{
			ControlNumber: c.pcn, Status: o.String(), Accepted: o.accepted(),
			PayerClaimNumber: icn, ChargeCents: c.chargeCents,
		})
	}
	sum.ClaimsAccepted += batch.accepted
	sum.ClaimsRejected += batch.rejected
	sum.AcceptedCents += batch.acceptedCents
	sum.RejectedCents += batch.rejectedCents

	// The 277CA's own reference: its interchange number and set number.
	ref := fmt.Sprintf("%09d%04d", ctl, n)
	w.ST("277", n, Version277)
	w.Begin("BHT")
	w.Elem("0085")
	w.Elem("08")
	w.Elem(ref)
	w.Date(e.created)
	w.Elem(e.created.Format("1504"))
	w.Elem("TH")
	w.End()

	hl := 1
	hlSeg(w, hl, 0, "20", true)
	c := e.in.clean
	nm1(w, "AY", "2", person{last: or(d.receiverName, c(h.ReceiverID))}, "46", or(d.receiverID, c(h.ReceiverID)))
	w.Segment("TRN", "1", ref)
	w.Segment("DTP", "050", "D8", e.in.created.Format("20060102"))
	w.Segment("DTP", "009", "D8", e.created.Format("20060102"))

	hl++
	hlSeg(w, hl, 1, "21", true)
	nm1(w, "41", "2", person{last: or(d.submitterName, c(h.SenderID))}, "46", or(d.submitterID, c(h.SenderID)))
	// The batch is known by the 837's BHT03, which Write837P fills with
	// the interchange control number unless told otherwise.
	w.Segment("TRN", "2", or(d.reference, h.ControlNumber))
	stc(w, outcome{"A1", "20", ""}, e.created, "WQ", charged)
	batch.write(w, "90", "AA")

	for p := range d.providers {
		if t := perProvider[p]; t.accepted+t.rejected == 0 {
			continue
		}
		hl++
		parent := hl
		hlSeg(w, hl, 2, "19", true)
		pr := d.providers[p]
		nm1(w, "85", "2", person{last: pr.name}, "XX", pr.npi)
		perProvider[p].write(w, "QA", "QC")
		for i := range d.claims {
			cl := &d.claims[i]
			if cl.provider != p {
				continue
			}
			hl++
			hlSeg(w, hl, parent, "PT", false)
			nm1(w, "QC", "1", cl.name, "MI", cl.memberID)
			w.Segment("TRN", "2", cl.pcn)
			action := "WQ" // accepted
			if !outcomes[i].accepted() {
				action = "U" // rejected
			}
			stc(w, outcomes[i], e.created, action, cl.chargeCents)
			w.Segment("REF", "1K", PayerClaimNumber(cfg.Seed, cl.pcn))
			switch {
			case cl.from == "":
			case cl.from == cl.to:
				w.Segment("DTP", "472", "D8", cl.from)
			default:
				w.Segment("DTP", "472", "RD8", cl.from+"-"+cl.to)
			}
		}
	}
	w.SE()
}

func hlSeg(w *x12.Writer, id, parent int, level string, children bool) {
	w.Begin("HL")
	w.Int(int64(id))
	if parent > 0 {
		w.Int(int64(parent))
	} else {
		w.Elem("")
	}
	w.Elem(level)
	if children {
		w.Elem("1")
	}
	w.End()
}

// nm1 writes NM1*entity*kind*last*first*middle***qual*id, leaving out the
// qualifier when there is no id.
func nm1(w *x12.Writer, entity, kind string, p person, qual, id string) {
	if id == "" {
		qual = ""
	}
	w.Begin("NM1")
	w.Elem(entity)
	w.Elem(kind)
	w.Elem(p.last)
	w.Elem(p.first)
	w.Elem(p.middle)
	w.Elem("")
	w.Elem("")
	w.Elem(qual)
	w.Elem(id)
	w.End()
}

func stc(w *x12.Writer, o outcome, date time.Time, action string, cents int64) {
	w.Begin("STC")
	w.Comp(o.category, o.code, o.entity)
	w.Date(date)
	w.Elem(action)
	w.Money(cents)
	w.End()
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
