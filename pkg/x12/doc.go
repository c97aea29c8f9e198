// Package x12 implements X12 5010 reading and writing for rcm.
//
// Parse splits an interchange into its envelope (ISA/IEA, GS/GE, ST/SE) and
// checks the envelope's counts and control numbers. Writer emits segments
// with chosen separators and refuses values that contain one, and
// Write837P renders a batch of professional claims as one
// 005010X222A1 (837P) interchange.
//
// The package is pure: it reads from byte slices and writes to io.Writer,
// and imports only the standard library. Facts behind the rules are in
// BILLING.md §5–6 (envelope and 837P loop map) and VERIFICATION.md §7
// (certifying physician in loop 2310A).
package x12
