package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func choose[T any](r *rand.Rand, xs []weighted[T]) T { return xs[chooseIndex(r, xs)].v }

func chooseIndex[T any](r *rand.Rand, xs []weighted[T]) int {
	total := 0
	for _, x := range xs {
		total += x.w
	}
	n := r.IntN(total)
	for i, x := range xs {
		if n < x.w {
			return i
		}
		n -= x.w
	}
	panic("unreachable")
}

func (g *generator) percent(p int) bool { return g.r.IntN(100) < p }

func (g *generator) sex() string {
	if g.percent(55) {
		return "F"
	}
	return "M"
}

func (g *generator) firstName(sex string) string {
	if sex == "F" {
		return pick(g.r, femaleNames)
	}
	return pick(g.r, maleNames)
}

func (g *generator) birthDate(age int) time.Time {
	return g.today.AddDate(-age, 0, -g.r.IntN(365))
}

func (g *generator) address() events.Address {
	c := pick(g.r, cities)
	a := events.Address{
		Line1:      fmt.Sprintf("%d %s", 1+g.r.IntN(9999), pick(g.r, streets)),
		City:       c.city,
		State:      "OH",
		PostalCode: c.zip,
	}
	if g.percent(15) {
		a.Line2 = fmt.Sprintf("Apt %d%c", 1+g.r.IntN(9), 'A'+g.r.IntN(6))
	}
	return a
}

// npi makes a unique, valid NPI. Real NPIs start with 1 or 2.
func (g *generator) npi() string {
	for {
		first9 := string(rune('1'+g.r.IntN(2))) + g.digits(8)
		d, err := billing.NPICheckDigit(first9)
		if err != nil {
			panic(err)
		}
		npi := first9 + string(d)
		if !g.npis[npi] {
			g.npis[npi] = true
			return npi
		}
	}
}

// einPrefixes are some of the IRS's assigned EIN prefixes.
var einPrefixes = []string{"20", "26", "27", "45", "46", "47", "81", "82", "83", "84"}

func (g *generator) tin() string { return pick(g.r, einPrefixes) + g.digits(7) }

// mbiLetters are the letters a Medicare Beneficiary Identifier may use:
// not S, L, O, I, B or Z, which read like digits.
const mbiLetters = "ACDEFGHJKMNPQRTUVWXY"

// mbi makes a Medicare Beneficiary Identifier. Its pattern, position by
// position: C a digit 1-9, A a letter, X a letter or digit, N a digit.
func (g *generator) mbi() string {
	const pattern = "CAXNAXNAANN"
	const alnum = mbiLetters + "0123456789"
	b := make([]byte, len(pattern))
	for i := range pattern {
		switch pattern[i] {
		case 'C':
			b[i] = byte('1' + g.r.IntN(9))
		case 'A':
			b[i] = mbiLetters[g.r.IntN(len(mbiLetters))]
		case 'X':
			b[i] = alnum[g.r.IntN(len(alnum))]
		default:
			b[i] = byte('0' + g.r.IntN(10))
		}
	}
	return string(b)
}

func (g *generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

// letters avoids I and O, which member-id readers confuse with 1 and 0.
func (g *generator) letters(n int) string {
	const abc = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = abc[g.r.IntN(len(abc))]
	}
	return string(b)
}
