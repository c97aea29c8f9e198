package billing

import (
	"embed"
	"io/fs"
	"sync"
)

// embeddedRules is the whole rules set compiled into the binary. catalog.go
// embeds codes.csv on its own for DefaultCatalog; the files are the same.
//
//go:embed rules
var embeddedRules embed.FS

// DefaultRulesFS is the embedded rules set, its files at the root, as
// LoadRules reads it and `rcm rules export` writes it out.
var DefaultRulesFS fs.FS = func() fs.FS {
	sub, err := fs.Sub(embeddedRules, "rules")
	if err != nil {
		panic(err)
	}
	return sub
}()

var defaultRulesSet = sync.OnceValue(func() *Rules {
	r, err := LoadRules(DefaultRulesFS)
	if err != nil {
		// Tests load the embedded set, so this is a build mistake.
		panic("billing: embedded rules set: " + err.Error())
	}
	return r
})

// DefaultRules is the rules set embedded in the binary, loaded once and
// shared.
func DefaultRules() *Rules { return defaultRulesSet() }
