-- Lifecycle (docs/architecture.md, "Lifecycle"): deletes that can be undone, the
-- mass-deletion guard, and access that ends.

-- A user's access end date (providers with an access lifetime) and what the expiry job has
-- announced of it: 0 nothing, 1 that it ends within two weeks, 2 that it ended.
ALTER TABLE resource ADD COLUMN access_end INTEGER;
ALTER TABLE resource ADD COLUMN access_notice INTEGER NOT NULL DEFAULT 0;
CREATE INDEX resource_by_access_end ON resource (access_end) WHERE access_end IS NOT NULL;

-- Soft-deleted users and groups: out of the `resource` table (so nothing a SCIM client
-- reads, filters or collides with sees them: their names are free at once), kept with who
-- deleted them until `purge_after`.
CREATE TABLE deleted_resource (
    id           TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    population   TEXT NOT NULL CHECK (population IN ('internal', 'third-party')),
    kind         TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    user_name    TEXT,
    display_name TEXT,
    external_id  TEXT,
    created      INTEGER NOT NULL,
    modified     INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    data         TEXT NOT NULL,
    access_end   INTEGER,
    deleted      INTEGER NOT NULL,
    deleted_by   TEXT NOT NULL,
    purge_after  INTEGER NOT NULL
) STRICT;
CREATE INDEX deleted_resource_by_purge ON deleted_resource (purge_after);
CREATE INDEX deleted_resource_by_population ON deleted_resource (population, kind, deleted);
CREATE INDEX deleted_resource_by_provider ON deleted_resource (provider_id);

-- The memberships a soft delete ended, by public ids (a restored resource gets a new
-- `seq`), so that a restore can bring back those whose other end still exists.
CREATE TABLE deleted_membership (
    resource_id TEXT NOT NULL REFERENCES deleted_resource (id) ON DELETE CASCADE,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    display     TEXT,
    PRIMARY KEY (resource_id, group_id, member_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX deleted_membership_by_member ON deleted_membership (member_id);

-- Each provider's mass-deletion guard: its recent removals (JSON, scimd_core::lifecycle::
-- GuardCounts), and, while tripped, why (JSON, GuardRefusal).
CREATE TABLE provider_guard (
    provider_id TEXT PRIMARY KEY REFERENCES provider (id) ON DELETE CASCADE,
    counts      TEXT NOT NULL DEFAULT '{}',
    tripped_at  INTEGER,
    tripped     TEXT,
    released_at INTEGER,
    released_by TEXT
) STRICT;

-- Which instance runs a background job (purge, expiry), until when.
CREATE TABLE job_lease (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until INTEGER NOT NULL
) STRICT;
