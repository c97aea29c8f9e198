// Package intake is the first stage: it takes signed visits from EMR
// webhooks, validates them, and records each (source, visit, revision) once
// as a visit.recorded event, durable in Postgres before it answers 202.
package intake
