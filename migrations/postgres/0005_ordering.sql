-- coopnet 0005: what was received applied in the order it was meant.

-- The time of the last answer applied to an intervention. The attendee's
-- node sends each answer (accept, tentative, reject) with the time it was
-- given; two answers given in a row may arrive in either order, and the
-- organiser's node keeps the later one.
ALTER TABLE ticket_events ADD COLUMN answered_at TIMESTAMPTZ;

-- A received activity that needs a ticket's state first (a comment, an
-- invitation, on a ticket whose copy is on its way) names it: it is due
-- again as soon as that state is applied, and not each time anything is.
ALTER TABLE federation_inbox ADD COLUMN waits_for TEXT;
CREATE INDEX federation_inbox_waiting ON federation_inbox (waits_for) WHERE state = 'pending' AND waits_for IS NOT NULL;
