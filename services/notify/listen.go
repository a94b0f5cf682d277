package notify

import (
	"context"
	"strings"
	"time"

	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// Listen wires the service to the domain events it tells of: in the
// transaction that made them, so that a notification is written with what
// it tells or not at all.
func (s *Service) Listen() {
	storage.Listen(s.db, s.offerMade, nil)
	storage.Listen(s.db, s.offerAnswered, nil)
	storage.Listen(s.db, s.ticketChanged, nil)
	storage.Listen(s.db, s.commentAdded, nil)
	storage.Listen(s.db, s.eventChanged, nil)
}

func (s *Service) offerMade(ctx context.Context, e member.OfferMade) error {
	o := e.Offer
	return s.record(ctx, event{kind: Offer, to: []string{o.MemberID}, actor: o.ForwardedByName, offerID: o.ID})
}

func (s *Service) offerAnswered(ctx context.Context, e member.OfferAnswered) error {
	o := e.Offer
	switch o.State {
	case member.OfferLost, member.OfferWithdrawn, member.OfferExpired, member.OfferSuperseded:
		return s.record(ctx, event{kind: OfferGone, to: []string{o.MemberID}, offerID: o.ID, detail: string(o.State)})
	}
	// Accepted or declined: the member did it; their offers page changes.
	storage.AfterCommit(ctx, func() { s.Touch(o.MemberID) })
	return nil
}

// ticketChanged tells the members who work on a ticket of this node what
// changed, but not the one who changed it: the member in charge
// (TechnicianID) and the assignee if they are of this node. On a copy of
// another region's ticket both are the member doing the job.
func (s *Service) ticketChanged(ctx context.Context, c *tickets.Changed) error {
	t := c.Ticket
	both := workers(t)
	// Whatever changed, the pages of those who see the ticket change.
	storage.AfterCommit(ctx, func() { s.Touch(both...) })
	e := event{to: both, byHandle: c.By, ticketID: t.ID, urgent: t.Priority == "urgent"}
	switch {
	case c.Comment != nil:
		return nil // told by commentAdded, which hears the other node's comments too
	case c.Assigned && c.Unassigned == nil:
		// The job was taken: its tracker's member in charge is told. The
		// copy made on the assignee's node tells nobody: they took it.
		if t.OriginRegion != s.cfg.Region {
			return nil
		}
		e.kind, e.actor, e.to = Accepted, t.AssigneeName, []string{t.TechnicianID}
	case c.Unassigned != nil:
		e.kind, e.actor = Released, c.Unassigned.Name
	case c.OldStatus != t.Status && routingStep(c):
		return nil
	case c.OldStatus != t.Status:
		e.kind, e.detail = Status, string(t.Status)
	default:
		return nil
	}
	// Whom first: the member who forwarded their own request is told
	// nothing, and their name need not be looked up.
	to, err := s.recipients(ctx, e)
	if err != nil || len(to) == 0 {
		return err
	}
	if e.actor == "" {
		e.actor = s.nameOf(ctx, c.By, t)
	}
	return s.write(ctx, e, to)
}

// routingStep reports a move the routing makes on its way — searching,
// offering to the next candidate — which tells nobody anything: its
// outcomes do (the job accepted, or no taker: unroutable), and the pages
// show the steps live. Told, they filled the member's inbox with one line
// per candidate, written inside the routing's own transaction.
func routingStep(c *tickets.Changed) bool {
	st := c.Ticket.Status
	return strings.HasPrefix(c.By, "routing@") && (st == tickets.StatusRouting || st == tickets.StatusOffered)
}

// commentAdded tells the members who work on the ticket of a comment,
// made here or on the other node of a shared ticket, but not its author.
func (s *Service) commentAdded(ctx context.Context, c tickets.CommentAdded) error {
	t := c.Ticket
	both := workers(t)
	storage.AfterCommit(ctx, func() { s.Touch(both...) })
	return s.record(ctx, event{kind: Comment, to: both, byHandle: c.Comment.AuthorHandle, actor: c.Comment.AuthorName,
		ticketID: t.ID, urgent: t.Priority == "urgent"})
}

// nameOf is the name of the member of full handle h, as the ticket or this
// node knows them.
func (s *Service) nameOf(ctx context.Context, h string, t *tickets.Ticket) string {
	if h == t.AssigneeHandle {
		return t.AssigneeName
	}
	_, name, _, err := s.members.Local(ctx, h)
	if err != nil {
		s.log.Warn("notify: who is a member", "err", err) // the notification says « someone »
	}
	return name
}

// eventChanged tells of an intervention planned or moved (the attendee
// and the member in charge, but not the organiser) and of its answer (the
// member in charge and the organiser, but not the attendee).
func (s *Service) eventChanged(ctx context.Context, c *planning.Changed) error {
	ev, t := c.Event, c.Ticket
	attendee := ""
	if ev.AttendeeMemberID != nil {
		attendee = *ev.AttendeeMemberID
	}
	e := event{ticketID: t.ID, urgent: t.Priority == "urgent"}
	if c.Invite {
		e.kind, e.to, e.byHandle, e.detail = Planned, []string{attendee, t.TechnicianID}, ev.OrganizerHandle, ev.StartAt.UTC().Format(time.RFC3339)
		e.actor = s.nameOf(ctx, ev.OrganizerHandle, t)
	} else {
		organizer, _, _, err := s.members.Local(ctx, ev.OrganizerHandle)
		if err != nil {
			return err
		}
		to := []string{t.TechnicianID, organizer}
		e.kind, e.to, e.byHandle, e.detail = Answered, to, ev.AttendeeHandle, ev.State
		e.actor = s.nameOf(ctx, ev.AttendeeHandle, t)
	}
	storage.AfterCommit(ctx, func() { s.Touch(attendee, t.TechnicianID) })
	return s.record(ctx, e)
}

// workers are the members of this node who work on t: the member in
// charge and the assignee, if of this node ("" where none).
func workers(t *tickets.Ticket) []string {
	assignee := ""
	if t.AssigneeMemberID != nil {
		assignee = *t.AssigneeMemberID
	}
	return []string{t.TechnicianID, assignee}
}
