package federation

import (
	"context"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/privacy"
)

var _ privacy.Sharing = (*Service)(nil)

// Recipients lists, from the records of deliveries, what this node sent
// other nodes about the objects ids (tickets, their comments and
// interventions, by ActivityPub id), oldest first.
func (s *Service) Recipients(ctx context.Context, ids []string) ([]privacy.Delivery, error) {
	return s.transport.Recipients(ctx, ids)
}

// SetEraser gives federation what erases, inside a transaction, this
// node's copy of another region's ticket (apID) when its tracker says its
// client's data was erased. Set once, before Start.
func (s *Service) SetEraser(f func(ctx context.Context, apID string) error) {
	s.eraseCopy = f
}

// ClientErased, inside the transaction that erased a client's data on
// this node, empties the bodies of what the federation holds about its
// objects (ids: its tickets, their comments and interventions), gives up
// the deliveries of them still due, and tells every node that received
// one of its tickets to erase its copy, as durably as any delivery.
func (s *Service) ClientErased(ctx context.Context, tickets []string, ids []string) error {
	tx := s.db.Conn(ctx)
	if len(ids) == 0 {
		return nil
	}
	now := time.Now().UTC()
	inboxes, err := s.transport.ClientErased(ctx, tickets, ids, now)
	if err != nil {
		return err
	}
	if err := s.inbox.EmptyAbout(ctx, ids); err != nil {
		return err
	}
	sort.Strings(inboxes)
	for _, apID := range tickets {
		if hostOf(apID) != s.host {
			continue
		}
		act, err := doc.ActivityOf("Delete", s.newActivityID(), s.NodeActor(), apID, nil, "", now)
		if err != nil {
			return err
		}
		act["coopnetErase"] = "client"
		if err := s.transport.Enqueue(ctx, tx, act, inboxes); err != nil {
			return err
		}
	}
	return nil
}

// applyErase erases this node's copy of a ticket whose tracker erased its
// client's data (Delete of the ticket, coopnetErase "client"). Only the
// tracker says so; a node holding no copy has nothing to do.
func (s *Service) applyErase(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	apID := a.ObjectID
	if hostOf(apID) != hostOf(a.Actor) {
		return apperr.New(apperr.Forbidden, "%s may not erase %s", hostOf(a.Actor), apID)
	}
	if s.eraseCopy == nil {
		return nil
	}
	t, err := s.tickets.GetByAPID(ctx, apID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if t.OriginRegion == s.cfg.Region {
		return apperr.New(apperr.Forbidden, "%s is this node's own ticket", apID)
	}
	if err := s.eraseCopy(ctx, apID); err != nil {
		return err
	}
	related, err := s.planning.EventAPIDs(ctx, t.ID)
	if err != nil {
		return err
	}
	return s.inbox.EmptyAbout(ctx, append(related, apID))
}

// Wake tells the delivery workers that work was queued (after a commit).
func (s *Service) Wake() { s.transport.Wake() }
