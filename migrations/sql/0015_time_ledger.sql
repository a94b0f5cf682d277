-- coopnet 0015: the time ledger. Time is one row per entry, never changed
-- nor deleted (but for an erased client's notes): a ticket's totals are the
-- sums of its entries, and the counters tickets.time_spent_minutes and
-- remote_time_minutes go.
--
-- source says whose total an entry counts in: 'here', the time of this
-- node's members (or kept by it), or 'peer', the time the other node of a
-- shared ticket reported. kind says why the entry is there: 'logged' by a
-- member; 'reported' by the peer (the difference with its last report);
-- 'kept', the pair that moves a given-back assignee's reported time to this
-- node's own; 'handed_over', what a copy's own time gives up when the job
-- goes to another member (the tracker kept it); 'carried', the counters as
-- this migration found them beyond the entries.
CREATE TABLE time_entries (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('logged', 'reported', 'kept', 'handed_over', 'carried')),
    source        TEXT NOT NULL CHECK (source IN ('here', 'peer')),
    member_id     TEXT REFERENCES members (id), -- the member of this node who logged it
    member_handle TEXT NOT NULL DEFAULT '',     -- who did the work, name@host
    origin_region TEXT NOT NULL,                -- the region of the node where it was logged
    minutes       INTEGER NOT NULL CHECK (minutes <> 0),
    on_site       BOOLEAN NOT NULL DEFAULT FALSE,
    note          TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX time_entries_by_ticket ON time_entries (ticket_id, source);

-- A ticket's totals, the sums of its entries, which the ledger keeps with
-- every entry it appends (in the same transaction) and publishes to the
-- other packages: they may read this table, the ledger alone writes it.
CREATE TABLE ticket_time_totals (
    ticket_id    TEXT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    here_minutes INTEGER NOT NULL,
    peer_minutes INTEGER NOT NULL
);
CREATE INDEX time_entries_by_member ON time_entries (member_id, created_at);

-- What was logged: by the ticket's assignee when they are the member,
-- in the assignee's region, else in the ticket's (its tracker's) region;
-- the handle from the history line written with it.
INSERT INTO time_entries (id, ticket_id, kind, source, member_id, member_handle, origin_region, minutes, on_site, note, created_at)
SELECT tt.id, tt.ticket_id, 'logged', 'here', tt.member_id,
    COALESCE((SELECT MIN(h.actor_handle) FROM ticket_history h
        WHERE h.ticket_id = tt.ticket_id AND h.action = 'logged_time' AND h.created_at = tt.created_at),
        (SELECT m.handle FROM members m WHERE m.id = tt.member_id), ''),
    CASE WHEN t.assignee_member_id = tt.member_id THEN t.assignee_region ELSE t.origin_region END,
    tt.minutes, t.on_site, tt.note, tt.created_at
FROM ticket_time tt JOIN tickets t ON t.id = tt.ticket_id;

-- This node's counter beyond its entries: time kept from a given-back
-- assignee, or less when a copy's job went to another member.
INSERT INTO time_entries (id, ticket_id, kind, source, origin_region, minutes, created_at)
SELECT 'carried-' || t.id, t.id, 'carried', 'here', t.origin_region,
    t.time_spent_minutes - COALESCE((SELECT SUM(tt.minutes) FROM ticket_time tt WHERE tt.ticket_id = t.id), 0), t.updated_at
FROM tickets t
WHERE t.time_spent_minutes <> COALESCE((SELECT SUM(tt.minutes) FROM ticket_time tt WHERE tt.ticket_id = t.id), 0);

-- What the peer reported: a copy (its assignee is a member here) hears
-- from the tracker's region, the tracker from the assignee's.
INSERT INTO time_entries (id, ticket_id, kind, source, member_handle, origin_region, minutes, created_at)
SELECT 'reported-' || t.id, t.id, 'reported', 'peer',
    CASE WHEN t.assignee_member_id IS NULL THEN t.assignee_handle ELSE '' END,
    CASE WHEN t.assignee_member_id IS NULL THEN t.assignee_region ELSE t.origin_region END,
    t.remote_time_minutes, t.updated_at
FROM tickets t WHERE t.remote_time_minutes <> 0;

INSERT INTO ticket_time_totals (ticket_id, here_minutes, peer_minutes)
SELECT ticket_id, SUM(CASE WHEN source = 'here' THEN minutes ELSE 0 END), SUM(CASE WHEN source = 'peer' THEN minutes ELSE 0 END)
FROM time_entries GROUP BY ticket_id;

DROP TABLE ticket_time;
ALTER TABLE tickets DROP COLUMN time_spent_minutes;
ALTER TABLE tickets DROP COLUMN remote_time_minutes;
