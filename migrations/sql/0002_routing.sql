-- coopnet 0002: routing a forwarded job to the right member of any region.

-- One row per forward of a ticket, on the ticket's own (origin) node: the
-- question asked, the ranked candidates, the offer in progress.
CREATE TABLE routings (
    id                TEXT PRIMARY KEY,
    ticket_id         TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    skill             TEXT NOT NULL REFERENCES skills (name),
    min_level         INTEGER NOT NULL CHECK (min_level BETWEEN 1 AND 5),
    note              TEXT NOT NULL DEFAULT '',
    state             TEXT NOT NULL CHECK (state IN ('pending', 'offering', 'accepted', 'unroutable', 'cancelled')),
    reason            TEXT NOT NULL DEFAULT '',
    candidates        TEXT NOT NULL DEFAULT '[]',  -- JSON: ranked candidates with their figures and cost
    excluded          TEXT NOT NULL DEFAULT '{}',  -- JSON: per region, how many were left out and why
    next_index        INTEGER NOT NULL DEFAULT 0,  -- the next candidate to offer the job to
    offer_id          TEXT,
    offer_handle      TEXT NOT NULL DEFAULT '',
    offer_region      TEXT NOT NULL DEFAULT '',
    offer_expires_at  TIMESTAMPTZ,
    requested_by      TEXT NOT NULL,
    requested_by_name TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,  -- searches that heard from no region (NATS down?)
    lease_until       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX routings_one_active ON routings (ticket_id) WHERE state IN ('pending', 'offering');
CREATE INDEX routings_by_state ON routings (state, offer_expires_at);

-- Offers made to this node's members, by any region (this one included):
-- the members' inbox.
CREATE TABLE offers (
    id                TEXT PRIMARY KEY,
    routing_id        TEXT NOT NULL,
    origin_region     TEXT NOT NULL,
    ticket_id         TEXT NOT NULL,  -- the ticket's id on its origin node
    ticket_ap_id      TEXT NOT NULL,
    member_id         TEXT NOT NULL REFERENCES members (id),
    title             TEXT NOT NULL,
    note              TEXT NOT NULL DEFAULT '',
    skill             TEXT NOT NULL,
    estimated_minutes INTEGER NOT NULL,
    on_site           BOOLEAN NOT NULL,
    commune           TEXT NOT NULL DEFAULT '',
    departement       TEXT NOT NULL DEFAULT '',
    distance_km       DOUBLE PRECISION NOT NULL DEFAULT 0,
    forwarded_by      TEXT NOT NULL,
    forwarded_by_name TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined', 'expired', 'withdrawn', 'lost')),
    decline_reason    TEXT NOT NULL DEFAULT '',
    expires_at        TIMESTAMPTZ NOT NULL,
    answered_at       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX offers_by_member ON offers (member_id, state, expires_at);

-- Messages to publish on the routing plane, written in the same
-- transaction as the change they announce and published afterwards (with
-- their id as Nats-Msg-Id, so that a retry is never delivered twice).
CREATE TABLE bus_outbox (
    id              TEXT PRIMARY KEY,
    subject         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX bus_outbox_due ON bus_outbox (next_attempt_at);
