package members

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Login attempts slow down further tries, counted in the database so that
// every replica of a node counts them together and a restart forgets
// nothing. They are counted per account at an address, and per address:
// never per account alone, so that someone failing at will, from as many
// addresses as they like, cannot lock the rightful member (an admin
// included) out of their account. Past a few free failures, each one makes
// the key wait twice as long as the one before, up to a quarter of an
// hour. An attempt is counted before its password is checked (and taken
// back when it succeeds), so that a flood of attempts sent at once is
// held as one sent after another. An account that logged in successfully
// at an address lately is not held up by that address's failures: others
// failing behind the same shared address (a school's, an office's) do not
// lock its known members out.
const (
	// PairFreeFailures is how many failures an account may have at one
	// address before it waits.
	PairFreeFailures = 5
	// AddressFreeFailures is how many failures one address may have, on
	// any accounts, before it waits.
	AddressFreeFailures = 20
	// MaxLoginWait bounds the wait.
	MaxLoginWait = 15 * time.Minute
	// PairFailureMemory and AddressFailureMemory are how long a key's
	// failures are remembered after its last one.
	PairFailureMemory    = 24 * time.Hour
	AddressFailureMemory = time.Hour
	// KnownPairFor is how long an account's successful login at an
	// address exempts it from that address's failures.
	KnownPairFor = 30 * 24 * time.Hour
)

// SetThrottleSecret sets the secret under which login attempts' keys are
// made (see throttleKeys): the same for every replica of a node. Set once,
// before serving; without it the keys are plain hashes.
func (s *Service) SetThrottleSecret(secret []byte) {
	sum := sha256.Sum256(append([]byte("coopnet login attempts\x00"), secret...))
	s.throttleKey = sum[:]
}

// throttleKeys are the keys of a login attempt: the account at the
// address, and the address, as HMACs under the node's secret (an address
// alone, of 2³² at most, would be found again from a plain hash).
func (s *Service) throttleKeys(addr, email string) (pair, address string) {
	a := addressKey(addr)
	h := func(v string) string {
		m := hmac.New(sha256.New, s.throttleKey)
		m.Write([]byte(v))
		return hex.EncodeToString(m.Sum(nil))
	}
	return h("pair:" + strings.ToLower(strings.TrimSpace(email)) + "\x00" + a), h("addr:" + a)
}

// addressKey is what an address counts as: an IPv4 address itself, an IPv6
// address by its /64 (one subscriber's network).
func addressKey(addr string) string {
	ip := net.ParseIP(strings.TrimSpace(addr))
	if ip == nil {
		return strings.TrimSpace(addr)
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// loginWait is how long a key waits after its n-th failure.
func loginWait(n, free int) time.Duration {
	if n <= free {
		return 0
	}
	d := time.Second
	for i := free + 1; i < n && d < MaxLoginWait; i++ {
		d *= 2
	}
	return min(d, MaxLoginWait)
}

// errWait stops an attempt's transaction: a key must still wait.
var errWait = errors.New("wait")

// LoginAttempt counts a login attempt for email from the address addr at
// now, as a failure until LoginSucceeded says otherwise, and reports how
// long it must wait first (0: its password may be checked; else nothing
// was counted).
func (s *Service) LoginAttempt(ctx context.Context, addr, email string, now time.Time) (time.Duration, error) {
	pair, address := s.throttleKeys(addr, email)
	now = now.UTC()
	var wait time.Duration
	err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		// count adds the attempt to key unless it must wait, in one
		// statement, so that replicas counting at once lose nothing and
		// let nothing through.
		count := func(key string, free int, memory time.Duration) (known bool, err error) {
			var rows []struct {
				Failures    int
				SucceededAt *time.Time
			}
			if err := tx.Raw(`INSERT INTO login_failures (key, failures, last_at, blocked_until) VALUES (?, 1, ?, ?)
				ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at,
					failures = CASE WHEN login_failures.last_at < ? THEN 1 ELSE login_failures.failures + 1 END
				WHERE login_failures.blocked_until <= ?
				RETURNING failures, succeeded_at`, key, now, now, now.Add(-memory), now).Scan(&rows).Error; err != nil {
				return false, fmt.Errorf("members: count a login attempt: %w", err)
			}
			if len(rows) == 0 { // still waiting
				var until time.Time
				if err := tx.Raw("SELECT blocked_until FROM login_failures WHERE key = ?", key).Row().Scan(&until); err != nil {
					return false, fmt.Errorf("members: login attempts: %w", err)
				}
				wait = max(until.Sub(now), time.Second)
				return false, errWait
			}
			if err := tx.Exec("UPDATE login_failures SET blocked_until = ? WHERE key = ?",
				now.Add(loginWait(rows[0].Failures, free)), key).Error; err != nil {
				return false, fmt.Errorf("members: count a login attempt: %w", err)
			}
			return rows[0].SucceededAt != nil && rows[0].SucceededAt.After(now.Add(-KnownPairFor)), nil
		}
		known, err := count(pair, PairFreeFailures, PairFailureMemory)
		if err != nil || known {
			return err // a known pair: its own count alone holds it
		}
		_, err = count(address, AddressFreeFailures, AddressFailureMemory)
		return err
	})
	if errors.Is(err, errWait) {
		return wait, nil
	}
	if err != nil {
		return 0, err
	}
	return 0, s.forgetLoginAttempts(ctx, now)
}

// LoginSucceeded takes back the attempt LoginAttempt counted, forgets the
// failures of email's account at addr and remembers it as known there.
// (The address's other failures stay: one member's success does not clear
// a guesser sharing it.)
func (s *Service) LoginSucceeded(ctx context.Context, addr, email string, now time.Time) error {
	pair, address := s.throttleKeys(addr, email)
	now = now.UTC()
	err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		// Was it known? Then LoginAttempt did not count it at the address.
		var known int64
		if err := tx.Raw("SELECT COUNT(*) FROM login_failures WHERE key = ? AND succeeded_at > ?", pair, now.Add(-KnownPairFor)).
			Row().Scan(&known); err != nil {
			return err
		}
		if err := tx.Exec("UPDATE login_failures SET failures = 0, blocked_until = ?, succeeded_at = ? WHERE key = ?",
			now, now, pair).Error; err != nil {
			return err
		}
		if known > 0 {
			return nil
		}
		var n []int
		if err := tx.Raw("UPDATE login_failures SET failures = failures - 1 WHERE key = ? AND failures > 0 RETURNING failures",
			address).Scan(&n).Error; err != nil || len(n) == 0 {
			return err
		}
		return tx.Exec("UPDATE login_failures SET blocked_until = ? WHERE key = ?", now.Add(loginWait(n[0], AddressFreeFailures)), address).Error
	})
	if err != nil {
		return fmt.Errorf("members: a successful login: %w", err)
	}
	return nil
}

// forgetLoginAttempts deletes the keys whose failures are forgotten and
// whose success, if any, no longer counts. A key counted again meanwhile
// by another replica is left (the condition is checked again on the row).
func (s *Service) forgetLoginAttempts(ctx context.Context, now time.Time) error {
	failed, known := now.Add(-PairFailureMemory), now.Add(-KnownPairFor)
	const old = "last_at < ? AND (succeeded_at IS NULL OR succeeded_at < ?)"
	if err := s.db.WithContext(ctx).Exec("DELETE FROM login_failures WHERE "+old+
		" AND key IN (SELECT key FROM login_failures WHERE "+old+" LIMIT 1000)", failed, known, failed, known).Error; err != nil {
		return fmt.Errorf("members: forget old login attempts: %w", err)
	}
	return nil
}
