-- Settings of the organization, such as the template recorded at init.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- The organization tree. `path` is the chain of ids from the top, each as seven base-36
-- digits and a slash: "everything under U" is the range of paths that start with U's.
CREATE TABLE units (
    id        INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES units (id),
    kind      TEXT NOT NULL,
    name      TEXT NOT NULL,
    code      TEXT NOT NULL,
    tags      TEXT NOT NULL DEFAULT '',
    depth     INTEGER NOT NULL,
    path      TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX units_code ON units (code);
CREATE UNIQUE INDEX units_path ON units (path);
CREATE INDEX units_parent ON units (parent_id);

CREATE TABLE unit_tags (
    tag     TEXT NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, unit_id)
) STRICT;
CREATE INDEX unit_tags_unit ON unit_tags (unit_id);

-- The first response to each write sent with an Idempotency-Key, stored in the write's
-- own transaction so that a replay can return it.
CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
