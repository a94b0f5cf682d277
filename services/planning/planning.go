// Package planning holds interventions: an event on a ticket (when, where)
// to which its assignee is invited, and which they accept, accept
// tentatively or reject. The node that schedules an intervention holds it;
// when the assignee works in another region, their node holds a copy (the
// same ActivityPub id), so that each member's calendar, on their own node,
// shows their interventions from every region.
package planning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/services/validate"
)

// States of an invitation.
const (
	Invited   = "invited"
	Accepted  = "accepted"
	Tentative = "tentative"
	Rejected  = "rejected"
)

// MaxDuration bounds one intervention; longer work is several.
const MaxDuration = 7 * 24 * time.Hour

// Event is an intervention on a ticket.
type Event struct {
	ID               string    `json:"id" gorm:"primaryKey"`
	TicketID         string    `json:"ticket_id"`
	APID             string    `json:"ap_id" gorm:"column:ap_id"`
	OrganizerHandle  string    `json:"organizer"`
	AttendeeMemberID *string   `json:"-"`
	AttendeeHandle   string    `json:"attendee"`
	StartAt          time.Time `json:"start"`
	EndAt            time.Time `json:"end"`
	Location         string    `json:"location"`
	State            string    `json:"state"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
	// AnsweredAt is when the attendee gave the answer last applied, as
	// their node said (kept by the organiser's node to order answers).
	AnsweredAt *time.Time `json:"-"`
	// TicketTitle is filled in by Calendar.
	TicketTitle string `json:"ticket_title,omitempty" gorm:"-"`
}

// TableName maps Event to its table.
func (Event) TableName() string { return "ticket_events" }

// Changed is what the hooks hear of a change to an event, inside the
// transaction that made it.
type Changed struct {
	Event  *Event
	Ticket *tickets.Ticket
	// Invite is set when the event is new or its time or place changed;
	// otherwise the attendee answered.
	Invite bool
	Remote bool // the change came from another node
}

// Config is what planning needs to know about its node.
type Config struct {
	PublicURL string
}

// Service is the planning domain.
type Service struct {
	db      *storage.DB
	tickets *tickets.Service
	cfg     Config
}

// EventPlanned is published when an intervention is planned or its time
// or place changes (here, or by the organiser's node for a copy).
type EventPlanned struct {
	Event  *Event
	Ticket *tickets.Ticket
	Remote bool
}

// New returns the planning service.
func New(db *storage.DB, ts *tickets.Service, cfg Config) *Service {
	return &Service{db: db, tickets: ts, cfg: cfg}
}

// notify publishes a change, and EventPlanned for an invitation, inside
// the transaction ctx carries.
func (s *Service) notify(ctx context.Context, c *Changed) error {
	if err := storage.Publish(ctx, s.db, c); err != nil {
		return err
	}
	if c.Invite {
		return storage.Publish(ctx, s.db, EventPlanned{Event: c.Event, Ticket: c.Ticket, Remote: c.Remote})
	}
	return nil
}

// ScheduleInput is a new intervention.
type ScheduleInput struct {
	Start, End *time.Time
	Location   string
}

func checkTimes(v *apperr.Validation, start, end *time.Time) {
	switch {
	case start == nil:
		v.Reject("start", "required", "is required (RFC 3339, e.g. 2026-12-03T09:00:00+01:00)")
	case end == nil:
		v.Reject("end", "required", "is required (RFC 3339)")
	case !end.After(*start):
		v.Reject("end", "end_after_start", "must be after start")
	case end.Sub(*start) > MaxDuration:
		v.Reject("end", "max_days", "an intervention lasts at most %d days: plan several", int(MaxDuration/(24*time.Hour)))
	case start.Year() < 2000 || start.Year() > 2100:
		v.Reject("start", "out_of_range", "is out of range")
	}
}

// Schedule plans an intervention on a ticket the actor works on, for the
// ticket's assignee, who is invited (or has accepted, if they plan it
// themselves).
func (s *Service) Schedule(ctx context.Context, by members.Actor, ticketID string, in ScheduleInput) (*Event, error) {
	t, err := s.tickets.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	var v apperr.Validation
	checkTimes(&v, in.Start, in.End)
	location := validate.Text(&v, "location", in.Location, 0, 300, false)
	if t.AssigneeHandle == "" {
		v.Reject("ticket", "no_assignee", "has no assignee yet: an intervention is planned for its assignee")
	}
	switch t.Status {
	case tickets.StatusResolved, tickets.StatusClosed, tickets.StatusCancelled:
		return nil, apperr.New(apperr.Conflict, "the ticket is %s: there is nothing left to plan", t.Status)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := storage.Now()
	id := storage.NewID()
	e := &Event{ID: id, TicketID: t.ID, APID: s.cfg.PublicURL + "/events/" + id, OrganizerHandle: by.Handle,
		AttendeeMemberID: t.AssigneeMemberID, AttendeeHandle: t.AssigneeHandle, StartAt: in.Start.UTC(),
		EndAt: in.End.UTC(), Location: location, State: Invited, CreatedAt: now, UpdatedAt: now}
	if t.AssigneeMemberID != nil && *t.AssigneeMemberID == by.ID {
		e.State = Accepted
	}
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Create(e).Error; err != nil {
			return err
		}
		if err := s.tickets.Note(ctx, t, by.Handle, tickets.ActPlanned, e.StartAt.Format(time.RFC3339)); err != nil {
			return err
		}
		return s.notify(ctx, &Changed{Event: e, Ticket: t, Invite: true})
	})
	if err != nil {
		return nil, fmt.Errorf("planning: schedule on %s: %w", ticketID, err)
	}
	return e, nil
}

// Answers are what an attendee may answer, and the state each gives.
var Answers = map[string]string{"accept": Accepted, "tentative": Tentative, "reject": Rejected}

// Answer records the attendee's answer to an invitation.
func (s *Service) Answer(ctx context.Context, by members.Actor, eventID, answer string) (*Event, error) {
	var v apperr.Validation
	validate.OneOf(&v, "answer", answer, "accept", "tentative", "reject")
	if err := v.Err(); err != nil {
		return nil, err
	}
	var e Event
	err := s.db.WithContext(ctx).Where("id = ? AND attendee_member_id = ?", eventID, by.ID).Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || !storage.ValidID(eventID) {
		return nil, apperr.NotFoundf("no intervention %q for you", eventID)
	}
	if err != nil {
		return nil, fmt.Errorf("planning: event %s: %w", eventID, err)
	}
	state := Answers[answer]
	if e.State == state {
		return &e, nil
	}
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		e.State, e.UpdatedAt = state, storage.Now()
		if err := tx.Model(&Event{}).Where("id = ?", e.ID).Updates(map[string]any{"state": state, "updated_at": e.UpdatedAt}).Error; err != nil {
			return err
		}
		t, err := s.tickets.ByID(ctx, e.TicketID)
		if err != nil {
			return err
		}
		if err := s.tickets.Note(ctx, t, by.Handle, tickets.PlanningAnswer(state), e.StartAt.Format(time.RFC3339)); err != nil {
			return err
		}
		return s.notify(ctx, &Changed{Event: &e, Ticket: t})
	})
	if err != nil {
		return nil, fmt.Errorf("planning: answer %s: %w", eventID, err)
	}
	return &e, nil
}

// Calendar lists the actor's interventions (as attendee or organiser)
// that overlap [from, to), from every region, soonest first, on the jobs
// still to be done by their attendee.
func (s *Service) Calendar(ctx context.Context, by members.Actor, from, to time.Time) ([]*Event, error) {
	var v apperr.Validation
	if !to.After(from) {
		v.Add("to", "must be after from")
	} else if to.Sub(from) > 92*24*time.Hour {
		v.Add("to", "a calendar spans at most 92 days")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var events []*Event
	err := s.db.Conn(ctx).Where("(attendee_member_id = ? OR organizer_handle = ?) AND start_at < ? AND end_at > ?",
		by.ID, by.Handle, to.UTC(), from.UTC()).Order("start_at, id").Limit(2 * calendarMax).Find(&events).Error
	if err != nil {
		return nil, fmt.Errorf("planning: calendar: %w", err)
	}
	ids := make([]string, 0, len(events))
	for _, e := range events {
		ids = append(ids, e.TicketID)
	}
	jobs, err := s.tickets.Briefs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Event, 0, len(events))
	for _, e := range events {
		// Not the interventions of a job cancelled, or given back by the
		// member who was to do them.
		j, ok := jobs[e.TicketID]
		if !ok || j.Status == tickets.StatusCancelled || e.AttendeeHandle != j.AssigneeHandle {
			continue
		}
		e.TicketTitle = j.Title
		e.StartAt, e.EndAt = e.StartAt.UTC(), e.EndAt.UTC()
		if out = append(out, e); len(out) == calendarMax {
			break
		}
	}
	return out, nil
}

// calendarMax bounds a calendar's interventions.
const calendarMax = 1000

// OfTicket lists the interventions planned on a ticket the actor may see,
// soonest first.
func (s *Service) OfTicket(ctx context.Context, by members.Actor, ticketID string) ([]*Event, error) {
	t, err := s.tickets.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	var out []*Event
	if err := s.db.WithContext(ctx).Where("ticket_id = ?", t.ID).Order("start_at, id").Limit(200).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("planning: interventions of %s: %w", t.ID, err)
	}
	return out, nil
}

// Invitation is an event another node invited one of this node's members
// to, on this node's copy of a shared ticket.
type Invitation struct {
	APID       string
	Organizer  string
	Start, End time.Time
	Location   string
}

// ApplyInvite keeps, in the transaction ctx carries, an invitation received for the assignee of
// ticket t (this node's copy): new, or moved (its answer is asked again).
func (s *Service) ApplyInvite(ctx context.Context, t *tickets.Ticket, in Invitation) error {
	tx := s.db.Conn(ctx)
	var v apperr.Validation
	checkTimes(&v, &in.Start, &in.End)
	in.Location = validate.Text(&v, "location", in.Location, 0, 300, false)
	in.Organizer = validate.Text(&v, "actor", in.Organizer, 1, 320, false)
	if t.AssigneeMemberID == nil {
		v.Add("target", "the ticket's assignee is not a member of this node")
	}
	if err := v.Err(); err != nil {
		return err
	}
	now := storage.Now()
	e := &Event{ID: storage.NewID(), TicketID: t.ID, APID: in.APID, OrganizerHandle: in.Organizer,
		AttendeeMemberID: t.AssigneeMemberID, AttendeeHandle: t.AssigneeHandle, StartAt: in.Start.UTC(),
		EndAt: in.End.UTC(), Location: in.Location, State: Invited, CreatedAt: now, UpdatedAt: now}
	var cur Event
	err := tx.WithContext(ctx).Where("ap_id = ?", in.APID).Take(&cur).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		if err := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(e).Error; err != nil {
			return fmt.Errorf("planning: keep invitation %s: %w", in.APID, err)
		}
	case err != nil:
		return fmt.Errorf("planning: invitation %s: %w", in.APID, err)
	case cur.StartAt.Equal(e.StartAt) && cur.EndAt.Equal(e.EndAt) && cur.Location == e.Location:
		return nil // the same invitation again
	default:
		e.ID, e.CreatedAt = cur.ID, cur.CreatedAt
		if err := tx.WithContext(ctx).Model(&Event{}).Where("id = ?", cur.ID).Updates(map[string]any{"start_at": e.StartAt,
			"end_at": e.EndAt, "location": e.Location, "state": Invited, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("planning: move invitation %s: %w", in.APID, err)
		}
	}
	if err := s.tickets.Note(ctx, t, in.Organizer, tickets.ActPlanned, e.StartAt.Format(time.RFC3339)); err != nil {
		return err
	}
	return s.notify(ctx, &Changed{Event: e, Ticket: t, Invite: true, Remote: true})
}

// ForgetPlaces erases, in the transaction ctx carries, the places of the
// interventions on ticket id, this node's copy of another region's ticket
// (federation calls it for copies only): once the job is over, the
// client's address is not kept where no work for them is done.
func (s *Service) ForgetPlaces(ctx context.Context, ticketID string) error {
	err := s.db.Conn(ctx).Model(&Event{}).Where("ticket_id = ?", ticketID).
		Updates(map[string]any{"location": "", "updated_at": storage.Now()}).Error
	if err != nil {
		return fmt.Errorf("planning: forget the places of %s: %w", ticketID, err)
	}
	return nil
}

// ApplyAnswer records, in the transaction ctx carries, the answer the attendee's node sent to
// an invitation of this node; from must be the attendee's full handle, at
// when they gave it. Answers may arrive out of order: one older than the
// last applied is ignored.
func (s *Service) ApplyAnswer(ctx context.Context, eventAPID, state, from string, at time.Time) error {
	tx := s.db.Conn(ctx)
	var e Event
	err := tx.WithContext(ctx).Where("ap_id = ?", eventAPID).Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apperr.NotFoundf("no intervention %s", eventAPID)
	}
	if err != nil {
		return fmt.Errorf("planning: event %s: %w", eventAPID, err)
	}
	if e.AttendeeHandle != from {
		return apperr.New(apperr.Forbidden, "%s is not invited to %s", from, eventAPID)
	}
	at = at.UTC()
	if e.AnsweredAt != nil && !at.After(*e.AnsweredAt) {
		return nil // an answer given before the one applied
	}
	if err := tx.WithContext(ctx).Model(&Event{}).Where("id = ?", e.ID).
		Updates(map[string]any{"state": state, "answered_at": at, "updated_at": storage.Now()}).Error; err != nil {
		return fmt.Errorf("planning: answer to %s: %w", eventAPID, err)
	}
	if e.State == state {
		return nil
	}
	t, err := s.tickets.ByID(ctx, e.TicketID)
	if err != nil {
		return err
	}
	e.State = state
	if err := s.tickets.Note(ctx, t, from, tickets.PlanningAnswer(state), e.StartAt.Format(time.RFC3339)); err != nil {
		return err
	}
	return s.notify(ctx, &Changed{Event: &e, Ticket: t, Remote: true})
}

// Attendance is an intervention a member attended (a member's export).
type Attendance struct {
	TicketID string    `json:"ticket_id"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	State    string    `json:"state"`
}

