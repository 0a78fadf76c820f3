-- Jobs and the backup journal.

-- A job is one long piece of work (a backup; later restores). The row *is* the job's
-- state: progress is written to it (debounced) so that a reloaded page or a second tab
-- can reattach, and so that a crash leaves a trace. Exactly one function in the server
-- (jobs::finish_job) moves a job to a terminal status. At start-up, jobs still
-- `running` become `interrupted` and their temporary file (temp_path) is removed.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    database      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                    ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    phase         TEXT NOT NULL,
    percent       REAL NOT NULL DEFAULT 0,
    current_item  TEXT,
    bytes_written INTEGER NOT NULL DEFAULT 0,
    message       TEXT,
    actor         TEXT,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    backup_id     INTEGER,
    temp_path     TEXT
);

-- "Is something already running for this database?" and the start-up sweep.
CREATE INDEX jobs_by_status ON jobs (status, database);

-- The journal: one row per backup attempt, whatever its outcome. A row is `succeeded`
-- only after the file was written to a temporary name, fsynced, read back in full and
-- hashed, renamed into place and its directory fsynced. `location` is relative to the
-- data directory (backups/<database>/<file>); `timings` is a JSON array of
-- {phase, ms}; `tool_output` is pg_dump's stderr as printed; the password never
-- appears in any column.
CREATE TABLE backups (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER REFERENCES jobs (id),
    database        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('manual', 'scheduled', 'safety')),
    status          TEXT NOT NULL,
    file_name       TEXT,
    location        TEXT,
    size_bytes      INTEGER,
    sha256          TEXT,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    duration_ms     INTEGER,
    actor           TEXT,
    message         TEXT,
    pinned          INTEGER NOT NULL DEFAULT 0,
    tool_output     TEXT,
    exit_status     TEXT,
    server_version  TEXT,
    pg_dump_version TEXT,
    archive_version TEXT,
    timings         TEXT NOT NULL DEFAULT '[]'
);

-- The status strip asks for the newest successful backup of a database.
CREATE INDEX backups_by_database_status ON backups (database, status, finished_at);
