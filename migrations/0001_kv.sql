-- The control-plane store: a key-value table with revisions and a change log.
-- Written in the SQL both SQLite and PostgreSQL accept, so one migration set serves both.
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO meta (id, revision) VALUES (1, 0);

CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE TABLE changes (
    revision BIGINT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('put', 'delete')),
    PRIMARY KEY (revision, key)
);
