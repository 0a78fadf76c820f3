-- Personal API tokens (automation: CI, scripts) and two-factor sign-in (TOTP with
-- single-use recovery codes).

-- A token is `lbt_` and 43 characters of base64url for 32 random bytes; only the SHA-256
-- of the whole token is kept (hex), so the table is of no use to whoever reads it. `prefix`
-- is the token's first characters, shown in lists so that a person can tell tokens apart.
-- `role` is no higher than the owner's when created; `scopes` is a space-separated list
-- (empty: everything the role allows). A revoked token keeps its row (revoked_at set) so
-- that lists and the audit log can still name it. Removing the owner removes their tokens.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id);

-- One TOTP secret per person (RFC 6238: SHA-1, 6 digits, 30 s). The secret has to be
-- read back to check a code, so it is stored as it is (base32); this file is as private
-- as the data directory. `enabled_at` is NULL while an enrolment awaits its first code.
-- `last_step` is the time step of the last code accepted: a code is refused unless its
-- step is later, so no code works twice.
CREATE TABLE totp_secrets (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    enabled_at TEXT,
    last_step  INTEGER
);

-- The ten recovery codes given at enrolment, as SHA-256 hex (they are random, 50 bits
-- each, so a fast hash is enough); `used_at` is set when one is spent.
CREATE TABLE totp_recovery_codes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TEXT
);

CREATE INDEX totp_recovery_codes_by_user ON totp_recovery_codes (user_id);
