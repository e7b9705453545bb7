-- Extension attributes (RFC 7643 §3.3) declared per provider: the values of indexed
-- attributes (declared with --index, or with uniqueness "server", unique within the
-- provider), one row per value; and what providers sent that no schema declares, by name,
-- so that /Schemas can advertise it. The same tables as migrations/sqlite/0005.
CREATE TABLE attribute_index (
    seq         bigint NOT NULL REFERENCES resource (seq) ON DELETE CASCADE,
    provider_id text COLLATE "C" NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('User', 'Group')),
    attr        text COLLATE "C" NOT NULL,
    value       text COLLATE "C" NOT NULL,
    is_unique   boolean NOT NULL,
    PRIMARY KEY (seq, attr, value)
);
CREATE INDEX attribute_index_lookup ON attribute_index (provider_id, kind, attr, value);
CREATE UNIQUE INDEX attribute_index_unique ON attribute_index (provider_id, kind, attr, value) WHERE is_unique;

CREATE TABLE discovered_attribute (
    provider_id text COLLATE "C" NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('User', 'Group')),
    uri         text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    json_type   text NOT NULL,
    first_seen  bigint NOT NULL,
    PRIMARY KEY (provider_id, kind, uri, name)
);
