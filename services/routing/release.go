package routing

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/services/validate"
)

// A member who accepted a job and cannot do it after all gives it back:
// the origin node takes the ticket from them and offers it to the next
// candidate of the search (or finds it unroutable, "all_declined", when
// none is left), as after a decline. Their node ends its copy of the
// ticket, and with it what it held of the client's contact. The time they
// logged stays on the ticket.

// maxReleaseReason bounds the reason given with a job given back.
const maxReleaseReason = 1000

// releasable are the statuses of a job its assignee may give back: taken,
// not finished.
var releasable = []tickets.Status{tickets.StatusAccepted, tickets.StatusScheduled, tickets.StatusInProgress}

// Releasable reports whether a job in that status may be given back.
func Releasable(st tickets.Status) bool { return slices.Contains(releasable, st) }

// Release gives back a job the actor accepted, with a reason for the
// ticket's technician. The origin node decides; it answers the ticket as
// the actor's node now holds it.
func (s *Service) Release(ctx context.Context, by members.Actor, ticketID, reason string) (*tickets.Ticket, error) {
	var v apperr.Validation
	reason = validate.Text(&v, "reason", reason, 1, maxReleaseReason, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	t, err := s.tickets.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	mine := t.AssigneeMemberID != nil && *t.AssigneeMemberID == by.ID
	if !mine && !MayTakeBack(t, by, s.cfg.Region) {
		return nil, apperr.New(apperr.Forbidden, "only the member doing the job, or staff of the ticket's region, may give it back")
	}
	if !Releasable(t.Status) {
		return nil, apperr.New(apperr.Conflict, "a %s job cannot be given back: only an accepted, scheduled or in-progress one", t.Status)
	}
	if !mine {
		return s.takeBack(ctx, by, t, reason)
	}
	var o Offer
	err = s.db.WithContext(ctx).Where("ticket_ap_id = ? AND member_id = ? AND state = 'accepted'", t.APID, by.ID).
		Order("answered_at DESC, id DESC").Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.New(apperr.Conflict, "this job was not routed to you through the network: ask its technician")
	}
	if err != nil {
		return nil, fmt.Errorf("routing: offer of %s: %w", t.ID, err)
	}
	req := ReleaseRequest{V: wireVersion, OfferID: o.ID, RoutingID: o.RoutingID, Region: s.cfg.Region, Handle: by.Handle,
		Token: o.ReleaseToken, Reason: reason}
	var rep ReleaseReply
	if o.OriginRegion == s.cfg.Region {
		rep = s.decideRelease(ctx, req, "")
	} else if err := s.askOrigin(ctx, "release", o.OriginRegion, req, &rep, "the job is still yours"); err != nil {
		return nil, err
	}
	switch {
	case rep.OK:
	case rep.Code == "conflict" || rep.Code == "not_found":
		return nil, apperr.New(apperr.Conflict, "the job cannot be given back: %s", rep.Message)
	case rep.Code == "unavailable":
		return nil, apperr.New(apperr.Unavailable, "the job is still yours: %s", rep.Message)
	case rep.Code == "forbidden":
		return nil, apperr.New(apperr.Forbidden, "the ticket's node refused the request: %s", rep.Message)
	default:
		return nil, fmt.Errorf("routing: release %s: origin says %s: %s", t.ID, rep.Code, rep.Message)
	}
	if o.OriginRegion == s.cfg.Region {
		// Decided here: the offer ended with the decision.
		return s.tickets.ByID(ctx, t.ID)
	}
	// The origin took the job back: the offer is over, and this node's copy
	// of its ticket ends now rather than when the origin's word arrives
	// over ActivityPub.
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		// "withdrawn", which a late "accepted" message does not undo.
		if err := tx.Model(&Offer{}).Where("id = ? AND state = 'accepted'", o.ID).
			Updates(map[string]any{"state": OfferWithdrawn, "decline_reason": reason, "answered_at": storage.Now()}).Error; err != nil {
			return err
		}
		cur, err := s.tickets.ByID(ctx, t.ID)
		if err != nil || cur.AssigneeMemberID == nil || *cur.AssigneeMemberID != by.ID {
			return err // ended meanwhile by the origin's word, perhaps passed to another member
		}
		_, err = s.tickets.Withdraw(ctx, cur, by.Handle, reason, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("routing: record the release of %s: %w", t.ID, err)
	}
	s.book.invalidate() // the member has room again
	return s.tickets.ByID(ctx, t.ID)
}

// MayTakeBack reports whether the actor, staff of the ticket's region on
// its own node, may take the job back from its assignee (who cannot do it
// and cannot say so: ill, say).
func MayTakeBack(t *tickets.Ticket, by members.Actor, region string) bool {
	return by.Role.IsStaff() && t.OriginRegion == region
}

// takeBack is staff taking a job back from its assignee, on the ticket's
// node: as if the assignee gave it back, without their node's secret.
func (s *Service) takeBack(ctx context.Context, by members.Actor, t *tickets.Ticket, reason string) (*tickets.Ticket, error) {
	var r Routing
	err := s.db.WithContext(ctx).Where("ticket_id = ? AND state = 'accepted'", t.ID).Order("created_at DESC, id DESC").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && r.OfferID == nil {
		return nil, apperr.New(apperr.Conflict, "this job was not routed through the network: change its status instead")
	}
	if err != nil {
		return nil, fmt.Errorf("routing: routing of %s: %w", t.ID, err)
	}
	req := ReleaseRequest{V: wireVersion, OfferID: *r.OfferID, RoutingID: r.ID, Region: r.OfferRegion, Handle: r.OfferHandle, Reason: reason}
	switch rep := s.decideRelease(ctx, req, by.Handle); {
	case rep.OK:
	case rep.Code == "conflict" || rep.Code == "not_found":
		return nil, apperr.New(apperr.Conflict, "the job cannot be taken back: %s", rep.Message)
	default:
		return nil, fmt.Errorf("routing: take back %s: %s: %s", t.ID, rep.Code, rep.Message)
	}
	return s.tickets.ByID(ctx, t.ID)
}

