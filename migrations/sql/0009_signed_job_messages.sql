-- coopnet 0009: the job messages that end or give away an offer (a decline,
-- an offer superseded, withdrawn or given to someone else, an offer that
-- takes another's place) are signed by the node that sends them, when it
-- is published: the outbox marks them, those waiting in it since before
-- the upgrade included (offers in the place of another have "supersedes"
-- in their JSON).
ALTER TABLE bus_outbox ADD COLUMN signed BOOLEAN NOT NULL DEFAULT false;
UPDATE bus_outbox SET signed = true
 WHERE subject LIKE '%.decline' OR subject LIKE '%.superseded' OR subject LIKE '%.withdraw' OR subject LIKE '%.accepted'
    OR (subject LIKE '%.offer' AND payload LIKE '%"supersedes":"%');
