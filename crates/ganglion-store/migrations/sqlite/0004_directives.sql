-- A directive: a decision issued by a unit to a target in its subtree (a unit, narrowed
-- by kinds and tags), optionally with a metric and a target per unit. Children break a
-- parent directive into tasks for part of the tree that received it.
CREATE TABLE directives (
    id               INTEGER PRIMARY KEY,
    issuer_id        INTEGER NOT NULL REFERENCES units (id),
    parent_id        INTEGER REFERENCES directives (id),
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    due              TEXT NOT NULL,
    target_under     INTEGER NOT NULL REFERENCES units (id),
    target_kinds     TEXT NOT NULL DEFAULT '',
    target_tags      TEXT NOT NULL DEFAULT '',
    metric_name      TEXT,
    metric_unit      TEXT,
    metric_target    REAL,
    state            TEXT NOT NULL CHECK (state IN ('draft', 'issued', 'withdrawn', 'closed')),
    assignment_count INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    issued_at        TEXT,
    ended_at         TEXT
) STRICT;
CREATE INDEX directives_issuer ON directives (issuer_id);
CREATE INDEX directives_parent ON directives (parent_id);

-- One row per targeted unit, written at issue. state: 0 conveyed, 1 acknowledged,
-- 2 planned, 3 in_progress, 4 done, 5 blocked.
CREATE TABLE assignments (
    id           INTEGER PRIMARY KEY,
    directive_id INTEGER NOT NULL REFERENCES directives (id),
    unit_id      INTEGER NOT NULL REFERENCES units (id),
    state        INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 5),
    metric_value REAL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX assignments_directive_unit ON assignments (directive_id, unit_id);
CREATE INDEX assignments_unit ON assignments (unit_id);

-- Every change of an assignment: who, when, from and to, why, and the metric reported.
CREATE TABLE assignment_events (
    id            INTEGER PRIMARY KEY,
    assignment_id INTEGER NOT NULL REFERENCES assignments (id),
    directive_id  INTEGER NOT NULL REFERENCES directives (id),
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    from_state    INTEGER NOT NULL,
    to_state      INTEGER NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    metric_value  REAL
) STRICT;
CREATE INDEX assignment_events_assignment ON assignment_events (assignment_id);
CREATE INDEX assignment_events_directive ON assignment_events (directive_id, at);

-- Guidance a unit on the way adds for its own subtree.
CREATE TABLE guidance (
    id           INTEGER PRIMARY KEY,
    directive_id INTEGER NOT NULL REFERENCES directives (id),
    unit_id      INTEGER NOT NULL REFERENCES units (id),
    text         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX guidance_directive ON guidance (directive_id);

-- The change feed: written in the transaction of each change of what servers keep in
-- memory, read in sequence by every server to follow the others' writes.
CREATE TABLE changes (
    seq     INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL
) STRICT;
