-- coopnet 0017: notifications. A notification tells a member of this node
-- that something happened on a request or an offer of theirs; it holds
-- ids, a kind and who did it, never the client's data: its title is read
-- from the request or the offer when it is shown or mailed. A member's
-- preferences say, per kind, where it goes (the app, e-mail, both or
-- neither) and whether an urgent request's notification goes out in quiet
-- hours (a notification to be mailed only is not in the app: in_app);
-- their settings hold the quiet hours (in Europe/Paris, minutes of
-- the day), the daily digest and the language of their mails. mail_outbox
-- is the durable queue of mails: a row per mail to send (or per
-- notification of a digest), due once the member's quiet hours end.
CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members (id),
    kind        TEXT NOT NULL,
    ticket_id   TEXT NOT NULL DEFAULT '',
    offer_id    TEXT NOT NULL DEFAULT '',
    actor_name  TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    urgent      BOOLEAN NOT NULL DEFAULT FALSE,
    in_app      BOOLEAN NOT NULL DEFAULT TRUE,
    read_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX notifications_member ON notifications (member_id, created_at, id);
CREATE INDEX notifications_unread ON notifications (member_id) WHERE read_at IS NULL AND in_app;

CREATE TABLE notification_prefs (
    member_id      TEXT NOT NULL REFERENCES members (id),
    kind           TEXT NOT NULL,
    channel        TEXT NOT NULL CHECK (channel IN ('app', 'email', 'both', 'none')),
    urgent_anytime BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (member_id, kind)
);

CREATE TABLE notification_settings (
    member_id      TEXT PRIMARY KEY REFERENCES members (id),
    quiet_from     INTEGER NOT NULL CHECK (quiet_from >= 0 AND quiet_from < 1440),
    quiet_to       INTEGER NOT NULL CHECK (quiet_to >= 0 AND quiet_to < 1440),
    quiet_weekends BOOLEAN NOT NULL,
    digest         BOOLEAN NOT NULL,
    lang           TEXT NOT NULL CHECK (lang IN ('fr', 'en')),
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL REFERENCES members (id),
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    digest          BOOLEAN NOT NULL,
    due_at          TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    lease_until     TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    dead_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (due_at) WHERE sent_at IS NULL AND dead_at IS NULL;
