-- scimd schema: administrators, console sessions, admin API tokens (SQLite).

CREATE TABLE admin (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created       INTEGER NOT NULL
) STRICT;

-- Only the SHA-256 of a session id is stored: a copy of the database opens no session.
CREATE TABLE admin_session (
    hash       BLOB PRIMARY KEY,
    admin_name TEXT NOT NULL REFERENCES admin (name) ON DELETE CASCADE,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
) STRICT;
CREATE INDEX admin_session_by_expiry ON admin_session (expires);

CREATE TABLE admin_api_token (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    hash    BLOB NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    revoked INTEGER
) STRICT;
-- One live token per name, so a name says which token to revoke.
CREATE UNIQUE INDEX admin_api_token_live_name ON admin_api_token (name) WHERE revoked IS NULL;

-- The console's audit filters.
CREATE INDEX audit_event_by_actor ON audit_event (actor, seq);
CREATE INDEX audit_event_by_time ON audit_event (time);
