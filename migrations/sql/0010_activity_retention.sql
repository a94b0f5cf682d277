-- coopnet 0010: activities received and sent are kept raw only while
-- needed. A received activity's body is needed until it is applied, then
-- for an audit window; a sent one's until it is delivered (or given up),
-- then for the same window. Afterwards only what de-duplication and the
-- record of who received what need remains: ids, digest, actor, type,
-- what it was about, times. Old rows go after a second window.

-- The SHA-256 of the body as received (hex): proof of what came, once the
-- body is gone.
ALTER TABLE federation_inbox ADD COLUMN digest TEXT NOT NULL DEFAULT '';
-- When the body was emptied (NULL: still there).
ALTER TABLE federation_inbox ADD COLUMN body_purged_at TIMESTAMPTZ;

-- What a sent activity was about, for the record of processing and a
-- client's export (which nodes received what, when): its type, its
-- object's id and that object's context or object (the ticket of a
-- comment or an intervention, the invitation answered).
ALTER TABLE federation_outbox ADD COLUMN type TEXT NOT NULL DEFAULT '';
ALTER TABLE federation_outbox ADD COLUMN object_id TEXT NOT NULL DEFAULT '';
ALTER TABLE federation_outbox ADD COLUMN context_id TEXT NOT NULL DEFAULT '';
ALTER TABLE federation_outbox ADD COLUMN body_purged_at TIMESTAMPTZ;
-- [postgres]
UPDATE federation_outbox SET type = COALESCE(body::jsonb ->> 'type', ''), object_id = CASE WHEN jsonb_typeof(body::jsonb -> 'object') = 'object' THEN COALESCE(body::jsonb #>> '{object,id}', '') ELSE COALESCE(body::jsonb ->> 'object', '') END, context_id = CASE WHEN jsonb_typeof(body::jsonb -> 'object') = 'object' THEN COALESCE(body::jsonb #>> '{object,context}', body::jsonb #>> '{object,object}', '') ELSE '' END;
UPDATE federation_inbox SET digest = encode(sha256(convert_to(body, 'UTF8')), 'hex');
-- [sqlite]
UPDATE federation_outbox SET type = COALESCE(json_extract(body, '$.type'), ''), object_id = CASE WHEN json_type(body, '$.object') = 'object' THEN COALESCE(json_extract(body, '$.object.id'), '') ELSE COALESCE(json_extract(body, '$.object'), '') END, context_id = CASE WHEN json_type(body, '$.object') = 'object' THEN COALESCE(json_extract(body, '$.object.context'), json_extract(body, '$.object.object'), '') ELSE '' END;
-- SQLite has no SHA-256: rows stored before this version keep an empty digest (de-duplication is by activity id).
-- [both]
CREATE INDEX federation_outbox_by_object ON federation_outbox (object_id);
CREATE INDEX federation_outbox_by_context ON federation_outbox (context_id);
CREATE INDEX federation_outbox_done ON federation_outbox (done_at) WHERE state <> 'pending';
CREATE INDEX federation_inbox_processed ON federation_inbox (processed_at) WHERE state <> 'pending';
