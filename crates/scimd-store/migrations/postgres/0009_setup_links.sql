-- Setup links: a time-limited page through which an identity provider's own administrator
-- connects it. The code is kept only as its SHA-256 digest. Tokens remember the link they
-- were made through, so that revoking the link can revoke them too.
CREATE TABLE setup_link (
    id              text COLLATE "C" PRIMARY KEY,
    provider_id     text COLLATE "C" NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    hash            bytea NOT NULL UNIQUE,
    created         bigint NOT NULL,
    created_by      text NOT NULL,
    expires         bigint NOT NULL,
    revoked         bigint,
    reveal_secret   boolean NOT NULL,
    secret_revealed bigint,
    first_viewed    bigint
);
CREATE INDEX setup_link_by_provider ON setup_link (provider_id, created);

ALTER TABLE access_token ADD COLUMN setup_link text COLLATE "C";
