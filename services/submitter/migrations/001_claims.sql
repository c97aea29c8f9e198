-- One claim per visit. A new coding of the visit rebuilds the claim until it
-- is sent; submission numbers the claims sent for the visit.
CREATE TABLE submitter.claims (
	claim_id        text PRIMARY KEY,
	visit_id        text NOT NULL UNIQUE,
	payer_id        text NOT NULL,
	submission      int NOT NULL,   -- the submission the claim is built for, from 1
	control_number  text NOT NULL UNIQUE,
	status          text NOT NULL,  -- held | ready
	coded_event_id  text NOT NULL,
	coded_revision  int NOT NULL,
	claim           bytea NOT NULL, -- the 837P claim model, JSON, for the batcher
	edits           bytea NOT NULL, -- the scrub edits, JSON
	updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_ready ON submitter.claims (updated_at) WHERE status = 'ready';
