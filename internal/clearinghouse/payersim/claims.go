package payersim

import (
	"strings"

	"github.com/rcm-health/rcm/pkg/x12"
)

// set837 is what the 277CA needs from one 837P transaction set.
type set837 struct {
	reference                  string // BHT03
	submitterName, submitterID string // 1000A NM1*41
	receiverName, receiverID   string // 1000B NM1*40
	providers                  []provider837
	claims                     []claim837
}

// provider837 is a billing provider (loop 2000A/2010AA).
type provider837 struct {
	name, npi string
}

// person is a subscriber or patient as sent (NM1*IL or NM1*QC).
type person struct {
	last, first, middle string
}

// claim837 is one claim (loop 2300) with the parties above it.
type claim837 struct {
	pcn         string // CLM01
	chargeCents int64  // CLM02
	provider    int    // index in set837.providers
	name        person // the patient: NM1*QC, or NM1*IL when the subscriber is the patient
	memberID    string // NM1*IL NM109
	payerID     string // NM1*PR NM109 of loop 2010BB
	from, to    string // DTP*472 range over the lines, CCYYMMDD; "" when none
}

// readSet walks an 837P transaction set that parsed, collecting its claims
// and the structure errors the simulator checks. Every value kept is
// reduced to its first repetition and component, so none contains a
// separator of the file (and so of the answers).
func readSet(tx x12.Transaction, clean func(string) string) (*set837, []segError) {
	d := &set837{}
	var errs []segError
	add := func(e segError) {
		if len(errs) < maxErrors {
			errs = append(errs, e)
		}
	}
	pos := func(s x12.Segment) int { return s.Index - tx.ST.Index + 1 }
	first := func(s x12.Segment, n int) string { return clean(firstValue(s, n)) }
	segs := tx.Segments
	if len(segs) == 0 || segs[0].ID != "BHT" {
		add(segError{id: "BHT", pos: 2, code: "3"}) // required segment missing
	} else {
		d.reference = first(segs[0], 3)
	}

	var (
		level    string // HL03 of the open HL
		provider = -1
		sub, pat person
		member   string
		payer    string
		claim    *claim837 // open claim, until the next HL
		clms     int
	)
	for _, s := range segs {
		switch s.ID {
		case "HL":
			level, claim = s.Element(3), nil
			switch level {
			case "20":
				d.providers = append(d.providers, provider837{})
				provider = len(d.providers) - 1
				sub, pat, member, payer = person{}, person{}, "", ""
			case "22":
				sub, pat, member, payer = person{}, person{}, "", ""
			case "23":
				pat = person{}
			}
		case "NM1":
			if claim != nil {
				// 2310x/2330x parties of the claim, such as another
				// payer's subscriber (NM1*IL in 2330A), are not ours.
				break
			}
			switch s.Element(1) {
			case "41":
				d.submitterName, d.submitterID = first(s, 3), first(s, 9)
			case "40":
				d.receiverName, d.receiverID = first(s, 3), first(s, 9)
			case "85":
				if level == "20" && provider >= 0 {
					p := &d.providers[provider]
					p.name = first(s, 3)
					if s.Element(8) == "XX" {
						p.npi = first(s, 9)
					}
				}
			case "IL":
				sub = person{first(s, 3), first(s, 4), first(s, 5)}
				member = first(s, 9)
			case "PR":
				payer = first(s, 9)
			case "QC":
				pat = person{first(s, 3), first(s, 4), first(s, 5)}
			}
		case "CLM":
			clms++
			if provider < 0 || level != "22" && level != "23" {
				add(segError{id: "CLM", pos: pos(s), loop: "2300", code: "7"}) // not in proper sequence
				break
			}
			pcn := first(s, 1)
			if pcn == "" {
				add(segError{id: "CLM", pos: pos(s), loop: "2300", code: "8", elem: 1, ref: "1028", ecod: "1"})
				break
			}
			cents, ok := parseMoney(s.Element(2))
			if !ok {
				ecod := "6" // invalid character
				if s.Element(2) == "" {
					ecod = "1" // mandatory element missing
				}
				add(segError{id: "CLM", pos: pos(s), loop: "2300", code: "8", elem: 2, ref: "782", ecod: ecod})
				break
			}
			c := claim837{pcn: pcn, chargeCents: cents, provider: provider, name: sub, memberID: member, payerID: payer}
			if level == "23" {
				c.name = pat
			}
			d.claims = append(d.claims, c)
			claim = &d.claims[len(d.claims)-1]
		case "DTP":
			if claim != nil && s.Element(1) == "472" {
				if from, to, ok := serviceDates(s); ok {
					if claim.from == "" || from < claim.from {
						claim.from = from
					}
					if to > claim.to {
						claim.to = to
					}
				}
			}
		}
	}
	if clms == 0 {
		add(segError{id: "CLM", pos: len(segs) + 2, loop: "2300", code: "3"}) // required segment missing
	}
	return d, errs
}

// firstValue returns the first repetition's first component of element
// n, so that no value kept holds a separator of the file.
func firstValue(s x12.Segment, n int) string {
	if r := s.Repetitions(n); len(r) > 0 {
		s.Elements = []string{r[0]}
		return s.Component(1, 1)
	}
	return ""
}

// serviceDates reads DTP*472 with D8 (a date) or RD8 (a range); dates are
// checked for shape only, CCYYMMDD comparing in calendar order as text.
func serviceDates(s x12.Segment) (from, to string, ok bool) {
	v := s.Element(3)
	switch s.Element(2) {
	case "D8":
		if isDate(v) {
			return v, v, true
		}
	case "RD8":
		from, to, found := strings.Cut(v, "-")
		if found && isDate(from) && isDate(to) && from <= to {
			return from, to, true
		}
	}
	return "", "", false
}

func isDate(v string) bool { return len(v) == 8 && digits(v) }

func digits(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// parseMoney reads an X12 decimal (type R) such as 415, 65.5 or 199.14 as
// cents without floating point. Negative amounts and more than two
// significant decimals are refused: a claim charge is neither.
func parseMoney(v string) (int64, bool) {
	whole, frac, _ := strings.Cut(v, ".")
	if whole == "" && frac == "" || len(whole) > 13 ||
		whole != "" && !digits(whole) || frac != "" && !digits(frac) {
		return 0, false
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, false
		}
		frac = frac[:2]
	}
	frac += strings.Repeat("0", 2-len(frac))
	var c int64
	for _, r := range whole + frac {
		c = c*10 + int64(r-'0')
	}
	return c, true
}
