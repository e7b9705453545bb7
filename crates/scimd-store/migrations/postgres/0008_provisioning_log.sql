-- The provisioning log (docs/operations.md#provisioning-log); the same tables as
-- migrations/sqlite/0008: every authenticated SCIM request to a provider's Base URL, written
-- a batch a second (a crash loses at most the last second: it is a diagnostic, not the
-- audit log). A failure keeps the SCIM error and the request body with its secrets masked;
-- a success keeps no body. Failures and successes have budgets of their own, so successes
-- never push failures out.
--
-- Every entry written is deleted later, so each index costs a request twice: the one key
-- serves writes, reads and both budgets, each provider's failures and successes apart in
-- `seq` order (`seq` is the provider's own counter, taken from `request_log_stats.head`).
-- Entries go with their provider.
CREATE TABLE request_log (
    provider_id text COLLATE "C" NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    failed      boolean NOT NULL,
    seq         bigint NOT NULL,
    time        bigint NOT NULL,
    method      text NOT NULL,
    path        text NOT NULL,
    status      bigint NOT NULL,
    latency_us  bigint NOT NULL,
    request_id  text NOT NULL,
    client      text NOT NULL,
    user_agent  text,
    scim_type   text,
    detail      text,
    body        text,
    PRIMARY KEY (provider_id, failed, seq)
);

-- Per provider: the last `seq` given to its entries (taking the next ones updates this
-- row, locked until commit, which orders one provider's entries as they commit, without a
-- lock across providers); requests refused before authentication (counted, never logged one
-- by one, so that nobody without a token can fill the log) and when the last one came; and
-- the outcomes of its last ten authenticated requests, a bit each (1: failed), the newest
-- lowest, for the providers list's warning.
CREATE TABLE request_log_stats (
    provider_id          text COLLATE "C" PRIMARY KEY REFERENCES provider (id) ON DELETE CASCADE,
    head                 bigint NOT NULL,
    unauthenticated      bigint NOT NULL,
    last_unauthenticated bigint,
    recent               bigint NOT NULL,
    recent_count         bigint NOT NULL
);
