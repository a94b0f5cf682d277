-- coopnet 0014: login attempts, in the database so that every replica of a
-- node counts them together and a restart does not forget them. A key is
-- an HMAC, under a secret of the node, of an address ("addr:" + address,
-- an IPv6 address by its /64) or of an account at an address ("pair:" +
-- e-mail + address): no address nor e-mail is kept in clear, nor can be
-- found by trying them all. succeeded_at is an account's last successful
-- login at the address: such a pair is not held up by its address's
-- failures. A row goes once its failures and its success are old.
CREATE TABLE login_failures (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL CHECK (failures >= 0),
    last_at       TIMESTAMPTZ NOT NULL,
    blocked_until TIMESTAMPTZ NOT NULL,
    succeeded_at  TIMESTAMPTZ
);
CREATE INDEX login_failures_last_at ON login_failures (last_at);
