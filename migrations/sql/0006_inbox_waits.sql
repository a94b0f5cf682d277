-- coopnet 0006: a received activity that needs a ticket's state first (a
-- comment, an invitation, on a ticket whose copy is on its way) names it: it
-- is due again as soon as that state is applied, and not each time anything
-- is.
ALTER TABLE federation_inbox ADD COLUMN waits_for TEXT;
CREATE INDEX federation_inbox_waiting ON federation_inbox (waits_for) WHERE state = 'pending' AND waits_for IS NOT NULL;
