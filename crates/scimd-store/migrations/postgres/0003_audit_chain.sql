-- The audit log becomes a hash chain: each event carries the hash of the one before it and
-- its own, SHA-256 over its contents and that predecessor (see scimd_core::audit). Events
-- already present are chained by scimd right after this migration, which is why an update
-- may still fill in a row that has no hash yet, and nothing else.
ALTER TABLE audit_event ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;
CREATE INDEX audit_event_unchained ON audit_event (seq) WHERE hash IS NULL;
CREATE OR REPLACE FUNCTION scimd_audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
