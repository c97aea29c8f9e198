// Package docs embeds the published API documents so that tests and the
// intake service use the same files.
package docs

import (
	"bytes"
	"embed"
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
