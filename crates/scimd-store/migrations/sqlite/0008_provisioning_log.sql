-- The provisioning log (docs/operations.md#provisioning-log): every authenticated SCIM
-- request to a provider's Base URL, written a batch a second (a crash loses at most the
-- last second: it is a diagnostic, not the audit log). A failure keeps the SCIM error and
-- the request body with its secrets masked; a success keeps no body. Failures and
-- successes have budgets of their own, so successes never push failures out.
--
-- Every entry written is deleted later, so each b-tree costs a request twice: the table is
-- clustered on the one key that writes, reads and both budgets walk, each provider's
-- failures and successes apart in `seq` order (`seq` is the provider's own counter, taken
-- from `request_log_stats.head`). Entries go with their provider.
CREATE TABLE request_log (
    provider_id TEXT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    failed      INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    latency_us  INTEGER NOT NULL,
    request_id  TEXT NOT NULL,
    client      TEXT NOT NULL,
    user_agent  TEXT,
    scim_type   TEXT,
    detail      TEXT,
    body        TEXT,
    PRIMARY KEY (provider_id, failed, seq)
) STRICT, WITHOUT ROWID;

-- Per provider: the last `seq` given to its entries (taking the next ones updates this
-- row, which orders one provider's entries as they commit, without a lock across
-- providers); requests refused before authentication (counted, never logged one by one, so
-- that nobody without a token can fill the log) and when the last one came; and the
-- outcomes of its last ten authenticated requests, a bit each (1: failed), the newest
-- lowest, for the providers list's warning.
CREATE TABLE request_log_stats (
    provider_id          TEXT PRIMARY KEY REFERENCES provider (id) ON DELETE CASCADE,
    head                 INTEGER NOT NULL,
    unauthenticated      INTEGER NOT NULL,
    last_unauthenticated INTEGER,
    recent               INTEGER NOT NULL,
    recent_count         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
