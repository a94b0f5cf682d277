-- coopnet 0012: accounts and a member's life in the coop.

-- An API token's label (what it is for, shown in the member's list of
-- tokens). Session tokens have none.
ALTER TABLE api_tokens ADD COLUMN label TEXT NOT NULL DEFAULT '';

-- A member who left the coop: deactivated (no login, no offers, their
-- jobs back to the routing, gone from every node's directory), then
-- perhaps erased (their personal data anonymised, once nothing legal
-- holds it).
ALTER TABLE members ADD COLUMN deactivated_at TIMESTAMPTZ;
ALTER TABLE members ADD COLUMN erased_at TIMESTAMPTZ;

-- Skill levels a member proposes for themselves above what their region's
-- staff confirmed: the routing uses member_skills (confirmed) until staff
-- confirm a proposal.
CREATE TABLE skill_proposals (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    skill       TEXT NOT NULL REFERENCES skills (name),
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    proposed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (member_id, skill)
);

-- Every change of a member's skills: proposed, confirmed, refused, set by
-- staff, lowered or removed by the member.
CREATE TABLE member_skill_history (
    id           TEXT PRIMARY KEY,
    member_id    TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    skill        TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('proposed', 'confirmed', 'refused', 'set', 'lowered', 'removed')),
    old_level    INTEGER NOT NULL DEFAULT 0,
    new_level    INTEGER NOT NULL DEFAULT 0,
    actor_handle TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX member_skill_history_by_member ON member_skill_history (member_id, created_at);

-- Members of other regions who left the coop: their copy is removed from
-- the directory, and a profile of theirs older than their leaving,
-- delivered late, does not bring it back.
CREATE TABLE directory_left (
    ap_id   TEXT PRIMARY KEY,
    left_at TIMESTAMPTZ NOT NULL
);
