package tickets

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
)

// This file holds the moves the routing flow makes on a ticket: they run
// inside the routing service's transaction, so that the ticket and the
// routing state change together or not at all.

// GetTx reads a ticket inside a transaction, whoever asks (the routing flow
// acts for the node, not for a member).
func (s *Service) GetTx(ctx context.Context, tx *gorm.DB, id string) (*Ticket, error) {
	return s.getRow(ctx, tx, id, "SELECT "+ticketColumns+" FROM tickets WHERE id = ?", id)
}

// Move changes a ticket's status inside tx, provided it is in one of the
// statuses from, and records who did it; with an assignee, it also assigns
// the ticket. t is the ticket as the caller read it: if it changed since
// (another version), nothing is written and a conflict is returned, as when
// it is in another status. It returns the ticket as it now is.
//
// Notes, if any, are recorded in the history with the move (their action
// and new value are kept, the rest is filled in).
func (s *Service) Move(ctx context.Context, tx *gorm.DB, t *Ticket, from []Status, to Status, assignee *Assignee,
	assigneeMemberID *string, actorHandle, action string, notes ...Change) (*Ticket, error) {
	cp := *t // the caller's copy stays as it was
	t = &cp
	id := t.ID
	ok := false
	for _, f := range from {
		ok = ok || t.Status == f
	}
	if !ok {
		return nil, apperr.New(apperr.Conflict, "the ticket is %s, not %v", t.Status, from)
	}
	now := storage.Now()
	updates := map[string]any{"status": string(to), "version": t.Version + 1, "updated_at": now}
	rows := []Change{}
	add := func(field, old, new string) {
		rows = append(rows, Change{ID: storage.NewID(), TicketID: id, Version: t.Version + 1, ActorHandle: actorHandle,
			Action: action, Field: field, OldValue: old, NewValue: new, CreatedAt: now})
	}
	if t.Status != to {
		add("status", string(t.Status), string(to))
	}
	if assignee != nil {
		updates["assignee_handle"] = assignee.Handle
		updates["assignee_region"] = assignee.Region
		updates["assignee_name"] = assignee.Name
		updates["assignee_member_id"] = assigneeMemberID
		add("assignee", t.AssigneeHandle, assignee.Handle)
	}
	if len(rows) == 0 {
		return t, nil
	}
	for _, n := range notes {
		rows = append(rows, Change{ID: storage.NewID(), TicketID: id, Version: t.Version + 1, ActorHandle: actorHandle,
			Action: n.Action, NewValue: n.NewValue, CreatedAt: now})
	}
	res := tx.WithContext(ctx).Model(&Ticket{}).Where("id = ? AND version = ?", id, t.Version).Updates(updates)
	if res.Error != nil {
		return nil, fmt.Errorf("tickets: move %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, staleVersion(t.Version)
	}
	if err := tx.WithContext(ctx).Create(&rows).Error; err != nil {
		return nil, fmt.Errorf("tickets: history of %s: %w", id, err)
	}
	old := t.Status
	var unassigned *Assignee
	if assignee != nil && t.AssigneeHandle != "" && t.AssigneeHandle != assignee.Handle {
		unassigned = &Assignee{Handle: t.AssigneeHandle, Region: t.AssigneeRegion, Name: t.AssigneeName}
	}
	t.Status, t.Version, t.UpdatedAt = to, t.Version+1, now
	fields := map[string]string{"status": string(to)}
	if assignee != nil {
		t.AssigneeHandle, t.AssigneeRegion, t.AssigneeName, t.AssigneeMemberID = assignee.Handle, assignee.Region, assignee.Name, assigneeMemberID
		fields["assignee"] = assignee.Handle
	}
	if err := s.notify(ctx, tx, &Changed{Ticket: t, By: actorHandle, Fields: fields, OldStatus: old,
		Assigned: assignee != nil && assignee.Handle != "", Unassigned: unassigned}); err != nil {
		return nil, err
	}
	return t, nil
}

// Note records an event in a ticket's history without changing it (an
// offer made, an offer declined), inside tx, at the ticket's current version.
func (s *Service) Note(ctx context.Context, tx *gorm.DB, t *Ticket, actorHandle, action, value string) error {
	c := Change{ID: storage.NewID(), TicketID: t.ID, Version: t.Version, ActorHandle: actorHandle, Action: action,
		NewValue: value, CreatedAt: storage.Now()}
	if err := tx.WithContext(ctx).Create(&c).Error; err != nil {
		return fmt.Errorf("tickets: note on %s: %w", t.ID, err)
	}
	return nil
}

// MayForward reports whether the actor may forward the ticket: its
// technician, or staff.
func MayForward(t *Ticket, actorID string, staff bool) bool {
	return staff || t.TechnicianID == actorID
}

// ActiveMinutes returns, per member of this node, the estimated minutes of
// the tickets assigned to them and not yet done (accepted, scheduled, in
// progress).
func (s *Service) ActiveMinutes(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	var rows []struct {
		MemberID string
		Minutes  int
	}
	err := s.db.WithContext(ctx).Model(&Ticket{}).Select("assignee_member_id AS member_id, SUM(estimated_minutes) AS minutes").
		Where("assignee_member_id IS NOT NULL AND status IN ?", []string{"accepted", "scheduled", "in_progress"}).
		Group("assignee_member_id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("tickets: active minutes: %w", err)
	}
	for _, r := range rows {
		out[r.MemberID] = r.Minutes
	}
	return out, nil
}

// Stats counts this node's tickets by status (copies of other regions'
// tickets included).
func (s *Service) Stats(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Status string
		N      int
	}
	if err := s.db.WithContext(ctx).Model(&Ticket{}).Select("status, COUNT(*) AS n").Group("status").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("tickets: stats: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
