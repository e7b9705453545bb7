-- scimd schema, version 1 (SQLite).
-- Times are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE provider (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    population        TEXT NOT NULL CHECK (population IN ('internal', 'third-party')),
    enabled           INTEGER NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    tags              TEXT NOT NULL DEFAULT '[]',
    token_ttl_seconds INTEGER NOT NULL,
    allowed_networks  TEXT NOT NULL DEFAULT '[]',
    client_id         TEXT NOT NULL UNIQUE,
    secret_sealed     BLOB NOT NULL,
    secret_hash       BLOB NOT NULL,
    created           INTEGER NOT NULL,
    modified          INTEGER NOT NULL
) STRICT;

-- The population can never change: the resources it holds are filed under it.
CREATE TRIGGER provider_population_fixed
BEFORE UPDATE OF population ON provider
WHEN NEW.population <> OLD.population
BEGIN
    SELECT RAISE(ABORT, 'a provider''s population cannot change');
END;

CREATE TABLE access_token (
    id          TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    hash        BLOB NOT NULL UNIQUE,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    last_used   INTEGER,
    revoked     INTEGER
) STRICT;
CREATE INDEX access_token_by_provider ON access_token (provider_id, created);

-- Append-only: events outlive the providers they name, so no foreign key.
CREATE TABLE audit_event (
    seq         INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    provider_id TEXT,
    resource    TEXT,
    population  TEXT,
    attributes  TEXT NOT NULL DEFAULT '[]'
) STRICT;
CREATE INDEX audit_event_by_provider ON audit_event (provider_id, seq);
CREATE INDEX audit_event_by_resource ON audit_event (resource, seq);
CREATE TRIGGER audit_event_append_only_update BEFORE UPDATE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_event_append_only_delete BEFORE DELETE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
