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

-- Provisioned users and groups. `seq` is the stable internal order (pagination, cursors);
-- `id` the public SCIM id. The document holds the client's attributes in canonical form,
-- without id, meta, members or groups (memberships live in their own table).
CREATE TABLE resource (
    seq                 INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    provider_id         TEXT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    population          TEXT NOT NULL CHECK (population IN ('internal', 'third-party')),
    kind                TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    user_name           TEXT,
    user_name_folded    TEXT,
    external_id         TEXT,
    display_name        TEXT,
    display_name_folded TEXT,
    active              INTEGER,
    created             INTEGER NOT NULL,
    modified            INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    data                TEXT NOT NULL
) STRICT;

-- userName is unique per population, case-insensitively: the database decides, not a
-- read-then-write check. Group displayName is unique per provider.
CREATE UNIQUE INDEX resource_user_name_unique ON resource (population, user_name_folded) WHERE kind = 'User';
CREATE UNIQUE INDEX resource_group_name_unique ON resource (provider_id, display_name_folded) WHERE kind = 'Group';
CREATE INDEX resource_by_provider ON resource (provider_id, kind, seq);
CREATE INDEX resource_by_user_name ON resource (provider_id, kind, user_name_folded);
CREATE INDEX resource_by_external_id ON resource (provider_id, kind, external_id);
CREATE INDEX resource_by_display_name ON resource (provider_id, kind, display_name_folded);
CREATE INDEX resource_by_active ON resource (provider_id, kind, active);
CREATE INDEX resource_by_modified ON resource (provider_id, kind, modified);
CREATE INDEX resource_by_created ON resource (provider_id, kind, created);
CREATE INDEX resource_by_population ON resource (population, kind, seq);

-- Group members: one row per (group, member), with the `display` the client sent. Adding one member to a group of 100,000 is
-- one indexed insert, and reading a group without members never touches this table.
CREATE TABLE membership (
    group_seq  INTEGER NOT NULL REFERENCES resource (seq) ON DELETE CASCADE,
    member_seq INTEGER NOT NULL REFERENCES resource (seq) ON DELETE CASCADE,
    display    TEXT,
    PRIMARY KEY (group_seq, member_seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX membership_by_member ON membership (member_seq, group_seq);
