-- coopnet 0019: files attached to a ticket's comments (a photo of the
-- broken printer, a quote). The bytes are in the node's file store
-- (services/files: a folder or an S3 bucket), under storage_key; a row here
-- says what they are. A comment's attachments travel with it to the other
-- node of a shared ticket as ActivityPub Documents: that node records them
-- with the origin's URL (source_url) and fetches them with a signed GET, a
-- durable queue (fetch_state 'pending' until 'stored'; 'dead' after the
-- last attempt).
CREATE TABLE ticket_attachments (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    comment_id    TEXT NOT NULL REFERENCES ticket_comments (id),
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL CHECK (size_bytes >= 0),
    sha256        TEXT NOT NULL,
    storage_key   TEXT,
    thumb_key     TEXT,
    ap_id         TEXT NOT NULL,
    source_url    TEXT,
    fetch_state   TEXT NOT NULL CHECK (fetch_state IN ('stored', 'pending', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    next_attempt_at TIMESTAMPTZ,
    lease_until   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX ticket_attachments_by_ap_id ON ticket_attachments (ap_id);
CREATE INDEX ticket_attachments_by_comment ON ticket_attachments (comment_id, id);
CREATE INDEX ticket_attachments_by_ticket ON ticket_attachments (ticket_id, id);
CREATE INDEX ticket_attachments_fetch ON ticket_attachments (fetch_state, next_attempt_at);
