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
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coopnet/coopnet/federation/inbox"
	"github.com/coopnet/coopnet/federation/sign"
	"github.com/coopnet/coopnet/federation/transport"
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
	// while it works on it); 0 means transport.DefaultLease.
	Lease time.Duration
	// BodyRetention and RecordRetention: how long the raw body of an
	// activity received or sent is kept once it is no longer needed, and
	// how long the rest of its record; 0 means the defaults (see
	// PurgeActivities).
	BodyRetention, RecordRetention time.Duration
}

// RetryPolicy is how a delivery is retried (see transport.RetryPolicy).
type RetryPolicy = transport.RetryPolicy

// DefaultRetry is about two days of retries, as Mastodon.
var DefaultRetry = transport.DefaultRetry

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
	keys      *sign.Store
	client    *http.Client
	host      string               // this node's host[:port]
	peers     map[string]string    // allowed host → base URL
	transport *transport.Transport // talking to them
	metrics   *metrics

	inbox *inbox.Inbox // activities received, to apply
	stop  context.CancelFunc
	wg    sync.WaitGroup

	// eraseCopy erases this node's copy of another region's ticket (see
	// SetEraser).
	eraseCopy func(ctx context.Context, apID string) error
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
		cfg.Lease = transport.DefaultLease
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
	keys, err := sign.NewStore(db, sign.KeyBits, cfg.KeySecret)
	if keys != nil {
		keys.SecretFile = cfg.KeySecretFile
	}
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: log.With("component", "federation"), db: db, members: ms, directory: dir,
		keys: keys, client: client, host: strings.ToLower(u.Host), peers: map[string]string{}}
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
	s.metrics = newMetrics(reg)
	s.transport = transport.New(db, keys, client, s.peers, transport.Config{PublicURL: cfg.PublicURL, Host: s.host, Region: cfg.Region,
		Version: cfg.Version, Skew: cfg.Skew, Retry: cfg.Retry, Lease: cfg.Lease, Poll: cfg.Poll}, s.log, reg)
	s.inbox = inbox.New(db, cfg.Poll, s.log, reg, applier{s}, s.transport.Wake)
	return s, nil
}

// Queues are the federation's durable queues: its outbox (deliveries to
// peers) and its inbox (activities received, to apply).
func (s *Service) Queues() []*queue.Queue {
	return []*queue.Queue{s.transport.Queue(), s.inbox.Queue()}
}

// NodeActor is the id of this node's actor.
func (s *Service) NodeActor() string { return s.cfg.PublicURL + "/actor" }

// MemberActor is the id of a member's actor.
func (s *Service) MemberActor(handle string) string {
	return s.cfg.PublicURL + "/members/" + url.PathEscape(handle)
}

// Start runs the delivery and inbox workers until Stop, and queues this
// node's directory to each peer that has not had it yet.
func (s *Service) Start(ctx context.Context) error {
	if _, err := s.keys.Get(ctx, "node"); err != nil {
		return err
	}
	if _, _, err := s.keys.RoutingKey(ctx); err != nil {
		return err
	}
	if err := s.keys.SealAll(ctx); err != nil {
		return err
	}
	if err := s.transport.Ensure(ctx); err != nil {
		return err
	}
	if err := s.announceDirectory(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	for i := 0; i < s.cfg.Workers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.transport.DeliverLoop(ctx)
		}()
	}
	if s.tickets != nil {
		s.tickets.StartFetching(s.fetchFile)
	}
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		s.inbox.Loop(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.retentionLoop(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.transport.Greet(ctx)
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
	if s.tickets != nil {
		s.tickets.StopFetching()
	}
}

// PeerNodes lists the other regions' nodes this node knows, by region (the
// login page points a member of another region to theirs).
func (s *Service) PeerNodes(ctx context.Context) ([]transport.PeerNode, error) {
	return s.transport.PeerNodes(ctx)
}