// AttendedBy lists the interventions member id attends, by start.
func (s *Service) AttendedBy(ctx context.Context, id string) ([]Attendance, error) {
	out := []Attendance{}
	if err := s.db.Conn(ctx).Raw(`SELECT ticket_id, start_at AS start, end_at AS "end", state FROM ticket_events
		WHERE attendee_member_id = ? ORDER BY start_at`, id).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("planning: interventions of %s: %w", id, err)
	}
	return out, nil
}

// AttendeeOf is the handle of the member invited to the intervention of
// ActivityPub id eventAPID, or "" when this node has no such event.
func (s *Service) AttendeeOf(ctx context.Context, eventAPID string) (string, error) {
	var h []string
	if err := s.db.Conn(ctx).Model(&Event{}).Where("ap_id = ?", eventAPID).Pluck("attendee_handle", &h).Error; err != nil {
		return "", fmt.Errorf("planning: attendee of %s: %w", eventAPID, err)
	}
	if len(h) == 0 {
		return "", nil
	}
	return h[0], nil
}

// EventAPIDs lists the ActivityPub ids of the interventions on ticket id.
func (s *Service) EventAPIDs(ctx context.Context, ticketID string) ([]string, error) {
	var ids []string
	if err := s.db.Conn(ctx).Model(&Event{}).Where("ticket_id = ?", ticketID).Pluck("ap_id", &ids).Error; err != nil {
		return nil, fmt.Errorf("planning: events of %s: %w", ticketID, err)
	}
	return ids, nil
}

// OfTickets returns, in the transaction ctx carries, the interventions on tickets ids (a
// client's export), by start.
func (s *Service) OfTickets(ctx context.Context, ids []string) ([]*Event, error) {
	tx := s.db.Conn(ctx)
	out := []*Event{}
	if len(ids) == 0 {
		return out, nil
	}
	if err := tx.WithContext(ctx).Where("ticket_id IN ?", ids).Order("start_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("planning: events of tickets: %w", err)
	}
	return out, nil
}

// EraseTickets erases, in the transaction ctx carries, the places of the interventions on
// tickets ids (a client's erasure); their times stay.
func (s *Service) EraseTickets(ctx context.Context, ids []string) error {
	tx := s.db.Conn(ctx)
	if len(ids) == 0 {
		return nil
	}
	if err := tx.WithContext(ctx).Model(&Event{}).Where("ticket_id IN ?", ids).Update("location", "").Error; err != nil {
		return fmt.Errorf("planning: erase places: %w", err)
	}
	return nil
}
