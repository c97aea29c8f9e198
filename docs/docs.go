// Package docs embeds the published API documents so that tests and the
// intake service use the same files.
package docs

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"

	"github.com/rcm-health/rcm/pkg/events"
)

// FS holds visit.schema.json and examples/*.json, at those paths.
//
//go:embed visit.schema.json examples/*.json
var FS embed.FS

//go:embed visit.schema.json
var visitSchema []byte

// VisitSchema returns the JSON Schema (draft 2020-12) of events.Visit, the
// body of POST /v1/visits. Each call returns a fresh copy, so a caller that
// modifies it cannot corrupt what the next one reads.
func VisitSchema() []byte {
	return bytes.Clone(visitSchema)
}

// ExampleVisit decodes one of the documented example visits by file name
// (such as "visit-ot-medicare.json"); tests across the services start from
// them so that the examples stay true.
func ExampleVisit(name string) (events.Visit, error) {
	var v events.Visit
	b, err := FS.ReadFile("examples/" + name)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("example %s: %w", name, err)
	}
	return v, nil
}
