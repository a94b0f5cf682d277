package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/score"
	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/services/validate"
)

// Offer is a job offered to a member of this node, by any region.
type Offer struct {
	ID               string     `json:"id" gorm:"primaryKey"`
	RoutingID        string     `json:"-"`
	OriginRegion     string     `json:"origin_region"`
	TicketID         string     `json:"ticket_id"`
	TicketAPID       string     `json:"ticket_ap_id" gorm:"column:ticket_ap_id"`
	MemberID         string     `json:"-"`
	Title            string     `json:"title"`
	Note             string     `json:"note"`
	Skill            string     `json:"skill"`
	EstimatedMinutes int        `json:"-"`
	EstimatedHours   float64    `json:"estimated_hours" gorm:"-"`
	OnSite           bool       `json:"on_site"`
	Commune          string     `json:"commune"`
	Departement      string     `json:"departement"`
	DistanceKm       float64    `json:"distance_km"`
	ForwardedBy      string     `json:"forwarded_by"`
	ForwardedByName  string     `json:"forwarded_by_name"`
	State            OfferState `json:"state"`
	DeclineReason    string     `json:"decline_reason,omitempty"`
	ReleaseToken     string     `json:"-"` // the secret giving the job back takes (see AcceptRequest)
	Regret           *float64   `json:"-"` // what the job loses if superseded; nil: never superseded
	ExpiresAt        time.Time  `json:"expires_at"`
	AnsweredAt       *time.Time `json:"answered_at,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
}

// TableName maps Offer to its table.
func (Offer) TableName() string { return "offers" }

func (o *Offer) fill() {
	o.EstimatedHours = float64(o.EstimatedMinutes) / 60
	o.ExpiresAt, o.CreatedAt = o.ExpiresAt.UTC(), o.CreatedAt.UTC()
}

// OfferMade is published when an offer is stored for a member of this
// node, inside the transaction that stores it.
type OfferMade struct{ Offer *Offer }

// OfferAnswered is published when one of this node's offers is answered:
// declined (by its member, or at once for want of room), or as its origin
// says (accepted, lost, withdrawn…); Offer.State is its new state.
type OfferAnswered struct{ Offer *Offer }

// answered sets offer id's state (if it is in state from, when given) and
// publishes OfferAnswered, in one transaction when someone listens.
func (s *Service) answered(ctx context.Context, id string, state OfferState, at time.Time, from OfferState) error {
	if from != "" && !from.Moves(state) {
		return fmt.Errorf("routing: an offer cannot go from %s to %s", from, state)
	}
	change := func(ctx context.Context) (bool, error) {
		q := s.db.Conn(ctx).Model(&Offer{}).Where("id = ?", id)
		if from != "" {
			q = q.Where("state = ?", from)
		}
		res := q.Updates(map[string]any{"state": state, "answered_at": at})
		return res.RowsAffected > 0, res.Error
	}
	if !storage.Listening[OfferAnswered](s.db) {
		_, err := change(ctx)
		return err
	}
	return s.relay.InTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if changed, err := change(ctx); err != nil || !changed {
			return err
		}
		var now Offer
		if err := tx.Where("id = ?", id).Take(&now).Error; err != nil {
			return err
		}
		return storage.Publish(ctx, s.db, OfferAnswered{Offer: &now})
	})
}

// ReceiveAccepted records on the member's node that the origin gave them
// the job, even when the reply to their acceptance was lost.
func (s *Service) ReceiveAccepted(ctx context.Context, m relay.In) error {
	_, err := s.originSays(ctx, m, wire.KindAccepted, OfferAccepted, OfferPending, OfferDeclined, OfferSuperseded)
	return err
}

// originSays applies to one of this node's offers what its origin says in
// m (kind): the offer, if in one of the states from, becomes to. Only the
// offer's origin may say it: m must be signed by the node of the offer's
// ticket, and name the offer's region, routing and ticket. An offer this
// node does not have (yet) is left alone: it could be stored between the
// check and the change. It reports whether the offer changed.
func (s *Service) originSays(ctx context.Context, m relay.In, kind string, to OfferState, from ...OfferState) (bool, error) {
	for _, f := range from {
		if !f.Moves(to) {
			return false, fmt.Errorf("routing: an offer cannot go from %s to %s", f, to)
		}
	}
	a, err := wire.DecodeAnswerMsg(m.Data, kind)
	if err != nil {
		return false, err
	}
	var o Offer
	err = s.db.WithContext(ctx).Select("id", "ticket_ap_id").Where("id = ?", a.OfferID).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := s.relay.Verify(ctx, m, relay.Sender{Host: wire.Host(o.TicketAPID), Region: a.Region}, false); err != nil {
		return false, err
	}
	change := func(ctx context.Context) (bool, error) {
		res := s.db.Conn(ctx).Model(&Offer{}).
			Where("id = ? AND origin_region = ? AND routing_id = ? AND ticket_ap_id = ? AND state IN ?", a.OfferID, a.Region, a.RoutingID,
				o.TicketAPID, from).
			Updates(map[string]any{"state": to, "answered_at": storage.Now()})
		return res.RowsAffected > 0, res.Error
	}
	if !storage.Listening[OfferAnswered](s.db) {
		return change(ctx) // one statement, no transaction
	}
	var changed bool
	err = s.relay.InTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if changed, err = change(ctx); err != nil || !changed {
			return err
		}
		var now Offer
		if err := tx.Where("id = ?", a.OfferID).Take(&now).Error; err != nil {
			return err
		}
		return storage.Publish(ctx, s.db, OfferAnswered{Offer: &now})
	})
	return changed, err
}

// ReceiveOffer stores an offer for one of this node's members (once, however
// often it is delivered).
//
// The member must have room for its hours (the node's view of bookings, at
// most a second old). Without room, an offer in the place of a pending one
// (Supersedes) ends that one, in the same transaction, if it is still
// pending and giving it up leaves room enough; its origin hears of it and
// offers its job to the next candidate. Otherwise (other work came since
// the search, or the offer named was answered meanwhile) the new offer is
// declined at once, so that its job does not wait for an answer that can
// only be no. With room, nothing is superseded: the member can take both.
func (s *Service) ReceiveOffer(ctx context.Context, m relay.In) error {
	var o wire.OfferMsg
	if err := wire.Decode(m.Data, &o); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	// Only the node of the ticket, of the region the offer says, offers
	// its job: an offer from anyone else would book the member (and could
	// take a member's place from another job's offer).
	if err := s.relay.Verify(ctx, m, relay.Sender{Host: wire.Host(o.TicketAPID), Region: o.OriginRegion}, false); err != nil {
		return err
	}
	// And for a while only: an offer that says it lasts for years would
	// keep the member booked, never chosen again.
	if limit := time.Now().Add(MaxOfferTTL + s.cfg.Skew); o.ExpiresAt.After(limit) {
		return wire.Bad("offer %s expires %s, beyond the longest offer (%s)", o.OfferID, o.ExpiresAt.UTC().Format(time.RFC3339), MaxOfferTTL)
	}
	row := Offer{ID: o.OfferID, RoutingID: o.RoutingID, OriginRegion: o.OriginRegion, TicketID: o.TicketID,
		TicketAPID: o.TicketAPID, MemberID: o.MemberID, Title: o.Title, Note: o.Note, Skill: o.Skill,
		EstimatedMinutes: o.EstimatedMinutes, OnSite: o.OnSite, Commune: o.Commune, Departement: o.Departement,
		DistanceKm: o.DistanceKm, ForwardedBy: o.ForwardedBy, ForwardedByName: o.ForwardedByName, State: OfferPending,
		Regret: o.Regret, ExpiresAt: o.ExpiresAt.UTC(), CreatedAt: storage.Now()}
	short, gen, left, err := s.shortOfRoom(ctx, &o)
	if err != nil {
		return fmt.Errorf("routing: store offer %s: %w", o.OfferID, err)
	}
	declineWhy := declinedFull
	if left {
		// The member left the coop: declined at once, whatever their room.
		short, declineWhy = 1, declinedLeft
	}
	var stored, ended bool
	if short <= 0 && !storage.Listening[OfferMade](s.db) {
		// One statement, no transaction: the common case, on the routing's
		// hot path.
		res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		stored, err = res.RowsAffected == 1, res.Error
	} else {
		err = s.relay.InTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
			if stored, ended = res.RowsAffected == 1, false; res.Error != nil || !stored {
				return res.Error
			}
			if err := storage.Publish(ctx, s.db, OfferMade{Offer: &row}); err != nil {
				return err
			}
			if short <= 0 {
				return nil
			}
			if o.Supersedes != "" && !left {
				var err error
				if ended, err = s.supersede(ctx, tx, o.Supersedes, o.MemberID, short); err != nil || ended {
					return err
				}
			}
			_, err := s.declineTx(ctx, tx, &row, declineWhy)
			return err
		})
	}
	if storage.IsForeignKeyViolation(err) {
		return wire.Bad("offer to unknown member %s", o.MemberID) // the member must be of this node
	}
	if err != nil {
		return fmt.Errorf("routing: store offer %s: %w", o.OfferID, err)
	}
	switch {
	case ended:
		s.book.invalidate()
		s.superseded.Inc()
	case stored && row.State == OfferPending:
		s.book.add(gen, &row)
	}
	if stored && row.State == OfferPending && s.cfg.OnOfferStored != nil {
		s.cfg.OnOfferStored(&row)
	}
	return nil
}

// declinedFull is the reason of an offer declined by the member's node:
// the member had no room left for its hours.
const declinedFull = "full"

// shortOfRoom says how many minutes the member an offer is for lacks to
// take it over the horizon (0 or less: they have room), as the node's view
// of bookings stands, and that view's generation (see book.add). A member
// who no longer has the skill is given the benefit of the doubt: they
// decide.
func (s *Service) shortOfRoom(ctx context.Context, o *wire.OfferMsg) (short int, gen uint64, left bool, err error) {
	holders, err := s.holders(ctx, o.Skill)
	if err != nil {
		return 0, 0, false, err
	}
	i := slices.IndexFunc(holders, func(h members.SkillHolder) bool { return h.ID == o.MemberID })
	booked := 0
	if gen, err = s.book.use(ctx, func(bk bookings) { booked, _ = bk.minutes(o.MemberID) }); err != nil || i < 0 {
		return 0, gen, false, err
	}
	return o.EstimatedMinutes - (score.CapacityMin(holders[i].WeeklyHours, s.cfg.HorizonDays) - booked), gen, !holders[i].Active, nil
}

// declineTx declines offer o, inside tx, if it is still pending, and tells
// its origin, which passes the job on; it reports whether it declined it.
func (s *Service) declineTx(ctx context.Context, tx *gorm.DB, o *Offer, reason string) (bool, error) {
	res := tx.Model(&Offer{}).Where("id = ? AND state = 'pending'", o.ID).
		Updates(map[string]any{"state": OfferDeclined, "decline_reason": reason, "answered_at": storage.Now()})
	if res.Error != nil || res.RowsAffected == 0 {
		return false, res.Error
	}
	o.State = OfferDeclined
	if err := storage.Publish(ctx, s.db, OfferAnswered{Offer: o}); err != nil {
		return false, err
	}
	msg := wire.AnswerMsg{V: wire.Version, Kind: wire.KindDecline, OfferID: o.ID, RoutingID: o.RoutingID, Region: s.cfg.Region, Reason: reason}
	return true, relay.Enqueue(ctx, tx, wire.AnswerID(wire.KindDecline, o.ID), wire.SubjectJobs+o.OriginRegion+"."+wire.KindDecline, msg, true)
}

// supersede ends the member's pending offer id, inside tx, if it is still
// pending, unexpired, may be superseded, is of at least short minutes (the
// room the new offer lacks) and the member has not started to accept it
// (Accept keeps the release token before it asks the origin), and tells its
// origin; it reports whether it ended it.
func (s *Service) supersede(ctx context.Context, tx *gorm.DB, id, memberID string, short int) (bool, error) {
	var old Offer
	err := tx.Where("id = ? AND member_id = ? AND state = 'pending' AND expires_at > ? AND regret IS NOT NULL AND release_token = '' AND estimated_minutes >= ?",
		id, memberID, storage.Now(), short).Take(&old).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil // answered, expired, withdrawn meanwhile, or too small to make room
	}
	if err != nil {
		return false, err
	}
	res := tx.Model(&Offer{}).Where("id = ? AND state = 'pending' AND release_token = ''", old.ID).
		Updates(map[string]any{"state": OfferSuperseded, "answered_at": storage.Now()})
	if res.Error != nil || res.RowsAffected == 0 {
		return false, res.Error
	}
	msg := wire.AnswerMsg{V: wire.Version, Kind: wire.KindSuperseded, OfferID: old.ID, RoutingID: old.RoutingID, Region: s.cfg.Region}
	return true, relay.Enqueue(ctx, tx, wire.AnswerID(wire.KindSuperseded, old.ID), wire.SubjectJobs+old.OriginRegion+"."+wire.KindSuperseded, msg, true)
}

// ReceiveWithdraw closes an offer the origin took back (expired, cancelled).
func (s *Service) ReceiveWithdraw(ctx context.Context, m relay.In) error {
	withdrawn, err := s.originSays(ctx, m, wire.KindWithdraw, OfferWithdrawn, OfferPending)
	if withdrawn {
		s.book.invalidate() // the member has room again
	}
	return err
}

// PendingOffers lists the actor's offers still open, soonest to expire first.
func (s *Service) PendingOffers(ctx context.Context, by members.Actor) ([]*Offer, error) {
	return s.offersOf(ctx, by, "expires_at, id", 500, waitingAnswer, storage.Now())
}

// EndedOffers lists the actor's offers that ended in the last week without
// their answer, most recent first: superseded by a job that needed them
// more, given to someone else, or declined by their node for lack of room.
// An offer that leaves the inbox is explained there.
func (s *Service) EndedOffers(ctx context.Context, by members.Actor) ([]*Offer, error) {
	return s.offersOf(ctx, by, "answered_at DESC, id", 20,
		"answered_at > ? AND (state IN ('superseded', 'lost') OR (state = 'declined' AND decline_reason = ?))",
		storage.Now().AddDate(0, 0, -7), declinedFull)
}

// offersOf lists the actor's offers that meet cond, in order, at most limit.
func (s *Service) offersOf(ctx context.Context, by members.Actor, order string, limit int, cond string, args ...any) ([]*Offer, error) {
	var out []*Offer
	err := s.db.WithContext(ctx).Where("member_id = ?", by.ID).Where(cond, args...).Order(order).Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("routing: offers of %s: %w", by.Handle, err)
	}
	for _, o := range out {
		o.fill()
	}
	return out, nil
}

func (s *Service) offerOf(ctx context.Context, by members.Actor, id string) (*Offer, error) {
	if !storage.ValidID(id) {
		return nil, apperr.NotFoundf("no offer %q for you", id)
	}
	var o Offer
	err := s.db.WithContext(ctx).Where("id = ? AND member_id = ?", id, by.ID).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFoundf("no offer %q for you", id)
	}
	if err != nil {
		return nil, fmt.Errorf("routing: offer %s: %w", id, err)
	}
	o.fill()
	return &o, nil
}

// Accept asks the ticket's origin node to give the job to the actor. The
// origin decides: exactly one acceptance wins. It returns the origin's
// ticket, now accepted with the actor as assignee. Accepting again an offer
// already won returns the same ticket.
func (s *Service) Accept(ctx context.Context, by members.Actor, offerID string) (json.RawMessage, error) {
	o, err := s.offerOf(ctx, by, offerID)
	if err != nil {
		return nil, err
	}
	switch {
	case o.State == OfferAccepted:
	case o.State != OfferPending:
		return nil, apperr.New(apperr.Conflict, "this offer is %s", o.State)
	case !o.ExpiresAt.After(time.Now()):
		return nil, apperr.New(apperr.Conflict, "this offer has expired")
	}
	if o.ReleaseToken == "" {
		// The secret the job will take to be given back, kept before it is
		// sent: a repeated acceptance sends the same. Once it is kept, the
		// offer is no longer superseded (see supersede); if it was just
		// before, the acceptance stops here.
		tok := newToken()
		if err := s.db.WithContext(ctx).Exec("UPDATE offers SET release_token = ? WHERE id = ? AND release_token = '' AND state IN ('pending', 'accepted')",
			tok, o.ID).Error; err != nil {
			return nil, fmt.Errorf("routing: accept %s: %w", o.ID, err)
		}
		if err := s.db.WithContext(ctx).Raw("SELECT release_token, state FROM offers WHERE id = ?", o.ID).Row().Scan(&o.ReleaseToken, &o.State); err != nil {
			return nil, fmt.Errorf("routing: accept %s: %w", o.ID, err)
		}
		if o.ReleaseToken == "" {
			return nil, apperr.New(apperr.Conflict, "this offer is %s", o.State)
		}
		s.book.invalidate() // no longer one that may be superseded
	}
	rep, err := s.askAccept(ctx, by, o)
	if err != nil {
		return nil, err
	}
	now := storage.Now()
	switch {
	case rep.OK:
		// The origin gave the job: the offer is accepted, even if the member
		// declined it meanwhile (the origin ignores a decline that comes
		// after the acceptance).
		if err := s.answered(ctx, o.ID, OfferAccepted, now, ""); err != nil {
			return nil, fmt.Errorf("routing: record acceptance of %s: %w", o.ID, err)
		}
		return rep.Ticket, nil
	case rep.Code == "conflict" || rep.Code == "not_found":
		if err := s.answered(ctx, o.ID, OfferLost, now, OfferPending); err != nil {
			s.log.Warn("routing: record a lost offer", "offer", o.ID, "err", err)
		}
		s.book.invalidate()
		return nil, apperr.New(apperr.Conflict, "this job is no longer yours to take: %s", rep.Message)
	case rep.Code == "unavailable":
		return nil, apperr.New(apperr.Unavailable, "your offer is kept: %s", rep.Message)
	case rep.Code == "forbidden":
		return nil, apperr.New(apperr.Forbidden, "the ticket's node refused the acceptance: %s", rep.Message)
	default:
		return nil, fmt.Errorf("routing: accept %s: origin says %s: %s", o.ID, rep.Code, rep.Message)
	}
}

// askAccept asks the offer's origin to give the job to the actor, and
// returns its answer, with the ticket as the API shows it: this node's own
// when the origin is this region, else what the origin's reply says of it
// with the offer's title (scrubbed as the offer was).
func (s *Service) askAccept(ctx context.Context, by members.Actor, o *Offer) (AcceptReply, error) {
	req := wire.AcceptRequest{V: wire.Version, OfferID: o.ID, RoutingID: o.RoutingID, Region: s.cfg.Region,
		MemberID: by.ID, Handle: by.Handle, Name: by.Name, ReleaseToken: o.ReleaseToken}
	if o.OriginRegion == s.cfg.Region {
		rep := s.origin.DecideAccept(ctx, req)
		if rep.OK {
			rep.Ticket, _ = json.Marshal(rep.Local.View())
		}
		return rep, nil
	}
	var rep AcceptReply
	if err := s.relay.Ask(ctx, "accept", o.OriginRegion, req, &rep, "your offer is kept"); err != nil || !rep.OK {
		return rep, err
	}
	var at AcceptedTicket
	if err := wire.Decode(rep.Ticket, &at); err != nil {
		s.relay.Drop("accept_reply", err)
		return rep, fmt.Errorf("routing: accept %s: bad ticket in the reply: %w", o.ID, err)
	}
	if err := at.validate(o); err != nil {
		s.relay.Drop("accept_reply", err)
		return rep, fmt.Errorf("routing: accept %s: %w", o.ID, err)
	}
	rep.Ticket, _ = json.Marshal(tickets.View{ID: at.ID, Title: o.Title, Skill: at.Skill, Priority: at.Priority, OnSite: at.OnSite,
		EstimatedHours: at.EstimatedHours, Status: at.Status, OriginRegion: at.OriginRegion, Assignee: at.Assignee, APID: at.APID,
		CreatedBy: o.ForwardedBy, Version: at.Version, CreatedAt: at.CreatedAt, UpdatedAt: at.UpdatedAt})
	return rep, nil
}

// Decline refuses an offer; the job goes to the next candidate at once.
func (s *Service) Decline(ctx context.Context, by members.Actor, offerID, reason string) error {
	var v apperr.Validation
	reason = validate.Text(&v, "reason", reason, 0, 1000, true)
	if err := v.Err(); err != nil {
		return err
	}
	o, err := s.offerOf(ctx, by, offerID)
	if err != nil {
		return err
	}
	if o.State != OfferPending {
		return apperr.New(apperr.Conflict, "this offer is %s", o.State)
	}
	err = s.relay.InTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		declined, err := s.declineTx(ctx, tx, o, reason)
		if err == nil && !declined {
			err = apperr.New(apperr.Conflict, "this offer was answered meanwhile")
		}
		return err
	})
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return err
		}
		return fmt.Errorf("routing: decline %s: %w", o.ID, err)
	}
	s.book.invalidate() // the member has room again
	return nil
}

// waitingAnswer is the condition of an offer waiting for its member's
// answer (its ? is now): what the inbox lists and the header counts.
const waitingAnswer = "state = 'pending' AND expires_at > ?"

// PendingCount counts member id's offers waiting for their answer (the
// header's badge).
func (s *Service) PendingCount(ctx context.Context, memberID string) (int, error) {
	var n int64
	if err := s.db.Conn(ctx).Model(&Offer{}).Where("member_id = ?", memberID).Where(waitingAnswer, storage.Now()).
		Count(&n).Error; err != nil {
		return 0, fmt.Errorf("routing: pending offers: %w", err)
	}
	return int(n), nil
}
