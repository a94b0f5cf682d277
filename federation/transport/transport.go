// Package transport is how a node talks to its peers over ActivityPub's HTTP:
// who they are (the configured peers, their keys and routing keys, fetched
// from their actors and kept in federation_peers), requests signed as this
// node and checked as theirs, and whether each answers (a peer failing for
// long is marked unavailable until it is heard from again).
package transport

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/sign"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/storage"
)

// Config says who this node is to its peers.
type Config struct {
	PublicURL string // this node's public URL
	Host      string // this node's host[:port]: a request must be signed for it
	Region    string
	Version   string
	// Skew is how far a signed request's Date may be from this node's clock.
	Skew time.Duration
	// Retry tunes delivery (its zero values must have been defaulted).
	Retry RetryPolicy
	// Lease is how long a delivery worker holds what it claimed (renewed
	// while it works on it).
	Lease time.Duration
	// Poll is how often the workers look for due work when nothing wakes
	// them.
	Poll time.Duration
}

// RetryPolicy is how a delivery is retried: exponential back-off from
// First, capped at Max, with ±25% jitter, for up to GiveUpAfter; a peer
// failing for UnavailableAfter is marked unavailable.
type RetryPolicy struct {
	First, Max, GiveUpAfter, UnavailableAfter time.Duration
}

// DefaultRetry is about two days of retries, as Mastodon.
var DefaultRetry = RetryPolicy{First: 30 * time.Second, Max: 6 * time.Hour, GiveUpAfter: 48 * time.Hour,
	UnavailableAfter: 24 * time.Hour}

// Transport is how a node talks to its peers.
type Transport struct {
	cfg     Config
	db      *storage.DB
	keys    *sign.Store
	client  *http.Client
	log     *slog.Logger
	peers   map[string]string // allowed host → base URL
	wake    queue.Signal      // deliveries queued
	outboxQ *queue.Queue      // deliveries, leased

	keyFetches      prometheus.Counter
	deliveries      *prometheus.CounterVec
	deliveryLatency prometheus.Histogram

	seenMu  sync.Mutex
	seen    map[string]time.Time // peer host → last time heard from while not failing
	healthy map[string]bool      // peer host → its last delivery worked and that is recorded
	backAt  map[string]time.Time // peer host → when it was last seen back after failing

	routingMu  sync.Mutex
	peerRoutes map[string]peerRouting // what this node knows of its peers' routing keys

	peerKeysMu sync.Mutex
	peerKeys   map[string]*rsa.PublicKey // keyId → key, as fetched (also kept in federation_peers)
	refetched  map[string]time.Time      // peer host → when its key was last fetched again after a failed check
}

// New returns the transport of a node to its peers: peers maps each
// allowed host to its base URL.
func New(db *storage.DB, keys *sign.Store, client *http.Client, peers map[string]string, cfg Config, log *slog.Logger,
	reg prometheus.Registerer) *Transport {
	ps := &Transport{cfg: cfg, db: db, keys: keys, client: client, log: log, peers: peers, wake: queue.NewSignal(),
		seen: map[string]time.Time{}, healthy: map[string]bool{}, backAt: map[string]time.Time{},
		peerRoutes: map[string]peerRouting{}, peerKeys: map[string]*rsa.PublicKey{}, refetched: map[string]time.Time{},
		keyFetches: prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_federation_key_fetches_total",
			Help: "Peer keys fetched (not found in the cache, or refreshed after a failed check)."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_federation_delivery_attempts_total",
			Help: "Delivery attempts, by outcome (delivered, retry, refused, gone, expired)."}, []string{"result"}),
		deliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "coopnet_federation_delivery_seconds",
			Help: "Time of one delivery attempt.", Buckets: prometheus.ExponentialBuckets(.005, 2, 12)}),
	}
	ps.outboxQ = queue.New(db, reg, queue.Spec{Topic: "federation_outbox", Table: "federation_outbox",
		Due: "state = 'pending' AND next_attempt_at <= ?", Waiting: "state = 'pending' AND next_attempt_at > ?", Leases: true,
		Dead: "state = 'failed'", Order: "next_attempt_at, id", What: "inbox", Error: "last_error", At: "COALESCE(done_at, created_at)"})
	if reg != nil {
		depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "coopnet_federation_outbox_depth",
			Help: "Deliveries waiting in the outbox."}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := ps.QueueDepth(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		})
		reg.MustRegister(ps.keyFetches, ps.deliveries, ps.deliveryLatency, depth)
	}
	return ps
}

// Queue is the outbox of deliveries to peers.
func (ps *Transport) Queue() *queue.Queue { return ps.outboxQ }

// WithoutDirectory lists the peers that have not had this node's
// directory yet (a new peer, or a new node).
func (ps *Transport) WithoutDirectory(ctx context.Context) ([]string, error) {
	var hosts []string
	if err := ps.db.WithContext(ctx).Model(&peerRow{}).Where("directory_sent_at IS NULL").Order("host").Pluck("host", &hosts).Error; err != nil {
		return nil, fmt.Errorf("federation: peers: %w", err)
	}
	return hosts, nil
}

// DirectorySent notes, in the transaction ctx carries, that the peer at
// host has had this node's directory.
func (ps *Transport) DirectorySent(ctx context.Context, host string) error {
	return ps.db.Conn(ctx).Model(&peerRow{}).Where("host = ?", host).Update("directory_sent_at", time.Now().UTC()).Error
}

// Base is the base URL of the peer at host, if it is one.
func (ps *Transport) Base(host string) (string, bool) {
	b, ok := ps.peers[host]
	return b, ok
}

