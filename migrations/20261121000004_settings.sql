-- Small pieces of state Lifeboat keeps between runs, as key/value pairs: the scheduler's
-- last handled slot (`schedule.last_slot`, RFC 3339), so that a slot missed while
-- Lifeboat was down is caught up once at start-up.
--
-- Backups deleted by retention or by hand keep their journal row with status `deleted`
-- and the reason in `message`; their `location` is cleared.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
