// Package routing finds the right member for a forwarded job, in any
// region, and carries the offer to them and their answer back.
//
// The node where a ticket was taken in (its origin) tracks the routing: it
// asks every region over NATS who can do the job (scatter-gather, a queue
// group per region so that a region's replicas answer once), ranks the
// candidates with one cost function, and offers the job to the best one
// through JetStream, durably: an offer to a region whose node is down waits
// for it. The member's node keeps the offer in their inbox; an acceptance
// goes back to the origin as a request, and the origin — the only authority
// on its ticket — gives the job to exactly one member. A declined or
// expired offer passes to the next candidate; when there is none, the ticket
// is unroutable, with the reason.
//
// Every state change is saved first and announced afterwards, through an
// outbox table published with the row's id as Nats-Msg-Id: nothing is lost
// when the process or NATS stops, nothing is delivered twice.
package routing

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/score"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// Defaults of Config.
const (
	DefaultOfferTTL = 48 * time.Hour
	// MaxOfferTTL is the longest an offer may last (COOPNET_OFFER_TTL at
	// most): a member's node refuses an offer that says it lasts longer.
	MaxOfferTTL = member.MaxOfferTTL
	// DefaultSkew is how far the time a request-reply message was signed
	// may be from this node's clock.
	DefaultSkew         = time.Hour
	DefaultGatherWindow = 300 * time.Millisecond
	DefaultHorizonDays  = score.DefaultHorizonDays
	DefaultMinLevel     = 1
	// searchWorkers run searches side by side: a search mostly waits for
	// the regions' answers.
	searchWorkers = 8
)

// Config tunes routing on one node.
type Config struct {
	Region       string
	Weights      score.Weights
	OfferTTL     time.Duration // how long a member has to answer an offer
	GatherWindow time.Duration // how long to wait for regions' answers
	// Expect, when set, names the regions a search waits for (tests: the
	// regions the test has running), instead of those heard from lately:
	// a search stops as soon as each has answered, and the window only
	// bounds the wait for one that does not.
	Expect      func() []string
	HorizonDays int // capacity is counted over this many days ahead
	// Skew is how far the signing time of a question, an answer or a
	// request may be from this node's clock (the federation's signature
	// skew); 0 means DefaultSkew.
	Skew time.Duration
	// Tick is how often the workers look for due work (expired offers,
	// messages to publish) besides being woken up; 0 means one second.
	Tick time.Duration
	// OnOfferStored, when set, is called after an offer to a member of this
	// node is stored pending, for them to answer (benchmarks measure routing
	// latency with it; an offer declined on arrival is not counted).
	OnOfferStored func(o *member.Offer)
}

