package tickets

import (
	"context"
	"fmt"
	"slices"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
)

// This file holds the moves the routing flow makes on a ticket: they run
// inside the routing service's transaction, so that the ticket and the
// routing state change together or not at all.

// ByID reads a ticket inside a transaction, whoever asks (the routing flow
// acts for the node, not for a member).
func (s *Service) ByID(ctx context.Context, id string) (*Ticket, error) {
	tx := s.db.Conn(ctx)
	return s.getRow(ctx, tx, id, ticketSelect+" WHERE id = ?", id)
}

// Move changes a ticket's status in the transaction ctx carries, provided it is in one of the
// statuses from, and records who did it; with an assignee, it also assigns
// the ticket. t is the ticket as the caller read it: if it changed since
// (another version), nothing is written and a conflict is returned, as when
// it is in another status. It returns the ticket as it now is.
//
// Notes, if any, are recorded in the history with the move (their action
// and new value are kept, the rest is filled in).
func (s *Service) Move(ctx context.Context, t *Ticket, from []Status, to Status, assignee *Assignee,
	assigneeMemberID *string, actorHandle string, action Action, notes ...Change) (*Ticket, error) {
	tx := s.db.Conn(ctx)
	m, err := s.PlanMove(t, from, to, assignee, assigneeMemberID, actorHandle, action, notes...)
	if err != nil {
		return nil, err
	}
	if err := s.db.RunStmts(ctx, tx, m.Stmts); err != nil {
		return nil, m.Failed(err, 0)
	}
	if err := s.Moved(ctx, m); err != nil {
		return nil, err
	}
	return m.Ticket, nil
}

// A Moving is a move of a ticket planned by PlanMove: the statements that
// make it, to run in a transaction, the first a guard on the ticket's
// version; then Moved, in the same transaction. A caller with statements
// of its own runs them all together (storage.DB.Pipeline).
type Moving struct {
	Stmts   []storage.Stmt
	Ticket  *Ticket // as it is once moved
	version int     // the version moved from
	changed *Changed
}

// PlanMove plans what Move does, without running it.
func (s *Service) PlanMove(t *Ticket, from []Status, to Status, assignee *Assignee,
	assigneeMemberID *string, actorHandle string, action Action, notes ...Change) (*Moving, error) {
	cp := *t // the caller's copy stays as it was
	t = &cp
	if !slices.Contains(from, t.Status) {
		return nil, apperr.New(apperr.Conflict, "the ticket is %s, not %v", t.Status, from)
	}
	if t.Status != to && !Allowed(t.Status, to, ByRouting, action) {
		return nil, fmt.Errorf("tickets: the lifecycle has no move of %s from %s to %s by the routing", action, t.Status, to)
	}
	m := &Moving{Ticket: t, version: t.Version}
	now := storage.Now()
	version := t.Version + 1
	var rows []Change
	add := func(field, old, new string) {
		rows = append(rows, Change{ID: storage.NewID(), TicketID: t.ID, Version: version, ActorHandle: actorHandle,
			Action: action, Field: field, OldValue: old, NewValue: new, CreatedAt: now})
	}
	if t.Status != to {
		add("status", string(t.Status), string(to))
	}
	set := "status = ?, version = ?, updated_at = ?"
	args := []any{string(to), version, now}
	if assignee != nil {
		set += ", assignee_handle = ?, assignee_region = ?, assignee_name = ?, assignee_member_id = ?"
		args = append(args, assignee.Handle, assignee.Region, assignee.Name, assigneeMemberID)
		add("assignee", t.AssigneeHandle, assignee.Handle)
	}
	if len(rows) == 0 {
		return m, nil // nothing changes
	}
	for _, n := range notes {
		rows = append(rows, Change{ID: storage.NewID(), TicketID: t.ID, Version: version, ActorHandle: actorHandle,
			Action: n.Action, NewValue: n.NewValue, CreatedAt: now})
	}
	m.Stmts = []storage.Stmt{
		{SQL: "UPDATE tickets SET " + set + " WHERE id = ? AND version = ?", Args: append(args, t.ID, t.Version), Guard: true},
		InsertHistory(rows...),
	}
	old := t.Status
	var unassigned *Assignee
	if assignee != nil && t.AssigneeHandle != "" && t.AssigneeHandle != assignee.Handle {
		unassigned = &Assignee{Handle: t.AssigneeHandle, Region: t.AssigneeRegion, Name: t.AssigneeName}
	}
	t.Status, t.Version, t.UpdatedAt = to, version, now
	fields := map[string]string{"status": string(to)}
	if assignee != nil {
		t.AssigneeHandle, t.AssigneeRegion, t.AssigneeName, t.AssigneeMemberID = assignee.Handle, assignee.Region, assignee.Name, assigneeMemberID
		fields["assignee"] = assignee.Handle
	}
	m.changed = &Changed{Ticket: t, By: actorHandle, Fields: fields, OldStatus: old,
		Assigned: assignee != nil && assignee.Handle != "", Unassigned: unassigned}
	return m, nil
}

// Failed is the error of a move whose statements failed with err, run at
// index at of a caller's: a conflict when the ticket's version changed
// meanwhile (its guard).
func (m *Moving) Failed(err error, at int) error {
	if storage.UnmetAt(err, at) {
		return staleVersion(m.version)
	}
	return fmt.Errorf("tickets: move %s: %w", m.Ticket.ID, err)
}

// Moved runs, in the transaction where the move's statements ran, what
// follows them: the hooks that hear of the change (none for a nil m).
func (s *Service) Moved(ctx context.Context, m *Moving) error {
	if m == nil || m.changed == nil {
		return nil
	}
	return s.notify(ctx, m.changed)
}

// InsertHistory is the statement that records rows in tickets' history.
func InsertHistory(rows ...Change) storage.Stmt {
	q := "INSERT INTO ticket_history (id, ticket_id, version, actor_handle, action, field, old_value, new_value, created_at) VALUES "
	args := make([]any, 0, 9*len(rows))
	for i, c := range rows {
		if i > 0 {
			q += ", "
		}
		q += "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args = append(args, c.ID, c.TicketID, c.Version, c.ActorHandle, string(c.Action), c.Field, c.OldValue, c.NewValue, c.CreatedAt)
	}
	return storage.Stmt{SQL: q, Args: args}
}

// Note records an event in a ticket's history without changing it (an
// offer made, an offer declined), in the transaction ctx carries, at the ticket's current version.
func (s *Service) Note(ctx context.Context, t *Ticket, actorHandle string, action Action, value string) error {
	tx := s.db.Conn(ctx)
	if err := s.db.RunStmts(ctx, tx, []storage.Stmt{NoteStmt(t, actorHandle, action, value)}); err != nil {
		return fmt.Errorf("tickets: note on %s: %w", t.ID, err)
	}
	return nil
}

// NoteStmt is the statement Note runs.
func NoteStmt(t *Ticket, actorHandle string, action Action, value string) storage.Stmt {
	return InsertHistory(Change{ID: storage.NewID(), TicketID: t.ID, Version: t.Version, ActorHandle: actorHandle, Action: action,
		NewValue: value, CreatedAt: storage.Now()})
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
	err := s.db.Conn(ctx).Model(&Ticket{}).Select("assignee_member_id AS member_id, SUM(estimated_minutes) AS minutes").
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
