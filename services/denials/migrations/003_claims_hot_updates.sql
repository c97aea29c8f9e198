-- A claim's row is updated four or five times on its way (scrubbed,
-- submitted, two acknowledgements, the 835). With updated_at indexed each
-- update wrote a new entry in every index; without it, and with room left
-- on each page, they are heap-only (HOT) updates. The held list is short:
-- sorting it by updated_at needs no index.
DROP INDEX denials.claims_held;
CREATE INDEX claims_held ON denials.claims (claim_id) WHERE scrub_status = 'held';
ALTER TABLE denials.claims SET (fillfactor = 75);
