package federation

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"github.com/coopnet/coopnet/federation/doc"
	"net/http"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/storage"
)

type peerRow struct {
	Host            string `gorm:"primaryKey"`
	KeyID           string `gorm:"column:key_id"`
	PublicPEM       string `gorm:"column:public_pem"`
	KeyFetchedAt    *time.Time
	FailingSince    *time.Time
	Unavailable     bool
	LastSeenAt      *time.Time
	DirectorySentAt *time.Time
	// Region and RoutingKeyPEM are the peer's region and routing key, as
	// its actor says (see messages.go).
	Region        string
	RoutingKeyPEM string `gorm:"column:routing_key_pem"`
}

func (peerRow) TableName() string { return "federation_peers" }

// ensurePeers records every configured peer.
func (s *Service) ensurePeers(ctx context.Context) error {
	for h := range s.peers {
		if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&peerRow{Host: h}).Error; err != nil {
			return fmt.Errorf("federation: record peer %s: %w", h, err)
		}
	}
	return nil
}

// allowed reports whether host is one of the peers.
func (s *Service) allowed(host string) bool {
	_, ok := s.peers[strings.ToLower(host)]
	return ok
}

// key returns the public key of keyID, from memory, the database or the
// peer (a signed GET of the key's actor). refresh skips the caches: used
// once when a signature does not verify, as the peer may have a new key.
func (s *Service) key(ctx context.Context, keyID, host string, refresh bool) (*rsa.PublicKey, error) {
	return s.keyFrom(ctx, keyID, host, refresh, true)
}

// keyFrom is key, without asking the peer unless fetch.
func (s *Service) keyFrom(ctx context.Context, keyID, host string, refresh, fetch bool) (*rsa.PublicKey, error) {
	if !refresh {
		s.peerKeysMu.Lock()
		pk := s.peerKeys[keyID]
		s.peerKeysMu.Unlock()
		if pk != nil {
			return pk, nil
		}
		var row peerRow
		if err := s.db.WithContext(ctx).Where("host = ?", host).Limit(1).Find(&row).Error; err != nil {
			return nil, fmt.Errorf("federation: peer %s: %w", host, err)
		}
		if row.KeyID == keyID && row.PublicPEM != "" {
			k, err := parsePublicKey(row.PublicPEM)
			if err == nil {
				s.cacheKey(keyID, k)
				return k, nil
			}
		}
	}
	if !fetch {
		return nil, fmt.Errorf("federation: key %s is not known yet", keyID)
	}
	pemKey, err := s.fetchKey(ctx, keyID, host)
	if err != nil {
		return nil, err
	}
	k, err := parsePublicKey(pemKey)
	if err != nil {
		return nil, fmt.Errorf("federation: key %s: %w", keyID, err)
	}
	now := time.Now().UTC()
	err = s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "host"}},
		DoUpdates: clause.AssignmentColumns([]string{"key_id", "public_pem", "key_fetched_at"})}).
		Create(&peerRow{Host: host, KeyID: keyID, PublicPEM: pemKey, KeyFetchedAt: &now}).Error
	if err != nil {
		return nil, fmt.Errorf("federation: store key of %s: %w", host, err)
	}
	s.cacheKey(keyID, k)
	s.metrics.keyFetches.Inc()
	return k, nil
}

func (s *Service) cacheKey(keyID string, k *rsa.PublicKey) {
	s.peerKeysMu.Lock()
	s.peerKeys[keyID] = k
	s.peerKeysMu.Unlock()
}

// fetchKey GETs the actor document of keyID (signed by this node) and
// returns the PEM of that key: the document must be on the key's host, and
// the key must be the actor's own.
func (s *Service) fetchKey(ctx context.Context, keyID, host string) (string, error) {
	actorURL, _, _ := strings.Cut(keyID, "#")
	obj, err := s.fetchJSON(ctx, actorURL)
	if err != nil {
		return "", err
	}
	id, _ := obj["id"].(string)
	if h, err := keyHost(id); err != nil || h != host {
		return "", fmt.Errorf("federation: the actor of key %s is not on %s", keyID, host)
	}
	var keys []any
	switch pk := obj["publicKey"].(type) {
	case map[string]any:
		keys = []any{pk}
	case []any:
		keys = pk
	}
	for _, k := range keys {
		km, ok := k.(map[string]any)
		if !ok || km["id"] != keyID {
			continue
		}
		if owner, _ := km["owner"].(string); owner != id {
			return "", fmt.Errorf("federation: key %s is not owned by %s", keyID, id)
		}
		p, _ := km["publicKeyPem"].(string)
		if p == "" {
			break
		}
		return p, nil
	}
	return "", fmt.Errorf("federation: %s does not publish key %s", id, keyID)
}