// newToken is a random secret of 128 bits, in hex.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// answerRelease answers another region's release request.
func (s *Service) answerRelease(ctx context.Context, m *nats.Msg) {
	var req ReleaseRequest
	if !s.receive("release", m.Data, &req) {
		return
	}
	// The answer goes to the member's node only, and only that node asks.
	if !s.asksFor(m, req.Region) {
		s.drop("release", fmt.Errorf("reply subject %q is not an inbox of %s", m.Reply, req.Region))
		return
	}
	if code, msg := s.fromMembersNode(ctx, m, req.Region, req.Handle); code != "" {
		s.respondJSON(ctx, m, ReleaseReply{V: wireVersion, Code: code, Message: msg})
		return
	}
	s.respondJSON(ctx, m, s.decideRelease(ctx, req, ""))
}

// decideRelease takes a job back from its assignee, on the origin node, in
// one transaction guarded by the routing's state and current offer, and
// offers it to the next candidate. Asking again once it is done answers
// the same. staff is the handle of the staff member taking the job back,
// or "" when the assignee's node asks (with their secret).
func (s *Service) decideRelease(ctx context.Context, req ReleaseRequest, staff string) ReleaseReply {
	err := s.inTxThen(ctx, true, func(ctx context.Context, tx *gorm.DB) error {
		r, err := routingTx(tx, req.RoutingID)
		if err != nil {
			return err
		}
		t, err := s.tickets.ByID(ctx, r.TicketID)
		if err != nil {
			return err
		}
		current := r.State == RoutingAccepted && r.OfferID != nil && *r.OfferID == req.OfferID
		if !current || req.Handle != r.OfferHandle || req.Region != r.OfferRegion {
			// Given back already (a repeated request: its answer was lost)?
			if done, err := s.tickets.ReleasedUnderOffer(ctx, t.ID, req.OfferID); err != nil || done {
				return err
			}
			return apperr.New(apperr.Conflict, "this job is not %s's", req.Handle)
		}
		if staff == "" && r.ReleaseToken != "" && subtle.ConstantTimeCompare([]byte(req.Token), []byte(r.ReleaseToken)) != 1 {
			return apperr.New(apperr.Conflict, "this job is not %s's", req.Handle)
		}
		if t.AssigneeHandle != req.Handle || !Releasable(t.Status) {
			return apperr.New(apperr.Conflict, "the job is %s: it can no longer be given back", t.Status)
		}
		// Claim the move: only one request takes the job back.
		res := tx.Model(&Routing{}).Where("id = ? AND state = 'accepted' AND offer_id = ?", r.ID, req.OfferID).
			Update("updated_at", storage.Now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			// Another request took it back first: the same one, repeated?
			if done, err := s.tickets.ReleasedUnderOffer(ctx, t.ID, req.OfferID); err != nil || done {
				return err
			}
			return apperr.New(apperr.Conflict, "the job was given back meanwhile")
		}
		if t.AssigneeRegion != s.cfg.Region && t.RemoteTimeMinutes > 0 {
			// The time the member logged on their node stays on the ticket:
			// counted here from now on, as the next assignee's node will
			// report only its own.
			if err := s.tickets.KeepRemoteTime(ctx, t); err != nil {
				return err
			}
		}
		notes := []tickets.Change{{Action: tickets.ActReleased, NewValue: req.OfferID}}
		if req.Reason != "" {
			notes = append(notes, tickets.Change{Action: tickets.ActReleaseReason, NewValue: req.Reason})
		}
		actor, action := req.Handle, tickets.ActReleased
		if staff != "" {
			actor, action = staff, tickets.ActTakenBack
			notes = append(notes, tickets.Change{Action: tickets.ActTakenFrom, NewValue: req.Handle})
		}
		back, err := s.tickets.Move(ctx, t, releasable, tickets.StatusRouting, &tickets.Assignee{}, nil, actor, action, notes...)
		if err != nil {
			return err
		}
		// A member of this node: their offer ends here too.
		if err := tx.Model(&Offer{}).Where("id = ? AND state = 'accepted'", req.OfferID).
			Updates(map[string]any{"state": OfferWithdrawn, "decline_reason": req.Reason, "answered_at": storage.Now()}).Error; err != nil {
			return err
		}
		place, private, err := s.clients.ForRouting(ctx, t.ClientID)
		if err != nil {
			return err
		}
		s.m.releases.Inc()
		return s.offerNext(ctx, tx, r, back, place, private, ReasonDeclined, RoutingAccepted, map[string]any{"state": RoutingOffering})
	})
	switch code := apperr.CodeOf(err); {
	case err == nil:
		s.book.invalidate() // the member has room again, if of this node
		return ReleaseReply{V: wireVersion, OK: true}
	case code == apperr.Conflict:
		return ReleaseReply{V: wireVersion, Code: "conflict", Message: err.Error()}
	case code == apperr.NotFound:
		return ReleaseReply{V: wireVersion, Code: "not_found", Message: "no such job"}
	default:
		s.log.Error("routing: decide release", "offer", req.OfferID, "err", err)
		return ReleaseReply{V: wireVersion, Code: "internal", Message: "the origin node failed to record the release"}
	}
}
