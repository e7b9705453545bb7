-- scimd schema: administrators, console sessions, admin API tokens (PostgreSQL). The same
-- tables as migrations/sqlite/0002_admin.sql; keep the two in step.

CREATE TABLE admin (
    name          text COLLATE "C" PRIMARY KEY,
    password_hash text NOT NULL,
    created       bigint NOT NULL
);

-- Only the SHA-256 of a session id is stored: a copy of the database opens no session.
CREATE TABLE admin_session (
    hash       bytea PRIMARY KEY,
    admin_name text COLLATE "C" NOT NULL REFERENCES admin (name) ON DELETE CASCADE,
    created    bigint NOT NULL,
    expires    bigint NOT NULL
);
CREATE INDEX admin_session_by_expiry ON admin_session (expires);

CREATE TABLE admin_api_token (
    id      text COLLATE "C" PRIMARY KEY,
    name    text COLLATE "C" NOT NULL,
    hash    bytea NOT NULL UNIQUE,
    created bigint NOT NULL,
    revoked bigint
);
-- One live token per name, so a name says which token to revoke.
CREATE UNIQUE INDEX admin_api_token_live_name ON admin_api_token (name) WHERE revoked IS NULL;

-- The console's audit filters.
CREATE INDEX audit_event_by_actor ON audit_event (actor, seq);
CREATE INDEX audit_event_by_time ON audit_event (time);
