-- coopnet 0009: the job messages that end or give away an offer (a decline,
-- an offer superseded, withdrawn or given to someone else, an offer that
-- takes another's place) are signed by the node that sends them, when it
-- is published: the outbox marks them.
ALTER TABLE bus_outbox ADD COLUMN signed BOOLEAN NOT NULL DEFAULT false;
