-- Change events (docs/events.md): each provider's stream, appended in the transaction of
-- the change; the subscriptions that receive them, where each one has got to per provider,
-- its delivery attempts and dead letters; and the keys that sign Security Event Tokens.

-- The head of each provider's stream: the position of its newest event. Taking the next
-- positions updates this row, which orders a provider's events as its changes commit,
-- without a lock across providers. Kept when the provider goes, so positions never repeat.
CREATE TABLE provider_stream (
    provider_id TEXT PRIMARY KEY,
    head        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE change_event (
    seq           INTEGER PRIMARY KEY,
    provider_id   TEXT NOT NULL,
    position      INTEGER NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    time          INTEGER NOT NULL,
    population    TEXT NOT NULL CHECK (population IN ('internal', 'third-party')),
    txn           TEXT NOT NULL,
    type          TEXT NOT NULL,
    verb          TEXT NOT NULL,
    resource_kind TEXT CHECK (resource_kind IN ('User', 'Group')),
    resource_id   TEXT NOT NULL,
    member_id     TEXT,
    attributes    TEXT NOT NULL,
    resource      TEXT
) STRICT;
CREATE UNIQUE INDEX change_event_position ON change_event (provider_id, position);
CREATE INDEX change_event_time ON change_event (time);

CREATE TABLE subscription (
    id            TEXT PRIMARY KEY,
    format        TEXT NOT NULL CHECK (format IN ('webhook', 'set')),
    url           TEXT,
    providers     TEXT NOT NULL,
    population    TEXT CHECK (population IN ('internal', 'third-party')),
    events        TEXT NOT NULL,
    payload       TEXT NOT NULL CHECK (payload IN ('full', 'notice')),
    secret        BLOB,
    old_secret    BLOB,
    old_until     INTEGER,
    poll_hash     BLOB,
    state         TEXT NOT NULL CHECK (state IN ('active', 'paused')),
    state_reason  TEXT,
    created       INTEGER NOT NULL,
    lease_holder  TEXT,
    lease_until   INTEGER,
    last_success  INTEGER,
    last_error    TEXT,
    last_error_at INTEGER
) STRICT;

-- Where a subscription has got to in each provider's stream: every event up to `position`
-- is delivered (or acknowledged, or dead-lettered). The event after it is retried until
-- `retry_at` while `attempts` fail.
CREATE TABLE subscription_cursor (
    subscription_id TEXT NOT NULL REFERENCES subscription (id) ON DELETE CASCADE,
    provider_id     TEXT NOT NULL,
    position        INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    retry_at        INTEGER,
    failing_since   INTEGER,
    PRIMARY KEY (subscription_id, provider_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE delivery_attempt (
    seq             INTEGER PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscription (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    provider_id     TEXT NOT NULL,
    position        INTEGER NOT NULL,
    time            INTEGER NOT NULL,
    status          INTEGER,
    latency_ms      INTEGER NOT NULL,
    answer          TEXT
) STRICT;
CREATE INDEX delivery_attempt_by_subscription ON delivery_attempt (subscription_id, seq);

CREATE TABLE dead_letter (
    subscription_id TEXT NOT NULL REFERENCES subscription (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    provider_id     TEXT NOT NULL,
    position        INTEGER NOT NULL,
    time            INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    PRIMARY KEY (subscription_id, event_id)
) STRICT, WITHOUT ROWID;

-- Keys that sign Security Event Tokens, the private half sealed with the key file. The
-- newest signs; each is published until `retires`.
CREATE TABLE signing_key (
    kid         TEXT PRIMARY KEY,
    private_key BLOB NOT NULL,
    public_jwk  TEXT NOT NULL,
    created     INTEGER NOT NULL,
    retires     INTEGER
) STRICT, WITHOUT ROWID;
