-- coopnet 0007: a job given back must be asked for by the member who
-- accepted it. The origin gives them a secret token with the job (kept
-- with the routing there, and with their offer on their node); a request
-- to give the job back must carry it.
ALTER TABLE routings ADD COLUMN release_token TEXT NOT NULL DEFAULT '';
ALTER TABLE offers ADD COLUMN release_token TEXT NOT NULL DEFAULT '';
