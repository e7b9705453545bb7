-- scimd schema, version 1 (PostgreSQL). The same tables, constraints and indexes as
-- migrations/sqlite/0001_init.sql; keep the two in step.
-- Times are bigint milliseconds since the Unix epoch, UTC. Columns that are compared or
-- sorted as text use the "C" collation: code-point order, as Rust compares strings.

-- Case folding for case-insensitive comparison of values read from the JSON document. The
-- indexed *_folded columns are folded by scimd itself (Rust's str::to_lowercase); this
-- function folds the other side in SQL. ICU's root-locale lower() is the same full Unicode
-- lower-casing as Rust's (final sigma included), up to the Unicode versions of the two;
-- without ICU, lower() of the database's ctype is used.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
        EXECUTE $f$CREATE FUNCTION scim_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                   RETURN lower($1 COLLATE "und-x-icu")$f$;
    ELSE
        EXECUTE $f$CREATE FUNCTION scim_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                   RETURN lower($1)$f$;
    END IF;
END
$$;

CREATE TABLE provider (
    id                text COLLATE "C" PRIMARY KEY,
    name              text NOT NULL,
    population        text NOT NULL CHECK (population IN ('internal', 'third-party')),
    enabled           boolean NOT NULL,
    description       text NOT NULL DEFAULT '',
    tags              text NOT NULL DEFAULT '[]',
    token_ttl_seconds bigint NOT NULL,
    allowed_networks  text NOT NULL DEFAULT '[]',
    client_id         text COLLATE "C" NOT NULL UNIQUE,
    secret_sealed     bytea NOT NULL,
    secret_hash       bytea NOT NULL,
    created           bigint NOT NULL,
    modified          bigint NOT NULL
);

-- The population can never change: the resources it holds are filed under it.
CREATE FUNCTION scimd_provider_population_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a provider''s population cannot change';
END
$$;
CREATE TRIGGER provider_population_fixed
BEFORE UPDATE OF population ON provider
FOR EACH ROW WHEN (NEW.population <> OLD.population)
EXECUTE FUNCTION scimd_provider_population_fixed();

CREATE TABLE access_token (
    id          text COLLATE "C" PRIMARY KEY,
    provider_id text COLLATE "C" NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    hash        bytea NOT NULL UNIQUE,
    created     bigint NOT NULL,
    expires     bigint NOT NULL,
    last_used   bigint,
    revoked     bigint
);
CREATE INDEX access_token_by_provider ON access_token (provider_id, created);

-- Append-only: events outlive the providers they name, so no foreign key.
CREATE TABLE audit_event (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time        bigint NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    provider_id text COLLATE "C",
    resource    text COLLATE "C",
    population  text,
    attributes  text NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_event_by_provider ON audit_event (provider_id, seq);
CREATE INDEX audit_event_by_resource ON audit_event (resource, seq);
CREATE FUNCTION scimd_audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
FOR EACH ROW EXECUTE FUNCTION scimd_audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
FOR EACH STATEMENT EXECUTE FUNCTION scimd_audit_event_append_only();

-- Provisioned users and groups. `seq` is the stable internal order (pagination, cursors);
-- `id` the public SCIM id. The document holds the client's attributes in canonical form,
-- without id, meta, members or groups (memberships live in their own table).
CREATE TABLE resource (
    seq                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  text COLLATE "C" NOT NULL UNIQUE,
    provider_id         text COLLATE "C" NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    population          text NOT NULL CHECK (population IN ('internal', 'third-party')),
    kind                text NOT NULL CHECK (kind IN ('User', 'Group')),
    user_name           text,
    user_name_folded    text COLLATE "C",
    external_id         text COLLATE "C",
    display_name        text,
    display_name_folded text COLLATE "C",
    active              boolean,
    created             bigint NOT NULL,
    modified            bigint NOT NULL,
    version             bigint NOT NULL,
    data                jsonb NOT NULL
);

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

-- Group members: one row per (group, member), with the `display` the client sent. Adding
-- one member to a group of 100,000 is one indexed insert, and reading a group without
-- members never touches this table.
CREATE TABLE membership (
    group_seq  bigint NOT NULL REFERENCES resource (seq) ON DELETE CASCADE,
    member_seq bigint NOT NULL REFERENCES resource (seq) ON DELETE CASCADE,
    display    text,
    PRIMARY KEY (group_seq, member_seq)
);
CREATE INDEX membership_by_member ON membership (member_seq, group_seq);
