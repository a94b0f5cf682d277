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
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// Defaults of Config.
const (
	DefaultOfferTTL = 48 * time.Hour
	// MaxOfferTTL is the longest an offer may last (COOPNET_OFFER_TTL at
	// most): a member's node refuses an offer that says it lasts longer.
	MaxOfferTTL = 30 * 24 * time.Hour
	// DefaultSkew is how far the time a request-reply message was signed
	// may be from this node's clock.
	DefaultSkew         = time.Hour
	DefaultGatherWindow = 300 * time.Millisecond
	DefaultHorizonDays  = 14
	DefaultMinLevel     = 1
	acceptTimeout       = 5 * time.Second
	presenceEvery       = 5 * time.Second
	presenceTTL         = 3 * presenceEvery
	// presenceSettle is how long after its start a node takes to hear the
	// other regions, which answer its first presence at once.
	presenceSettle = time.Second
	// searchWorkers run searches side by side: a search mostly waits for
	// the regions' answers.
	searchWorkers = 8
	// handlerPool bounds the questions and job messages handled at once.
	handlerPool = 16
)

// Config tunes routing on one node.
type Config struct {
	Region       string
	Weights      Weights
	OfferTTL     time.Duration // how long a member has to answer an offer
	GatherWindow time.Duration // how long to wait for regions' answers
	HorizonDays  int           // capacity is counted over this many days ahead
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
	OnOfferStored func(o *Offer)
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
	signer  Signer // nil: requests neither signed nor checked

	kickRoute  queue.Signal
	kickOutbox queue.Signal
	routingsQ  *queue.Queue // routings to search, leased by the search workers
	outboxQ    *queue.Queue // messages to publish to JetStream
	handoff    chan handoff

	presMu   sync.Mutex
	presence map[string]time.Time
	started  time.Time // when Start was called
	// reconnected is when NATS last came back (unix nanoseconds): like a
	// start, the regions' presence is not known again at once.
	reconnected atomic.Int64

	holdMu    sync.Mutex
	holdCache map[string]cachedHolders

	replyPrefix string // the subject prefix of answers to this node's questions
	sweepAfter  string // where sweepCancelled's next batch starts (its loop's alone)
	waitMu      sync.Mutex
	waiting     map[string]chan *nats.Msg // question id → its gather

	book book          // members' booked and routed minutes, for answering questions
	pool chan struct{} // bounds the handlers of questions and jobs running at once

	sentMu  sync.Mutex
	sent    []string // outbox rows published, to delete in one statement
	stopMu  sync.Mutex
	stopped bool

	subs    []*nats.Subscription
	consume jetstream.ConsumeContext
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New returns the routing service; Start connects it to the bus.
func New(db *storage.DB, b *bus.Bus, ms *members.Service, cs *clients.Service, ts *tickets.Service,
	catalog *skills.Catalog, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Service {
	if cfg.Weights == (Weights{}) {
		cfg.Weights = DefaultWeights
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
		kickRoute: queue.NewSignal(), kickOutbox: queue.NewSignal(), handoff: make(chan handoff, 256),
		presence: map[string]time.Time{}, holdCache: map[string]cachedHolders{}, waiting: map[string]chan *nats.Msg{},
		pool: make(chan struct{}, handlerPool)}
	s.book.s = s
	s.m = newMetrics(reg, s)
	s.routingsQ = queue.New(db, reg, queue.Spec{Topic: "routings", Table: "routings", Due: "state = 'pending'", Leases: true,
		Order: "created_at", What: "ticket_id", Error: "reason", At: "updated_at"})
	s.outboxQ = queue.New(db, reg, queue.Spec{Topic: "bus_outbox", Table: "bus_outbox", Due: "next_attempt_at <= ?",
		Waiting: "next_attempt_at > ?", Order: "created_at, id", What: "subject", Error: "''", At: "created_at"})
	return s
}

type metrics struct {
	forwards   prometheus.Counter
	offers     prometheus.Counter
	accepts    prometheus.Counter
	releases   prometheus.Counter
	declines   prometheus.Counter
	expired    prometheus.Counter
	superseded prometheus.Counter
	unroutable *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	gather     prometheus.Histogram
	published  prometheus.Counter
	pubErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	m := &metrics{
		forwards:   prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_forwards_total", Help: "Tickets forwarded to the network."}),
		offers:     prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_offers_total", Help: "Offers made by this node."}),
		accepts:    prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_accepts_total", Help: "Offers accepted on tickets of this node."}),
		releases:   prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_releases_total", Help: "Jobs of this node given back by their assignee."}),
		declines:   prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_declines_total", Help: "Offers declined on tickets of this node."}),
		expired:    prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_offers_expired_total", Help: "Offers that expired unanswered."}),
		superseded: prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_offers_superseded_total", Help: "Pending offers to this node's members given up for another job."}),
		unroutable: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_routing_unroutable_total", Help: "Tickets found unroutable, by reason."}, []string{"reason"}),
		dropped:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_routing_dropped_messages_total", Help: "Malformed or foreign messages dropped, by kind."}, []string{"kind"}),
		gather:     prometheus.NewHistogram(prometheus.HistogramOpts{Name: "coopnet_routing_gather_seconds", Help: "Time to gather candidates from the regions.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
		published:  prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_bus_published_total", Help: "Outbox messages published to JetStream."}),
		pubErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_bus_publish_errors_total", Help: "Failed attempts to publish outbox messages."}),
	}
	if reg != nil {
		reg.MustRegister(m.forwards, m.offers, m.accepts, m.releases, m.declines, m.expired, m.superseded, m.unroutable, m.dropped, m.gather,
			m.published, m.pubErrors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "coopnet_nats_connected", Help: "1 when the NATS connection is up."},
				func() float64 {
					if s.bus != nil && s.bus.Connected() {
						return 1
					}
					return 0
				}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "coopnet_bus_outbox_pending", Help: "Messages waiting in the outbox."},
				func() float64 {
					var n int64
					s.db.Model(&outboxRow{}).Count(&n)
					return float64(n)
				}),
		)
	}
	return m
}

// Queues are the routing's durable queues: the routings to search and the
// outbox of messages to publish.
func (s *Service) Queues() []*queue.Queue { return []*queue.Queue{s.routingsQ, s.outboxQ} }

// Start subscribes to the routing plane and starts the workers. It returns
// once the subscriptions are in place.
func (s *Service) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.started = time.Now()
	if err := s.subscribe(ctx); err != nil {
		s.cancel()
		return err
	}
	s.publishPresence(true)
	loops := []func(context.Context){s.expiryLoop, s.outboxLoop, s.presenceLoop, s.leaversLoop}
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
	s.stopMu.Lock()
	s.stopped = true
	s.stopMu.Unlock()
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
}
