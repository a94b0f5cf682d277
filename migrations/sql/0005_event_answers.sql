-- coopnet 0005: the time of the last answer applied to an intervention.
--
-- The attendee's node sends each answer (accept, tentative, reject) with the
-- time it was given; two answers given in a row may arrive in either order,
-- and the organiser's node keeps the later one.
ALTER TABLE ticket_events ADD COLUMN answered_at TIMESTAMPTZ;
