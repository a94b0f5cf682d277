-- coopnet 0013: the record of erasures (RGPD article 17). What was erased,
-- by whom, when and why: ids only, never what was erased.
CREATE TABLE erasures (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL CHECK (subject IN ('client', 'member', 'copy')),
    subject_id TEXT NOT NULL,
    by_handle  TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX erasures_by_subject ON erasures (subject_id);
