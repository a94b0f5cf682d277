-- coopnet 0008: a pending offer may be superseded. A member with no room
-- left because of a pending offer can be offered another job that needs
-- them more; the pending offer then goes to its job's next candidate. The
-- origin sends with each offer what its job would lose that way (regret;
-- NULL: no fallback, never superseded), and marks a routing whose offer was
-- superseded (it then takes nobody's place in turn) and whether it searched
-- again once its list ran out (it does so once).
ALTER TABLE offers ADD COLUMN regret DOUBLE PRECISION;
ALTER TABLE offers DROP CONSTRAINT offers_state_check;
ALTER TABLE offers ADD CONSTRAINT offers_state_check
    CHECK (state IN ('pending', 'accepted', 'declined', 'expired', 'withdrawn', 'lost', 'superseded'));
ALTER TABLE routings ADD COLUMN superseded BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE routings ADD COLUMN searched_again BOOLEAN NOT NULL DEFAULT false;
