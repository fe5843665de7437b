-- One row the batch writer updates with a synchronous commit, to make the batches it
-- committed before without waiting for the disk durable at once (on PostgreSQL).
CREATE TABLE flush_marks (
    id      INTEGER PRIMARY KEY,
    vouched INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO flush_marks (id, vouched) VALUES (1, 0);
