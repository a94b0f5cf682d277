package tickets

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// AddComment adds a public or internal comment to a ticket the actor works on.
func (s *Service) AddComment(ctx context.Context, by members.Actor, ticketID, body string, internal bool) (*Comment, error) {
	return s.addComment(ctx, by, ticketID, body, internal, nil)
}

// addComment adds a comment with the files kept for it (none, or some
// from Accept: then the body may be empty).
func (s *Service) addComment(ctx context.Context, by members.Actor, ticketID, body string, internal bool, kept []*files.Stored) (*Comment, error) {
	t, err := s.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	var v apperr.Validation
	least := 1
	if len(kept) > 0 {
		least = 0 // the files say it
	}
	body = validate.Text(&v, "body", body, least, 20000, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := storage.Now()
	authorID := by.ID
	c := &Comment{ID: storage.NewID(), TicketID: t.ID, AuthorID: &authorID, AuthorHandle: by.Handle,
		AuthorName: by.Name, Body: body, Internal: internal, CreatedAt: now}
	if !internal {
		apID := s.CommentAPID(c.ID)
		c.APID = &apID
	}
	action := ActCommented
	if internal {
		action = ActCommentedInternally
	}
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		c.Attachments = []*Attachment{}
		if err := s.insertAttachments(tx, c, kept); err != nil {
			return err
		}
		if err := tx.Create(&Change{ID: storage.NewID(), TicketID: t.ID, Version: t.Version, ActorHandle: by.Handle,
			Action: action, NewValue: c.ID, CreatedAt: now}).Error; err != nil {
			return err
		}
		return s.notify(ctx, &Changed{Ticket: t, By: by.Handle, OldStatus: t.Status, Comment: c})
	})
	if err != nil {
		return nil, fmt.Errorf("tickets: comment on %s: %w", ticketID, err)
	}
	return c, nil
}

// Comments lists the comments of a ticket the actor may see, oldest first,
// up to limit after the cursor.
func (s *Service) Comments(ctx context.Context, by members.Actor, ticketID, after string, limit int) ([]*Comment, error) {
	if _, err := s.Get(ctx, by, ticketID); err != nil {
		return nil, err
	}
	var out []*Comment
	if err := s.db.WithContext(ctx).Where("ticket_id = ? AND id > ?", ticketID, after).Order("id").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("tickets: comments of %s: %w", ticketID, err)
	}
	return out, s.attachmentsOf(ctx, out)
}

// History lists every change of a ticket the actor may see, oldest first,
// starting with its creation (whose entry has the ticket's id), up to limit
// after the cursor.
func (s *Service) History(ctx context.Context, by members.Actor, ticketID, after string, limit int) ([]*Change, error) {
	t, err := s.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	var out []*Change
	if after == "" {
		out = append(out, &Change{ID: t.ID, TicketID: t.ID, Version: 1, ActorHandle: t.CreatedBy, Action: ActCreated,
			NewValue: string(StatusNew), CreatedAt: t.CreatedAt})
		limit--
	}
	var later []*Change
	if err := s.db.WithContext(ctx).Where("ticket_id = ? AND id > ?", ticketID, after).Order("id").Limit(limit).Find(&later).Error; err != nil {
		return nil, fmt.Errorf("tickets: history of %s: %w", ticketID, err)
	}
	return append(out, later...), nil
}
