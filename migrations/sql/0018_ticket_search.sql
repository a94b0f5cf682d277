-- coopnet 0018: lists that scale. A ticket is searched by its title and
-- description folded (lower case, no accents) in Go, the same way on both
-- databases, as clients.search_text is; rows written before this version
-- are filled in by the node at start (tickets.IndexSearch). The lists sort
-- by last change and by priority too: an index for the first (the id
-- gives the newest-first order).
ALTER TABLE tickets ADD COLUMN search_text TEXT;
CREATE INDEX tickets_by_updated ON tickets (updated_at, id);
