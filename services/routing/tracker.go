package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/redact"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/score"
	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/services/validate"
)

// Routing is the search for a member to do one ticket, on the ticket's node.
type Routing struct {
	ID              string       `json:"id" gorm:"primaryKey"`
	TicketID        string       `json:"ticket_id"`
	Skill           string       `json:"skill"`
	MinLevel        int          `json:"min_level"`
	Note            string       `json:"note"`
	State           RoutingState `json:"state"`
	Reason          string       `json:"reason,omitempty"`
	Candidates      string       `json:"-"`
	Excluded        string       `json:"-"`
	NextIndex       int          `json:"-"`
	OfferID         *string      `json:"offer_id,omitempty"`
	OfferHandle     string       `json:"offered_to,omitempty"`
	OfferRegion     string       `json:"offered_region,omitempty"`
	OfferExpiresAt  *time.Time   `json:"offer_expires_at,omitempty"`
	ReleaseToken    string       `json:"-"`                    // the assignee's secret to give the job back
	Superseded      bool         `json:"superseded,omitempty"` // an offer was superseded: takes nobody's place
	SearchedAgain   bool         `json:"-"`                    // superseded, its list ran out: searched once more
	RequestedBy     string       `json:"requested_by"`
	RequestedByName string       `json:"-"`
	Attempts        int          `json:"-"`
	LeaseUntil      *time.Time   `json:"-"`
	CreatedAt       time.Time    `json:"created_at"`
	UpdatedAt       time.Time    `json:"updated_at"`

	ranked []score.Scored // Candidates as just ranked by search, not read back
}

// job is what scoring needs of the routing and its ticket.
func (r *Routing) job(t *tickets.Ticket) score.Job {
	return score.Job{Skill: r.Skill, MinLevel: r.MinLevel, EstimatedMinutes: t.EstimatedMinutes, OnSite: t.OnSite}
}

// TableName maps Routing to its table.
func (Routing) TableName() string { return "routings" }

// ForwardInput is a technician's request to route a ticket to the network.
type ForwardInput struct {
	Skill    string // default: the ticket's skill
	MinLevel int    // default 1
	Note     string // a word for the specialist
}

