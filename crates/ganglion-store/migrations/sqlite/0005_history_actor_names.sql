-- Who made each change, as a reader knows them: the name the account's holder had at the
-- time. The actor column keeps the stable label (account:7) the audit trail uses.
ALTER TABLE assignment_events ADD COLUMN actor_name TEXT;
