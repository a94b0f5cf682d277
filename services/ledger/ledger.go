// Package ledger is the time ledger: one row per entry of time spent on a
// ticket, appended and never changed, and the totals derived from the
// entries. It owns the tables time_entries and ticket_time_totals: the
// totals are the sums of the entries, kept with each entry appended, in
// its transaction, and published: another package may read them in SQL
// (tickets reads a ticket and its time in one query), the ledger alone
// writes them.
//
// A node counts two totals per ticket: the time of its own members (Here),
// and, for a ticket shared with another region's node, the time that node
// reported (Peer); what a ticket shows is their sum. The other node reports
// its own total, not entries: Report appends the difference with what it
// reported last. When an assignee of another region gives the job back,
// the tracker keeps their time as its own (Keep) and the next assignee's
// node reports from nothing; the copy's node gives its member's time up
// (HandOver) when the job goes to another of its members.
package ledger

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// Source says in whose total an entry counts.
type Source string

// The sources.
const (
	Here Source = "here" // this node's members, or time this node kept
	Peer Source = "peer" // as the other node of a shared ticket reported it
)

// Kind says why an entry is in the ledger.
type Kind string

// The kinds of entry.
const (
	Logged     Kind = "logged"      // a member logged time
	Reported   Kind = "reported"    // the peer's report, as the difference with the last one
	Kept       Kind = "kept"        // the pair moving a given-back assignee's time to this node's own
	HandedOver Kind = "handed_over" // a copy's own time given up when the job goes to another member
	Carried    Kind = "carried"     // the counters as migration 0015 found them beyond the entries
)

// MaxMinutes bounds one logged entry: one day.
const MaxMinutes = 24 * 60

// Entry is one row of the ledger.
type Entry struct {
	ID           string
	TicketID     string
	Kind         Kind
	Source       Source
	MemberID     *string // the member of this node who logged it
	MemberHandle string  // who did the work, name@host
	OriginRegion string  // the region of the node where it was logged
	Minutes      int
	OnSite       bool
	Note         string
	CreatedAt    time.Time
}

// TableName maps Entry to its table.
func (Entry) TableName() string { return "time_entries" }

// Totals are a ticket's minutes: its own node's and its peer's.
type Totals struct {
	Here, Peer int
}

// All is the ticket's total, on both nodes.
func (t Totals) All() int { return t.Here + t.Peer }

// TimeLogged is published with every entry appended to the ledger, of
// whatever kind, inside the transaction that appends it.
type TimeLogged struct{ Entry Entry }

// Service is the ledger of one node.
type Service struct {
	db     *storage.DB
	region string
}

// New returns the ledger of the node of region.
func New(db *storage.DB, region string) *Service { return &Service{db: db, region: region} }

// LogInput is time a member of this node spent on a ticket.
type LogInput struct {
	TicketID     string
	MemberID     string
	MemberHandle string
	Minutes      int
	OnSite       bool
	Note         string
}

// Log appends time a member logged, in the transaction ctx carries (the
// caller checked that they work on the ticket). It validates the minutes
// (1 to a day) and the note.
func (s *Service) Log(ctx context.Context, in LogInput) (*Entry, error) {
	var v apperr.Validation
	if in.Minutes < 1 || in.Minutes > MaxMinutes {
		v.Reject("minutes", "minutes_range", "must be between 1 and %d (one day)", MaxMinutes)
	}
	note := validate.Text(&v, "note", in.Note, 0, 500, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	id := in.MemberID
	e := &Entry{TicketID: in.TicketID, Kind: Logged, Source: Here, MemberID: &id,
		MemberHandle: in.MemberHandle, OriginRegion: s.region, Minutes: in.Minutes, OnSite: in.OnSite, Note: note}
	return e, s.append(ctx, e)
}

// Of returns the totals of one ticket, in the transaction ctx carries if
// any.
func (s *Service) Of(ctx context.Context, ticketID string) (Totals, error) {
	all, err := s.OfMany(ctx, []string{ticketID})
	return all[ticketID], err
}

// OfMany returns the totals of tickets, by id (a ticket without entries is
// absent: its totals are zero).
func (s *Service) OfMany(ctx context.Context, ticketIDs []string) (map[string]Totals, error) {
	out := make(map[string]Totals, len(ticketIDs))
	if len(ticketIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		TicketID    string
		HereMinutes int
		PeerMinutes int
	}
	if err := s.db.Conn(ctx).Raw("SELECT ticket_id, here_minutes, peer_minutes FROM ticket_time_totals WHERE ticket_id IN ?",
		ticketIDs).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("ledger: totals: %w", err)
	}
	for _, r := range rows {
		out[r.TicketID] = Totals{Here: r.HereMinutes, Peer: r.PeerMinutes}
	}
	return out, nil
}

