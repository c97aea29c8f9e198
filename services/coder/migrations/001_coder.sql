-- The latest coding of each visit, and what it added to its patient's
-- threshold total, so that an amendment or a void can take it back.
CREATE TABLE coder.visits (
	visit_id        text PRIMARY KEY,
	patient_key     text NOT NULL,
	payer_id        text NOT NULL,
	year            int NOT NULL,
	bucket          text NOT NULL, -- '' when the payer has no threshold
	allowed_cents   bigint NOT NULL,
	coded_revision  int NOT NULL,
	visit_revision  int NOT NULL,
	source_event_id text NOT NULL, -- the visit.recorded coded
	last_event_id   text NOT NULL, -- the latest visit.coded
	rules_version   text NOT NULL,
	voided          bool NOT NULL,
	held            bool NOT NULL,
	coded           bytea NOT NULL, -- the latest visit.coded data
	updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Year-to-date allowed amounts per patient, payer, year and threshold
-- bucket: what KX is decided on. Changed only in the transaction that
-- records the coding that changes it.
CREATE TABLE coder.threshold_totals (
	patient_key   text NOT NULL,
	payer_id      text NOT NULL,
	year          int NOT NULL,
	bucket        text NOT NULL,
	allowed_cents bigint NOT NULL,
	PRIMARY KEY (patient_key, payer_id, year, bucket)
);
