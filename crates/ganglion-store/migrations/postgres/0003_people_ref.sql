-- The key of a person in the system they were imported from, so that a later import
-- of the same file finds them again.
ALTER TABLE people ADD COLUMN ref TEXT;
CREATE UNIQUE INDEX people_ref ON people (ref);
