-- One table family for everything conveyed to a unit and tracked to completion:
-- assignments of directives (of kind directive, pledge or project), and the report
-- filings, invitations and requests to come. An item belongs to a source (its
-- directive, form, event …), optionally for a period, and to a unit (and, for an
-- invitation, a person); a unit may hold several items of one source. Each item holds
-- its own due date (or time) and the time it reached a done state.

ALTER TABLE directives ADD COLUMN kind TEXT NOT NULL DEFAULT 'directive'
    CHECK (kind IN ('directive', 'pledge', 'project'));
-- An explicit list of units (ids separated by ';') instead of a subtree.
ALTER TABLE directives ADD COLUMN target_units TEXT NOT NULL DEFAULT '';

CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL
        CHECK (kind IN ('directive', 'pledge', 'project', 'report', 'invitation', 'request')),
    source_id  INTEGER NOT NULL,
    period     TEXT NOT NULL DEFAULT '',
    unit_id    INTEGER NOT NULL REFERENCES units (id),
    person_id  INTEGER REFERENCES people (id),
    -- The index of the state in its kind's workflow.
    state      INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 7),
    -- The values of the source's metrics, in the source's order (a JSON array).
    metrics    TEXT,
    -- Due by the end of this date (YYYY-MM-DD), or at this time (RFC 3339).
    due        TEXT,
    due_at     TEXT,
    done_at    TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

INSERT INTO items (id, kind, source_id, unit_id, state, metrics, due, done_at, created_at,
                   updated_at)
SELECT a.id, d.kind, a.directive_id, a.unit_id, a.state,
       CASE WHEN a.metric_value IS NULL THEN NULL ELSE json_array(a.metric_value) END,
       d.due, CASE WHEN a.state = 4 THEN a.updated_at END,
       COALESCE(d.issued_at, a.updated_at), a.updated_at
FROM assignments a JOIN directives d ON d.id = a.directive_id;

CREATE INDEX items_source ON items (kind, source_id, period, unit_id);
CREATE INDEX items_unit ON items (unit_id);
CREATE INDEX items_person ON items (person_id) WHERE person_id IS NOT NULL;

-- Every move of an item: who, when, from and to, why, and the values reported with it.
CREATE TABLE item_events (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES items (id),
    kind       TEXT NOT NULL,
    source_id  INTEGER NOT NULL,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    actor_name TEXT,
    from_state INTEGER NOT NULL,
    to_state   INTEGER NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    metrics    TEXT
) STRICT;

INSERT INTO item_events (id, item_id, kind, source_id, at, actor, actor_name, from_state,
                         to_state, note, metrics)
SELECT e.id, e.assignment_id, i.kind, e.directive_id, e.at, e.actor, e.actor_name,
       e.from_state, e.to_state, e.note,
       CASE WHEN e.metric_value IS NULL THEN NULL ELSE json_array(e.metric_value) END
FROM assignment_events e JOIN items i ON i.id = e.assignment_id;

CREATE INDEX item_events_item ON item_events (item_id);
CREATE INDEX item_events_source ON item_events (kind, source_id, at);

DROP TABLE assignment_events;
DROP TABLE assignments;
