// Package federation is coopnet's ActivityPub side: the node's and its
// members' actors, WebFinger and NodeInfo, the signed inbox and the durable
// delivery queue between regional nodes.
//
// The federation is closed: only the peer nodes listed in the config are
// heard, and each is identified by the host of the key that signed its
// request, checked before anything is fetched. Every activity received is
// stored raw under its id and answered 202, then applied once by a worker;
// every activity sent is a row of a durable outbox, delivered with
// back-off until it lands, is refused for good, or two days have passed.
//
// go-fed (v1.0.0) provides the vocabulary and its checks (vocab.go), and
// go-fed/httpsig the signatures; coopnet does its own inbox and delivery,
// as its pub package would do both synchronously and without retry.
package federation

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// Config is what federation needs to know about its node.
type Config struct {
	Region    string
	PublicURL string   // base of every ActivityPub id, without a trailing slash
	Peers     []string // public URLs of the peer nodes
	// Skew is how far a signed request's Date may be from this node's
	// clock; 0 means one hour, as Mastodon.
	Skew time.Duration
	// Retry tunes delivery; zero values take the defaults.
	Retry RetryPolicy
	// Workers is how many deliveries run at once; 0 means 4.
	Workers int
	// Poll is how often the workers look for due work when nothing wakes
	// them; 0 means one second.
	Poll time.Duration
	// Version is the software version NodeInfo shows.
	Version string
	// KeySecret, when set, encrypts the actors' private keys in the
	// database; every replica of the node needs the same.
	KeySecret []byte
	// KeySecretFile names where KeySecret was read, for errors.
	KeySecretFile string
	// Lease is how long a delivery worker holds what it claimed (renewed
	// while it works on it); 0 means DefaultLease.
	Lease time.Duration
	// BodyRetention and RecordRetention: how long the raw body of an
	// activity received or sent is kept once it is no longer needed, and
	// how long the rest of its record; 0 means the defaults (see
	// PurgeActivities).
	BodyRetention, RecordRetention time.Duration
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

// Service is the federation of one node.
type Service struct {
	cfg       Config
	log       *slog.Logger
	db        *storage.DB
	members   *members.Service
	directory *directory.Service
	tickets   *tickets.Service  // nil until Work
	clients   *clients.Service  // nil until Work
	planning  *planning.Service // nil until Work
	keys      *keyStore
	client    *http.Client
	host      string            // this node's host[:port]
	peers     map[string]string // allowed host → base URL
	metrics   *metrics

	wake      queue.Signal // deliveries queued
	inboxWake queue.Signal // activities received
	outboxQ   *queue.Queue // deliveries, leased
	inboxQ    *queue.Queue // activities, claimed in the transaction that applies them
	stop      context.CancelFunc
	wg        sync.WaitGroup

	// inboxWrites, on SQLite, queues the inbox's two writers (storing what
	// arrives, applying it) in the process rather than on SQLite's busy
	// timeout, whose sleeps left a busy inbox mostly idle.
	inboxWrites sync.Mutex

	seenMu  sync.Mutex
	seen    map[string]time.Time // peer host → last time heard from while not failing
	healthy map[string]bool      // peer host → its last delivery worked and that is recorded
	backAt  map[string]time.Time // peer host → when it was last seen back after failing

	// timeWaiters is set when a received activity waits on time alone, so
	// that the next applied batch makes it due again.
	timeWaiters atomic.Bool

	// eraseCopy erases this node's copy of another region's ticket (see
	// SetEraser).
	eraseCopy func(ctx context.Context, apID string) error

	// routingMu guards the node's routing key and what it knows of its
	// peers' (see messages.go).
	routingMu   sync.Mutex
	routingPriv ed25519.PrivateKey
	routingPub  string
	peerRoutes  map[string]peerRouting

	peerKeysMu sync.Mutex
	peerKeys   map[string]*rsa.PublicKey // keyId → key, as fetched (also kept in federation_peers)
	refetched  map[string]time.Time      // peer host → when its key was last fetched again after a failed check
}

// New returns the federation of a node. cfg.PublicURL and cfg.Peers must
// have been validated as http(s) URLs.
func New(db *storage.DB, ms *members.Service, dir *directory.Service, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("federation: public URL %q is not a URL", cfg.PublicURL)
	}
	if cfg.Skew == 0 {
		cfg.Skew = time.Hour
	}
	r := &cfg.Retry
	if r.First == 0 {
		r.First = DefaultRetry.First
	}
	if r.Max == 0 {
		r.Max = DefaultRetry.Max
	}
	if r.GiveUpAfter == 0 {
		r.GiveUpAfter = DefaultRetry.GiveUpAfter
	}
	if r.UnavailableAfter == 0 {
		r.UnavailableAfter = DefaultRetry.UnavailableAfter
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.BodyRetention <= 0 {
		cfg.BodyRetention = DefaultBodyRetention
	}
	if cfg.RecordRetention <= 0 {
		cfg.RecordRetention = DefaultRecordRetention
	}
	if cfg.RecordRetention < cfg.BodyRetention {
		return nil, fmt.Errorf("federation: the record retention (%s) is shorter than the body retention (%s)", cfg.RecordRetention, cfg.BodyRetention)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	client := &http.Client{Timeout: 30 * time.Second,
		// A peer is a URL of the config: never follow a redirect elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	keys, err := newKeyStore(db, keyBits, cfg.KeySecret)
	if keys != nil {
		keys.secretFile = cfg.KeySecretFile
	}
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: log.With("component", "federation"), db: db, members: ms, directory: dir,
		keys: keys, client: client, host: strings.ToLower(u.Host), peers: map[string]string{},
		wake: queue.NewSignal(), inboxWake: queue.NewSignal(), peerKeys: map[string]*rsa.PublicKey{},
		seen: map[string]time.Time{}, healthy: map[string]bool{}, backAt: map[string]time.Time{}, peerRoutes: map[string]peerRouting{}}
	for _, p := range cfg.Peers {
		pu, err := url.Parse(strings.TrimRight(p, "/"))
		if err != nil || pu.Host == "" {
			return nil, fmt.Errorf("federation: peer %q is not a URL", p)
		}
		h := strings.ToLower(pu.Host)
		if h == s.host {
			continue // a node's own URL in its peer list is harmless
		}
		s.peers[h] = strings.TrimRight(p, "/")
	}
	s.metrics = newMetrics(reg, s)
	s.outboxQ = queue.New(db, reg, queue.Spec{Topic: "federation_outbox", Table: "federation_outbox",
		Due: "state = 'pending' AND next_attempt_at <= ?", Waiting: "state = 'pending' AND next_attempt_at > ?", Leases: true,
		Dead: "state = 'failed'", Order: "next_attempt_at, id", What: "inbox", Error: "last_error", At: "COALESCE(done_at, created_at)"})
	s.inboxQ = queue.New(db, reg, queue.Spec{Topic: "federation_inbox", Table: "federation_inbox",
		Due:     "state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
		Waiting: "state = 'pending' AND next_attempt_at > ?", Dead: "state = 'failed'", Order: "id",
		What: "type", Error: "last_error", At: "COALESCE(processed_at, received_at)"})
	return s, nil
}

// Queues are the federation's durable queues: its outbox (deliveries to
// peers) and its inbox (activities received, to apply).
func (s *Service) Queues() []*queue.Queue { return []*queue.Queue{s.outboxQ, s.inboxQ} }

// NodeActor is the id of this node's actor.
func (s *Service) NodeActor() string { return s.cfg.PublicURL + "/actor" }

// MemberActor is the id of a member's actor.
func (s *Service) MemberActor(handle string) string {
	return s.cfg.PublicURL + "/members/" + url.PathEscape(handle)
}

// Start runs the delivery and inbox workers until Stop, and queues this
// node's directory to each peer that has not had it yet.
func (s *Service) Start(ctx context.Context) error {
	if _, err := s.keys.get(ctx, "node"); err != nil {
		return err
	}
	if _, _, err := s.routingKey(ctx); err != nil {
		return err
	}
	if err := s.keys.sealAll(ctx); err != nil {
		return err
	}
	if err := s.ensurePeers(ctx); err != nil {
		return err
	}
	if err := s.announceDirectory(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	s.timeWaiters.Store(true) // some may wait since before a restart
	for i := 0; i < s.cfg.Workers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.deliverLoop(ctx)
		}()
	}
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		s.inboxLoop(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.retentionLoop(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.greetPeers(ctx)
	}()
	return nil
}

// Stop stops the workers and waits for them: a delivery in flight ends
// (its row stays leased and is retried after the lease).
func (s *Service) Stop() {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
}

// readLimited reads at most max bytes of r, failing beyond.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errTooLarge
	}
	return b, nil
}

var errTooLarge = errors.New("body too large")
