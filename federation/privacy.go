package federation

import (
	"context"
	"fmt"
	"github.com/coopnet/coopnet/federation/doc"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/privacy"
)

var _ privacy.Sharing = (*Service)(nil)

// Recipients lists, from the records of deliveries, what this node sent
// other nodes about the objects ids (tickets, their comments and
// interventions, by ActivityPub id), oldest first.
func (s *Service) Recipients(ctx context.Context, ids []string) ([]privacy.Delivery, error) {
	tx := s.db.Conn(ctx)
	out := []privacy.Delivery{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		Inbox, Type, ObjectID, ContextID, State string
		CreatedAt                               time.Time
		DoneAt                                  *time.Time
		Attempts                                int
		HasBody                                 bool
	}
	if err := tx.WithContext(ctx).Raw(`SELECT inbox, type, object_id, context_id, state, created_at, done_at, attempts,
		body <> '' AS has_body FROM federation_outbox WHERE object_id IN ? OR context_id IN ? ORDER BY created_at, id`, ids, ids).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("federation: deliveries: %w", err)
	}
	for _, r := range rows {
		var done *time.Time
		if r.DoneAt != nil {
			d := r.DoneAt.UTC()
			done = &d
		}
		out = append(out, privacy.Delivery{Node: hostOf(r.Inbox), Type: r.Type, Object: r.ObjectID, Context: r.ContextID, State: r.State,
			QueuedAt: r.CreatedAt.UTC(), DoneAt: done, BodyKept: r.HasBody, Attempts: r.Attempts})
	}
	return out, nil
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
	var inboxes []string
	if err := tx.Model(&outboxRow{}).Distinct("inbox").Where("object_id IN ? OR context_id IN ?", tickets, tickets).
		Pluck("inbox", &inboxes).Error; err != nil {
		return fmt.Errorf("federation: who received the client's tickets: %w", err)
	}
	if err := tx.Exec(`UPDATE federation_outbox SET state = 'failed', last_error = 'erased: the client''s data was erased', done_at = ?,
		lease_until = NULL WHERE state = 'pending' AND (object_id IN ? OR context_id IN ?)`, now, ids, ids).Error; err != nil {
		return fmt.Errorf("federation: give up deliveries: %w", err)
	}
	if err := tx.Exec(`UPDATE federation_outbox SET body = '', body_purged_at = ? WHERE body <> '' AND (object_id IN ? OR context_id IN ?)`,
		now, ids, ids).Error; err != nil {
		return fmt.Errorf("federation: empty deliveries: %w", err)
	}
	if err := s.emptyReceived(ctx, tx, ids); err != nil {
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
		if err := s.enqueue(ctx, tx, act, inboxes); err != nil {
			return err
		}
	}
	return nil
}

// emptyReceived empties the bodies of the activities received that are
// about the objects ids.
func (s *Service) emptyReceived(ctx context.Context, tx *gorm.DB, ids []string) error {
	now := time.Now().UTC()
	for _, id := range ids {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(id) + "%"
		if err := tx.WithContext(ctx).Exec(`UPDATE federation_inbox SET body = '', body_purged_at = ? WHERE body <> '' AND state <> 'pending'
			AND body LIKE ? ESCAPE '\'`, now, like).Error; err != nil {
			return fmt.Errorf("federation: empty received activities: %w", err)
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
	return s.emptyReceived(ctx, tx, append(related, apID))
}
