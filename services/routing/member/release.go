package member

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/services/validate"
)

// ReleasableStatuses are the statuses of a job its assignee may give back: taken,
// not finished.
var ReleasableStatuses = []tickets.Status{tickets.StatusAccepted, tickets.StatusScheduled, tickets.StatusInProgress}

// Releasable reports whether a job in that status may be given back.
func Releasable(st tickets.Status) bool { return slices.Contains(ReleasableStatuses, st) }

// Release gives back a job the actor accepted, with a reason for the
// ticket's technician. The origin node decides; it answers the ticket as
// the actor's node now holds it.
func (s *Service) Release(ctx context.Context, by members.Actor, ticketID, reason string) (*tickets.Ticket, error) {
	var v apperr.Validation
	reason = validate.Text(&v, "reason", reason, 1, wire.MaxReleaseReason, true)
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
		return s.origin.TakeBack(ctx, by, t, reason)
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
	req := wire.ReleaseRequest{V: wire.Version, OfferID: o.ID, RoutingID: o.RoutingID, Region: s.cfg.Region, Handle: by.Handle,
		Token: o.ReleaseToken, Reason: reason}
	var rep wire.ReleaseReply
	if o.OriginRegion == s.cfg.Region {
		rep = s.origin.DecideRelease(ctx, req, "")
	} else if err := s.relay.Ask(ctx, "release", o.OriginRegion, req, &rep, "the job is still yours"); err != nil {
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
		if err := s.GivenBack(ctx, o.ID, reason); err != nil {
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

// newToken is a random secret of 128 bits, in hex.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// GivenBack ends, in the transaction ctx carries, the accepted offer id
// whose job was given back for reason: "withdrawn", which a late
// "accepted" message does not undo. An offer of another node, or no longer
// accepted, is left alone.
func (s *Service) GivenBack(ctx context.Context, id, reason string) error {
	return s.db.Conn(ctx).Model(&Offer{}).Where("id = ? AND state = 'accepted'", id).
		Updates(map[string]any{"state": OfferWithdrawn, "decline_reason": reason, "answered_at": storage.Now()}).Error
}
