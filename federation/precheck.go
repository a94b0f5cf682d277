package federation

import (
	"context"
	"errors"
	"strings"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/services/apperr"
)

// precheck refuses, before an activity is stored, what its sender could
// have known it may not send: a change of a ticket of this node it does
// not work on, a comment on it in the name of someone else than its
// assignee, an answer to an invitation it was not sent, a profile of
// another node's member. The peer gets 403 at once (its delivery is final)
// and nothing of the activity is kept. What depends on what this node has
// not received yet (a copy on its way, an acceptance being recorded) is
// let through: the worker applies it, waits for what it needs, or sets it
// aside — then without its body. The worker checks everything again, in
// the transaction that applies it: this is the early answer, not the
// authority.
func (s *Service) precheck(ctx context.Context, a *doc.Activity, sender string) error {
	switch {
	case a.Type == "Update" && a.ObjectType == "Person", a.Type == "Delete" && a.ObjectType != "Ticket":
		if hostOf(a.ObjectID) != sender {
			return apperr.New(apperr.Forbidden, "%s may not speak for %s", sender, a.ObjectID)
		}
		return nil
	case s.tickets == nil:
		return nil
	case (a.Type == "Offer" || a.Type == "Update") && a.ObjectType == "Ticket":
		if hostOf(a.ObjectID) == s.host {
			return s.precheckTracked(ctx, a, a.ObjectID, sender)
		}
		if hostOf(a.ObjectID) != sender {
			return apperr.New(apperr.Forbidden, "%s may not send the state of %s", sender, a.ObjectID)
		}
		st, err := stateFrom(a.Object)
		if err != nil || handleHost(st.Assignee.Handle) != s.host {
			return nil // malformed (set aside), or a copy withdrawn: the worker sees
		}
		name, _, _ := strings.Cut(st.Assignee.Handle, "@")
		memberID, err := s.members.ActiveID(ctx, name)
		if err != nil {
			return err
		}
		if memberID == "" {
			return apperr.New(apperr.Forbidden, "%s is not an active member of this node", st.Assignee.Handle)
		}
		if err := s.heldOrAccepted(ctx, st.APID, memberID); apperr.CodeOf(err) == apperr.Forbidden {
			return err
		}
		return nil
	case a.Type == "Resolve":
		return s.precheckTracked(ctx, a, a.ObjectID, sender)
	case a.Type == "Undo" && a.ObjectType == "Resolve":
		return s.precheckTracked(ctx, a, doc.IDOf(a.Object["object"]), sender)
	case a.Type == "Accept" && a.ObjectType == "Offer":
		return s.precheckTracked(ctx, a, doc.IDOf(a.Object["object"]), sender)
	case a.Type == "Create" && a.ObjectType == "Note":
		if hostOf(a.ObjectID) != sender {
			return apperr.New(apperr.Forbidden, "a comment of %s sent by %s", a.ObjectID, sender)
		}
		author, err := s.noteAuthor(a, sender)
		if err != nil {
			return err
		}
		ticketID := doc.IDOf(a.Object["context"])
		if hostOf(ticketID) != s.host {
			return nil // on a copy: the worker checks the author against the directory
		}
		if err := s.precheckTracked(ctx, a, ticketID, sender); err != nil {
			return err
		}
		t, err := s.tickets.GetByAPID(ctx, ticketID)
		if err == nil && !strings.EqualFold(author, t.AssigneeHandle) {
			return apperr.New(apperr.Forbidden, "%s does not work on %s: only its assignee comments from %s", author, ticketID, sender)
		}
		return nil
	case (a.Type == "Accept" || a.Type == "TentativeAccept" || a.Type == "Reject") && a.ObjectType == "Invite":
		eventID := doc.IDOf(a.Object["object"])
		if hostOf(eventID) != s.host {
			return apperr.New(apperr.Forbidden, "%s is not an event of this node", eventID)
		}
		attendee, err := s.planning.AttendeeOf(ctx, eventID)
		if err != nil {
			return err
		}
		if handleHost(attendee) != sender {
			return apperr.New(apperr.Forbidden, "%s invited nobody of %s to %s", s.host, sender, eventID)
		}
		return nil
	}
	return nil
}

// precheckTracked refuses a change of ticket apID of this node from a
// sender that does not hold its assignee, or from a member of theirs who
// does not work on it.
func (s *Service) precheckTracked(ctx context.Context, a *doc.Activity, apID, sender string) error {
	if hostOf(apID) != s.host {
		return apperr.New(apperr.Forbidden, "%s is not a ticket of this node", apID)
	}
	t, err := s.trackedTicket(ctx, s.db.Conn(ctx), apID, sender)
	if apperr.CodeOf(err) == apperr.NotFound {
		return apperr.New(apperr.Forbidden, "%s does not work on %s", sender, apID)
	}
	if err != nil {
		return err
	}
	return s.changedBy(t, a.Actor)
}

// noteAuthor is the author of a Note received from sender: its actor,
// which must be a member of the sending node, and which its attributedTo
// and handle, when given, must name too. The name shown is never the
// activity's own (see applyNote).
func (s *Service) noteAuthor(a *doc.Activity, sender string) (string, error) {
	author := s.handleOfActor(a.Actor)
	if !strings.Contains(author, "@") || handleHost(author) != sender {
		return "", apperr.New(apperr.Forbidden, "a comment is written by a member of the sending node, not %s", a.Actor)
	}
	if by := doc.IDOf(a.Object["attributedTo"]); by != "" && by != a.Actor {
		return "", apperr.New(apperr.Forbidden, "the comment is attributed to %s but sent by %s", by, a.Actor)
	}
	if h, _ := str(a.Object, "handle"); h != "" && !strings.EqualFold(h, author) {
		return "", apperr.New(apperr.Forbidden, "the comment names %s but is sent by %s", h, author)
	}
	return author, nil
}

var errNoDirectoryEntry = errors.New("the author is not in the directory yet")
