-- `backups.status` and `backups.offsite_status` may only hold the statuses the server
-- writes (store::backups::BackupStatus and OffsiteStatus), like `jobs.status` and
-- `uploads.status` already do.
--
-- SQLite cannot add a CHECK constraint to an existing table: the table is rebuilt, inside
-- the transaction this migration runs in, keeping every row, its index and the foreign
-- keys that point at it (restores.backup_id, restores.safety_backup_id). The order
-- matters:
--
-- 1. The foreign keys stay on, but their checks are deferred to the commit: dropping
--    `backups` leaves the restores that point at it without a parent for a moment.
-- 2. The rows are copied aside, `backups` is dropped and created again under the same
--    name, then the rows are copied back. Re-inserting each parent row under the name
--    `backups` settles the deferred checks of the restores that point at it, so the
--    commit succeeds only if every reference is whole again. (Renaming a new table onto
--    the old name would not: SQLite would count the references as still broken. Renaming
--    the old table away first would be worse: SQLite would rewrite the references in
--    `restores` to follow it.)
-- 3. A row whose status is not in the list stops the migration, and with it the
--    start-up, with the database left as it was.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE backups_copy AS SELECT * FROM backups;

DROP TABLE backups;

CREATE TABLE backups (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER REFERENCES jobs (id),
    database        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('manual', 'scheduled', 'safety')),
    status          TEXT NOT NULL CHECK (status IN
                      ('running', 'succeeded', 'failed', 'cancelled', 'interrupted',
                       'deleted', 'corrupted')),
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
    timings         TEXT NOT NULL DEFAULT '[]',
    offsite_status  TEXT CHECK (offsite_status IN ('pending', 'copied', 'failed', 'deleted')),
    offsite_message TEXT,
    offsite_key     TEXT
);

-- Same columns, same order (20261121000002 then the three of 20261121000005).
INSERT INTO backups (
    id, job_id, database, kind, status, file_name, location, size_bytes, sha256,
    started_at, finished_at, duration_ms, actor, message, pinned, tool_output, exit_status,
    server_version, pg_dump_version, archive_version, timings, offsite_status,
    offsite_message, offsite_key
)
SELECT
    id, job_id, database, kind, status, file_name, location, size_bytes, sha256,
    started_at, finished_at, duration_ms, actor, message, pinned, tool_output, exit_status,
    server_version, pg_dump_version, archive_version, timings, offsite_status,
    offsite_message, offsite_key
FROM backups_copy;

DROP TABLE backups_copy;

-- The status strip asks for the newest successful backup of a database.
CREATE INDEX backups_by_database_status ON backups (database, status, finished_at);
