-- Uploads and the restore journal.

-- A restore job points at its journal row (its safety backup is jobs.backup_id).
ALTER TABLE jobs ADD COLUMN restore_id INTEGER;

-- One row per `.dump` sent to POST /api/v1/uploads (or given to `lifeboat restore FILE`),
-- whatever became of it. `id` is a random token (the upload_id the API hands out).
-- `path` is the received file, relative to the data directory, while it is kept;
-- `status`: receiving → validated | refused | cancelled, then restored | expired.
-- `summary` is the JSON ArchiveSummary shown to the admin; `message` the refusal reason.
CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    file_name   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN
                  ('receiving', 'validated', 'refused', 'cancelled', 'restored', 'expired')),
    size_bytes  INTEGER NOT NULL DEFAULT 0,
    sha256      TEXT,
    database    TEXT,
    path        TEXT,
    summary     TEXT,
    message     TEXT,
    actor       TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE INDEX uploads_by_status ON uploads (status, expires_at);

-- One row per restore attempt. `source` says whether the file was an upload or a backup
-- of the history; `safety_backup_id` is the backup taken of the database just before
-- (the roll-back point); `tool_output` is pg_restore's stderr as printed; `options` the
-- JSON RestoreOptions used; `timings` a JSON array of {phase, ms}.
CREATE TABLE restores (
    id               INTEGER PRIMARY KEY,
    job_id           INTEGER REFERENCES jobs (id),
    database         TEXT NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('upload', 'backup')),
    upload_id        TEXT REFERENCES uploads (id),
    backup_id        INTEGER REFERENCES backups (id),
    file_name        TEXT NOT NULL,
    sha256           TEXT,
    safety_backup_id INTEGER REFERENCES backups (id),
    status           TEXT NOT NULL,
    message          TEXT,
    tool_output      TEXT,
    options          TEXT NOT NULL DEFAULT '{}',
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    duration_ms      INTEGER,
    timings          TEXT NOT NULL DEFAULT '[]',
    actor            TEXT
);
