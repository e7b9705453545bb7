-- The provisioning log (docs/operations.md#provisioning-log); the same tables as
-- migrations/sqlite/0008: every authenticated SCIM request to a provider's Base URL, written
-- a batch a second (a crash loses at most the last second: it is a diagnostic, not the
-- audit log). A failure keeps the SCIM error and the request body with its secrets masked;
-- a success keeps no body. Failures and successes have budgets of their own, pruned in the
-- background by `failed` and `seq`, so successes never push failures out; one index
-- serves them and the reads (each kind read apart and merged). Entries go with their
-- provider.
CREATE TABLE request_log (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id text COLLATE "C" NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    time        bigint NOT NULL,
    failed      boolean NOT NULL,
    method      text NOT NULL,
    path        text NOT NULL,
    status      bigint NOT NULL,
    latency_us  bigint NOT NULL,
    request_id  text NOT NULL,
    client      text NOT NULL,
    user_agent  text,
    scim_type   text,
    detail      text,
    body        text
);
CREATE INDEX request_log_by_outcome ON request_log (provider_id, failed, seq);

-- Per provider: requests refused before authentication (counted, never logged one by one,
-- so that nobody without a token can fill the log) and when the last one came; and the
-- outcomes of its last ten authenticated requests, a bit each (1: failed), the newest
-- lowest, for the providers list's warning.
CREATE TABLE request_log_stats (
    provider_id          text COLLATE "C" PRIMARY KEY REFERENCES provider (id) ON DELETE CASCADE,
    unauthenticated      bigint NOT NULL,
    last_unauthenticated bigint,
    recent               bigint NOT NULL,
    recent_count         bigint NOT NULL
);
