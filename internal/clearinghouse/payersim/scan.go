package payersim

import (
	"strings"

	"github.com/rcm-health/rcm/pkg/x12"
)

// token is one segment of a file read leniently: split at the terminator
// and the element separator, nothing checked.
type token struct {
	index   int // 1-based position in the file, counted as x12.Parse counts
	id      string
	elems   []string
	partial bool // no terminator before the end of the file
}

func (t token) element(n int) string {
	if n < 1 || n > len(t.elems) {
		return ""
	}
	return t.elems[n-1]
}

type scannedGroup struct {
	id, control, version string
	sender, receiver     string
	date, time           string
	ge01                 string
	geIndex              int // 0 when no GE was found
	sets                 []scannedSet
}

type scannedSet struct {
	id, control, version string
	start, end           int // positions of ST and SE; end 0 when no SE
	segs                 []token
}

// segment returns the set's segment at file position at.
func (s scannedSet) segment(at int) (token, bool) {
	for _, t := range s.segs {
		if t.index == at {
			return t, true
		}
	}
	return token{}, false
}

// scan reads the segments after an ISA of 106 bytes up to the IEA or the
// next ISA, grouping them by GS/GE and ST/SE. It is used only for a file
// x12.Parse refused, to find the groups and sets a 999 must name and where
// the error Parse reported lies. Positions count the ISA as 1 and skip line
// breaks after terminators, as Parse does.
func scan(rest string, sep x12.Separators) []scannedGroup {
	var (
		groups []scannedGroup
		g      *scannedGroup
		cur    *scannedSet
	)
	for index := 1; ; {
		rest = strings.TrimLeft(rest, "\r\n")
		if strings.TrimSpace(rest) == "" {
			break
		}
		index++
		raw, after, found := strings.Cut(rest, string(sep.Segment))
		rest = after
		if sep.Segment == '\n' {
			raw = strings.TrimSuffix(raw, "\r")
		}
		parts := strings.Split(raw, string(sep.Element))
		t := token{index: index, id: parts[0], elems: parts[1:], partial: !found}
		if t.id == "ISA" || t.id == "IEA" {
			break // only the first interchange is read
		}
		if cur != nil {
			cur.segs = append(cur.segs, t)
		}
		switch t.id {
		case "GS":
			groups = append(groups, scannedGroup{
				id: t.element(1), control: t.element(6), version: t.element(8),
				sender: t.element(2), receiver: t.element(3), date: t.element(4), time: t.element(5),
			})
			g, cur = &groups[len(groups)-1], nil
		case "ST":
			if g == nil {
				continue
			}
			g.sets = append(g.sets, scannedSet{id: t.element(1), control: t.element(2), version: t.element(3), start: index, segs: []token{t}})
			cur = &g.sets[len(g.sets)-1]
		case "SE":
			if cur != nil {
				cur.end = index
				cur = nil
			}
		case "GE":
			if g != nil {
				g.ge01, g.geIndex = t.element(1), index
				g, cur = nil, nil
			}
		}
		if !found {
			break
		}
	}
	return groups
}
