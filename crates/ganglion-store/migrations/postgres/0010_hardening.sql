-- Who recorded a person: an account may read the people it added, before it appoints
-- them anywhere.
ALTER TABLE people ADD COLUMN created_by BIGINT REFERENCES accounts (id);

-- The audit log's Merkle tree (RFC 6962) over the same entries as the hash chain, leaf i
-- being entry seq i + 1. Only the hashes of complete subtrees of 256 entries and more are
-- kept (level 8 and up); the levels below are hashed again from the entries when a proof
-- needs them. Derived from the entries, extended by the checkpointer.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints (c2sp.org/tlog-checkpoint notes): the tree's size and root, signed
-- with the instance's Ed25519 key, which is kept outside the database.
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    at   TEXT NOT NULL
);

CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit checkpoints are append-only';
END;
$$;
CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();
