// Package platform is the wiring every rcm service shares: configuration,
// PHI-safe logging, metrics and health endpoints, JetStream provisioning, a
// Watermill subscriber that acks only finished work, the router and its
// middleware, the Postgres pool with embedded migrations, and the
// inbox/outbox that turns at-least-once delivery into exactly-once effect.
//
// Nothing here knows billing; services bring their handlers and schemas.
package platform
