-- Setup links: a time-limited page through which an identity provider's own administrator
-- connects it. The code is kept only as its SHA-256 digest. Tokens remember the link they
-- were made through, so that revoking the link can revoke them too.
CREATE TABLE setup_link (
    id              TEXT PRIMARY KEY,
    provider_id     TEXT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    hash            BLOB NOT NULL UNIQUE,
    created         INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    expires         INTEGER NOT NULL,
    revoked         INTEGER,
    reveal_secret   INTEGER NOT NULL,
    secret_revealed INTEGER,
    first_viewed    INTEGER
) STRICT;
CREATE INDEX setup_link_by_provider ON setup_link (provider_id, created);

ALTER TABLE access_token ADD COLUMN setup_link TEXT;
