-- The provisioning log (docs/operations.md#provisioning-log): every authenticated SCIM
-- request to a provider's Base URL, written a batch a second (a crash loses at most the
-- last second: it is a diagnostic, not the audit log). A failure keeps the SCIM error and
-- the request body with its secrets masked; a success keeps no body. Failures and
-- successes have budgets of their own, pruned in the background by `failed` and `seq`, so
-- successes never push failures out; one index serves them and the reads (each kind
-- read apart and merged). Entries go with their provider.
CREATE TABLE request_log (
    seq         INTEGER PRIMARY KEY,
    provider_id TEXT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    time        INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    latency_us  INTEGER NOT NULL,
    request_id  TEXT NOT NULL,
    client      TEXT NOT NULL,
    user_agent  TEXT,
    scim_type   TEXT,
    detail      TEXT,
    body        TEXT
) STRICT;
CREATE INDEX request_log_by_outcome ON request_log (provider_id, failed, seq);

-- Per provider: requests refused before authentication (counted, never logged one by one,
-- so that nobody without a token can fill the log) and when the last one came; and the
-- outcomes of its last ten authenticated requests, a bit each (1: failed), the newest
-- lowest, for the providers list's warning.
CREATE TABLE request_log_stats (
    provider_id          TEXT PRIMARY KEY REFERENCES provider (id) ON DELETE CASCADE,
    unauthenticated      INTEGER NOT NULL,
    last_unauthenticated INTEGER,
    recent               INTEGER NOT NULL,
    recent_count         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
