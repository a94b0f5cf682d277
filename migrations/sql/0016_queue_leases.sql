-- coopnet 0016: every durable queue leases its items the one way
-- (queue.Lease: UPDATE … SET lease_until … RETURNING, SKIP LOCKED on
-- PostgreSQL). The inbox claimed its activities by their state inside the
-- transaction applying them, and the NATS outbox read its due messages
-- without claiming them; both now lease, so that replicas working at once
-- share the work instead of racing for the same rows. The inbox still moves
-- a row out of 'pending' in the transaction that applies it: the lease
-- spreads the work, the state keeps it applied once.
ALTER TABLE federation_inbox ADD COLUMN lease_until TIMESTAMPTZ;
ALTER TABLE bus_outbox ADD COLUMN lease_until TIMESTAMPTZ;
