-- Lifecycle (docs/architecture.md, "Lifecycle"): deletes that can be undone, the
-- mass-deletion guard, and access that ends.

-- A user's access end date (providers with an access lifetime) and what the expiry job has
-- announced of it: 0 nothing, 1 that it ends within two weeks, 2 that it ended.
ALTER TABLE resource ADD COLUMN access_end bigint;
ALTER TABLE resource ADD COLUMN access_notice bigint NOT NULL DEFAULT 0;
CREATE INDEX resource_by_access_end ON resource (access_end) WHERE access_end IS NOT NULL;

-- Soft-deleted users and groups: out of the `resource` table (so nothing a SCIM client
-- reads, filters or collides with sees them: their names are free at once), kept with who
-- deleted them until `purge_after`.
CREATE TABLE deleted_resource (
    id           text COLLATE "C" PRIMARY KEY,
    provider_id  text COLLATE "C" NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    population   text NOT NULL CHECK (population IN ('internal', 'third-party')),
    kind         text NOT NULL CHECK (kind IN ('User', 'Group')),
    user_name    text,
    display_name text,
    external_id  text COLLATE "C",
    created      bigint NOT NULL,
    modified     bigint NOT NULL,
    version      bigint NOT NULL,
    data         jsonb NOT NULL,
    access_end   bigint,
    deleted      bigint NOT NULL,
    deleted_by   text NOT NULL,
    purge_after  bigint NOT NULL
);
CREATE INDEX deleted_resource_by_purge ON deleted_resource (purge_after);
CREATE INDEX deleted_resource_by_population ON deleted_resource (population, kind, deleted);
CREATE INDEX deleted_resource_by_provider ON deleted_resource (provider_id);

-- The memberships a soft delete ended, by public ids (a restored resource gets a new
-- `seq`), so that a restore can bring back those whose other end still exists.
CREATE TABLE deleted_membership (
    resource_id text COLLATE "C" NOT NULL REFERENCES deleted_resource (id) ON DELETE CASCADE,
    group_id    text COLLATE "C" NOT NULL,
    member_id   text COLLATE "C" NOT NULL,
    display     text,
    PRIMARY KEY (resource_id, group_id, member_id)
);
CREATE INDEX deleted_membership_by_member ON deleted_membership (member_id);

-- Each provider's mass-deletion guard: its recent removals (JSON, scimd_core::lifecycle::
-- GuardCounts), and, while tripped, why (JSON, GuardRefusal).
CREATE TABLE provider_guard (
    provider_id text COLLATE "C" PRIMARY KEY REFERENCES provider (id) ON DELETE CASCADE,
    counts      text NOT NULL DEFAULT '{}',
    tripped_at  bigint,
    tripped     text,
    released_at bigint,
    released_by text
);

-- Which instance runs a background job (purge, expiry), until when.
CREATE TABLE job_lease (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    lease_until bigint NOT NULL
);
