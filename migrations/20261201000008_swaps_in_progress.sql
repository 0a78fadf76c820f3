-- A swap of database names in progress (a swap restore, or its roll back): written before
-- the first statement of the swap and removed after the last, so that a start after a
-- crash in between can read from the database server which names had moved and put the
-- live database back in service (`live` accepting connections, under its own name).
CREATE TABLE swaps (
    id INTEGER PRIMARY KEY,
    restore_id INTEGER NOT NULL REFERENCES restores(id),
    kind TEXT NOT NULL CHECK (kind IN ('restore', 'rollback')),
    live TEXT NOT NULL,
    incoming TEXT NOT NULL,
    aside TEXT NOT NULL,
    started_at TEXT NOT NULL
);
