-- Offsite copies of backups (S3-compatible storage). `offsite_status`: NULL when no
-- offsite storage was configured, then pending → copied | failed (retried on the next
-- run), and deleted once offsite retention removed the copy. `offsite_key` is the object
-- key; `offsite_message` the outcome in words (the reason of a failure).
ALTER TABLE backups ADD COLUMN offsite_status TEXT;
ALTER TABLE backups ADD COLUMN offsite_message TEXT;
ALTER TABLE backups ADD COLUMN offsite_key TEXT;
