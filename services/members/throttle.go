package members

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Failed logins slow down further tries, counted in the database so that
// every replica of a node counts them together and a restart forgets
// nothing. They are counted per account at an address, and per address:
// never per account alone, so that someone failing at will, from as many
// addresses as they like, cannot lock the rightful member (an admin
// included) out of their account. Past a few free failures, each one makes
// the key wait twice as long as the one before, up to a quarter of an
// hour; a key is forgotten a day after its last failure, and a successful
// login forgets its account at its address.
const (
	// PairFreeFailures is how many failures an account may have at one
	// address before it waits.
	PairFreeFailures = 5
	// AddressFreeFailures is how many failures one address may have, on
	// any accounts, before it waits.
	AddressFreeFailures = 20
	// MaxLoginWait bounds the wait.
	MaxLoginWait = 15 * time.Minute
	// LoginFailureMemory is how long a key's failures are remembered
	// after its last one.
	LoginFailureMemory = 24 * time.Hour
)

// throttleKeys are the hashed keys of a login attempt: the account at the
// address, and the address.
func throttleKeys(addr, email string) (pair, address string) {
	a := addressKey(addr)
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
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

// LoginWait reports how long a login for email from the address addr must
// still wait at now (0: it may be tried).
func (s *Service) LoginWait(ctx context.Context, addr, email string, now time.Time) (time.Duration, error) {
	pair, address := throttleKeys(addr, email)
	var until []time.Time
	if err := s.db.WithContext(ctx).Raw("SELECT blocked_until FROM login_failures WHERE key IN (?, ?)", pair, address).
		Scan(&until).Error; err != nil {
		return 0, fmt.Errorf("members: login failures: %w", err)
	}
	var wait time.Duration
	for _, u := range until {
		wait = max(wait, u.Sub(now))
	}
	return wait, nil
}

// LoginFailed counts a failed login for email from addr at now, and
// forgets keys whose last failure is older than LoginFailureMemory.
func (s *Service) LoginFailed(ctx context.Context, addr, email string, now time.Time) error {
	pair, address := throttleKeys(addr, email)
	now = now.UTC()
	forgotten := now.Add(-LoginFailureMemory)
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, k := range []struct {
			key  string
			free int
		}{{pair, PairFreeFailures}, {address, AddressFreeFailures}} {
			// One statement, so that replicas counting at once lose no
			// failure.
			var n int
			if err := tx.Raw(`INSERT INTO login_failures (key, failures, last_at, blocked_until) VALUES (?, 1, ?, ?)
				ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at,
					failures = CASE WHEN login_failures.last_at < ? THEN 1 ELSE login_failures.failures + 1 END
				RETURNING failures`, k.key, now, now, forgotten).Scan(&n).Error; err != nil {
				return fmt.Errorf("members: count a failed login: %w", err)
			}
			if err := tx.Exec("UPDATE login_failures SET blocked_until = ? WHERE key = ?",
				now.Add(loginWait(n, k.free)), k.key).Error; err != nil {
				return fmt.Errorf("members: count a failed login: %w", err)
			}
		}
		return tx.Exec(`DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures WHERE last_at < ? LIMIT 1000)`,
			forgotten).Error
	})
}

// LoginSucceeded forgets the failures of email's account at addr (not the
// address's: one member's success does not clear a guesser sharing it).
func (s *Service) LoginSucceeded(ctx context.Context, addr, email string) error {
	pair, _ := throttleKeys(addr, email)
	if err := s.db.WithContext(ctx).Exec("DELETE FROM login_failures WHERE key = ?", pair).Error; err != nil {
		return fmt.Errorf("members: forget failed logins: %w", err)
	}
	return nil
}
