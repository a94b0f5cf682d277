package routing

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/score"
	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// maxReleaseReason bounds the reason given with a job given back.
const maxReleaseReason = wire.MaxReleaseReason

// origin is the service as the member's side sees it: the node that
// decides for its own region's jobs.
type origin struct{ s *Service }

func (o origin) DecideAccept(ctx context.Context, req wire.AcceptRequest) member.AcceptReply {
	return o.s.decideAccept(ctx, req)
}

func (o origin) DecideRelease(ctx context.Context, req wire.ReleaseRequest, staff string) wire.ReleaseReply {
	return o.s.decideRelease(ctx, req, staff)
}

func (o origin) TakeBack(ctx context.Context, by members.Actor, t *tickets.Ticket, reason string) (*tickets.Ticket, error) {
	return o.s.takeBack(ctx, by, t, reason)
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
	req := wire.ReleaseRequest{V: wire.Version, OfferID: *r.OfferID, RoutingID: r.ID, Region: r.OfferRegion, Handle: r.OfferHandle, Reason: reason}
	switch rep := s.decideRelease(ctx, req, by.Handle); {
	case rep.OK:
	case rep.Code == "conflict" || rep.Code == "not_found":
		return nil, apperr.New(apperr.Conflict, "the job cannot be taken back: %s", rep.Message)
	default:
		return nil, fmt.Errorf("routing: take back %s: %s: %s", t.ID, rep.Code, rep.Message)
	}
	return s.tickets.ByID(ctx, t.ID)
}

// answerRelease answers another region's release request.
func (s *Service) answerRelease(ctx context.Context, m *nats.Msg) {
	var req wire.ReleaseRequest
	if !s.relay.Receive("release", m.Data, &req) {
		return
	}
	// The answer goes to the member's node only, and only that node asks.
	if !relay.AsksFor(m, req.Region) {
		s.relay.Drop("release", fmt.Errorf("reply subject %q is not an inbox of %s", m.Reply, req.Region))
		return
	}
	if code, msg := s.fromMembersNode(ctx, m, req.Region, req.Handle); code != "" {
		s.relay.RespondJSON(ctx, m, wire.ReleaseReply{V: wire.Version, Code: code, Message: msg})
		return
	}
	s.relay.RespondJSON(ctx, m, s.decideRelease(ctx, req, ""))
}

// decideRelease takes a job back from its assignee, on the origin node, in
// one transaction guarded by the routing's state and current offer, and
// offers it to the next candidate. Asking again once it is done answers
// the same. staff is the handle of the staff member taking the job back,
// or "" when the assignee's node asks (with their secret).
func (s *Service) decideRelease(ctx context.Context, req wire.ReleaseRequest, staff string) wire.ReleaseReply {
	err := s.relay.InTxThen(ctx, true, func(ctx context.Context, tx *gorm.DB) error {
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
		if t.AssigneeHandle != req.Handle || !member.Releasable(t.Status) {
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
		back, err := s.tickets.Move(ctx, t, member.ReleasableStatuses, tickets.StatusRouting, &tickets.Assignee{}, nil, actor, action, notes...)
		if err != nil {
			return err
		}
		// A member of this node: their offer ends here too.
		if err := s.member.GivenBack(ctx, req.OfferID, req.Reason); err != nil {
			return err
		}
		place, private, err := s.clients.ForRouting(ctx, t.ClientID)
		if err != nil {
			return err
		}
		s.m.releases.Inc()
		return s.offerNext(ctx, tx, r, back, place, private, score.ReasonDeclined, RoutingAccepted, map[string]any{"state": RoutingOffering})
	})
	switch code := apperr.CodeOf(err); {
	case err == nil:
		s.member.Invalidate() // the member has room again, if of this node
		return wire.ReleaseReply{V: wire.Version, OK: true}
	case code == apperr.Conflict:
		return wire.ReleaseReply{V: wire.Version, Code: "conflict", Message: err.Error()}
	case code == apperr.NotFound:
		return wire.ReleaseReply{V: wire.Version, Code: "not_found", Message: "no such job"}
	default:
		s.log.Error("routing: decide release", "offer", req.OfferID, "err", err)
		return wire.ReleaseReply{V: wire.Version, Code: "internal", Message: "the origin node failed to record the release"}
	}
}

// fromMembersNode checks that a request received over NATS in the name of
// a member (handle, of region) comes from that member's node, and if not,
// returns the code and message to answer (see relay.SignedBy). A member of this
// node's region acts on this node, never over NATS.
func (s *Service) fromMembersNode(ctx context.Context, m *nats.Msg, region, handle string) (code, message string) {
	if region == s.cfg.Region {
		return "forbidden", "a member of this region acts on its own node"
	}
	return s.relay.SignedBy(ctx, m, handle, region)
}
