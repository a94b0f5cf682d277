-- coopnet 0014: failed logins, in the database so that every replica of a
-- node counts them together and a restart does not forget them. A key is
-- the SHA-256 of an address ("addr:" + address, an IPv6 address by its
-- /64) or of an account at an address ("pair:" + e-mail + address): no
-- address nor e-mail is kept in clear. A row goes a day after its last
-- failure.
CREATE TABLE login_failures (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL CHECK (failures > 0),
    last_at       DATETIME NOT NULL,
    blocked_until DATETIME NOT NULL
);
CREATE INDEX login_failures_last_at ON login_failures (last_at);
