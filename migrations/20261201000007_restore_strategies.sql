-- Restore strategies (swap into a new database, in place, copy), the proof of row counts,
-- the offline time and the databases a swap keeps aside.
--
-- `strategy` swap | in_place | copy and `strategy_reason` why it was chosen; `new_database`
-- the database restored into when not the live one; `kept_database` the name the live
-- database was kept under by a swap; `offline_ms` how long the application could not use
-- its database; `proof` a JSON array of {table, archive_rows, restored_rows}; the roll
-- back's time, the name the restored database was set aside under, and its offline time.
ALTER TABLE restores ADD COLUMN strategy TEXT;
ALTER TABLE restores ADD COLUMN strategy_reason TEXT;
ALTER TABLE restores ADD COLUMN new_database TEXT;
ALTER TABLE restores ADD COLUMN kept_database TEXT;
ALTER TABLE restores ADD COLUMN offline_ms INTEGER;
ALTER TABLE restores ADD COLUMN proof TEXT NOT NULL DEFAULT '[]';
ALTER TABLE restores ADD COLUMN rolled_back_at TEXT;
ALTER TABLE restores ADD COLUMN rolled_back_database TEXT;
ALTER TABLE restores ADD COLUMN rollback_offline_ms INTEGER;
-- While an in-place restore keeps the application out: the JSON array of GRANT statements
-- that give its right to connect back (cleared once given back), so that a restart after
-- a crash gives it back too.
ALTER TABLE restores ADD COLUMN gate TEXT;
