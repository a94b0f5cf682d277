-- coopnet 0001: members, skills, tokens, clients, sites, assets, tickets.
-- Identifiers are UUIDv7 strings (time-ordered, unique across nodes). Times
-- are stored in UTC. Money, when it comes, is in integer cents.

CREATE TABLE skills (
-- [postgres]
    name     TEXT PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{1,31}$'),
-- [sqlite]
    name     TEXT PRIMARY KEY CHECK (length(name) BETWEEN 2 AND 32),
-- [both]
    label_fr TEXT NOT NULL,
    label_en TEXT NOT NULL
);

INSERT INTO skills (name, label_fr, label_en) VALUES
    ('network',     'Réseau',                  'Networking'),
    ('workstation', 'Postes de travail',       'Workstations'),
    ('server',      'Serveurs',                'Servers'),
    ('website',     'Sites web',               'Websites'),
    ('printing',    'Impression',              'Printing'),
    ('backup',      'Sauvegardes',             'Backups'),
    ('training',    'Formation',               'Training'),
    ('email',       'Messagerie',              'Email'),
    ('security',    'Sécurité',                'Security'),
    ('telephony',   'Téléphonie',              'Telephony'),
    ('hardware',    'Préparation de matériel', 'Hardware preparation'),
    ('software',    'Logiciels libres',        'Free software');

CREATE TABLE members (
    id               TEXT PRIMARY KEY,
    handle           TEXT NOT NULL UNIQUE,
    email            TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('technician', 'staff', 'admin')),
    password_hash    TEXT NOT NULL,
    postcode         TEXT NOT NULL DEFAULT '',
    commune          TEXT NOT NULL DEFAULT '',
    departement      TEXT NOT NULL DEFAULT '',
    lat              DOUBLE PRECISION,
    lon              DOUBLE PRECISION,
    location_precise BOOLEAN NOT NULL DEFAULT FALSE,
    radius_km        INTEGER NOT NULL DEFAULT 50 CHECK (radius_km BETWEEN 0 AND 1000),
    remote_ok        BOOLEAN NOT NULL DEFAULT FALSE,
    weekly_hours     INTEGER NOT NULL DEFAULT 35 CHECK (weekly_hours BETWEEN 0 AND 80),
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE member_skills (
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    skill     TEXT NOT NULL REFERENCES skills (name),
    level     INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    PRIMARY KEY (member_id, skill)
);
CREATE INDEX member_skills_by_skill ON member_skills (skill, level);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('api', 'session')),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_by_member ON api_tokens (member_id);

CREATE TABLE clients (
    id               TEXT PRIMARY KEY,
    technician_id    TEXT NOT NULL REFERENCES members (id),
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('school', 'town_hall', 'association', 'company', 'person')),
    postcode         TEXT NOT NULL,
    commune          TEXT NOT NULL,
    departement      TEXT NOT NULL,
    lat              DOUBLE PRECISION NOT NULL,
    lon              DOUBLE PRECISION NOT NULL,
    location_precise BOOLEAN NOT NULL DEFAULT FALSE,
    contact_name     TEXT NOT NULL DEFAULT '',
    contact_email    TEXT NOT NULL DEFAULT '',
    contact_phone    TEXT NOT NULL DEFAULT '',
    search_text      TEXT NOT NULL DEFAULT '', -- name and commune, lower-cased, without accents
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX clients_by_technician ON clients (technician_id, id);

CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    address     TEXT NOT NULL DEFAULT '',
    postcode    TEXT NOT NULL,
    commune     TEXT NOT NULL,
    departement TEXT NOT NULL,
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sites_by_client ON sites (client_id, id);

CREATE TABLE assets (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    site_id       TEXT REFERENCES sites (id) ON DELETE SET NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('workstation', 'laptop', 'server', 'printer', 'network', 'other')),
    hostname      TEXT NOT NULL DEFAULT '',
    os            TEXT NOT NULL DEFAULT '',
    purchase_date TEXT NOT NULL DEFAULT '',
    notes         TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX assets_by_client ON assets (client_id, id);

CREATE TABLE tickets (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES clients (id),
    technician_id      TEXT NOT NULL REFERENCES members (id),
    title              TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    skill              TEXT NOT NULL REFERENCES skills (name),
    priority           TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    on_site            BOOLEAN NOT NULL,
    estimated_minutes  INTEGER NOT NULL CHECK (estimated_minutes >= 0),
    status             TEXT NOT NULL CHECK (status IN ('new', 'routing', 'offered', 'accepted', 'scheduled',
                                                       'in_progress', 'resolved', 'closed', 'cancelled', 'unroutable')),
    origin_region      TEXT NOT NULL,
    assignee_member_id TEXT REFERENCES members (id),
    assignee_handle    TEXT NOT NULL DEFAULT '',
    assignee_region    TEXT NOT NULL DEFAULT '',
    assignee_name      TEXT NOT NULL DEFAULT '',
    ap_id              TEXT NOT NULL UNIQUE,
    created_by         TEXT NOT NULL, -- full handle of who took the request in
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX tickets_by_technician ON tickets (technician_id, id);
CREATE INDEX tickets_by_assignee ON tickets (assignee_member_id, id);
CREATE INDEX tickets_by_status ON tickets (status, id);
CREATE INDEX tickets_by_client ON tickets (client_id, id);

CREATE TABLE ticket_comments (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id     TEXT REFERENCES members (id),
    author_handle TEXT NOT NULL,
    author_name   TEXT NOT NULL,
    body          TEXT NOT NULL,
    internal      BOOLEAN NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_comments_by_ticket ON ticket_comments (ticket_id, id);

-- Every change to a ticket after its creation, field by field: who, what,
-- when. The creation itself is tickets.created_by and tickets.created_at,
-- so that filing a ticket writes one row.
CREATE TABLE ticket_history (
    id           TEXT PRIMARY KEY,
    ticket_id    TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    actor_handle TEXT NOT NULL,
    action       TEXT NOT NULL,
    field        TEXT NOT NULL DEFAULT '',
    old_value    TEXT NOT NULL DEFAULT '',
    new_value    TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_history_by_ticket ON ticket_history (ticket_id, id);
