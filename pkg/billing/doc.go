// Package billing is the pure domain core of rcm's billing rules: the therapy
// procedure code catalog, and identifier and code-set checks (NPI, ICD-10-CM
// format) that intake, the coder and the scrubber share.
//
// It does no I/O besides reading the rules files embedded in the binary, and
// imports neither NATS nor Postgres, so every rule is testable in
// microseconds and reusable as a library. Rules that vary by payer or by year
// are data (rules/*.csv), never Go constants; loaders name the file and line
// of every problem so that an override directory can be checked before use.
package billing
