package tickets

import (
	"context"
	"fmt"
	"time"
)

// The text an erased ticket and its comments keep.
const (
	ErasedTitle   = "Demande effacée"
	ErasedComment = "[effacé]"
)

// TimeEntry is time logged on a ticket, as a client's export shows it.
type TimeEntry struct {
	Minutes   int       `json:"minutes"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

// Record is one ticket of a client, as the client's export shows it:
// the ticket, its public comments and the time logged on it.
type Record struct {
	Ticket   View        `json:"ticket"`
	APID     string      `json:"-"`
	Comments []*Comment  `json:"comments"`
	Time     []TimeEntry `json:"time"`
}

// OfClient returns, in the transaction ctx carries, every ticket of a client with its public
// comments and time, oldest first (a client's export; the caller checked
// who asks).
func (s *Service) OfClient(ctx context.Context, clientID string) ([]Record, error) {
	tx := s.db.Conn(ctx)
	var ts []*Ticket
	if err := tx.Where("client_id = ?", clientID).Order("id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("tickets: of client %s: %w", clientID, err)
	}
	if err := s.timedAll(ctx, ts); err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(ts))
	for _, t := range ts {
		r := Record{Ticket: t.View(), APID: t.APID, Comments: []*Comment{}, Time: []TimeEntry{}}
		if err := tx.Where("ticket_id = ? AND NOT internal", t.ID).Order("created_at, id").Find(&r.Comments).Error; err != nil {
			return nil, fmt.Errorf("tickets: comments of %s: %w", t.ID, err)
		}
		if err := s.attachmentsOf(ctx, r.Comments); err != nil {
			return nil, err
		}
		logged, err := s.ledger.Logged(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range logged {
			r.Time = append(r.Time, TimeEntry{Minutes: e.Minutes, Note: e.Note, CreatedAt: e.CreatedAt.UTC()})
		}
		out = append(out, r)
	}
	return out, nil
}

// Erased is what an erasure changed of a client's tickets: their ids here
// and their ActivityPub ids (to find what the federation and the routing
// hold of them).
type Erased struct {
	IDs, APIDs []string
}

// EraseClient anonymises, in the transaction ctx carries, the tickets of a client: titles,
// descriptions, the comments (public and internal), the old and new values
// of those fields in the history, the notes of the time logged. Statuses,
// skills, estimates, hours and dates stay: the coop's figures.
func (s *Service) EraseClient(ctx context.Context, clientID string) (Erased, error) {
	tx := s.db.Conn(ctx)
	var e Erased
	var rows []struct {
		ID   string
		APID string `gorm:"column:ap_id"`
	}
	if err := tx.Table("tickets").Select("id, ap_id").Where("client_id = ?", clientID).Scan(&rows).Error; err != nil {
		return e, fmt.Errorf("tickets: erase for %s: %w", clientID, err)
	}
	for _, r := range rows {
		e.IDs, e.APIDs = append(e.IDs, r.ID), append(e.APIDs, r.APID)
	}
	if len(e.IDs) == 0 {
		return e, nil
	}
	steps := []struct {
		q    string
		args []any
	}{
		{"UPDATE tickets SET title = ?, description = '', search_text = ?, version = version + 1, updated_at = ? WHERE id IN ?",
			[]any{ErasedTitle, searchText(ErasedTitle, ""), time.Now().UTC(), e.IDs}},
		{"UPDATE ticket_comments SET body = ? WHERE ticket_id IN ?", []any{ErasedComment, e.IDs}},
		{"UPDATE ticket_history SET old_value = '', new_value = '' WHERE ticket_id IN ? AND field IN ('title', 'description', 'reason', 'release_reason')",
			[]any{e.IDs}},
		{"UPDATE ticket_history SET new_value = '' WHERE ticket_id IN ? AND action IN ('release_reason', 'refused')", []any{e.IDs}},
	}
	for _, st := range steps {
		if err := tx.Exec(st.q, st.args...).Error; err != nil {
			return e, fmt.Errorf("tickets: erase for %s: %w", clientID, err)
		}
	}
	if err := s.eraseAttachments(ctx, e.IDs); err != nil {
		return e, err
	}
	return e, s.ledger.EraseNotes(ctx, e.IDs)
}

// Scrub sets, in the transaction ctx carries, the title and description of this node's copy
// of another region's ticket, scrubbed of its client's contact once the
// job is over, and deletes the copy's attached files. The version does not change: the tracker's next state, if
// the job comes back, sets them again.
func (s *Service) Scrub(ctx context.Context, id, title, description string) error {
	tx := s.db.Conn(ctx)
	res := tx.WithContext(ctx).Exec("UPDATE tickets SET title = ?, description = ?, search_text = ? WHERE id = ? AND origin_region <> ?",
		title, description, searchText(title, description), id, s.cfg.Region)
	if res.Error != nil {
		return fmt.Errorf("tickets: scrub %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil // not a copy
	}
	// The job's files go too (photos of the client's site, quotes): they
	// stay with the ticket on its own node.
	return s.eraseAttachments(ctx, []string{id})
}

// WorkRef names a ticket a member took in or worked on, without its
// content (a member's export).
type WorkRef struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// CommentRef is one of a member's comments: their own words.
type CommentRef struct {
	TicketID  string    `json:"ticket_id"`
	Body      string    `json:"body"`
	Internal  bool      `json:"internal"`
	CreatedAt time.Time `json:"created_at"`
}

// TimeRef is time a member logged.
type TimeRef struct {
	TicketID  string    `json:"ticket_id"`
	Minutes   int       `json:"minutes"`
	CreatedAt time.Time `json:"created_at"`
}

// Work is what a member did on this node's tickets (a member's export).
type Work struct {
	TakenIn, Assigned []WorkRef
	Comments          []CommentRef
	Time              []TimeRef
}

// WorkOf returns what member id did on this node's tickets, each list by
// date.
func (s *Service) WorkOf(ctx context.Context, id string) (Work, error) {
	w := Work{TakenIn: []WorkRef{}, Assigned: []WorkRef{}, Comments: []CommentRef{}, Time: []TimeRef{}}
	db := s.db.Conn(ctx)
	for _, st := range []struct {
		dst any
		q   string
	}{
		{&w.TakenIn, "SELECT id, status, created_at FROM tickets WHERE technician_id = ? ORDER BY created_at"},
		{&w.Assigned, "SELECT id, status, created_at FROM tickets WHERE assignee_member_id = ? ORDER BY created_at"},
		{&w.Comments, "SELECT ticket_id, body, internal, created_at FROM ticket_comments WHERE author_id = ? ORDER BY created_at"},
	} {
		if err := db.Raw(st.q, id).Scan(st.dst).Error; err != nil {
			return w, fmt.Errorf("tickets: work of %s: %w", id, err)
		}
	}
	logged, err := s.ledger.ByMember(ctx, id)
	if err != nil {
		return w, err
	}
	for _, e := range logged {
		w.Time = append(w.Time, TimeRef{TicketID: e.TicketID, Minutes: e.Minutes, CreatedAt: e.CreatedAt.UTC()})
	}
	return w, nil
}

// EraseMemberName replaces member id's name on the records of their work
// (their comments, the tickets assigned to them) by name; their handle
// stays, as the pseudonym the work is recorded under.
func (s *Service) EraseMemberName(ctx context.Context, id, name string) error {
	db := s.db.Conn(ctx)
	for _, q := range []string{
		"UPDATE ticket_comments SET author_name = ? WHERE author_id = ?",
		"UPDATE tickets SET assignee_name = ? WHERE assignee_member_id = ?",
	} {
		if err := db.Exec(q, name, id).Error; err != nil {
			return fmt.Errorf("tickets: erase the name of %s: %w", id, err)
		}
	}
	return nil
}