// Report records, in the transaction ctx carries, the total the peer of a
// shared ticket reported (from its region, for the work of handle, empty
// when the tracker reports): the difference with what it reported before
// is appended. It returns the peer's total before and whether it changed.
func (s *Service) Report(ctx context.Context, ticketID, region, handle string, total int) (before int, changed bool, err error) {
	t, err := s.Of(ctx, ticketID)
	if err != nil {
		return 0, false, err
	}
	if total == t.Peer {
		return t.Peer, false, nil
	}
	return t.Peer, true, s.append(ctx, &Entry{TicketID: ticketID, Kind: Reported, Source: Peer, MemberHandle: handle,
		OriginRegion: region, Minutes: total - t.Peer})
}

// Keep makes the peer's reported time of a ticket this node's own, in the
// transaction ctx carries: the assignee of another region (handle) gave the
// job back, and the next assignee's node will report only its own. It
// returns the minutes kept.
func (s *Service) Keep(ctx context.Context, ticketID, region, handle string) (int, error) {
	t, err := s.Of(ctx, ticketID)
	if err != nil || t.Peer == 0 {
		return 0, err
	}
	for _, e := range []*Entry{
		{TicketID: ticketID, Kind: Kept, Source: Peer, MemberHandle: handle, OriginRegion: region, Minutes: -t.Peer},
		{TicketID: ticketID, Kind: Kept, Source: Here, MemberHandle: handle, OriginRegion: region, Minutes: t.Peer},
	} {
		if err := s.append(ctx, e); err != nil {
			return 0, err
		}
	}
	return t.Peer, nil
}

// HandOver gives up, in the transaction ctx carries, this node's own time
// on its copy of another region's ticket: the member who worked on it gave
// it back, the tracker kept their time, and another member of this node
// takes the job from nothing. It returns the minutes given up.
func (s *Service) HandOver(ctx context.Context, ticketID, handle string) (int, error) {
	t, err := s.Of(ctx, ticketID)
	if err != nil || t.Here == 0 {
		return 0, err
	}
	return t.Here, s.append(ctx, &Entry{TicketID: ticketID, Kind: HandedOver, Source: Here, MemberHandle: handle,
		OriginRegion: s.region, Minutes: -t.Here})
}

// append writes an entry and adds it to its ticket's totals, in one
// transaction (the caller's, or one of its own).
func (s *Service) append(ctx context.Context, e *Entry) error {
	e.ID, e.CreatedAt = storage.NewID(), storage.Now()
	here, peer := e.Minutes, 0
	if e.Source == Peer {
		here, peer = 0, e.Minutes
	}
	err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Create(e).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO ticket_time_totals (ticket_id, here_minutes, peer_minutes) VALUES (?, ?, ?)
			ON CONFLICT (ticket_id) DO UPDATE SET here_minutes = ticket_time_totals.here_minutes + excluded.here_minutes,
			peer_minutes = ticket_time_totals.peer_minutes + excluded.peer_minutes`, e.TicketID, here, peer).Error; err != nil {
			return err
		}
		return storage.Publish(ctx, s.db, TimeLogged{Entry: *e})
	})
	if err != nil {
		return fmt.Errorf("ledger: %s on %s: %w", e.Kind, e.TicketID, err)
	}
	return nil
}

// Logged returns the time members logged on a ticket, oldest first (a
// client's export: the minutes, the note and when).
func (s *Service) Logged(ctx context.Context, ticketID string) ([]Entry, error) {
	var out []Entry
	if err := s.db.Conn(ctx).Where("ticket_id = ? AND kind = ?", ticketID, Logged).Order("created_at, id").
		Find(&out).Error; err != nil {
		return nil, fmt.Errorf("ledger: time of %s: %w", ticketID, err)
	}
	return out, nil
}

// ByMember returns the time a member of this node logged, oldest first (a
// member's export).
func (s *Service) ByMember(ctx context.Context, memberID string) ([]Entry, error) {
	var out []Entry
	if err := s.db.Conn(ctx).Where("member_id = ? AND kind = ?", memberID, Logged).Order("created_at, id").
		Find(&out).Error; err != nil {
		return nil, fmt.Errorf("ledger: time of member %s: %w", memberID, err)
	}
	return out, nil
}

// EraseNotes empties, in the transaction ctx carries, the notes of the
// entries of tickets whose client is erased: the only change the ledger
// allows, since a note may name the client.
func (s *Service) EraseNotes(ctx context.Context, ticketIDs []string) error {
	if len(ticketIDs) == 0 {
		return nil
	}
	if err := s.db.Conn(ctx).Exec("UPDATE time_entries SET note = '' WHERE ticket_id IN ?", ticketIDs).Error; err != nil {
		return fmt.Errorf("ledger: erase notes: %w", err)
	}
	return nil
}
