package payersim

import (
	"strconv"
	"strings"

	"github.com/rcm-health/rcm/pkg/x12"
)

// rclaim is what adjudication needs from one 837P claim (loop 2300 and
// the loops above it).
type rclaim struct {
	pcn         string // CLM01
	chargeCents int64  // CLM02
	pos, freq   string // CLM05-1, CLM05-3
	priorAuth   bool   // REF*G1 present
	filing      string // SBR09 of the subscriber loop
	payerID     string // NM1*PR NM109
	payerName   string // NM1*PR NM103
	memberID    string // NM1*IL NM109
	subscriber  person
	patient     *person // nil when the patient is the subscriber
	provider    rprovider
	lines       []rline
	bad         string // why the claim cannot be adjudicated; "" when it can
}

// rprovider is the billing provider (loop 2010AA), the 835's payee.
type rprovider struct {
	name, npi, tin string
	addr           x12.Address
}

// rline is one service line (loop 2400).
type rline struct {
	code        string
	mods        []string
	chargeCents int64
	units       int
	dos         string // CCYYMMDD, the first day of an RD8 range
	control     string // REF*6R
}

// readClaims walks one 837P transaction set that parsed and returns its
// claims. Values are cut at the answer's separators by clean. A claim the
// payer could not price (a line without a readable charge, units or date,
// or lines not adding up to CLM02) is returned with bad set, so the caller
// can report it rather than guess.
func readClaims(tx x12.Transaction, clean func(string) string) []rclaim {
	var (
		claims   []rclaim
		level    string
		prov     rprovider
		inProv   bool   // the last NM1 of loop 2000A was NM1*85: N3/N4 are its address
		filing   string // SBR09
		sub      person
		pat      *person
		member   string
		payerID  string
		payerNam string
		claim    *rclaim
		line     *rline
	)
	first := func(s x12.Segment, n int) string { return clean(firstValue(s, n)) }
	for _, s := range tx.Segments {
		switch s.ID {
		case "HL":
			level, claim, line, inProv = s.Element(3), nil, nil, false
			switch level {
			case "20":
				prov = rprovider{}
				filing, sub, pat, member, payerID, payerNam = "", person{}, nil, "", "", ""
			case "22":
				filing, sub, pat, member, payerID, payerNam = "", person{}, nil, "", "", ""
			case "23":
				pat = &person{}
			}
		case "PRV", "REF", "N3", "N4", "SBR", "PAT", "DMG":
			switch {
			case s.ID == "N3" && inProv:
				prov.addr.Line1, prov.addr.Line2 = first(s, 1), first(s, 2)
			case s.ID == "N4" && inProv:
				prov.addr.City, prov.addr.State, prov.addr.ZIP = first(s, 1), first(s, 2), first(s, 3)
			case s.ID == "REF" && level == "20" && claim == nil && s.Element(1) == "EI":
				prov.tin = first(s, 2)
			case s.ID == "SBR" && claim == nil:
				filing = first(s, 9)
			case s.ID == "REF" && claim != nil && line == nil && s.Element(1) == "G1" && s.Element(2) != "":
				claim.priorAuth = true
			case s.ID == "REF" && line != nil && s.Element(1) == "6R":
				line.control = first(s, 2)
			}
		case "NM1":
			inProv = false
			if claim != nil {
				break // 2310x/2330x parties are not the payer's concern here
			}
			switch s.Element(1) {
			case "85":
				if level == "20" {
					prov.name = first(s, 3)
					if s.Element(8) == "XX" {
						prov.npi = first(s, 9)
					}
					inProv = true
				}
			case "IL":
				sub = person{first(s, 3), first(s, 4), first(s, 5)}
				member = first(s, 9)
			case "PR":
				payerNam, payerID = first(s, 3), first(s, 9)
			case "QC":
				if pat != nil {
					*pat = person{first(s, 3), first(s, 4), first(s, 5)}
				}
			}
		case "CLM":
			line = nil
			c := rclaim{
				pcn: first(s, 1), pos: clean(s.Component(5, 1)), freq: clean(s.Component(5, 3)),
				filing: filing, payerID: payerID, payerName: payerNam, memberID: member,
				subscriber: sub, provider: prov,
			}
			if pat != nil {
				p := *pat
				c.patient = &p
			}
			cents, ok := parseMoney(s.Element(2))
			switch {
			case c.pcn == "":
				c.bad = "CLM01 missing"
			case !ok:
				c.bad = "CLM02 is not an amount"
			case level != "22" && level != "23":
				c.bad = "CLM outside a subscriber or patient loop"
			}
			c.chargeCents = cents
			claims = append(claims, c)
			claim = &claims[len(claims)-1]
		case "LX":
			if claim != nil {
				claim.lines = append(claim.lines, rline{})
				line = &claim.lines[len(claim.lines)-1]
			}
		case "SV1":
			if line == nil {
				if claim != nil && claim.bad == "" {
					claim.bad = "SV1 without LX"
				}
				break
			}
			line.code = clean(s.Component(1, 2))
			for k := 3; k <= 6; k++ {
				if m := clean(s.Component(1, k)); m != "" {
					line.mods = append(line.mods, m)
				}
			}
			cents, ok := parseMoney(s.Element(2))
			units, uok := parseUnits(s.Element(4))
			switch {
			case claim.bad != "":
			case s.Component(1, 1) != "HC" || line.code == "":
				claim.bad = "SV101 is not an HC procedure code"
			case !ok || cents == 0:
				claim.bad = "SV102 is not a positive amount"
			case !uok:
				claim.bad = "SV104 is not a whole number of units from 1 to 9999"
			}
			line.chargeCents, line.units = cents, units
		case "DTP":
			if line != nil && s.Element(1) == "472" {
				if from, _, ok := serviceDates(s); ok {
					line.dos = from
				}
			}
		}
	}
	for i := range claims {
		c := &claims[i]
		if c.bad != "" {
			continue
		}
		var sum int64
		for j := range c.lines {
			l := &c.lines[j]
			switch {
			case l.code == "":
				c.bad = "a service line has no SV1"
			case l.dos == "":
				c.bad = "a service line has no DTP*472 date"
			case parseDate(l.dos).IsZero():
				c.bad = "a DTP*472 date is not a calendar date"
			}
			sum += l.chargeCents
		}
		switch {
		case c.bad != "":
		case len(c.lines) == 0:
			c.bad = "no service lines"
		case sum != c.chargeCents:
			c.bad = "the lines' charges do not add up to CLM02"
		}
	}
	return claims
}

// parseUnits reads SV104 as a whole number of units, allowing a zero
// fraction ("2.0"); therapy units are whole.
func parseUnits(v string) (int, bool) {
	whole, frac, _ := strings.Cut(v, ".")
	if !digits(whole) || len(whole) > 4 || frac != "" && (!digits(frac) || strings.Trim(frac, "0") != "") {
		return 0, false
	}
	n, err := strconv.Atoi(whole)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}