// Service is the routing domain of one node.
type Service struct {
	db      *storage.DB
	bus     *bus.Bus
	members *members.Service
	clients *clients.Service
	tickets *tickets.Service
	skills  *skills.Catalog
	cfg     Config
	log     *slog.Logger
	m       *metrics
	relay   *relay.Relay // signed messages, the outbox, presence

	kickRoute queue.Signal
	routingsQ *queue.Queue // routings to search, leased by the search workers
	handoff   chan handoff

	replyPrefix string // the subject prefix of answers to this node's questions
	sweepAfter  string // where sweepCancelled's next batch starts (its loop's alone)
	waitMu      sync.Mutex
	waiting     map[string]chan *nats.Msg // question id → its gather

	member *member.Service // the member's side: offers to this node's members

	subs    []*nats.Subscription
	consume jetstream.ConsumeContext
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New returns the routing service; Start connects it to the bus.
func New(db *storage.DB, b *bus.Bus, ms *members.Service, cs *clients.Service, ts *tickets.Service,
	catalog *skills.Catalog, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Service {
	if cfg.Weights == (score.Weights{}) {
		cfg.Weights = score.DefaultWeights
	}
	if cfg.OfferTTL <= 0 {
		cfg.OfferTTL = DefaultOfferTTL
	}
	if cfg.GatherWindow <= 0 {
		cfg.GatherWindow = DefaultGatherWindow
	}
	if cfg.HorizonDays <= 0 {
		cfg.HorizonDays = DefaultHorizonDays
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	s := &Service{db: db, bus: b, members: ms, clients: cs, tickets: ts, skills: catalog, cfg: cfg, log: log,
		kickRoute: queue.NewSignal(), handoff: make(chan handoff, 256),
		waiting: map[string]chan *nats.Msg{},
		relay:   relay.New(db, b, relay.Config{Region: cfg.Region, Skew: cfg.Skew, Tick: cfg.Tick}, log, reg)}
	s.member = member.New(db, s.relay, ms, ts, member.Config{Region: cfg.Region, Weights: cfg.Weights, HorizonDays: cfg.HorizonDays,
		Skew: cfg.Skew, OnOfferStored: cfg.OnOfferStored}, log, reg)
	s.member.SetOrigin(origin{s})
	s.m = newMetrics(reg)
	s.routingsQ = queue.New(db, reg, queue.Spec{Topic: "routings", Table: "routings", Due: "state = 'pending'", Leases: true,
		Order: "created_at", What: "ticket_id", Error: "reason", At: "updated_at"})
	return s
}

type metrics struct {
	forwards   prometheus.Counter
	offers     prometheus.Counter
	accepts    prometheus.Counter
	releases   prometheus.Counter
	declines   prometheus.Counter
	expired    prometheus.Counter
	unroutable *prometheus.CounterVec
	gather     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		forwards:   prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_forwards_total", Help: "Tickets forwarded to the network."}),
		offers:     prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_offers_total", Help: "Offers made by this node."}),
		accepts:    prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_accepts_total", Help: "Offers accepted on tickets of this node."}),
		releases:   prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_releases_total", Help: "Jobs of this node given back by their assignee."}),
		declines:   prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_declines_total", Help: "Offers declined on tickets of this node."}),
		expired:    prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_offers_expired_total", Help: "Offers that expired unanswered."}),
		unroutable: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_routing_unroutable_total", Help: "Tickets found unroutable, by reason."}, []string{"reason"}),
		gather:     prometheus.NewHistogram(prometheus.HistogramOpts{Name: "coopnet_routing_gather_seconds", Help: "Time to gather candidates from the regions.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
	}
	if reg != nil {
		reg.MustRegister(m.forwards, m.offers, m.accepts, m.releases, m.declines, m.expired, m.unroutable, m.gather)
	}
	return m
}

// Queues are the routing's durable queues: the routings to search and the
// outbox of messages to publish.
func (s *Service) Queues() []*queue.Queue { return []*queue.Queue{s.routingsQ, s.relay.Queue()} }

// Member is the member's side of the routing on this node: the offers to
// its members and their answers.
func (s *Service) Member() *member.Service { return s.member }

// LiveRegions is how many regions (this one included) this node has heard
// from lately: how many answers a search waits for.
func (s *Service) LiveRegions() int { return s.relay.LiveRegions() }

// SetSigner makes the node sign what it publishes and check what it
// receives (see relay.Signer). Set once, before Start.
func (s *Service) SetSigner(sg relay.Signer) { s.relay.SetSigner(sg) }

// Start subscribes to the routing plane and starts the workers. It returns
// once the subscriptions are in place.
func (s *Service) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	if err := s.relay.Start(ctx); err != nil {
		s.cancel()
		return err
	}
	if err := s.subscribe(ctx); err != nil {
		s.cancel()
		s.relay.Stop()
		return err
	}
	s.relay.Hello()
	loops := []func(context.Context){s.expiryLoop, s.member.LeaversLoop}
	for range searchWorkers {
		loops = append(loops, s.routeLoop)
	}
	for _, f := range loops {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			f(ctx)
		}()
	}
	return nil
}

// Stop stops the workers and the subscriptions; work in progress stays in
// the database and resumes at the next start.
func (s *Service) Stop() {
	s.relay.Halt()
	if s.cancel != nil {
		s.cancel()
	}
	if s.consume != nil {
		s.consume.Stop()
	}
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.wg.Wait()
	s.relay.Stop()
}

// HorizonDays is how many days ahead capacity and bookings are counted.
func (s *Service) HorizonDays() int { return s.cfg.HorizonDays }
