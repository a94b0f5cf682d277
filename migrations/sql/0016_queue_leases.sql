-- coopnet 0016: every durable queue leases its items the one way
-- (queue.Lease). The inbox claimed its activities by their state inside
-- the transaction applying them, and the NATS outbox read its due messages
-- without claiming them; both now lease, as ordered queues: one worker at
-- a time holds the head, so that replicas keep the order activities came
-- in and messages were written. The inbox still moves a row out of
-- 'pending' in the transaction that applies it, where it now takes its
-- lease too: undone with it should the worker die.
ALTER TABLE federation_inbox ADD COLUMN lease_until TIMESTAMPTZ;
ALTER TABLE bus_outbox ADD COLUMN lease_until TIMESTAMPTZ;
