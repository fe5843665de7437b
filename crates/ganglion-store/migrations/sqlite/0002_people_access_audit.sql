CREATE TABLE people (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- A post is held from start_date; an ended post keeps its row, with end_date, as history.
CREATE TABLE posts (
    id         INTEGER PRIMARY KEY,
    person_id  INTEGER NOT NULL REFERENCES people (id),
    unit_id    INTEGER NOT NULL REFERENCES units (id),
    role       TEXT NOT NULL CHECK (role IN ('secretary', 'official', 'member')),
    title      TEXT NOT NULL DEFAULT '',
    start_date TEXT NOT NULL,
    end_date   TEXT
) STRICT;
CREATE INDEX posts_person ON posts (person_id);
CREATE INDEX posts_unit ON posts (unit_id);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    login         TEXT NOT NULL,
    person_id     INTEGER REFERENCES people (id),
    password_hash TEXT NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX accounts_login ON accounts (login);

-- Only a digest of each token is kept: a copy of this table opens no session.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;

-- A note on a unit, optionally hidden from the subtree of one of its descendants.
CREATE TABLE notes (
    id          INTEGER PRIMARY KEY,
    unit_id     INTEGER NOT NULL REFERENCES units (id),
    hidden_from INTEGER REFERENCES units (id),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX notes_unit ON notes (unit_id);

-- The audit trail: append-only and hash-chained. No foreign key on unit_id: the history
-- of a removed unit stays.
CREATE TABLE audit (
    seq           INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    object        TEXT NOT NULL,
    unit_id       INTEGER,
    before_digest TEXT,
    after_digest  TEXT,
    request_id    TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
) STRICT;
CREATE INDEX audit_unit ON audit (unit_id, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
