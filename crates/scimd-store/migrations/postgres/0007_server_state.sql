-- What a running server records about itself for the command line to read, one value a
-- name: `public_url`, the URL it serves under, so that `scimd provider add` in another
-- terminal prints the Base URL the identity provider must use. Rewritten at every start;
-- bookkeeping, not data (backups leave it out).
CREATE TABLE server_state (
    name text PRIMARY KEY,
    value text NOT NULL
);
