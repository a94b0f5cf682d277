-- coopnet 0008: a pending offer may be superseded. A member with no room
-- left because of a pending offer can be offered another job that needs
-- them more; the pending offer then goes to its job's next candidate. The
-- origin sends with each offer what its job would lose that way (regret;
-- NULL: no fallback, never superseded), and marks a routing whose offer was
-- superseded (it then takes nobody's place in turn) and whether it searched
-- again once its list ran out (it does so once).
-- [postgres]
ALTER TABLE offers ADD COLUMN regret DOUBLE PRECISION;
ALTER TABLE offers DROP CONSTRAINT offers_state_check;
ALTER TABLE offers ADD CONSTRAINT offers_state_check
    CHECK (state IN ('pending', 'accepted', 'declined', 'expired', 'withdrawn', 'lost', 'superseded'));
-- [sqlite]
--
-- SQLite cannot change a CHECK constraint: the offers table is rebuilt
-- (nothing refers to it).
CREATE TABLE offers_0008 (
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
    distance_km       REAL NOT NULL DEFAULT 0,
    forwarded_by      TEXT NOT NULL,
    forwarded_by_name TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined', 'expired', 'withdrawn', 'lost', 'superseded')),
    decline_reason    TEXT NOT NULL DEFAULT '',
    expires_at        DATETIME NOT NULL,
    answered_at       DATETIME,
    created_at        DATETIME NOT NULL,
    release_token     TEXT NOT NULL DEFAULT '',
    regret            REAL
);
INSERT INTO offers_0008 (id, routing_id, origin_region, ticket_id, ticket_ap_id, member_id, title, note, skill,
    estimated_minutes, on_site, commune, departement, distance_km, forwarded_by, forwarded_by_name, state,
    decline_reason, expires_at, answered_at, created_at, release_token)
SELECT id, routing_id, origin_region, ticket_id, ticket_ap_id, member_id, title, note, skill,
    estimated_minutes, on_site, commune, departement, distance_km, forwarded_by, forwarded_by_name, state,
    decline_reason, expires_at, answered_at, created_at, release_token
FROM offers;
DROP TABLE offers;
ALTER TABLE offers_0008 RENAME TO offers;
CREATE INDEX offers_by_member ON offers (member_id, state, expires_at);
-- [both]
ALTER TABLE routings ADD COLUMN superseded BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE routings ADD COLUMN searched_again BOOLEAN NOT NULL DEFAULT false;
