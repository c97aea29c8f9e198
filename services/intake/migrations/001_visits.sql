-- One row per EMR visit: the head that serialises its revisions.
CREATE TABLE intake.visits (
	visit_id        text PRIMARY KEY,
	source          text NOT NULL,
	source_visit_id text NOT NULL,
	latest_revision int NOT NULL,
	latest_event_id text NOT NULL,
	status          text NOT NULL,
	updated_at      timestamptz NOT NULL DEFAULT now(),
	UNIQUE (source, source_visit_id)
);

-- Every accepted revision as received. body holds PHI and never leaves this
-- schema except inside visit.recorded.
CREATE TABLE intake.revisions (
	visit_id    text NOT NULL REFERENCES intake.visits (visit_id),
	revision    int NOT NULL,
	body_sha256 bytea NOT NULL,
	body        bytea NOT NULL,
	webhook_id  text NOT NULL,
	event_id    text NOT NULL UNIQUE,
	change      text NOT NULL,
	response    bytea NOT NULL, -- the first answer, byte for byte
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (visit_id, revision)
);