// PeerNode is a peer's region and public URL.
type PeerNode struct{ Region, URL string }

// PeerNodes lists the peers whose region is known (from their actor), by
// region.
func (ps *Transport) PeerNodes(ctx context.Context) ([]PeerNode, error) {
	var rows []peerRow
	if err := ps.db.Conn(ctx).Select("host, region").Where("region <> ''").Order("region").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("federation: peers: %w", err)
	}
	out := make([]PeerNode, 0, len(rows))
	for _, r := range rows {
		if base, ok := ps.peers[r.Host]; ok {
			out = append(out, PeerNode{Region: r.Region, URL: base})
		}
	}
	return out, nil
}

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

// Ensure records every configured peer.
func (ps *Transport) Ensure(ctx context.Context) error {
	for h := range ps.peers {
		if err := ps.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&peerRow{Host: h}).Error; err != nil {
			return fmt.Errorf("federation: record peer %s: %w", h, err)
		}
	}
	return nil
}

// Allowed reports whether host is one of the peers.
func (ps *Transport) Allowed(host string) bool {
	_, ok := ps.peers[strings.ToLower(host)]
	return ok
}

// Key returns the public key of keyID, from memory, the database or the
// peer (a signed GET of the key's actor). refresh skips the caches: used
// once when a signature does not verify, as the peer may have a new key.
func (ps *Transport) Key(ctx context.Context, keyID, host string, refresh bool) (*rsa.PublicKey, error) {
	return ps.keyFrom(ctx, keyID, host, refresh, true)
}

// keyFrom is key, without asking the peer unless fetch.
func (ps *Transport) keyFrom(ctx context.Context, keyID, host string, refresh, fetch bool) (*rsa.PublicKey, error) {
	if !refresh {
		ps.peerKeysMu.Lock()
		pk := ps.peerKeys[keyID]
		ps.peerKeysMu.Unlock()
		if pk != nil {
			return pk, nil
		}
		var row peerRow
		if err := ps.db.WithContext(ctx).Where("host = ?", host).Limit(1).Find(&row).Error; err != nil {
			return nil, fmt.Errorf("federation: peer %s: %w", host, err)
		}
		if row.KeyID == keyID && row.PublicPEM != "" {
			k, err := sign.ParsePublicKey(row.PublicPEM)
			if err == nil {
				ps.cacheKey(keyID, k)
				return k, nil
			}
		}
	}
	if !fetch {
		return nil, fmt.Errorf("federation: key %s is not known yet", keyID)
	}
	pemKey, err := ps.fetchKey(ctx, keyID, host)
	if err != nil {
		return nil, err
	}
	k, err := sign.ParsePublicKey(pemKey)
	if err != nil {
		return nil, fmt.Errorf("federation: key %s: %w", keyID, err)
	}
	now := time.Now().UTC()
	err = ps.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "host"}},
		DoUpdates: clause.AssignmentColumns([]string{"key_id", "public_pem", "key_fetched_at"})}).
		Create(&peerRow{Host: host, KeyID: keyID, PublicPEM: pemKey, KeyFetchedAt: &now}).Error
	if err != nil {
		return nil, fmt.Errorf("federation: store key of %s: %w", host, err)
	}
	ps.cacheKey(keyID, k)
	ps.keyFetches.Inc()
	return k, nil
}

func (ps *Transport) cacheKey(keyID string, k *rsa.PublicKey) {
	ps.peerKeysMu.Lock()
	ps.peerKeys[keyID] = k
	ps.peerKeysMu.Unlock()
}

