-- Change events (docs/events.md); the same tables as migrations/sqlite/0006: each provider's stream, appended in the transaction of
-- the change; the subscriptions that receive them, where each one has got to per provider,
-- its delivery attempts and dead letters; and the keys that sign Security Event Tokens.

-- The head of each provider's stream: the position of its newest event. Taking the next
-- positions updates this row, which orders a provider's events as its changes commit,
-- without a lock across providers. Kept when the provider goes, so positions never repeat.
CREATE TABLE provider_stream (
    provider_id text COLLATE "C" PRIMARY KEY,
    head        bigint NOT NULL
);

CREATE TABLE change_event (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id   text COLLATE "C" NOT NULL,
    position      bigint NOT NULL,
    id            text COLLATE "C" NOT NULL UNIQUE,
    time          bigint NOT NULL,
    population    text NOT NULL CHECK (population IN ('internal', 'third-party')),
    txn           text NOT NULL,
    type          text NOT NULL,
    verb          text NOT NULL,
    resource_kind text CHECK (resource_kind IN ('User', 'Group')),
    resource_id   text COLLATE "C" NOT NULL,
    member_id     text COLLATE "C",
    attributes    text NOT NULL,
    resource      text
);
CREATE UNIQUE INDEX change_event_position ON change_event (provider_id, position);
CREATE INDEX change_event_time ON change_event (time);

CREATE TABLE subscription (
    id            text COLLATE "C" PRIMARY KEY,
    format        text NOT NULL CHECK (format IN ('webhook', 'set')),
    url           text,
    providers     text NOT NULL,
    population    text CHECK (population IN ('internal', 'third-party')),
    events        text NOT NULL,
    payload       text NOT NULL CHECK (payload IN ('full', 'notice')),
    secret        bytea,
    old_secret    bytea,
    old_until     bigint,
    poll_hash     bytea,
    state         text NOT NULL CHECK (state IN ('active', 'paused')),
    state_reason  text,
    created       bigint NOT NULL,
    lease_holder  text,
    lease_until   bigint,
    last_success  bigint,
    last_error    text,
    last_error_at bigint
);

-- Where a subscription has got to in each provider's stream: every event up to `position`
-- is delivered (or acknowledged, or dead-lettered). The event after it is retried until
-- `retry_at` while `attempts` fail.
CREATE TABLE subscription_cursor (
    subscription_id text COLLATE "C" NOT NULL REFERENCES subscription (id) ON DELETE CASCADE,
    provider_id     text COLLATE "C" NOT NULL,
    position        bigint NOT NULL,
    attempts        bigint NOT NULL DEFAULT 0,
    retry_at        bigint,
    failing_since   bigint,
    PRIMARY KEY (subscription_id, provider_id)
);

CREATE TABLE delivery_attempt (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id text COLLATE "C" NOT NULL REFERENCES subscription (id) ON DELETE CASCADE,
    event_id        text COLLATE "C" NOT NULL,
    provider_id     text COLLATE "C" NOT NULL,
    position        bigint NOT NULL,
    time            bigint NOT NULL,
    status          bigint,
    latency_ms      bigint NOT NULL,
    answer          text
);
CREATE INDEX delivery_attempt_by_subscription ON delivery_attempt (subscription_id, seq);

CREATE TABLE dead_letter (
    subscription_id text COLLATE "C" NOT NULL REFERENCES subscription (id) ON DELETE CASCADE,
    event_id        text COLLATE "C" NOT NULL,
    provider_id     text COLLATE "C" NOT NULL,
    position        bigint NOT NULL,
    time            bigint NOT NULL,
    reason          text NOT NULL,
    PRIMARY KEY (subscription_id, event_id)
);

-- Keys that sign Security Event Tokens, the private half sealed with the key file. The
-- newest signs; each is published until `retires`.
CREATE TABLE signing_key (
    kid         text COLLATE "C" PRIMARY KEY,
    private_key bytea NOT NULL,
    public_jwk  text NOT NULL,
    created     bigint NOT NULL,
    retires     bigint
);