// Forward hands a ticket to the network: it becomes "routing" and the search
// starts at once, in the background. Only the ticket's technician (or staff)
// may forward it, and only when it is new or was found unroutable.
func (s *Service) Forward(ctx context.Context, by members.Actor, ticketID string, in ForwardInput) (*tickets.Ticket, error) {
	t, err := s.tickets.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	if !tickets.MayForward(t, by.ID, by.Role.IsStaff()) {
		return nil, apperr.New(apperr.Forbidden, "only the ticket's technician or staff may forward it")
	}
	if t.OriginRegion != s.cfg.Region {
		return nil, apperr.New(apperr.Conflict, "this is a ticket of region %s: only its own node routes it", t.OriginRegion)
	}
	var v apperr.Validation
	skill := strings.ToLower(strings.TrimSpace(in.Skill))
	if skill == "" {
		skill = t.Skill
	}
	if ok, err := s.skills.Known(ctx, skill); err != nil {
		return nil, err
	} else if !ok {
		v.Reject("skill", "unknown_skill_name", "unknown skill %q", skill)
	}
	level := in.MinLevel
	if level == 0 {
		level = DefaultMinLevel
	}
	if level < 1 || level > 5 {
		v.Reject("min_level", "int_range", "must be between %d and %d", 1, 5)
	}
	note := validate.Text(&v, "note", in.Note, 0, 2000, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if t.Status != tickets.StatusNew && t.Status != tickets.StatusUnroutable {
		return nil, apperr.New(apperr.Conflict, "a %s ticket cannot be forwarded: only new or unroutable ones", t.Status)
	}
	now := storage.Now()
	// Leased to this process from the start: it is handed to a local search
	// worker at once; should this process stop first, the lease runs out and
	// any replica takes it up.
	lease := now.Add(searchLease)
	r := Routing{ID: storage.NewID(), TicketID: t.ID, Skill: skill, MinLevel: level, Note: note, State: RoutingPending,
		Candidates: "[]", Excluded: "{}", RequestedBy: by.Handle, RequestedByName: by.Name, LeaseUntil: &lease,
		CreatedAt: now, UpdatedAt: now}
	mv, err := s.tickets.PlanMove(t, []tickets.Status{tickets.StatusNew, tickets.StatusUnroutable},
		tickets.StatusRouting, nil, nil, by.Handle, tickets.ActForwarded)
	if err == nil {
		err = s.db.Pipeline(ctx, append(mv.Stmts, insertRouting(&r)), func(ctx context.Context, tx *gorm.DB) error { return s.tickets.Moved(ctx, mv) })
		if err != nil {
			err = mv.Failed(err, 0)
		}
	}
	if err != nil {
		if code := apperr.CodeOf(err); code == apperr.Conflict {
			return nil, apperr.New(apperr.Conflict, "the ticket changed meanwhile, or is already being routed")
		}
		return nil, fmt.Errorf("routing: forward %s: %w", ticketID, err)
	}
	moved := mv.Ticket
	s.m.forwards.Inc()
	select {
	case s.handoff <- handoff{r: &r, t: moved}:
	default:
		// Every worker busy and the queue full: release the lease so that
		// the next worker free claims it from the database.
		s.db.WithContext(ctx).Model(&Routing{}).Where("id = ? AND state = 'pending'", r.ID).Update("lease_until", nil)
		s.kickRoute.Poke()
	}
	return moved, nil
}

// insertRouting is the statement that saves a new routing (the columns
// a forward sets; the others take their defaults).
func insertRouting(r *Routing) storage.Stmt {
	return storage.Stmt{SQL: `INSERT INTO routings (id, ticket_id, skill, min_level, note, state, candidates, excluded,
		requested_by, requested_by_name, lease_until, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		Args: []any{r.ID, r.TicketID, r.Skill, r.MinLevel, r.Note, r.State, r.Candidates, r.Excluded,
			r.RequestedBy, r.RequestedByName, r.LeaseUntil, r.CreatedAt, r.UpdatedAt}}
}

// searchLease is how long a routing stays with the process searching for it.
const searchLease = 30 * time.Second

// handoff is a routing just saved by Forward, with its ticket, passed to a
// search worker without reading them back.
type handoff struct {
	r *Routing
	t *tickets.Ticket
}

// routeLoop runs the searches of pending routings; several run side by side.
func (s *Service) routeLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	run := func(r *Routing, known *tickets.Ticket) {
		if err := s.search(ctx, r, known); err != nil && ctx.Err() == nil {
			s.log.Error("routing: search failed", "routing", r.ID, "ticket", r.TicketID, "attempt", r.Attempts+1, "err", err)
			if r.Attempts+1 >= maxSearchAttempts {
				err = s.giveUp(ctx, r, score.ReasonError)
			} else {
				err = s.retryLater(ctx, r, "search failed")
			}
			if err != nil {
				s.log.Error("routing: record a failed search", "routing", r.ID, "err", err)
			}
		}
	}
	poll := true
	for {
		for poll && ctx.Err() == nil {
			r, err := s.claimPending(ctx)
			if err != nil || r == nil {
				break
			}
			s.kickRoute.Poke() // another worker may take the next one meanwhile
			run(r, nil)
		}
		poll = true
		select {
		case <-ctx.Done():
			return
		case h := <-s.handoff:
			// A forward handed over needs no look at the database after it:
			// routings left pending otherwise (a full queue, a search put
			// off, a second search) kick the workers or wait for the tick.
			run(h.r, h.t)
			poll = false
		case <-t.C:
		case <-s.kickRoute:
		}
	}
}

// claimPending takes one pending routing for this replica for 30 s, in
// the routings queue's one way.
func (s *Service) claimPending(ctx context.Context) (*Routing, error) {
	var rs []Routing
	if err := s.routingsQ.Lease(ctx, 1, searchLease, "*", &rs); err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// search asks the regions, ranks the candidates and makes the first offer
// (or finds the ticket unroutable).
func (s *Service) search(ctx context.Context, r *Routing, t *tickets.Ticket) error {
	var err error
	if t == nil {
		if t, err = s.tickets.ByID(ctx, r.TicketID); err != nil {
			return err
		}
	}
	if t.Status != tickets.StatusRouting {
		// Cancelled by hand before the search ran.
		return s.db.WithContext(ctx).Model(&Routing{}).Where("id = ? AND state = 'pending'", r.ID).
			Updates(map[string]any{"state": RoutingCancelled, "updated_at": storage.Now()}).Error
	}
	place, private, err := s.clients.ForRouting(ctx, t.ClientID)
	if err != nil {
		return err
	}
	q := wire.Question{V: wire.Version, ID: storage.NewID(), OriginRegion: s.cfg.Region, Skill: r.Skill, MinLevel: r.MinLevel,
		EstimatedMinutes: t.EstimatedMinutes, OnSite: t.OnSite, Commune: place.Commune, Departement: place.Departement,
		Lat: coarse(place.Lat), Lon: coarse(place.Lon), HorizonDays: s.cfg.HorizonDays, NoSupersede: r.Superseded}
	if r.SearchedAgain {
		// Searching again after an offer was superseded: not those this
		// routing offered the job to already.
		if q.Skip, err = s.tickets.OfferedTo(ctx, r.TicketID, r.CreatedAt, wire.MaxSkip); err != nil {
			return err
		}
	}
	if !s.bus.Connected() {
		return s.retryLater(ctx, r, "NATS is not connected")
	}
	answers, err := s.gather(ctx, q)
	if err != nil {
		return err
	}
	// This node always answers for its own region: no answer at all means
	// the routing plane is in trouble, not that nobody exists. Try again a
	// few times before calling the ticket unroutable.
	if len(answers) == 0 && r.Attempts+1 < maxSearchAttempts {
		return s.retryLater(ctx, r, "no region answered")
	}
	if len(answers) == 0 {
		return s.giveUp(ctx, r, score.ReasonNoAnswer)
	}
	var all []wire.Candidate
	excluded := map[string]wire.Exclusions{}
	for _, a := range answers {
		all = append(all, a.Candidates...)
		excluded[a.Region] = a.Excluded
	}
	job := r.job(t)
	reason := score.UnroutableReason(len(answers), excluded)
	if len(q.Skip) > 0 {
		// The regions left out those offered the job already: nobody left
		// means they all said no, whatever the others lacked.
		reason = score.ReasonDeclined
	}
	ranked := score.RankTop(all, job, s.cfg.Weights, score.MaxCandidates)
	if live := s.relay.LiveRegions(); len(ranked) == 0 && len(answers) < live && r.Attempts+1 < maxSearchAttempts {
		// Nobody among the regions that answered, but not all that are alive
		// did (NATS just came back, and they are reconnecting): ask again
		// before calling the ticket unroutable.
		return s.retryLater(ctx, r, fmt.Sprintf("nobody found among %d of %d regions", len(answers), live))
	}
	cands, _ := json.Marshal(ranked)
	excl, _ := json.Marshal(excluded)
	r.Candidates, r.NextIndex, r.ranked = string(cands), 0, ranked
	return s.offerNextAlone(ctx, r, t, place, private, reason, RoutingPending,
		map[string]any{"candidates": string(cands), "excluded": string(excl), "state": RoutingOffering})
}

// maxSearchAttempts bounds the searches that hear from no region before a
// ticket is found unroutable ("no_answer"); with the back-off of retryLater,
// about two minutes.
const maxSearchAttempts = 8

// giveUp finds a ticket unroutable after searches that kept failing, so
// that staff see it instead of a ticket "routing" for ever.
func (s *Service) giveUp(ctx context.Context, r *Routing, reason string) error {
	return s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		res := tx.Model(&Routing{}).Where("id = ? AND state = 'pending'", r.ID).
			Updates(map[string]any{"state": RoutingUnroutable, "reason": reason, "updated_at": storage.Now()})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		t, err := s.tickets.ByID(ctx, r.TicketID)
		if err != nil {
			return err
		}
		_, err = s.tickets.Move(ctx, t, []tickets.Status{tickets.StatusRouting}, tickets.StatusUnroutable,
			nil, nil, "routing@"+s.cfg.Region, tickets.ActUnroutable.With(reason))
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil // cancelled by hand meanwhile
		}
		s.m.unroutable.WithLabelValues(reason).Inc()
		return err
	})
}

// searchBackoff is the wait before a search that heard from too few
// regions is made again.
var searchBackoff = queue.Backoff{First: time.Second, Max: 30 * time.Second}

// retryLater leaves a routing pending and lets it be claimed again after a
// back-off: one, two, four… seconds (±25 %), at most thirty.
func (s *Service) retryLater(ctx context.Context, r *Routing, why string) error {
	wait := searchBackoff.After(r.Attempts + 1)
	s.log.Warn("routing: search postponed", "routing", r.ID, "ticket", r.TicketID, "why", why, "retry_in", wait)
	return s.db.WithContext(ctx).Model(&Routing{}).Where("id = ? AND state = 'pending'", r.ID).
		Updates(map[string]any{"attempts": r.Attempts + 1, "lease_until": storage.Now().Add(wait)}).Error
}

// coarse rounds a coordinate to 0.1° (about 10 km): enough to score
// distance, not enough to find a house.
func coarse(f float64) float64 { return math.Round(f*10) / 10 }

// offerNext runs, in tx, the routing's next step (see planNext).
func (s *Service) offerNext(ctx context.Context, tx *gorm.DB, r *Routing, t *tickets.Ticket, place clients.Place,
	private clients.Private, reason string, guard RoutingState, extra map[string]any) error {
	p, err := s.planNext(r, t, place, private, reason, guard, extra)
	if err != nil {
		return err
	}
	if err := s.db.RunStmts(ctx, tx, p.stmts); err != nil {
		return p.failed(err)
	}
	if err := s.tickets.Moved(ctx, p.move); err != nil {
		return err
	}
	relay.AddPending(tx, p.outbox)
	p.count()
	return nil
}

// offerNextAlone runs the routing's next step in a transaction of its own
// (see planNext), its statements sent together (storage.DB.Pipeline), and
// publishes its offer once it has committed.
func (s *Service) offerNextAlone(ctx context.Context, r *Routing, t *tickets.Ticket, place clients.Place,
	private clients.Private, reason string, guard RoutingState, extra map[string]any) error {
	p, err := s.planNext(r, t, place, private, reason, guard, extra)
	if err != nil {
		return err
	}
	if err := s.db.Pipeline(ctx, p.stmts, func(ctx context.Context, tx *gorm.DB) error { return s.tickets.Moved(ctx, p.move) }); err != nil {
		return p.failed(err)
	}
	p.count()
	s.relay.PublishNow(ctx, p.outbox)
	return nil
}

// nextStep is a routing's next step planned by planNext: statements to
// run in one transaction, the first a guard on the routing's state, then
// the ticket's move, if any, and the message to publish, if any.
type nextStep struct {
	stmts  []storage.Stmt
	move   *tickets.Moving // nil when the ticket's status stays
	moveAt int             // the index in stmts of the move's guard
	outbox []relay.Row
	count  func() // the step's metrics, once done
}

// failed maps the error of the step's statements: nothing to do when the
// routing moved on meanwhile (another replica, or a late message),
// a conflict when the ticket changed.
func (p *nextStep) failed(err error) error {
	switch {
	case storage.UnmetAt(err, 0):
		return nil
	case p.move != nil:
		return p.move.Failed(err, p.moveAt)
	}
	return err
}

// planNext plans a routing's next step once its current offer, if any, is
// over: the offer to its next candidate; when the list has run out, a new
// search (after a superseded offer) or the ticket unroutable, for reason.
// guard is the state the routing must still be in; extra, more of its
// columns to set.
func (s *Service) planNext(r *Routing, t *tickets.Ticket, place clients.Place,
	private clients.Private, reason string, guard RoutingState, extra map[string]any) (*nextStep, error) {
	ranked := r.ranked
	if ranked == nil {
		if err := json.Unmarshal([]byte(r.Candidates), &ranked); err != nil {
			return nil, fmt.Errorf("routing: candidates of %s: %w", r.ID, err)
		}
	}
	now := storage.Now()
	p := &nextStep{count: func() {}}
	update := func(set map[string]any) error {
		for k, v := range extra {
			if _, ok := set[k]; !ok {
				set[k] = v
			}
		}
		set["updated_at"] = now
		to := guard
		if st, ok := set["state"].(RoutingState); ok {
			to = st
		}
		if !guard.Moves(to) {
			return fmt.Errorf("routing: %s cannot go from %s to %s", r.ID, guard, to)
		}
		p.stmts = append(p.stmts, updateRouting(r.ID, guard, set))
		return nil
	}
	move := func(from []tickets.Status, to tickets.Status, action tickets.Action, notes ...tickets.Change) error {
		m, err := s.tickets.PlanMove(t, from, to, nil, nil, "routing@"+s.cfg.Region, action, notes...)
		if err != nil {
			return err
		}
		p.move, p.moveAt = m, len(p.stmts)
		p.stmts = append(p.stmts, m.Stmts...)
		return nil
	}
	// A job whose offer was superseded takes nobody's place in turn: no
	// chains of superseded offers.
	for r.Superseded && r.NextIndex < len(ranked) && ranked[r.NextIndex].Supersedes != "" {
		r.NextIndex++
	}
	if r.NextIndex >= len(ranked) && r.Superseded && !r.SearchedAgain && guard == RoutingOffering {
		// The list ran out after an offer was superseded: its fallbacks may
		// have gone meanwhile. Search once more, taking nobody's place.
		if err := update(map[string]any{"state": RoutingPending, "searched_again": true, "lease_until": nil, "attempts": 0,
			"offer_id": nil, "offer_handle": "", "offer_region": "", "offer_expires_at": nil}); err != nil {
			return nil, err
		}
		return p, move([]tickets.Status{tickets.StatusOffered}, tickets.StatusRouting, tickets.ActSearchedAgain)
	}
	if r.NextIndex >= len(ranked) {
		if err := update(map[string]any{"state": RoutingUnroutable, "reason": reason, "next_index": r.NextIndex,
			"offer_id": nil, "offer_handle": "", "offer_region": "", "offer_expires_at": nil}); err != nil {
			return nil, err
		}
		p.count = func() { s.m.unroutable.WithLabelValues(reason).Inc() }
		return p, move([]tickets.Status{tickets.StatusRouting, tickets.StatusOffered}, tickets.StatusUnroutable, tickets.ActUnroutable.With(reason))
	}
	c := ranked[r.NextIndex]
	offerID := storage.NewID()
	expires := now.Add(s.cfg.OfferTTL)
	if err := update(map[string]any{"next_index": r.NextIndex + 1, "offer_id": offerID, "offer_handle": c.Handle,
		"offer_region": c.Region, "offer_expires_at": expires}); err != nil {
		return nil, err
	}
	offeredTo := tickets.Change{Action: tickets.ActOfferedTo, NewValue: c.Handle}
	if t.Status == tickets.StatusRouting {
		if err := move([]tickets.Status{tickets.StatusRouting}, tickets.StatusOffered, tickets.ActOffered, offeredTo); err != nil {
			return nil, err
		}
	} else {
		p.stmts = append(p.stmts, tickets.NoteStmt(t, "routing@"+s.cfg.Region, offeredTo.Action, offeredTo.NewValue))
	}
	title := redact.Client(t.Title, private)
	if redact.ScrubbedAway(title) {
		title = "Demande " + r.Skill // nothing left once the client's name is out
	}
	msg := wire.OfferMsg{V: wire.Version, Kind: wire.KindOffer, OfferID: offerID, RoutingID: r.ID, OriginRegion: s.cfg.Region,
		TicketID: t.ID, TicketAPID: t.APID, MemberID: c.MemberID, Title: title, Note: redact.Client(r.Note, private), Skill: r.Skill,
		EstimatedMinutes: t.EstimatedMinutes, OnSite: t.OnSite, Commune: place.Commune, Departement: place.Departement,
		DistanceKm: c.DistanceKm, ForwardedBy: r.RequestedBy, ForwardedByName: r.RequestedByName, ExpiresAt: expires,
		Supersedes: c.Supersedes}
	if regret, ok := score.Regret(ranked, r.NextIndex, r.job(t), s.cfg.Weights); ok {
		msg.Regret = &regret
	}
	row, err := relay.NewRow(offerID, wire.SubjectJobs+c.Region+"."+wire.KindOffer, msg, msg.Supersedes != "")
	if err != nil {
		return nil, err
	}
	p.stmts = append(p.stmts, row.Insert())
	p.outbox = []relay.Row{row}
	p.count = func() { s.m.offers.Inc() }
	return p, nil
}

// updateRouting is the statement that sets columns of a routing still in
// state guard (a guard: see storage.Stmt).
func updateRouting(id string, guard RoutingState, set map[string]any) storage.Stmt {
	cols := slices.Sorted(maps.Keys(set))
	var q strings.Builder
	args := make([]any, 0, len(cols)+2)
	q.WriteString("UPDATE routings SET ")
	for i, c := range cols {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(c + " = ?")
		args = append(args, set[c])
	}
	q.WriteString(" WHERE id = ? AND state = ?")
	return storage.Stmt{SQL: q.String(), Args: append(args, id, string(guard)), Guard: true}
}

// whySuperseded is the history's word for an offer another job took the
// member's place from.
const whySuperseded = tickets.ActOfferSuperseded

// advance moves a routing past its current offer (declined, expired or
// superseded):
// the next candidate gets the job. It does nothing when that offer is no
// longer the current one, so that a late or repeated answer changes nothing.
func (s *Service) advance(ctx context.Context, routingID, offerID, fromRegion string, why tickets.Action) error {
	err := s.relay.InTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var r Routing
		if err := tx.Where("id = ?", routingID).Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil
			}
			return err
		}
		if r.State != RoutingOffering || r.OfferID == nil || *r.OfferID != offerID {
			return nil
		}
		if fromRegion != "" && fromRegion != r.OfferRegion {
			return wire.Bad("a decline of offer %s from %s, not from %s", offerID, fromRegion, r.OfferRegion)
		}
		// Claim the move: only one replica or message advances past this offer.
		res := tx.Model(&Routing{}).Where("id = ? AND state = 'offering' AND offer_id = ?", r.ID, offerID).
			Update("updated_at", storage.Now())
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		t, err := s.tickets.ByID(ctx, r.TicketID)
		if err != nil {
			return err
		}
		if err := s.tickets.Note(ctx, t, r.OfferHandle, why, offerID); err != nil {
			return err
		}
		if why == tickets.ActOfferExpired {
			w := wire.AnswerMsg{V: wire.Version, Kind: wire.KindWithdraw, OfferID: offerID, RoutingID: r.ID, Region: s.cfg.Region, Reason: string(why)}
			if err := relay.Enqueue(ctx, tx, wire.AnswerID(wire.KindWithdraw, offerID), wire.SubjectJobs+r.OfferRegion+"."+wire.KindWithdraw, w, true); err != nil {
				return err
			}
		}
		if t.Status != tickets.StatusOffered {
			// Cancelled by hand meanwhile: stop here.
			return tx.Model(&Routing{}).Where("id = ?", r.ID).Updates(map[string]any{"state": RoutingCancelled,
				"offer_id": nil, "updated_at": storage.Now()}).Error
		}
		place, private, err := s.clients.ForRouting(ctx, t.ClientID)
		if err != nil {
			return err
		}
		var extra map[string]any
		if why == whySuperseded {
			r.Superseded, extra = true, map[string]any{"superseded": true}
		}
		return s.offerNext(ctx, tx, &r, t, place, private, score.ReasonDeclined, RoutingOffering, extra)
	})
	if err != nil {
		return fmt.Errorf("routing: advance %s: %w", routingID, err)
	}
	s.kickRoute.Poke() // the routing may be pending again (see offerNext)
	return nil
}

// receiveDecline passes the job on when a member declined.
func (s *Service) receiveDecline(ctx context.Context, m relay.In) error {
	return s.receiveEnded(ctx, m, wire.KindDecline, tickets.ActOfferDeclined)
}

// receiveSuperseded passes the job on when the member's node gave their
// place to another job.
func (s *Service) receiveSuperseded(ctx context.Context, m relay.In) error {
	return s.receiveEnded(ctx, m, wire.KindSuperseded, whySuperseded)
}

// receiveEnded passes the job on when the member's node says its offer
// ended (why); the message must be signed by that node.
func (s *Service) receiveEnded(ctx context.Context, m relay.In, kind string, why tickets.Action) error {
	a, err := wire.DecodeAnswerMsg(m.Data, kind)
	if err != nil {
		return err
	}
	var r Routing
	err = s.db.WithContext(ctx).Select("id", "state", "offer_id", "offer_handle").Where("id = ?", a.RoutingID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && (r.State != RoutingOffering || r.OfferID == nil || *r.OfferID != a.OfferID) {
		return nil // not the current offer: a late or repeated message changes nothing (see advance)
	}
	if err != nil {
		return err
	}
	_, host, _ := strings.Cut(r.OfferHandle, "@")
	if err := s.relay.Verify(ctx, m, relay.Sender{Host: host, Region: a.Region}, false); err != nil {
		return err
	}
	if kind == wire.KindDecline {
		s.m.declines.Inc()
	}
	return s.advance(ctx, a.RoutingID, a.OfferID, a.Region, why)
}

// resumePostponed, once NATS is back, makes the searches postponed while
// it was away due at once, rather than after their back-off (up to 30 s).
func (s *Service) resumePostponed(ctx context.Context) {
	// Their count of failed attempts starts again: the outage is over.
	res := s.db.WithContext(ctx).Model(&Routing{}).Where("state = 'pending' AND attempts > 0 AND lease_until > ?", storage.Now()).
		Updates(map[string]any{"lease_until": nil, "attempts": 0})
	if res.Error != nil {
		s.log.Warn("routing: resume the searches postponed while NATS was away", "err", res.Error)
		return
	}
	if res.RowsAffected > 0 {
		s.log.Info("routing: NATS is back, postponed searches resume", "searches", res.RowsAffected)
		s.kickRoute.Poke()
	}
}

// expiryLoop passes on offers left unanswered past their expiry, and
// resumes postponed searches when NATS comes back.
func (s *Service) expiryLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	wasUp := s.bus.Connected()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if up := s.bus.Connected(); up != wasUp {
			if wasUp = up; up {
				s.relay.Reconnected() // the others answer with their presence at once
				s.resumePostponed(ctx)
			}
		}
		s.sweepCancelled(ctx)
		var due []Routing
		if err := s.db.WithContext(ctx).Where("state = 'offering' AND offer_expires_at < ?", storage.Now()).
			Order("offer_expires_at").Limit(100).Find(&due).Error; err != nil {
			continue
		}
		for _, r := range due {
			if r.OfferID == nil {
				continue
			}
			s.m.expired.Inc()
			if err := s.advance(ctx, r.ID, *r.OfferID, "", tickets.ActOfferExpired); err != nil && ctx.Err() == nil {
				s.log.Error("routing: expire offer", "routing", r.ID, "err", err)
			}
		}
	}
}

// sweepBatch is how many routings in flight sweepCancelled looks at in a
// round.
const sweepBatch = 200

// sweepCancelled ends the routings of tickets cancelled (or otherwise moved
// by hand) while they were being routed, and withdraws their open offer
// from the member's inbox.
func (s *Service) sweepCancelled(ctx context.Context) {
	// A batch of the routings in flight at each round, in turn (there may
	// be thousands): the tickets' node is asked about theirs.
	var active []Routing
	if err := s.db.WithContext(ctx).Where("state IN ('pending', 'offering') AND id > ?", s.sweepAfter).Order("id").
		Limit(sweepBatch).Find(&active).Error; err != nil {
		return
	}
	if s.sweepAfter = ""; len(active) == sweepBatch {
		s.sweepAfter = active[len(active)-1].ID
	}
	ids := make([]string, len(active))
	for i, r := range active {
		ids[i] = r.TicketID
	}
	jobs, err := s.tickets.Briefs(ctx, ids)
	if err != nil {
		return
	}
	var stale []Routing
	for _, r := range active {
		if j, ok := jobs[r.TicketID]; ok && j.Status != tickets.StatusRouting && j.Status != tickets.StatusOffered {
			stale = append(stale, r)
		}
	}
	for _, r := range stale {
		err := s.relay.InTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			res := tx.Model(&Routing{}).Where("id = ? AND state = ?", r.ID, r.State).
				Updates(map[string]any{"state": RoutingCancelled, "updated_at": storage.Now()})
			if res.Error != nil || res.RowsAffected == 0 || r.State != RoutingOffering || r.OfferID == nil {
				return res.Error
			}
			w := wire.AnswerMsg{V: wire.Version, Kind: wire.KindWithdraw, OfferID: *r.OfferID, RoutingID: r.ID, Region: s.cfg.Region, Reason: "cancelled"}
			return relay.Enqueue(ctx, tx, wire.AnswerID(wire.KindWithdraw, *r.OfferID), wire.SubjectJobs+r.OfferRegion+"."+wire.KindWithdraw, w, true)
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("routing: end the routing of a cancelled ticket", "routing", r.ID, "err", err)
		}
	}
}

// answerAccept answers another region's acceptance request.
func (s *Service) answerAccept(ctx context.Context, m *nats.Msg) {
	var req wire.AcceptRequest
	if !s.relay.Receive("accept", m.Data, &req) {
		return
	}
	// The answer goes to the member's node only, and only that node asks.
	if !relay.AsksFor(m, req.Region) {
		s.relay.Drop("accept", fmt.Errorf("reply subject %q is not an inbox of %s", m.Reply, req.Region))
		return
	}
	if code, msg := s.fromMembersNode(ctx, m, req.Region, req.Handle); code != "" {
		s.relay.RespondJSON(ctx, m, member.AcceptReply{V: wire.Version, Code: code, Message: msg})
		return
	}
	rep := s.decideAccept(ctx, req)
	if rep.OK {
		// What the member's node needs to confirm the job, and nothing
		// else: every region's node can read NATS; the title and
		// description as written, and the client, go to the member's node
		// alone, over ActivityPub.
		b, _ := json.Marshal(member.AcceptedOf(rep.Local))
		rep.Ticket = b
	}
	s.relay.RespondJSON(ctx, m, rep)
}

// decideAccept gives the ticket to the member if the offer is still the
// current one: the only place where a routed job is assigned, in one
// transaction guarded by the routing's state and current offer. Asking
// again for an offer already won answers the same.
func (s *Service) decideAccept(ctx context.Context, req wire.AcceptRequest) member.AcceptReply {
	var ticket *tickets.Ticket
	err := s.relay.InTxThen(ctx, true, func(ctx context.Context, tx *gorm.DB) error {
		r, err := routingTx(tx, req.RoutingID)
		if err != nil {
			return err
		}
		current := r.OfferID != nil && *r.OfferID == req.OfferID
		if r.State == RoutingAccepted && current {
			if req.Handle != r.OfferHandle || req.Region != r.OfferRegion {
				return apperr.New(apperr.Conflict, "this offer was made to someone else")
			}
			var err error
			ticket, err = s.tickets.ByID(ctx, r.TicketID)
			return err
		}
		if r.State != RoutingOffering || !current || r.OfferExpiresAt == nil || !r.OfferExpiresAt.After(time.Now()) {
			return apperr.New(apperr.Conflict, "the offer is no longer open")
		}
		// Only the member the job was offered to, from their region.
		if req.Handle != r.OfferHandle || req.Region != r.OfferRegion {
			return apperr.New(apperr.Conflict, "this offer was made to someone else")
		}
		res := tx.Model(&Routing{}).Where("id = ? AND state = 'offering' AND offer_id = ?", r.ID, req.OfferID).
			Updates(map[string]any{"state": RoutingAccepted, "release_token": req.ReleaseToken, "updated_at": storage.Now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.New(apperr.Conflict, "the offer was answered meanwhile")
		}
		var memberID *string
		if req.Region == s.cfg.Region {
			memberID = &req.MemberID
		}
		t, err := s.tickets.ByID(ctx, r.TicketID)
		if err != nil {
			return err
		}
		ticket, err = s.tickets.Move(ctx, t, []tickets.Status{tickets.StatusOffered}, tickets.StatusAccepted,
			&tickets.Assignee{Handle: req.Handle, Region: req.Region, Name: req.Name}, memberID, req.Handle, tickets.ActAccepted)
		if err != nil {
			return err
		}
		// Tell the member's node durably too: the reply to this request may
		// be lost on the way.
		msg := wire.AnswerMsg{V: wire.Version, Kind: wire.KindAccepted, OfferID: req.OfferID, RoutingID: r.ID, Region: s.cfg.Region}
		return relay.Enqueue(ctx, tx, wire.AnswerID(wire.KindAccepted, req.OfferID), wire.SubjectJobs+req.Region+"."+wire.KindAccepted, msg, true)
	})
	switch code := apperr.CodeOf(err); {
	case err == nil:
		s.m.accepts.Inc()
		return member.AcceptReply{V: wire.Version, OK: true, Local: ticket}
	case code == apperr.Conflict:
		return member.AcceptReply{V: wire.Version, Code: "conflict", Message: "the offer is no longer open"}
	case code == apperr.NotFound:
		return member.AcceptReply{V: wire.Version, Code: "not_found", Message: "no such job"}
	default:
		s.log.Error("routing: decide acceptance", "offer", req.OfferID, "err", err)
		return member.AcceptReply{V: wire.Version, Code: "internal", Message: "the origin node failed to record the acceptance"}
	}
}

// routingTx reads a routing inside tx (404 when there is none).
func routingTx(tx *gorm.DB, id string) (*Routing, error) {
	var r Routing
	if err := tx.Where("id = ?", id).Take(&r).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.NotFoundf("no such routing")
		}
		return nil, err
	}
	return &r, nil
}

// RoutingOf returns the latest routing of a ticket, for whoever may see the
// ticket: its state, the reason when unroutable, the offer in progress.
func (s *Service) RoutingOf(ctx context.Context, by members.Actor, ticketID string) (*Routing, error) {
	if _, err := s.tickets.Get(ctx, by, ticketID); err != nil {
		return nil, err
	}
	var r Routing
	err := s.db.WithContext(ctx).Where("ticket_id = ?", ticketID).Order("created_at DESC, id DESC").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFoundf("ticket %s was never forwarded", ticketID)
	}
	if err != nil {
		return nil, fmt.Errorf("routing: routing of %s: %w", ticketID, err)
	}
	return &r, nil
}

// Unroutable is a ticket nobody could take, with why.
type Unroutable struct {
	TicketID    string                     `json:"ticket_id"`
	Title       string                     `json:"title"`
	Skill       string                     `json:"skill"`
	MinLevel    int                        `json:"min_level"`
	Reason      string                     `json:"reason"`
	Excluded    map[string]wire.Exclusions `json:"excluded"`
	RequestedBy string                     `json:"requested_by"`
	Since       time.Time                  `json:"since"`
}

// UnroutableTickets lists this node's tickets that could not be routed,
// with the reason, for staff.
func (s *Service) UnroutableTickets(ctx context.Context, by members.Actor) ([]Unroutable, error) {
	if !by.Role.IsStaff() {
		return nil, apperr.New(apperr.Forbidden, "only staff see unroutable tickets")
	}
	ids, err := s.tickets.InStatus(ctx, tickets.StatusUnroutable, 500)
	if err != nil {
		return nil, err
	}
	jobs, err := s.tickets.Briefs(ctx, ids)
	if err != nil {
		return nil, err
	}
	var rows []Routing
	if len(ids) > 0 {
		if err := s.db.WithContext(ctx).Where("state = 'unroutable' AND ticket_id IN ?", ids).Order("updated_at DESC").
			Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("routing: unroutable: %w", err)
		}
	}
	out := make([]Unroutable, 0, len(rows))
	for _, r := range rows {
		u := Unroutable{TicketID: r.TicketID, Title: jobs[r.TicketID].Title, Skill: r.Skill, MinLevel: r.MinLevel, Reason: r.Reason,
			RequestedBy: r.RequestedBy, Since: r.UpdatedAt.UTC(), Excluded: map[string]wire.Exclusions{}}
		_ = json.Unmarshal([]byte(r.Excluded), &u.Excluded)
		out = append(out, u)
	}
	return out, nil
}

// AcceptedByRegion counts the jobs this node routed that were accepted,
// by the region of the member who took them.
func (s *Service) AcceptedByRegion(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		OfferRegion string
		N           int
	}
	if err := s.db.WithContext(ctx).Model(&Routing{}).Select("offer_region, COUNT(*) AS n").Where("state = 'accepted'").
		Group("offer_region").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("routing: accepted by region: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.OfferRegion] = r.N
	}
	return out, nil
}
