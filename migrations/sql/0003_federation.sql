-- coopnet 0003: ActivityPub federation between regional nodes.

-- Key pairs of this node's actors: the node itself (owner 'node') and each
-- member (owner 'member:<id>'). Private keys never leave this table.
CREATE TABLE federation_keys (
    owner       TEXT PRIMARY KEY,
    public_pem  TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- What this node knows of each allowed peer node (COOPNET_PEERS): its
-- actor's key, fetched once and cached, and whether deliveries to it fail.
CREATE TABLE federation_peers (
    host              TEXT PRIMARY KEY,        -- host[:port] of the peer's public URL
    key_id            TEXT NOT NULL DEFAULT '',
    public_pem        TEXT NOT NULL DEFAULT '',
    key_fetched_at    TIMESTAMPTZ,
    failing_since     TIMESTAMPTZ,             -- first failed delivery since the last success
    unavailable       BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen_at      TIMESTAMPTZ,             -- last signed request received from it
    directory_sent_at TIMESTAMPTZ              -- when this node's whole directory was queued to it
);

-- The durable delivery queue: one row per (activity, target inbox).
CREATE TABLE federation_outbox (
    id              BIGSERIAL PRIMARY KEY,
    activity_id     TEXT NOT NULL,
    inbox           TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed', 'gone')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    done_at         TIMESTAMPTZ,
    UNIQUE (activity_id, inbox)
);
CREATE INDEX federation_outbox_due ON federation_outbox (next_attempt_at) WHERE state = 'pending';

-- Every activity received, stored raw under its id before it is answered
-- 202, then applied once by a worker.
CREATE TABLE federation_inbox (
    id           BIGSERIAL PRIMARY KEY,
    activity_id  TEXT NOT NULL UNIQUE,
    actor        TEXT NOT NULL,
    type         TEXT NOT NULL,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'ignored', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    received_at  TIMESTAMPTZ NOT NULL,
    processed_at TIMESTAMPTZ
);
CREATE INDEX federation_inbox_pending ON federation_inbox (id) WHERE state = 'pending';

-- Read-only copies of the members of other regions: the coop-wide
-- directory. Only public profile facts; never a client's data.
CREATE TABLE directory_entries (
    ap_id       TEXT PRIMARY KEY,
    handle      TEXT NOT NULL UNIQUE,          -- name@host
    name        TEXT NOT NULL,
    region      TEXT NOT NULL,
    commune     TEXT NOT NULL DEFAULT '',
    departement TEXT NOT NULL DEFAULT '',
    remote_ok   BOOLEAN NOT NULL DEFAULT FALSE,
    remote_updated_at TIMESTAMPTZ NOT NULL,    -- the profile's own "updated": older copies never win
    received_at TIMESTAMPTZ NOT NULL
);

-- Their skills, one row each, so that the directory filters in SQL. A skill
-- this node does not know yet is kept all the same (vocabularies grow).
CREATE TABLE directory_skills (
    ap_id TEXT NOT NULL REFERENCES directory_entries (ap_id) ON DELETE CASCADE,
    skill TEXT NOT NULL,
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    PRIMARY KEY (ap_id, skill)
);
CREATE INDEX directory_skills_by_skill ON directory_skills (skill, level);
