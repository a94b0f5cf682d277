-- coopnet 0004: tickets shared between regions, time spent, planning.

-- A client of another region's ticket, as its tracker shared it with the
-- assignee's node: only what the job needs (name, place, contact). Local
-- clients have no origin.
ALTER TABLE clients ADD COLUMN origin_ap_id TEXT;
CREATE UNIQUE INDEX clients_by_origin ON clients (origin_ap_id);

-- Time spent, in minutes, logged on this node, and as the other node of a
-- shared ticket reported it (the total is their sum on both nodes).
ALTER TABLE tickets ADD COLUMN time_spent_minutes INTEGER NOT NULL DEFAULT 0 CHECK (time_spent_minutes >= 0);
ALTER TABLE tickets ADD COLUMN remote_time_minutes INTEGER NOT NULL DEFAULT 0 CHECK (remote_time_minutes >= 0);

-- A comment's ActivityPub id (a Note), set for public comments of shared
-- tickets: a Note received twice is stored once.
ALTER TABLE ticket_comments ADD COLUMN ap_id TEXT;
CREATE UNIQUE INDEX ticket_comments_by_ap_id ON ticket_comments (ap_id);

CREATE TABLE ticket_time (
    id           TEXT PRIMARY KEY,
    ticket_id    TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL REFERENCES members (id),
    minutes      INTEGER NOT NULL CHECK (minutes > 0),
    note         TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_time_by_ticket ON ticket_time (ticket_id, id);

-- Interventions: an Event on a ticket, to which its assignee is invited.
-- The organiser's node holds the event and the attendee's node a copy
-- (same ap_id); the attendee's answer flows back.
CREATE TABLE ticket_events (
    id                 TEXT PRIMARY KEY,
    ticket_id          TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    ap_id              TEXT NOT NULL UNIQUE,
    organizer_handle   TEXT NOT NULL,
    attendee_member_id TEXT REFERENCES members (id),
    attendee_handle    TEXT NOT NULL,
    start_at           TIMESTAMPTZ NOT NULL,
    end_at             TIMESTAMPTZ NOT NULL,
    location           TEXT NOT NULL DEFAULT '',
    state              TEXT NOT NULL CHECK (state IN ('invited', 'accepted', 'tentative', 'rejected')),
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX ticket_events_by_attendee ON ticket_events (attendee_member_id, start_at);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, start_at);

-- An activity that needs another one first (a comment on a ticket whose
-- copy has not arrived yet) waits and is tried again from this time.
ALTER TABLE federation_inbox ADD COLUMN next_attempt_at TIMESTAMPTZ;

-- On the tracker of a shared ticket: for each field the assignee's node
-- changed, the version its copy had after that change (a JSON object). A
-- change that arrives after a later one of the same field from the same
-- node is not applied over it: deliveries may overtake one another.
ALTER TABLE tickets ADD COLUMN copy_field_seq TEXT NOT NULL DEFAULT '{}';
