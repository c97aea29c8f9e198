// Package events is rcm's event contract: the envelope every stage publishes,
// the v1 event types and their data, the NATS subjects they travel on and the
// JetStream streams that keep them.
//
// It has no NATS or database dependency so that an EMR-side producer or a
// reporting consumer can import it alone. docs/events.md shows every event
// with an example.
//
// Compatibility: a field is added, never repurposed or removed; a consumer
// ignores fields it does not know. A breaking change is a new type name.
//
// Conventions shared by every data type, so that no consumer has to guess:
//
//   - Money is int64 cents in a field named …Cents (JSON …_cents). Floats
//     would lose cents in sums that must balance to the cent, as an 835 does.
//   - Dates are "YYYY-MM-DD" strings: a date of service has no time zone.
//   - Claim lines are numbered from 1, the same number from visit.coded to
//     claim.reconciled; 0 means the claim as a whole.
//   - Codes from outside (CPT, modifiers, ICD-10-CM, CARC, RARC, X12 status
//     codes) are kept as sent; our own enumerations are the string
//     constants declared beside each type.
//   - The envelope holds ids only, never PHI, so that logs can carry it;
//     Data may hold PHI and is never logged.
//
// A consumer of one type decodes with Envelope.DecodeData; code that handles
// every type, such as a dead-letter viewer, uses Decode. A consumer acks and
// skips an event whose type it does not know (ErrUnknownType): a newer
// producer may already publish types this build has never seen.
package events
