-- The library of good experience: a piece of good practice or a lesson, written by a
-- unit, shared with the whole organization (`organization`) or kept to the writing
-- unit's subtree and those with authority over it (`subtree`). It may name the
-- directive, programme or event it came from; `event_id` has no reference yet, as
-- events are not recorded yet (the use case accepts one only when it exists). `media`
-- is a JSON array of {title, url}; `tags` the sorted tags, `;`-separated, each also a
-- row of `experience_tags` for the tag filter.
CREATE TABLE experiences (
    id           INTEGER PRIMARY KEY,
    unit_id      INTEGER NOT NULL REFERENCES units (id),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '',
    audience     TEXT NOT NULL CHECK (audience IN ('organization', 'subtree')),
    directive_id INTEGER REFERENCES directives (id),
    programme_id INTEGER REFERENCES programmes (id),
    event_id     INTEGER,
    media        TEXT NOT NULL DEFAULT '[]',
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX experiences_unit ON experiences (unit_id);
CREATE INDEX experiences_directive ON experiences (directive_id) WHERE directive_id IS NOT NULL;
CREATE INDEX experiences_programme ON experiences (programme_id) WHERE programme_id IS NOT NULL;

CREATE TABLE experience_tags (
    tag           TEXT NOT NULL,
    experience_id INTEGER NOT NULL REFERENCES experiences (id),
    PRIMARY KEY (tag, experience_id)
) STRICT;

-- The full-text index, derived from `experiences` (and rebuilt from it after a restore):
-- the tokens of each title and body as ganglion_core::text makes them — Korean bigrams
-- and syllables, English stems — joined by spaces. `unicode61` only splits them again
-- on the spaces, so that SQLite and PostgreSQL index exactly the same tokens. `facets`
-- holds what a search is narrowed by — the audience, the writing unit, the units above
-- it, tags, the directive and programme — as tokens of letters and digits together,
-- which no query word can be. The rowid is the experience's id; the table keeps no copy
-- of the text, and a row is deleted by its rowid (when its unit moves).
CREATE VIRTUAL TABLE experience_search USING fts5 (
    title, body, facets, content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);

-- Honours: each award of a title to a unit, by a unit above it, for a period, with its
-- grounds. A title awarded again is another row; `times` counts the rows not
-- withdrawn. A withdrawal keeps the row, with its reason.
CREATE TABLE title_awards (
    id               INTEGER PRIMARY KEY,
    unit_id          INTEGER NOT NULL REFERENCES units (id),
    name             TEXT NOT NULL,
    awarded_by       INTEGER NOT NULL REFERENCES units (id),
    awarded_on       TEXT NOT NULL,
    period_from      TEXT,
    period_to        TEXT,
    grounds          TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    withdrawn_at     TEXT,
    withdrawn_reason TEXT,
    withdrawn_by     TEXT
) STRICT;
CREATE INDEX title_awards_unit ON title_awards (unit_id, name);
CREATE INDEX title_awards_name ON title_awards (name, unit_id);
