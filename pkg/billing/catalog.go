package billing

import (
	"embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// defaultRules holds the rules files compiled into the binary; a rules
// directory given at start-up overrides them file by file.
//
//go:embed rules/*.csv
var defaultRules embed.FS

// CodesFile is the catalog's file name inside a rules set.
const CodesFile = "codes.csv"

// Disciplines is a set of therapy disciplines.
type Disciplines uint8

// The disciplines, as bits of a Disciplines set.
const (
	OT Disciplines = 1 << iota
	PT
	SLP

	AnyDiscipline = OT | PT | SLP
)

var disciplineNames = [...]struct {
	name string
	d    Disciplines
}{{"OT", OT}, {"PT", PT}, {"SLP", SLP}}

// ParseDisciplines reads the catalog's notation: names joined by "/"
// ("OT/PT") or "any".
func ParseDisciplines(s string) (Disciplines, error) {
	if strings.EqualFold(s, "any") {
		return AnyDiscipline, nil
	}
	var set Disciplines
	for part := range strings.SplitSeq(s, "/") {
		d := disciplineByName(strings.TrimSpace(part))
		if d == 0 {
			return 0, fmt.Errorf("disciplines must be OT, PT, SLP joined by / or \"any\", not %q", s)
		}
		set |= d
	}
	return set, nil
}

func disciplineByName(name string) Disciplines {
	for _, n := range disciplineNames {
		if strings.EqualFold(name, n.name) {
			return n.d
		}
	}
	return 0
}

// Includes reports whether the set has the discipline named as in a visit
// ("OT", "PT" or "SLP").
func (d Disciplines) Includes(discipline string) bool {
	return d.has(disciplineByName(discipline))
}

// has is Includes for a discipline already looked up by disciplineByName,
// which CodeVisit does once for all its services.
func (d Disciplines) has(b Disciplines) bool { return b != 0 && d&b == b }

// String gives the catalog's notation.
func (d Disciplines) String() string {
	if d == AnyDiscipline {
		return "any"
	}
	var names []string
	for _, n := range disciplineNames {
		if d&n.d != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, "/")
}

// Code is one procedure code of the catalog.
type Code struct {
	Code string
	// Timed codes are billed in 15-minute units under the 8-minute rule;
	// untimed codes bill one unit per session whatever their length.
	Timed bool
	// AddOnTo is the base code this add-on is reported with, or "".
	AddOnTo string
	// Disciplines that normally bill the code; a mismatch is worth a
	// warning, not a rejection.
	Disciplines Disciplines
	// InitialMinutes is the time covered by the first unit when that is not
	// 15 minutes (97550: 30); 0 means the usual 15.
	InitialMinutes int
	Description    string
}

// Catalog is a validated code catalog. It is never changed after loading,
// so one Catalog may be shared by any number of goroutines.
type Catalog struct {
	// addOns maps base codes to their add-on code, built once on first use.
	addOnsOnce sync.Once
	addOns     map[string]string
	// entries are the codes as the coder uses them, built once on first
	// use: one lookup gives a service its code and its add-on code, and
	// the coder's working copies hold a pointer rather than a whole Code.
	entriesOnce sync.Once
	entries     map[string]*codeEntry

	codes   map[string]Code
	order   []string
	sources []string
}

// Lookup finds a code; case and surrounding blanks are forgiven.
func (c *Catalog) Lookup(code string) (Code, bool) {
	if k, ok := c.codes[code]; ok {
		return k, true
	}
	k, ok := c.codes[strings.ToUpper(strings.TrimSpace(code))]
	return k, ok
}

// codeEntry is a catalog code with the add-on code reported after it (the
// AddOns map's value), "" if none.
type codeEntry struct {
	code      Code
	addOnCode string
}

// entry is Lookup for the coder.
func (c *Catalog) entry(code string) (*codeEntry, bool) {
	c.entriesOnce.Do(func() {
		addOns := c.AddOns()
		c.entries = make(map[string]*codeEntry, len(c.codes))
		for k, v := range c.codes {
			c.entries[k] = &codeEntry{code: v, addOnCode: addOns[k]}
		}
	})
	if e, ok := c.entries[code]; ok {
		return e, true
	}
	e, ok := c.entries[strings.ToUpper(strings.TrimSpace(code))]
	return e, ok
}

// Codes lists the catalog in file order.
func (c *Catalog) Codes() []Code {
	out := make([]Code, len(c.order))
	for i, code := range c.order {
		out[i] = c.codes[code]
	}
	return out
}

// Sources are the "# source:" lines of the file, for provenance.
func (c *Catalog) Sources() []string { return append([]string(nil), c.sources...) }

var catalogColumns = []string{"code", "timed", "add_on_to", "disciplines", "initial_minutes", "description"}

// LoadCatalog reads a codes.csv file (see rules/codes.csv for the format)
// and checks all of it, returning every problem as a *LineError joined with
// errors.Join, such as "codes.csv line 12: timed must be T or U".
func LoadCatalog(r io.Reader) (*Catalog, error) {
	t, err := openTable(CodesFile, r, catalogColumns)
	if err != nil {
		return nil, err
	}
	c := &Catalog{codes: make(map[string]Code), sources: t.sources}
	lineOf := make(map[string]int)
	for row := range t.rows() {
		k, ok := parseCode(row)
		if !ok {
			continue
		}
		if first, dup := lineOf[k.Code]; dup {
			row.errorf("code %s repeats line %d", k.Code, first)
			continue
		}
		lineOf[k.Code] = row.line
		c.codes[k.Code] = k
		c.order = append(c.order, k.Code)
	}
	// Add-ons are checked once every code is known, since a base code may
	// come later in the file.
	for _, code := range c.order {
		k := c.codes[code]
		if k.AddOnTo == "" {
			continue
		}
		base, ok := c.codes[k.AddOnTo]
		switch {
		case !ok:
			t.errorf(lineOf[code], "add_on_to %s is not a code in this file", k.AddOnTo)
		case base.AddOnTo != "":
			t.errorf(lineOf[code], "add_on_to %s is itself an add-on code", k.AddOnTo)
		}
	}
	if err := t.err(); err != nil {
		return nil, err
	}
	if len(c.order) == 0 {
		return nil, &LineError{File: CodesFile, Msg: "no codes"}
	}
	return c, nil
}

// parseCode checks one line, reporting each bad field; ok is false if any was.
func parseCode(r row) (k Code, ok bool) {
	ok = true
	bad := func(format string, args ...any) {
		r.errorf(format, args...)
		ok = false
	}

	k.Code = r.get("code")
	if !validProcedureCode(k.Code) {
		bad("code %q must be a CPT code (4 digits, then a digit, F, T or U) or a HCPCS code (capital letter, 4 digits)", k.Code)
	}

	switch r.get("timed") {
	case "T":
		k.Timed = true
	case "U":
	default:
		bad("timed must be T or U, not %q", r.get("timed"))
	}

	if k.AddOnTo = r.get("add_on_to"); k.AddOnTo != "" {
		switch {
		case !validProcedureCode(k.AddOnTo):
			bad("add_on_to %q is not a procedure code", k.AddOnTo)
		case k.AddOnTo == k.Code:
			bad("add_on_to names the code itself")
		}
	}

	d, err := ParseDisciplines(r.get("disciplines"))
	if err != nil {
		bad("%v", err)
	}
	k.Disciplines = d

	if s := r.get("initial_minutes"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 1 || n > 1440:
			bad("initial_minutes must be a whole number of minutes from 1 to 1440, not %q", s)
		case !k.Timed:
			bad("initial_minutes is only for timed codes")
		default:
			k.InitialMinutes = n
		}
	}

	if k.Description = r.get("description"); k.Description == "" {
		bad("description is empty")
	}
	return k, ok
}

// validProcedureCode accepts the shapes of CPT (Category I digits, II "F",
// III "T", PLA "U") and HCPCS Level II codes.
func validProcedureCode(s string) bool {
	if len(s) != 5 {
		return false
	}
	if isUpper(s[0]) {
		return allDigits(s[1:])
	}
	last := s[4]
	return allDigits(s[:4]) && (isDigit(last) || last == 'F' || last == 'T' || last == 'U')
}

var defaultCatalog = sync.OnceValue(func() *Catalog {
	f, err := defaultRules.Open("rules/" + CodesFile)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	c, err := LoadCatalog(f)
	if err != nil {
		// Tests load the embedded file, so this is a build mistake.
		panic("billing: embedded " + err.Error())
	}
	return c
})

// DefaultCatalog is the catalog embedded in the binary, loaded once and
// shared.
func DefaultCatalog() *Catalog { return defaultCatalog() }
