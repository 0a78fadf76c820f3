-- The rows an archive holds per table, learnt while it was decoded in full (a backup's
-- decode-while-writing pass, an upload's validation): a JSON array of
-- {schema, table, rows}. A restore proves itself against them without decoding again.
ALTER TABLE backups ADD COLUMN row_counts TEXT;
ALTER TABLE uploads ADD COLUMN row_counts TEXT;
