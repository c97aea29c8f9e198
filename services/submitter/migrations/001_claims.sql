-- One claim per visit. A new coding of the visit rebuilds the claim until it
-- is sent; submission numbers the claims sent for the visit.
CREATE TABLE submitter.claims (
	claim_id        text PRIMARY KEY,
	visit_id        text NOT NULL UNIQUE,
	payer_id        text NOT NULL,
	submission      int NOT NULL,   -- the submission the claim is built for, from 1
	control_number  text NOT NULL UNIQUE,
	status          text NOT NULL,  -- held | ready | batched | submitted
	coded_event_id  text NOT NULL,
	coded_revision  int NOT NULL,
	claim           bytea NOT NULL, -- the 837P claim model, JSON, for the batcher
	summary         bytea NOT NULL, -- claim.submitted data without the batch fields, JSON
	edits           bytea NOT NULL, -- the scrub edits, JSON
	batch_id        text,
	updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_ready ON submitter.claims (updated_at) WHERE status = 'ready';

-- 837P files. A batch is recorded with its bytes before the file is put in
-- the mailbox, and marked sent after: a crash in between puts the same
-- bytes under the same name again, never a second batch of the same claims.
CREATE TABLE submitter.batches (
	batch_id      text PRIMARY KEY,
	isa_control   bigint NOT NULL UNIQUE,
	file_name     text NOT NULL UNIQUE,
	file          bytea NOT NULL,
	claims        int NOT NULL,
	status        text NOT NULL,   -- prepared | sent
	created_at    timestamptz NOT NULL DEFAULT now(),
	sent_at       timestamptz
);

-- Interchange control numbers (ISA13, GS06): unique per sender, 1..999999999.
CREATE SEQUENCE submitter.interchange_control MINVALUE 1 MAXVALUE 999999999 CYCLE;

-- Acknowledgement files already handled, by content: a file seen again
-- under any name is set aside unread.
CREATE TABLE submitter.inbound_files (
	sha256     text PRIMARY KEY,
	name       text NOT NULL,
	handled_at timestamptz NOT NULL DEFAULT now()
);

-- Lines already sent, per payer and member: what the scrubber compares a
-- new claim with to catch a duplicate before the payer does (CO-18).
CREATE TABLE submitter.submitted_lines (
	claim_id       text NOT NULL,
	control_number text NOT NULL,
	payer_id       text NOT NULL,
	member_id      text NOT NULL,
	code           text NOT NULL,
	modifiers      text[] NOT NULL,
	units          int NOT NULL,
	dos            text NOT NULL
);
CREATE INDEX submitted_lines_member ON submitter.submitted_lines (payer_id, member_id);
