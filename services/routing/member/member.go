// Package member is the member's side of the routing, on the node of the
// region the member belongs to: it answers the regions' questions with
// this region's candidates (from its view of their bookings), stores the
// offers made to its members, and carries their answers — accept,
// decline, give a job back — to the node of the job's ticket. It owns the
// offers table. The ticket's side, which searches and decides, is package
// routing; it is this package's Origin for the jobs of its own region.
package member

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/score"
	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// MaxOfferTTL is the longest an offer may last (COOPNET_OFFER_TTL at
// most): a member's node refuses an offer that says it lasts longer.
const MaxOfferTTL = 30 * 24 * time.Hour

// Config tunes the member's side on one node.
type Config struct {
	Region      string
	Weights     score.Weights
	HorizonDays int           // capacity is counted over this many days ahead
	Skew        time.Duration // how far an offer's expiry may pass MaxOfferTTL
	// OnOfferStored, when set, is called after an offer to a member of this
	// node is stored pending, for them to answer.
	OnOfferStored func(o *Offer)
}

// Origin is the ticket's side of the routing on this node, which decides
// for the jobs of this node's own tickets: a member of this region acts on
// this node, never over NATS.
type Origin interface {
	// DecideAccept gives the job to the member who accepts its offer, or
	// says why not.
	DecideAccept(ctx context.Context, req wire.AcceptRequest) AcceptReply
	// DecideRelease takes back a job its member gives back (or staff, when
	// staff is their handle).
	DecideRelease(ctx context.Context, req wire.ReleaseRequest, staff string) wire.ReleaseReply
	// TakeBack is staff of the ticket's region taking a job back from its
	// assignee.
	TakeBack(ctx context.Context, by members.Actor, t *tickets.Ticket, reason string) (*tickets.Ticket, error)
}

// Service is the member's side of the routing on one node.
type Service struct {
	db      *storage.DB
	relay   *relay.Relay
	members *members.Service
	tickets *tickets.Service
	cfg     Config
	log     *slog.Logger
	origin  Origin

	superseded prometheus.Counter

	holdMu    sync.Mutex
	holdCache map[string]cachedHolders

	book book // members' booked and routed minutes, for answering questions
}

// New returns the member's side; SetOrigin must be called before it
// handles anything.
func New(db *storage.DB, rl *relay.Relay, ms *members.Service, ts *tickets.Service, cfg Config, log *slog.Logger,
	reg prometheus.Registerer) *Service {
	if cfg.Weights == (score.Weights{}) {
		cfg.Weights = score.DefaultWeights
	}
	if cfg.HorizonDays <= 0 {
		cfg.HorizonDays = score.DefaultHorizonDays
	}
	s := &Service{db: db, relay: rl, members: ms, tickets: ts, cfg: cfg, log: log, holdCache: map[string]cachedHolders{},
		superseded: prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_routing_offers_superseded_total", Help: "Pending offers to this node's members given up for another job."})}
	s.book.s = s
	if reg != nil {
		reg.MustRegister(s.superseded)
	}
	return s
}

// SetOrigin sets the ticket's side that decides for this node's own jobs.
func (s *Service) SetOrigin(o Origin) { s.origin = o }

// Invalidate makes the next answer read the members' bookings again: a
// job of theirs ended, or an offer.
func (s *Service) Invalidate() { s.book.invalidate() }

// BookedMinutes are the members' booked minutes over the horizon (work
// under way, offers pending), by member id.
func (s *Service) BookedMinutes(ctx context.Context) (map[string]int, error) {
	minutes, err := s.loadBook(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(minutes))
	for id, m := range minutes {
		out[id] = m.booked
	}
	return out, nil
}

// RoutedReceived counts the jobs of other regions this node's members
// accepted this quarter.
func (s *Service) RoutedReceived(ctx context.Context) (int, error) {
	var n int
	err := s.db.WithContext(ctx).Raw(`SELECT COUNT(*) FROM offers WHERE state = 'accepted' AND origin_region <> ? AND created_at >= ?`,
		s.cfg.Region, quarterStart(storage.Now())).Row().Scan(&n)
	return n, err
}
