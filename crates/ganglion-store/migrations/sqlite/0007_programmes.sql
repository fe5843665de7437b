-- A multi-year development programme owned by a unit: a schedule of projects per unit
-- and year. Each year's projects are the items of one directive of kind `project`,
-- issued by the owner, so that they are rolled up, listed and followed like every
-- other assignment; `metrics` declares what a project reports besides its milestones
-- (a JSON array of {key, name, unit, aggregate}).
CREATE TABLE programmes (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES units (id),
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    start_year  INTEGER NOT NULL,
    years       INTEGER NOT NULL CHECK (years BETWEEN 1 AND 50),
    metrics     TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX programmes_owner ON programmes (owner_id);

ALTER TABLE directives ADD COLUMN programme_id INTEGER REFERENCES programmes (id);
ALTER TABLE directives ADD COLUMN programme_year INTEGER;
CREATE UNIQUE INDEX directives_programme_year ON directives (programme_id, programme_year)
    WHERE programme_id IS NOT NULL;

-- What a project is, beside its item: the programme year it is scheduled for, what is
-- built (a factory, a hospital) and its name.
CREATE TABLE projects (
    item_id      INTEGER PRIMARY KEY REFERENCES items (id),
    programme_id INTEGER NOT NULL REFERENCES programmes (id),
    year         INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL
) STRICT;
CREATE INDEX projects_programme ON projects (programme_id, year);
