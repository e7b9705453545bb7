-- Extension attributes (RFC 7643 §3.3) declared per provider: the values of indexed
-- attributes (declared with --index, or with uniqueness "server", unique within the
-- provider), one row per value; and what providers sent that no schema declares, by name,
-- so that /Schemas can advertise it.
CREATE TABLE attribute_index (
    seq         INTEGER NOT NULL REFERENCES resource (seq) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    attr        TEXT NOT NULL,
    value       TEXT NOT NULL,
    is_unique   INTEGER NOT NULL,
    PRIMARY KEY (seq, attr, value)
) STRICT, WITHOUT ROWID;
CREATE INDEX attribute_index_lookup ON attribute_index (provider_id, kind, attr, value);
CREATE UNIQUE INDEX attribute_index_unique ON attribute_index (provider_id, kind, attr, value) WHERE is_unique = 1;

CREATE TABLE discovered_attribute (
    provider_id TEXT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    uri         TEXT NOT NULL,
    name        TEXT NOT NULL,
    json_type   TEXT NOT NULL,
    first_seen  INTEGER NOT NULL,
    PRIMARY KEY (provider_id, kind, uri, name)
) STRICT, WITHOUT ROWID;
