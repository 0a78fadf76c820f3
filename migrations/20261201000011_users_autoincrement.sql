-- `users.id` becomes AUTOINCREMENT, so that the id of a removed administrator is never
-- given to another one. A session remembers the id it signed in with: with ids reused, a
-- session left over from a removed account would belong to whoever got its id next.
--
-- SQLite cannot change a column's definition: the table is rebuilt inside the transaction
-- this migration runs in, keeping every row and its id. No other table points at
-- `users` (sessions hold the id inside their data), and its only index is the one of the
-- UNIQUE username, which the new table declares again. Creating the table with
-- AUTOINCREMENT also creates `sqlite_sequence`, whose counter for `users` starts after
-- the largest id copied in.
CREATE TABLE users_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin')),
    created_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);

INSERT INTO users_new (id, username, password_hash, role, created_at, password_changed_at)
SELECT id, username, password_hash, role, created_at, password_changed_at FROM users;

DROP TABLE users;

ALTER TABLE users_new RENAME TO users;
