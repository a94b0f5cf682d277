-- coopnet 0011: every message of the routing plane is signed by the node
-- that sends it, with an Ed25519 routing key of the node (in
-- federation_keys, owner 'node:routing'; its public half in the node's
-- actor document). A peer's region and routing key, as its actor says
-- them, are kept with the peer: routing answers are believed by region.
ALTER TABLE federation_peers ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE federation_peers ADD COLUMN routing_key_pem TEXT NOT NULL DEFAULT '';