// fetchJSON GETs an ActivityPub document of a peer, signed by this node.
func (s *Service) fetchJSON(ctx context.Context, target string) (map[string]any, error) {
	h, err := keyHost(target)
	if err != nil || !s.allowed(h) {
		return nil, fmt.Errorf("federation: %s is not a peer node", target)
	}
	kp, err := s.keys.get(ctx, "node")
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	req.Header.Set("Accept", doc.MediaActivity)
	req.Header.Set("User-Agent", s.userAgent())
	if err := sign(req, kp, s.NodeActor()+"#main-key", nil, time.Now()); err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("federation: fetch %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("federation: fetch %s: %s", target, resp.Status)
	}
	b, err := readLimited(resp.Body, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("federation: fetch %s: %w", target, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("federation: fetch %s: not JSON: %w", target, err)
	}
	return obj, nil
}

func (s *Service) userAgent() string {
	v := s.cfg.Version
	if v == "" {
		v = "dev"
	}
	return "coopnet/" + v + " (+" + s.cfg.PublicURL + ")"
}

// sawPeer records a verified request from a peer: one marked unavailable
// is available again, and what was waiting for it is retried now.
func (s *Service) sawPeer(ctx context.Context, host string) {
	now := time.Now().UTC()
	// Recorded a moment ago and working: spare the database (the inbox
	// calls this for every activity).
	s.seenMu.Lock()
	last, ok := s.seen[host]
	s.seenMu.Unlock()
	if ok && now.Sub(last) < 10*time.Second {
		return
	}
	db := s.db.WithContext(ctx)
	var row peerRow
	if err := db.Where("host = ?", host).Limit(1).Find(&row).Error; err != nil {
		s.log.Warn("peer state", "peer", host, "err", err)
		return
	}
	if row.LastSeenAt != nil && now.Sub(*row.LastSeenAt) < 10*time.Second && !row.Unavailable && row.FailingSince == nil {
		s.markSeen(host, now)
		return
	}
	err := db.Model(&peerRow{}).Where("host = ?", host).
		Updates(map[string]any{"last_seen_at": now, "unavailable": false}).Error
	if err != nil {
		s.log.Warn("peer state", "peer", host, "err", err)
		return
	}
	if row.Unavailable || row.FailingSince != nil {
		// It is back: what waits for it goes now rather than after its
		// back-off. Noted first, so that an attempt failing from here on
		// (begun before it came back) is tried again at once, whatever
		// this rescheduling misses.
		s.seenMu.Lock()
		s.backAt[host] = time.Now()
		s.seenMu.Unlock()
		base := s.peers[host]
		// Deliveries being recorded meanwhile may lock the same rows in
		// another order: run again on a deadlock.
		if err := storage.Retry(func() error {
			return db.Exec("UPDATE federation_outbox SET next_attempt_at = ? WHERE state = 'pending' AND inbox LIKE ? ESCAPE '\\'",
				now, likePrefix(base)+"%").Error
		}); err != nil {
			s.log.Warn("peer back: reschedule", "peer", host, "err", err)
		}
		s.log.Info("peer is back", "peer", host)
		s.wake.Poke()
	}
	s.markSeen(host, now)
}

// backSince reports whether host was seen back, after failing, since t: a
// delivery to it that was already under way then, and failed, is tried
// again at once rather than after its back-off.
func (s *Service) backSince(host string, t time.Time) bool {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	return s.backAt[host].After(t)
}

// markSeen remembers when a peer, not failing, was last heard from;
// forgetSeen is called when a delivery to it fails, so that the next
// request from it is noticed at once.
func (s *Service) markSeen(host string, at time.Time) {
	s.seenMu.Lock()
	s.seen[host] = at
	s.seenMu.Unlock()
}

func (s *Service) forgetSeen(host string) {
	s.seenMu.Lock()
	delete(s.seen, host)
	s.seenMu.Unlock()
}

// likePrefix escapes LIKE's wildcards in a URL prefix.
func likePrefix(s string) string {
	return strings.NewReplacer("%", `\%`, "_", `\_`).Replace(s)
}

// greetPeers sends each peer a signed GET of its actor when this node
// starts: a peer that was queuing activities for this node while it was
// down sees it is back and delivers them now rather than after its
// back-off.
func (s *Service) greetPeers(ctx context.Context) {
	for host, base := range s.peers {
		obj, err := s.fetchJSON(ctx, base+"/actor")
		if err != nil {
			if ctx.Err() == nil {
				s.log.Info("peer not reachable at start", "peer", host, "err", err)
			}
			continue
		}
		// Its region and routing key, as it says them now: the first
		// routing message from it is checked without a fetch.
		if _, err := s.keepRouting(ctx, host, obj); err != nil {
			s.log.Warn("peer's routing key", "peer", host, "err", err)
		}
	}
}

// heardFrom notes a signed GET from a peer, checked with the key this node
// already has (never fetched: the peer may be fetching this node's key to
// check this node's own request): the peer is alive.
func (s *Service) heardFrom(r *http.Request) {
	if r.Header.Get("Signature") == "" {
		return
	}
	p, err := parseSignatureHeader(r.Header.Get("Signature"))
	if err != nil || requireSigned(p, false) != nil || checkDate(r.Header.Get("Date"), time.Now(), s.cfg.Skew) != nil {
		return
	}
	host, err := keyHost(p.KeyID)
	if err != nil || !s.allowed(host) {
		return
	}
	key, err := s.keyFrom(r.Context(), p.KeyID, host, false, false)
	if err != nil || verifySignature(r, key) != nil {
		return
	}
	s.sawPeer(r.Context(), host)
}
