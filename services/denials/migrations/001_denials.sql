-- The denials service's claim ledger is built from the submitter's and the
-- coder's events alone; it never reads another service's schema.

-- One row per claim (a visit's claim across its submissions): its latest
-- state for the queues and KPIs.
CREATE TABLE denials.claims (
	claim_id          text PRIMARY KEY,
	visit_id          text NOT NULL,
	patient_id        text NOT NULL DEFAULT '',
	payer_id          text NOT NULL DEFAULT '',
	payer_name        text NOT NULL DEFAULT '',
	date_of_service   date,
	control_number    text NOT NULL DEFAULT '',  -- of the latest submission
	submission        int NOT NULL DEFAULT 0,
	charge_cents      bigint NOT NULL DEFAULT 0,
	paid_cents        bigint NOT NULL DEFAULT 0,   -- net of reversals
	patient_cents     bigint NOT NULL DEFAULT 0,
	adjusted_cents    bigint NOT NULL DEFAULT 0,   -- contractual and other
	denied_cents      bigint NOT NULL DEFAULT 0,
	-- scrub: passed | held; ack: accepted | rejected; outcome: as claim.reconciled
	scrub_status      text NOT NULL DEFAULT '',
	scrub_count       int NOT NULL DEFAULT 0,      -- builds scrubbed; 1 passed build = clean
	first_scrub       text NOT NULL DEFAULT '',    -- the first build's status, for the clean-claim rate
	edits             jsonb NOT NULL DEFAULT '[]', -- the latest scrub's edits
	ack_status        text NOT NULL DEFAULT '',
	first_ack         text NOT NULL DEFAULT '',    -- the first submission's final acknowledgement
	outcome           text NOT NULL DEFAULT '',
	payer_claim_control_number text NOT NULL DEFAULT '',
	first_submitted_at timestamptz,
	submitted_at      timestamptz,
	reconciled_at     timestamptz,
	updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_visit ON denials.claims (visit_id);
CREATE INDEX claims_held ON denials.claims (updated_at) WHERE scrub_status = 'held';

-- Every submission of a claim as sent: what an 835's CLP01 is matched to.
CREATE TABLE denials.submissions (
	control_number text PRIMARY KEY,
	claim_id       text NOT NULL,
	submission     int NOT NULL,
	frequency      text NOT NULL,
	event_id       text NOT NULL,
	data           jsonb NOT NULL, -- claim.submitted data
	submitted_at   timestamptz NOT NULL
);
CREATE INDEX submissions_claim ON denials.submissions (claim_id);

-- A claim's history, in the words billers read: one row per event that
-- touched the visit or claim, keyed by the event so a replay adds nothing.
CREATE TABLE denials.timeline (
	event_id   text PRIMARY KEY,
	visit_id   text NOT NULL,
	claim_id   text NOT NULL DEFAULT '',
	at         timestamptz NOT NULL,
	kind       text NOT NULL,  -- the event type, or "action.<name>"
	summary    text NOT NULL,
	detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_visit ON denials.timeline (visit_id, at);

-- 835 files handled, by content: the same file again is set aside unread.
CREATE TABLE denials.remit_files (
	sha256      text PRIMARY KEY,
	name        text NOT NULL,
	source      text NOT NULL, -- mailbox | http | import
	sets        int NOT NULL,
	posted_sets int NOT NULL,
	received_at timestamptz NOT NULL DEFAULT now()
);

-- One row per 835 transaction set posted. remit_id derives from the payer
-- and TRN02, so the same payment delivered in another file posts nothing.
CREATE TABLE denials.remits (
	remit_id         text PRIMARY KEY,
	file_sha256      text NOT NULL,
	file_name        text NOT NULL,
	st_control       text NOT NULL,
	payer_id         text NOT NULL,
	payer_name       text NOT NULL,
	payee_npi        text NOT NULL,
	trace_number     text NOT NULL,
	payment_method   text NOT NULL,
	payment_date     date,
	total_paid_cents bigint NOT NULL,
	claim_count      int NOT NULL,
	line_count       int NOT NULL,
	auto_posted_lines int NOT NULL,  -- lines matched to a submitted line
	imbalances       jsonb NOT NULL DEFAULT '[]',
	posted_at        timestamptz NOT NULL DEFAULT now(),
	UNIQUE (payer_id, trace_number)
);

-- The posting ledger: one row per remittance line (or claim-level
-- adjustment, line 0), in integer cents. Rows are never updated; a reversal
-- posts negated rows.
CREATE TABLE denials.postings (
	remit_id         text NOT NULL,
	clp_index        int NOT NULL,   -- the CLP's position in the set, from 0
	line_index       int NOT NULL,   -- the SVC's position in the CLP, from 1; 0 for claim level
	claim_id         text NOT NULL,
	control_number   text NOT NULL,
	line             int NOT NULL,   -- the submitted line (LX), 0 when claim level
	matched_by       text NOT NULL,
	code             text NOT NULL DEFAULT '',
	charge_cents     bigint NOT NULL,
	allowed_cents    bigint NOT NULL,
	paid_cents       bigint NOT NULL,
	contractual_cents bigint NOT NULL,
	patient_cents    bigint NOT NULL,
	denied_cents     bigint NOT NULL,
	other_cents      bigint NOT NULL,
	adjustments      jsonb NOT NULL,
	remarks          text[] NOT NULL DEFAULT '{}',
	posted_at        timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (remit_id, clp_index, line_index)
);
CREATE INDEX postings_claim ON denials.postings (claim_id);

-- PLB provider adjustments, which belong to no claim.
CREATE TABLE denials.provider_adjustments (
	remit_id     text NOT NULL,
	position     int NOT NULL,
	code         text NOT NULL,
	reference    text NOT NULL,
	amount_cents bigint NOT NULL,
	PRIMARY KEY (remit_id, position)
);

-- What could not be matched: a CLP naming no claim we sent, or a line
-- matching no submitted line. Billers resolve these by hand.
CREATE TABLE denials.exceptions (
	remit_id       text NOT NULL,
	clp_index      int NOT NULL,
	line_index     int NOT NULL,  -- 0: the whole claim is unmatched
	control_number text NOT NULL,
	reason         text NOT NULL,
	amount_cents   bigint NOT NULL,
	detail         jsonb NOT NULL DEFAULT '{}',
	resolved_by    text,
	resolved_at    timestamptz,
	created_at     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (remit_id, clp_index, line_index)
);

-- Denial work items, as the last denial event left them.
CREATE TABLE denials.work_items (
	work_item_id   text PRIMARY KEY,
	claim_id       text NOT NULL,
	visit_id       text NOT NULL,
	version        int NOT NULL,
	item           jsonb NOT NULL,   -- events.WorkItem
	status         text NOT NULL,
	category       text NOT NULL,
	payer_id       text NOT NULL,
	carc           text NOT NULL,
	amount_cents   bigint NOT NULL,
	appeal_deadline date,
	assignee       text NOT NULL DEFAULT '',
	opened_at      timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL
);
CREATE INDEX work_items_open ON denials.work_items (status, appeal_deadline);
CREATE UNIQUE INDEX work_items_claim_active ON denials.work_items (claim_id)
	WHERE status NOT IN ('written_off', 'resolved');

CREATE TABLE denials.notes (
	work_item_id text NOT NULL,
	at           timestamptz NOT NULL DEFAULT now(),
	user_id      text NOT NULL,
	note         text NOT NULL
);
CREATE INDEX notes_item ON denials.notes (work_item_id, at);

-- People who use the web UI. Passwords are bcrypt hashes.
CREATE TABLE denials.users (
	user_id       text PRIMARY KEY,  -- the login name
	display_name  text NOT NULL,
	role          text NOT NULL CHECK (role IN ('biller', 'supervisor', 'ops')),
	password_hash text NOT NULL,
	disabled      boolean NOT NULL DEFAULT false,
	created_at    timestamptz NOT NULL DEFAULT now()
);

-- Sessions by the SHA-256 of their token: a stolen table holds no cookie.
CREATE TABLE denials.sessions (
	token_sha256 text PRIMARY KEY,
	user_id      text NOT NULL REFERENCES denials.users,
	csrf_token   text NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL
);

-- Every view of a patient's claim and every action, for HIPAA's access log.
CREATE TABLE denials.audit (
	id       bigserial PRIMARY KEY,
	at       timestamptz NOT NULL DEFAULT now(),
	user_id  text NOT NULL,
	action   text NOT NULL,  -- view_claim | view_letter | request_correction | write_off | ...
	claim_id text NOT NULL DEFAULT '',
	detail   text NOT NULL DEFAULT '',
	remote   text NOT NULL DEFAULT ''
);
CREATE INDEX audit_claim ON denials.audit (claim_id, at);

-- One row per claim.reconciled: what a reversal takes back.
CREATE TABLE denials.reconciliations (
	event_id       text PRIMARY KEY,
	remit_id       text NOT NULL,
	clp_index      int NOT NULL,
	claim_id       text NOT NULL,
	control_number text NOT NULL,
	submission     int NOT NULL,
	outcome        text NOT NULL,
	paid_cents     bigint NOT NULL,
	denied_cents   bigint NOT NULL,
	reversed_by    text,
	posted_at      timestamptz NOT NULL
);
CREATE INDEX reconciliations_claim ON denials.reconciliations (claim_id, posted_at);
