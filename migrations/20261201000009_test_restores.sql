-- Test restores: a backup restored into a scratch database (on the target's server or a
-- separate verification server), its row counts proven against the archive's, then the
-- scratch database dropped. The newest one of a backup says whether it restores.
CREATE TABLE test_restores (
    id               INTEGER PRIMARY KEY,
    backup_id        INTEGER NOT NULL REFERENCES backups (id),
    job_id           INTEGER REFERENCES jobs (id),
    database         TEXT NOT NULL,
    server           TEXT NOT NULL,
    scratch_database TEXT NOT NULL,
    status           TEXT NOT NULL
        CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    duration_ms      INTEGER,
    tables           INTEGER,
    rows             INTEGER,
    proof            TEXT NOT NULL DEFAULT '[]',
    message          TEXT,
    actor            TEXT
);
CREATE INDEX test_restores_backup ON test_restores (backup_id, id);
