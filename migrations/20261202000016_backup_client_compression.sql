-- Which pg_dump made each backup and why it was chosen ("pg_dump 18.6 — newest client
-- found, server is 15.18"), and the compression it used (`zstd:1`, `gzip:1`, `none`, as
-- LIFEBOAT_COMPRESSION names them). Empty for backups made before they were recorded.
ALTER TABLE backups ADD COLUMN client TEXT;
ALTER TABLE backups ADD COLUMN compression TEXT;
