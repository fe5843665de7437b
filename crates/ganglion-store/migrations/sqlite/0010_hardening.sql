-- Who recorded a person: an account may read the people it added, before it appoints
-- them anywhere.
ALTER TABLE people ADD COLUMN created_by INTEGER REFERENCES accounts (id);

-- The audit log's Merkle tree (RFC 6962) over the same entries as the hash chain, leaf i
-- being entry seq i + 1. Only the hashes of complete subtrees of 256 entries and more are
-- kept (level 8 and up); the levels below are hashed again from the entries when a proof
-- needs them. Derived from the entries, extended by the checkpointer.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  TEXT NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT;

-- Signed checkpoints (c2sp.org/tlog-checkpoint notes): the tree's size and root, signed
-- with the instance's Ed25519 key, which is kept outside the database.
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    at   TEXT NOT NULL
) STRICT;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