// fetchKey GETs the actor document of keyID (signed by this node) and
// returns the PEM of that key: the document must be on the key's host, and
// the key must be the actor's own.
func (ps *Transport) fetchKey(ctx context.Context, keyID, host string) (string, error) {
	actorURL, _, _ := strings.Cut(keyID, "#")
	obj, err := ps.FetchJSON(ctx, actorURL)
	if err != nil {
		return "", err
	}
	id, _ := obj["id"].(string)
	if h, err := sign.KeyHost(id); err != nil || h != host {
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

// signedGet is a GET of a peer's URL, signed by this node's actor: the
// request, ready to send.
func (ps *Transport) signedGet(ctx context.Context, target, accept string) (*http.Request, error) {
	h, err := sign.KeyHost(target)
	if err != nil || !ps.Allowed(h) {
		return nil, fmt.Errorf("federation: %s is not a peer node: %w", target, ErrRefused)
	}
	kp, err := ps.keys.Get(ctx, "node")
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("User-Agent", ps.UserAgent())
	if err := sign.Request(req, kp, ps.cfg.PublicURL+"/actor"+"#main-key", nil, time.Now()); err != nil {
		return nil, err
	}
	return req, nil
}

// FetchFile gets a file a peer serves (an attachment) with a signed GET;
// the caller closes the body. A refusal (4xx) is ErrRefused: trying again
// will not help.
func (ps *Transport) FetchFile(ctx context.Context, target string) (io.ReadCloser, error) {
	req, err := ps.signedGet(ctx, target, "")
	if err != nil {
		return nil, err
	}
	// The peers' client, without its overall timeout: a file takes as long
	// as its size needs, bounded by the caller's context.
	client := *ps.client
	client.Timeout = 0
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("federation: fetch %s: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return nil, fmt.Errorf("federation: fetch %s: %s: %w", target, resp.Status, ErrRefused)
		}
		return nil, fmt.Errorf("federation: fetch %s: %s", target, resp.Status)
	}
	return resp.Body, nil
}

// ErrRefused is a peer's refusal to serve what was asked.
var ErrRefused = errors.New("refused by the peer")

// FetchJSON GETs an ActivityPub document of a peer, signed by this node.
func (ps *Transport) FetchJSON(ctx context.Context, target string) (map[string]any, error) {
	req, err := ps.signedGet(ctx, target, doc.MediaActivity)
	if err != nil {
		return nil, err
	}
	resp, err := ps.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("federation: fetch %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("federation: fetch %s: %s", target, resp.Status)
	}
	b, err := ReadLimited(resp.Body, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("federation: fetch %s: %w", target, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("federation: fetch %s: not JSON: %w", target, err)
	}
	return obj, nil
}

func (ps *Transport) UserAgent() string {
	v := ps.cfg.Version
	if v == "" {
		v = "dev"
	}
	return "coopnet/" + v + " (+" + ps.cfg.PublicURL + ")"
}

// Saw records a verified request from a peer: one marked unavailable
// is available again, and what was waiting for it is retried now.
func (ps *Transport) Saw(ctx context.Context, host string) {
	now := time.Now().UTC()
	// Recorded a moment ago and working: spare the database (the inbox
	// calls this for every activity).
	ps.seenMu.Lock()
	last, ok := ps.seen[host]
	ps.seenMu.Unlock()
	if ok && now.Sub(last) < 10*time.Second {
		return
	}
	db := ps.db.WithContext(ctx)
	var row peerRow
	if err := db.Where("host = ?", host).Limit(1).Find(&row).Error; err != nil {
		ps.log.Warn("peer state", "peer", host, "err", err)
		return
	}
	if row.LastSeenAt != nil && now.Sub(*row.LastSeenAt) < 10*time.Second && !row.Unavailable && row.FailingSince == nil {
		ps.markSeen(host, now)
		return
	}
	err := db.Model(&peerRow{}).Where("host = ?", host).
		Updates(map[string]any{"last_seen_at": now, "unavailable": false}).Error
	if err != nil {
		ps.log.Warn("peer state", "peer", host, "err", err)
		return
	}
	if row.Unavailable || row.FailingSince != nil {
		// It is back: what waits for it goes now rather than after its
		// back-off. Noted first, so that an attempt failing from here on
		// (begun before it came back) is tried again at once, whatever
		// this rescheduling misses.
		ps.seenMu.Lock()
		ps.backAt[host] = time.Now()
		ps.seenMu.Unlock()
		base := ps.peers[host]
		ps.log.Info("peer is back", "peer", host)
		ps.peerBack(ctx, host, base, now)
	}
	ps.markSeen(host, now)
}

// BackSince reports whether host was seen back, after failing, since t: a
// delivery to it that was already under way then, and failed, is tried
// again at once rather than after its back-off.
func (ps *Transport) BackSince(host string, t time.Time) bool {
	ps.seenMu.Lock()
	defer ps.seenMu.Unlock()
	return ps.backAt[host].After(t)
}

// markSeen remembers when a peer, not failing, was last heard from;
// forgetSeen is called when a delivery to it fails, so that the next
// request from it is noticed at once.
func (ps *Transport) markSeen(host string, at time.Time) {
	ps.seenMu.Lock()
	ps.seen[host] = at
	ps.seenMu.Unlock()
}

func (ps *Transport) forgetSeen(host string) {
	ps.seenMu.Lock()
	delete(ps.seen, host)
	ps.seenMu.Unlock()
}

// Greet sends each peer a signed GET of its actor when this node
// starts: a peer that was queuing activities for this node while it was
// down sees it is back and delivers them now rather than after its
// back-off.
func (ps *Transport) Greet(ctx context.Context) {
	for host, base := range ps.peers {
		obj, err := ps.FetchJSON(ctx, base+"/actor")
		if err != nil {
			if ctx.Err() == nil {
				ps.log.Info("peer not reachable at start", "peer", host, "err", err)
			}
			continue
		}
		// Its region and routing key, as it says them now: the first
		// routing message from it is checked without a fetch.
		if _, err := ps.keepRouting(ctx, host, obj); err != nil {
			ps.log.Warn("peer's routing key", "peer", host, "err", err)
		}
	}
}

// HeardFrom notes a signed GET from a peer, checked with the key this node
// already has (never fetched: the peer may be fetching this node's key to
// check this node's own request): the peer is alive.
func (ps *Transport) HeardFrom(r *http.Request) {
	if r.Header.Get("Signature") == "" {
		return
	}
	p, err := sign.ParseHeader(r.Header.Get("Signature"))
	if err != nil || sign.RequireSigned(p, false) != nil || sign.CheckDate(r.Header.Get("Date"), time.Now(), ps.cfg.Skew) != nil {
		return
	}
	host, err := sign.KeyHost(p.KeyID)
	if err != nil || !ps.Allowed(host) {
		return
	}
	key, err := ps.keyFrom(r.Context(), p.KeyID, host, false, false)
	if err != nil || sign.Verify(r, key) != nil {
		return
	}
	ps.Saw(r.Context(), host)
}

// peerRouting is what this node knows of a peer for the routing plane:
// its region and its routing key.
type peerRouting struct {
	region string
	key    ed25519.PublicKey
}

// VerifyMessage checks that data sent on subject at time at, signed with
// keyID, was signed by a node this node knows and that this node is the
// one it must come from: the node at host when host is given, the node of
// region when region is given (this node itself included). It reports
// checked false when there is no key to check against (a coop that routes
// over NATS without federating: no peers); with peers, a signer that is
// not one of them, or not the node expected, does not sign validly. valid
// false is a signature that does not hold; err, a failure to check it (the
// peer's document could not be fetched).
func (ps *Transport) VerifyMessage(ctx context.Context, host, region, subject string, at time.Time, data []byte, keyID, signature string) (checked, valid bool, err error) {
	signer, err := sign.KeyHost(keyID)
	if err != nil {
		return true, false, nil
	}
	own := signer == ps.cfg.Host
	if !own && !ps.Allowed(signer) {
		return len(ps.peers) > 0, false, nil
	}
	if host != "" && !strings.EqualFold(host, signer) {
		return true, false, nil
	}
	base := ps.cfg.PublicURL
	if !own {
		base = ps.peers[signer]
	}
	if !strings.EqualFold(keyID, base+"/actor#routing-key") {
		return true, false, nil
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return true, false, nil
	}
	digest := sign.MessageDigest(subject, at, data)
	if own {
		priv, _, err := ps.keys.RoutingKey(ctx)
		if err != nil {
			return true, false, err
		}
		if region != "" && region != ps.cfg.Region {
			return true, false, nil
		}
		return true, ed25519.Verify(priv.Public().(ed25519.PublicKey), digest, sig), nil
	}
	p, err := ps.peerRouting(ctx, signer, false)
	if err != nil {
		return true, false, fmt.Errorf("federation: the routing key of %s: %w", signer, err)
	}
	if ed25519.Verify(p.key, digest, sig) && (region == "" || region == p.region) {
		return true, true, nil
	}
	// The peer may have a new key (or a region set anew): fetch it once
	// more, within bounds.
	if ps.mayRefetch(signer) {
		if p, err = ps.peerRouting(ctx, signer, true); err == nil && ed25519.Verify(p.key, digest, sig) &&
			(region == "" || region == p.region) {
			return true, true, nil
		}
	}
	return true, false, nil
}

// PeerRegion is the region of the peer node at host, as its actor says it.
func (ps *Transport) PeerRegion(ctx context.Context, host string) (string, error) {
	p, err := ps.peerRouting(ctx, strings.ToLower(host), false)
	if err != nil {
		return "", err
	}
	return p.region, nil
}

// peerRouting returns a peer's region and routing key: from memory, the
// database, or its actor document (refresh skips the first two).
func (ps *Transport) peerRouting(ctx context.Context, host string, refresh bool) (peerRouting, error) {
	if !refresh {
		ps.routingMu.Lock()
		p, ok := ps.peerRoutes[host]
		ps.routingMu.Unlock()
		if ok {
			return p, nil
		}
		var row peerRow
		if err := ps.db.WithContext(ctx).Where("host = ?", host).Limit(1).Find(&row).Error; err != nil {
			return peerRouting{}, fmt.Errorf("federation: peer %s: %w", host, err)
		}
		if row.Region != "" && row.RoutingKeyPEM != "" {
			if k, err := sign.ParseRoutingKey(row.RoutingKeyPEM); err == nil {
				p := peerRouting{region: row.Region, key: k}
				ps.cacheRouting(host, p)
				return p, nil
			}
		}
	}
	base, ok := ps.peers[host]
	if !ok {
		return peerRouting{}, fmt.Errorf("federation: %s is not a peer", host)
	}
	obj, err := ps.FetchJSON(ctx, base+"/actor")
	if err != nil {
		return peerRouting{}, err
	}
	return ps.keepRouting(ctx, host, obj)
}

// keepRouting reads a peer's region and routing key from its actor
// document and keeps them. Two peers may not claim one region: routing
// answers are believed by region.
func (ps *Transport) keepRouting(ctx context.Context, host string, obj map[string]any) (peerRouting, error) {
	base := ps.peers[host]
	if id, _ := obj["id"].(string); !strings.EqualFold(id, base+"/actor") {
		return peerRouting{}, fmt.Errorf("federation: the actor of %s is %q", host, id)
	}
	region, _ := obj["preferredUsername"].(string)
	if region == "" || len(region) > 64 {
		return peerRouting{}, fmt.Errorf("federation: the actor of %s names no region", host)
	}
	rk, _ := obj["coopnetRoutingKey"].(map[string]any)
	keyPEM, _ := rk["publicKeyPem"].(string)
	if id, _ := rk["id"].(string); !strings.EqualFold(id, base+"/actor#routing-key") || keyPEM == "" {
		return peerRouting{}, fmt.Errorf("federation: %s publishes no routing key (an older coopnet?)", host)
	}
	k, err := sign.ParseRoutingKey(keyPEM)
	if err != nil {
		return peerRouting{}, fmt.Errorf("federation: the routing key of %s: %w", host, err)
	}
	if region == ps.cfg.Region {
		return peerRouting{}, fmt.Errorf("federation: %s says it is region %s, this node's own", host, region)
	}
	var other int64
	if err := ps.db.WithContext(ctx).Model(&peerRow{}).Where("region = ? AND host <> ?", region, host).Count(&other).Error; err != nil {
		return peerRouting{}, err
	}
	if other > 0 {
		return peerRouting{}, fmt.Errorf("federation: %s says it is region %s, which another peer is already", host, region)
	}
	if err := ps.db.WithContext(ctx).Model(&peerRow{}).Where("host = ?", host).
		Updates(map[string]any{"region": region, "routing_key_pem": keyPEM}).Error; err != nil {
		return peerRouting{}, fmt.Errorf("federation: keep the routing key of %s: %w", host, err)
	}
	p := peerRouting{region: region, key: k}
	ps.cacheRouting(host, p)
	return p, nil
}

func (ps *Transport) cacheRouting(host string, p peerRouting) {
	ps.routingMu.Lock()
	ps.peerRoutes[host] = p
	ps.routingMu.Unlock()
}

// Outcome tracks whether a peer answers: one failing for longer than
// UnavailableAfter is marked unavailable (its deliveries wait at the
// longest back-off) until it answers or sends a signed request again.
func (ps *Transport) Outcome(ctx context.Context, host string, answered bool) {
	if _, ok := ps.peers[host]; !ok {
		return
	}
	ps.seenMu.Lock()
	healthy := ps.healthy[host]
	ps.healthy[host] = answered
	ps.seenMu.Unlock()
	if answered && healthy {
		return // known to be recorded as working: spare the database
	}
	if !answered {
		ps.forgetSeen(host)
	}
	db := ps.db.WithContext(context.WithoutCancel(ctx)).Model(&peerRow{}).Where("host = ?", host)
	now := time.Now().UTC()
	var err error
	if answered {
		err = db.Where("failing_since IS NOT NULL OR unavailable").
			Updates(map[string]any{"failing_since": nil, "unavailable": false}).Error
		if err != nil {
			ps.seenMu.Lock()
			ps.healthy[host] = false
			ps.seenMu.Unlock()
		}
	} else {
		err = db.Where("failing_since IS NULL").Update("failing_since", now).Error
		if err == nil {
			err = ps.db.WithContext(context.WithoutCancel(ctx)).Model(&peerRow{}).
				Where("host = ? AND NOT unavailable AND failing_since < ?", host, now.Add(-ps.cfg.Retry.UnavailableAfter)).
				Update("unavailable", true).Error
		}
	}
	if err != nil {
		ps.log.Warn("peer state", "peer", host, "err", err)
	}
}

// Post sends one signed POST and returns the status.
func (ps *Transport) Post(ctx context.Context, inbox string, body []byte) (int, error) {
	kp, err := ps.keys.Get(ctx, "node")
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, inbox, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", doc.MediaLD)
	req.Header.Set("Accept", doc.MediaActivity)
	req.Header.Set("User-Agent", ps.UserAgent())
	if err := sign.Request(req, kp, ps.cfg.PublicURL+"/actor"+"#main-key", body, time.Now()); err != nil {
		return 0, err
	}
	resp, err := ps.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// VerifyRequest checks the HTTP signature of r (whose body, for a POST, is
// body) and returns the signing peer's host: the keyId's host must be a
// peer (checked before anything is fetched), the Date within the skew, the
// Digest the body's, and the signature the key's; on a failed check the key
// is fetched again once.
func (ps *Transport) VerifyRequest(r *http.Request, body []byte) (string, error) {
	p, err := sign.ParseHeader(r.Header.Get("Signature"))
	if err != nil {
		return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
	}
	host, err := sign.KeyHost(p.KeyID)
	if err != nil {
		return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
	}
	if !ps.Allowed(host) {
		return "", apperr.New(apperr.Forbidden, "%s is not a peer of this node", host)
	}
	// Peers sign with their node's key: any other keyId would only make this
	// node fetch a document from the peer on a stranger's behalf.
	want := ps.peers[host] + "/actor#main-key"
	if !strings.EqualFold(p.KeyID, want) {
		return "", apperr.New(apperr.Unauthorised, "keyId %s is not %s, the key of the node %s", p.KeyID, want, host)
	}
	p.KeyID = want // as the caches know it, whatever the case sent
	post := r.Method == http.MethodPost
	if err := sign.RequireSigned(p, post); err != nil {
		return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
	}
	// The signed Host must be this node's: a request signed for another
	// node and replayed here is refused.
	if !strings.EqualFold(r.Host, ps.cfg.Host) {
		return "", apperr.New(apperr.Unauthorised, "the request was signed for host %s, not %s", r.Host, ps.cfg.Host)
	}
	if err := sign.CheckDate(r.Header.Get("Date"), time.Now(), ps.cfg.Skew); err != nil {
		return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
	}
	if post {
		if err := sign.CheckDigest(r.Header.Get("Digest"), body); err != nil {
			return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
		}
	}
	ctx := r.Context()
	key, err := ps.Key(ctx, p.KeyID, host, false)
	if err != nil {
		ps.log.Warn("peer key", "key_id", p.KeyID, "err", err)
		return "", apperr.New(apperr.Unauthorised, "the key %s could not be fetched", p.KeyID)
	}
	if err := sign.Verify(r, key); err != nil {
		// The peer may have a new key: fetch it once more, at most every
		// refetchEvery per peer, so that bad signatures cannot make this
		// node fetch keys without end.
		if !ps.mayRefetch(host) {
			return "", apperr.New(apperr.Unauthorised, "the signature does not verify")
		}
		if key, err = ps.Key(ctx, p.KeyID, host, true); err != nil || sign.Verify(r, key) != nil {
			return "", apperr.New(apperr.Unauthorised, "the signature does not verify")
		}
	}
	ps.Saw(ctx, host)
	return host, nil
}

// refetchEvery bounds how often a peer's key is fetched again because a
// signature did not verify with the one known.
const refetchEvery = 30 * time.Second

// mayRefetch reports whether host's key may be fetched again now, and if so
// records that it is.
func (ps *Transport) mayRefetch(host string) bool {
	ps.peerKeysMu.Lock()
	defer ps.peerKeysMu.Unlock()
	if ps.refetched == nil {
		ps.refetched = map[string]time.Time{}
	}
	if last, ok := ps.refetched[host]; ok && time.Since(last) < refetchEvery {
		return false
	}
	ps.refetched[host] = time.Now()
	return true
}

// ReadLimited reads at most max bytes of r, failing beyond.
func ReadLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, ErrTooLarge
	}
	return b, nil
}

// ErrTooLarge is ReadLimited's error for a body beyond its limit.
var ErrTooLarge = errors.New("body too large")

type outboxRow struct {
	ID            int64  `gorm:"primaryKey"`
	ActivityID    string `gorm:"column:activity_id"`
	Inbox         string
	Body          string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LeaseUntil    *time.Time
	LastStatus    int
	LastError     string
	CreatedAt     time.Time
	DoneAt        *time.Time
	// Type, ObjectID and ContextID say what the activity was about, once
	// its body is gone (see retention.go).
	Type      string
	ObjectID  string `gorm:"column:object_id"`
	ContextID string `gorm:"column:context_id"`
}

func (outboxRow) TableName() string { return "federation_outbox" }

// aboutOf is what an activity is about: its type, its object's id and
// that object's context or own object (the ticket of a comment or an
// intervention, the event of an invitation answered, the ticket of an
// offer accepted).
func aboutOf(activity map[string]any) (typ, object, context string) {
	typ, _ = activity["type"].(string)
	switch o := activity["object"].(type) {
	case string:
		object = o
	case map[string]any:
		object = doc.IDOf(o["id"])
		if context = doc.IDOf(o["context"]); context == "" {
			context = doc.IDOf(o["object"])
		}
	}
	return typ, object, context
}

// DefaultLease is how long a worker holds the deliveries it claimed before
// another may take them: short, and renewed every third of it while the
// worker still works on them (a batch may take a while at the client's
// timeout of 30 s a delivery), so that a row is never delivered by two
// workers at once unless one has died — and that a lease stranded by a
// connection to the database lost at the wrong moment (a claim committed
// whose answer never came back) holds its rows a minute, not minutes.
const DefaultLease = time.Minute

// Enqueue queues activity for each inbox inside tx: the caller's change
// and its federation commit together (save first, then publish). Queuing
// the same activity to the same inbox twice queues it once.
func (ps *Transport) Enqueue(ctx context.Context, tx *gorm.DB, activity map[string]any, inboxes []string) error {
	id, _ := activity["id"].(string)
	if id == "" {
		return fmt.Errorf("federation: an activity without id")
	}
	body, err := json.Marshal(activity)
	if err != nil {
		return fmt.Errorf("federation: encode %s: %w", id, err)
	}
	now := time.Now().UTC()
	typ, object, context := aboutOf(activity)
	rows := make([]outboxRow, 0, len(inboxes))
	for _, in := range inboxes {
		rows = append(rows, outboxRow{ActivityID: id, Inbox: in, Body: string(body), State: "pending",
			NextAttemptAt: now, CreatedAt: now, Type: typ, ObjectID: object, ContextID: context})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return fmt.Errorf("federation: queue %s: %w", id, err)
	}
	return nil
}

// PeerInboxes are the shared inboxes of every peer: coopnet nodes receive
// at their node actor's inbox.
func (ps *Transport) PeerInboxes() []string {
	out := make([]string, 0, len(ps.peers))
	for _, base := range ps.peers {
		out = append(out, base+"/actor/inbox")
	}
	return out
}

// Wake tells the delivery workers that work was queued (after a commit).
func (ps *Transport) Wake() { ps.wake.Poke() }

func (ps *Transport) DeliverLoop(ctx context.Context) {
	t := time.NewTicker(ps.cfg.Poll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			rows, err := ps.claim(ctx, claimBatch)
			if err != nil {
				if ctx.Err() == nil {
					ps.log.Error("delivery: claim", "err", err)
				}
				break
			}
			if len(rows) == 0 {
				break
			}
			batchStart := time.Now()
			stopRenew := ps.renewLeases(ctx, rows)
			var delivered, released []int64
			var statuses []int
			down := map[string]bool{} // peers that did not answer in this batch
			for _, row := range rows {
				host, _ := sign.KeyHost(row.Inbox)
				if down[host] {
					released = append(released, row.ID) // not tried: back to its schedule
					continue
				}
				ok, status := ps.deliver(ctx, row)
				switch {
				case ok:
					delivered, statuses = append(delivered, row.ID), append(statuses, status)
				case status == 0 || status >= 500 || status == http.StatusTooManyRequests:
					down[host] = true
				}
			}
			stopRenew()
			ps.recordDelivered(ctx, delivered, statuses)
			if len(released) > 0 {
				// Not now: the next claim would take them again at once
				// (unless the peer said it is back meanwhile).
				next := time.Now().UTC().Add(ps.backoff(1))
				for host := range down {
					if ps.BackSince(host, batchStart) {
						next = time.Now().UTC()
					}
				}
				if err := ps.untilRecorded(ctx, func(db *gorm.DB) error {
					return db.Exec("UPDATE federation_outbox SET lease_until = NULL, next_attempt_at = ? WHERE id IN ?",
						next, released).Error
				}); err != nil {
					ps.log.Warn("delivery: release", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ps.wake:
		case <-t.C:
		}
	}
}

// claimBatch is how many deliveries a worker leases at once: one
// statement for several, and the deliveries that worked recorded together.
const claimBatch = 8

// claim leases up to n due deliveries, in the outbox queue's one way.
func (ps *Transport) claim(ctx context.Context, n int) ([]outboxRow, error) {
	var rows []outboxRow
	if err := ps.outboxQ.Lease(ctx, n, ps.cfg.Lease, "id, activity_id, inbox, body, attempts, created_at", &rows); err != nil {
		return nil, fmt.Errorf("federation: claim deliveries: %w", err)
	}
	slices.SortFunc(rows, func(a, b outboxRow) int { return cmp.Compare(a.ID, b.ID) })
	return rows, nil
}

// recordDelivered marks deliveries that landed, in one statement per
// status. If the node dies before, they are delivered again after their
// lease: the peer stores an activity once.
func (ps *Transport) recordDelivered(ctx context.Context, ids []int64, statuses []int) {
	byStatus := map[int][]int64{}
	for i, id := range ids {
		byStatus[statuses[i]] = append(byStatus[statuses[i]], id)
	}
	now := time.Now().UTC()
	for status, ids := range byStatus {
		err := ps.untilRecorded(ctx, func(db *gorm.DB) error {
			return db.Exec(`UPDATE federation_outbox
			SET state = 'delivered', done_at = ?, last_error = '', last_status = ?, attempts = attempts + 1, lease_until = NULL
			WHERE id IN ?`, now, status, ids).Error
		})
		if err != nil {
			ps.log.Error("delivery: record deliveries", "count", len(ids), "err", err)
		}
	}
}

// deliver makes one attempt, signed afresh. A delivery that landed is
// reported (ok) for the caller to record; any other outcome is recorded
// here.
func (ps *Transport) deliver(ctx context.Context, row outboxRow) (ok bool, status int) {
	start := time.Now()
	status, err := ps.Post(ctx, row.Inbox, []byte(row.Body))
	ps.deliveryLatency.Observe(time.Since(start).Seconds())
	now := time.Now().UTC()
	host, _ := sign.KeyHost(row.Inbox)
	upd := map[string]any{"attempts": row.Attempts + 1, "last_status": status, "lease_until": nil}
	result := ""
	switch {
	case err == nil && status >= 200 && status < 300:
		result = "delivered"
	case err == nil && status == http.StatusGone:
		upd["state"], upd["done_at"], upd["last_error"] = "gone", now, "410 Gone"
		result = "gone"
	case err == nil && status >= 400 && status < 500 && status != http.StatusTooManyRequests &&
		status != http.StatusRequestTimeout:
		// Refused for good: retrying the same bytes would be refused again.
		upd["state"], upd["done_at"], upd["last_error"] = "failed", now, fmt.Sprintf("refused: %d", status)
		result = "refused"
	default:
		msg := fmt.Sprintf("status %d", status)
		if err != nil {
			msg = err.Error()
		}
		upd["last_error"] = queue.ErrorText(msg)
		if now.Sub(row.CreatedAt) > ps.cfg.Retry.GiveUpAfter {
			upd["state"], upd["done_at"] = "failed", now
			result = "expired"
		} else {
			next := now.Add(ps.backoff(row.Attempts + 1))
			if ps.BackSince(host, start) {
				// The peer said it is back while this attempt was under way
				// (it was starting): the rescheduling it caused missed this
				// row, leased then.
				next = now
			}
			upd["next_attempt_at"] = next
			result = "retry"
		}
	}
	ps.deliveries.WithLabelValues(result).Inc()
	ps.Outcome(ctx, host, result == "delivered" || result == "refused" || result == "gone")
	if result == "delivered" {
		return true, status
	}
	if err := ps.untilRecorded(ctx, func(db *gorm.DB) error {
		return db.Model(&outboxRow{}).Where("id = ?", row.ID).Updates(upd).Error
	}); err != nil {
		ps.log.Error("delivery: record outcome", "activity", row.ActivityID, "inbox", row.Inbox, "err", err)
	}
	ps.log.Info("delivery", "activity", row.ActivityID, "inbox", row.Inbox, "result", result, "status", status,
		"attempt", row.Attempts+1, "err", upd["last_error"])
	return false, status
}

// renewLeases keeps the lease of rows while their worker delivers them,
// until the returned stop is called.
func (ps *Transport) renewLeases(ctx context.Context, rows []outboxRow) (stop func()) {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(ps.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				// Only rows still leased: one recorded meanwhile has none.
				if err := ps.db.WithContext(ctx).Exec("UPDATE federation_outbox SET lease_until = ? WHERE id IN ? AND lease_until IS NOT NULL",
					time.Now().UTC().Add(ps.cfg.Lease), ids).Error; err != nil {
					ps.log.Warn("delivery: renew leases", "err", err)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// recordFor bounds how long a worker keeps trying to record what became
// of its deliveries while the database does not answer; past that, their
// leases run out and they are delivered again (the peer stores an
// activity once).
const recordFor = 2 * time.Minute

// untilRecorded runs f on the database until it works: at once, then
// again with growing waits while the database is unavailable (a broken
// connection, a restart), for up to recordFor, or until the node stops.
// A delivery that landed is then recorded as soon as the database is
// back, rather than delivered again a lease later.
func (ps *Transport) untilRecorded(ctx context.Context, f func(db *gorm.DB) error) error {
	db := ps.db.WithContext(context.WithoutCancel(ctx))
	deadline := time.Now().Add(recordFor)
	wait := 50 * time.Millisecond
	for {
		err := storage.Retry(func() error { return f(db) })
		if err == nil || !storage.IsUnavailable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// backoff is the wait before attempt n+1: First·2ⁿ⁻¹ capped at Max, ±25%.
func (ps *Transport) backoff(n int) time.Duration {
	return queue.Backoff{First: ps.cfg.Retry.First, Max: ps.cfg.Retry.Max}.After(n)
}

// QueueDepth is how many deliveries wait.
func (ps *Transport) QueueDepth(ctx context.Context) (int64, error) {
	var n int64
	err := ps.db.WithContext(ctx).Model(&outboxRow{}).Where("state = 'pending'").Count(&n).Error
	return n, err
}

// DeliveryStates counts the outbox's rows by state (tests, operators).
func (ps *Transport) DeliveryStates(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		State string
		N     int64
	}
	if err := ps.db.WithContext(ctx).Model(&outboxRow{}).Select("state, COUNT(*) AS n").Group("state").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[strings.TrimSpace(r.State)] = r.N
	}
	return out, nil
}

// likePrefix escapes LIKE's wildcards in a URL prefix.
func likePrefix(s string) string {
	return strings.NewReplacer("%", `\%`, "_", `\_`).Replace(s)
}

// peerBack reschedules at once what waits for a peer that was failing and
// is heard from again, rather than after its back-off.
func (ps *Transport) peerBack(ctx context.Context, host, base string, now time.Time) {
	// Deliveries being recorded meanwhile may lock the same rows in
	// another order: run again on a deadlock.
	if err := storage.Retry(func() error {
		return ps.db.WithContext(ctx).Exec("UPDATE federation_outbox SET next_attempt_at = ? WHERE state = 'pending' AND inbox LIKE ? ESCAPE '\\'",
			now, likePrefix(base)+"%").Error
	}); err != nil {
		ps.log.Warn("peer back: reschedule", "peer", host, "err", err)
	}
	ps.wake.Poke()
}

// Recipients lists, from the records of deliveries, what this node sent
// other nodes about the objects ids (tickets, their comments and
// interventions, by ActivityPub id), oldest first.
func (ps *Transport) Recipients(ctx context.Context, ids []string) ([]privacy.Delivery, error) {
	tx := ps.db.Conn(ctx)
	out := []privacy.Delivery{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		Inbox, Type, ObjectID, ContextID, State string
		CreatedAt                               time.Time
		DoneAt                                  *time.Time
		Attempts                                int
		HasBody                                 bool
	}
	if err := tx.WithContext(ctx).Raw(`SELECT inbox, type, object_id, context_id, state, created_at, done_at, attempts,
		body <> '' AS has_body FROM federation_outbox WHERE object_id IN ? OR context_id IN ? ORDER BY created_at, id`, ids, ids).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("federation: deliveries: %w", err)
	}
	for _, r := range rows {
		var done *time.Time
		if r.DoneAt != nil {
			d := r.DoneAt.UTC()
			done = &d
		}
		out = append(out, privacy.Delivery{Node: hostOfURL(r.Inbox), Type: r.Type, Object: r.ObjectID, Context: r.ContextID, State: r.State,
			QueuedAt: r.CreatedAt.UTC(), DoneAt: done, BodyKept: r.HasBody, Attempts: r.Attempts})
	}
	return out, nil
}

// ClientErased, inside the transaction ctx carries, which erased a
// client's data, gives up the deliveries still due about its objects ids
// and empties the bodies of all of them; it returns the inboxes that
// received one of its tickets (sorted), to tell them to erase their copy.
func (ps *Transport) ClientErased(ctx context.Context, tickets, ids []string, now time.Time) ([]string, error) {
	tx := ps.db.Conn(ctx)
	var inboxes []string
	if err := tx.Model(&outboxRow{}).Distinct("inbox").Where("object_id IN ? OR context_id IN ?", tickets, tickets).
		Pluck("inbox", &inboxes).Error; err != nil {
		return nil, fmt.Errorf("federation: who received the client's tickets: %w", err)
	}
	if err := tx.Exec(`UPDATE federation_outbox SET state = 'failed', last_error = 'erased: the client''s data was erased', done_at = ?,
		lease_until = NULL WHERE state = 'pending' AND (object_id IN ? OR context_id IN ?)`, now, ids, ids).Error; err != nil {
		return nil, fmt.Errorf("federation: give up deliveries: %w", err)
	}
	if err := tx.Exec(`UPDATE federation_outbox SET body = '', body_purged_at = ? WHERE body <> '' AND (object_id IN ? OR context_id IN ?)`,
		now, ids, ids).Error; err != nil {
		return nil, fmt.Errorf("federation: empty deliveries: %w", err)
	}
	sort.Strings(inboxes)
	return inboxes, nil
}

// PurgeSteps are the statements that purge the outbox (see
// federation.Service.PurgeActivities): bodies of deliveries done before
// bodyBefore emptied, rows done before recordBefore deleted, at most batch
// a statement: the outbox's own SQL, run by the federation with the
// inbox's under its one writer (see federation.Service.inboxWriting).
func PurgeSteps(now, bodyBefore, recordBefore time.Time, batch int) (empty, remove storage.Stmt) {
	return storage.Stmt{SQL: `UPDATE federation_outbox SET body = '', body_purged_at = ? WHERE id IN (SELECT id FROM federation_outbox
			WHERE state <> 'pending' AND body_purged_at IS NULL AND done_at < ? LIMIT ?)`, Args: []any{now.UTC(), bodyBefore, batch}},
		storage.Stmt{SQL: `DELETE FROM federation_outbox WHERE id IN (SELECT id FROM federation_outbox
			WHERE state <> 'pending' AND done_at < ? LIMIT ?)`, Args: []any{recordBefore, batch}}
}

// hostOfURL is the lower-cased host of a URL.
func hostOfURL(u string) string {
	h, _ := sign.KeyHost(u)
	return h
}
