-- The audit log becomes a hash chain: each event carries the hash of the one before it and
-- its own, SHA-256 over its contents and that predecessor (see scimd_core::audit). Events
-- already present are chained by scimd right after this migration, which is why an update
-- may still fill in a row that has no hash yet, and nothing else.
ALTER TABLE audit_event ADD COLUMN prev_hash BLOB;
ALTER TABLE audit_event ADD COLUMN hash BLOB;
CREATE INDEX audit_event_unchained ON audit_event (seq) WHERE hash IS NULL;
DROP TRIGGER audit_event_append_only_update;
CREATE TRIGGER audit_event_append_only_update BEFORE UPDATE ON audit_event
WHEN OLD.hash IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
