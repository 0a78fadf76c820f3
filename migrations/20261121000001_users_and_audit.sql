-- Lifeboat's own data, first schema: administrators and the append-only audit log.
-- (Sessions live in the `tower_sessions` table that the session store creates itself.)

-- Administrators. Usernames compare case-insensitively so "Admin" and "admin" cannot
-- both exist; the password is an argon2id PHC string, never the password itself.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin')),
    created_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);

-- Who did what, when, from where, with what result. `details` is a JSON object with
-- whatever explains the event (never a password or a secret). Rows are only ever
-- inserted: the triggers below make UPDATE and DELETE fail, so the log is append-only
-- even for code that tries otherwise.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    actor      TEXT,
    client_ip  TEXT,
    user_agent TEXT,
    action     TEXT NOT NULL,
    target     TEXT,
    outcome    TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    details    TEXT NOT NULL DEFAULT '{}'
);

-- The Audit page filters by action and outcome and always sorts newest first.
CREATE INDEX audit_events_by_action ON audit_events (action, id DESC);
CREATE INDEX audit_events_by_outcome ON audit_events (outcome, id DESC);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
