-- People with roles: `users.role` takes `admin`, `operator` or `viewer`; an account can be
-- disabled (`disabled_at`) and may have no password yet (`password_hash` NULL: invited,
-- the invitation link not used yet). Every existing account keeps its role, `admin`.
--
-- SQLite cannot change a column's CHECK: the table is rebuilt as in 20261201000011,
-- keeping every row, its id and the AUTOINCREMENT counter: the new table's counter is
-- set to the old one's before the old table (and its counter) goes, so the id of an
-- account removed before the rebuild is not given out again.
CREATE TABLE users_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       TEXT,
    role                TEXT NOT NULL DEFAULT 'admin'
                        CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    disabled_at         TEXT
);

INSERT INTO users_new (id, username, password_hash, role, created_at, password_changed_at)
SELECT id, username, password_hash, 'admin', created_at, password_changed_at FROM users;

UPDATE sqlite_sequence
SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0))
WHERE name = 'users_new';

INSERT INTO sqlite_sequence (name, seq)
SELECT 'users_new', seq FROM sqlite_sequence
WHERE name = 'users' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users_new');

DROP TABLE users;

ALTER TABLE users_new RENAME TO users;

-- One-time links that let a person set their password: an invitation to a new account,
-- or a password reset. Only a SHA-256 of the token is kept; a link works once, until
-- `expires_at`. Deleting the account deletes its links.
CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('invitation', 'reset')),
    created_by  TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);

CREATE INDEX invitations_by_user ON invitations (user_id);

-- The audit page filters by who acted.
CREATE INDEX audit_events_by_actor ON audit_events (actor, id DESC);
