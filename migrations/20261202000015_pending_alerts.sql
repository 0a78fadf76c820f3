-- Alerts that could not be delivered after their retries, kept to be delivered again
-- after a restart and periodically (an operator must still hear about a failed backup
-- when the mail relay was down at that moment). One row per alert; `channels` lists the
-- channels still owed it ("webhook,email"). Bounded by the server: at most 100 rows, none
-- older than 7 days (what is dropped is logged).
CREATE TABLE pending_alerts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event      TEXT NOT NULL,
    database   TEXT,
    title      TEXT NOT NULL,
    text       TEXT NOT NULL,
    channels   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 1,
    last_error TEXT
);
