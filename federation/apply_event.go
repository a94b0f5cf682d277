// Interventions: what this node sends when one is planned or answered
// (EventChanged), and applying an invitation (Invite of an Event) and its
// answers (Accept, TentativeAccept, Reject of an Invite).

package federation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/inbox"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing/member"
)

// EventChanged queues an invitation to the attendee's node, or the
// attendee's answer to the organiser's node (a listener of *planning.Changed).
func (s *Service) EventChanged(ctx context.Context, c *planning.Changed) error {
	tx := s.db.Conn(ctx)
	e, t := c.Event, c.Ticket
	if c.Remote {
		return nil
	}
	if c.Invite {
		host := handleHost(e.AttendeeHandle)
		if host == s.host {
			return nil
		}
		inbox, ok := s.peerInboxOf(host)
		if !ok {
			return nil
		}
		attendee := s.actorOfHandle(e.AttendeeHandle)
		organizer := s.actorFor(e.OrganizerHandle)
		obj, err := doc.Event(e.APID, organizer, t.APID, t.Title, e.Location, e.StartAt, e.EndAt)
		if err != nil {
			return err
		}
		obj["handle"] = e.OrganizerHandle
		act, err := doc.ActivityOf("Invite", e.APID+"/invite/"+e.UpdatedAt.UTC().Format("20060102T150405.000000000"),
			organizer, obj, []string{attendee}, attendee, time.Now())
		if err != nil {
			return err
		}
		return s.transport.Enqueue(ctx, tx, act, []string{inbox})
	}
	// An answer of this node's member to another node's invitation.
	host := hostOf(e.APID)
	if host == s.host {
		return nil
	}
	inbox, ok := s.peerInboxOf(host)
	if !ok {
		return nil
	}
	typ := map[string]string{planning.Accepted: "Accept", planning.Tentative: "TentativeAccept", planning.Rejected: "Reject"}[e.State]
	if typ == "" {
		return nil
	}
	actor := s.actorFor(e.AttendeeHandle)
	invite := map[string]any{"type": "Invite", "id": e.APID + "/invite", "actor": s.peers[host] + "/actor", "object": e.APID}
	act, err := doc.ActivityOf(typ, s.newActivityID(), actor, invite, []string{s.peers[host] + "/actor"}, "", time.Now())
	if err != nil {
		return err
	}
	// When the answer was given, to the microsecond (go-fed writes whole
	// seconds): the organiser's node keeps the later of two answers.
	act["published"] = e.UpdatedAt.UTC().Format(time.RFC3339Nano)
	return s.transport.Enqueue(ctx, tx, act, []string{inbox})
}

// applyInvite keeps an invitation for the assignee of a ticket this node
// holds a copy of.
func (s *Service) applyInvite(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	o := a.Object
	sender := hostOf(a.Actor)
	if hostOf(a.ObjectID) != sender {
		return apperr.New(apperr.Forbidden, "an event of %s sent by %s", a.ObjectID, sender)
	}
	ticketID := doc.IDOf(o["context"])
	t, err := s.tickets.GetByAPID(ctx, ticketID)
	if apperr.CodeOf(err) == apperr.NotFound && hostOf(ticketID) == sender {
		return inbox.NotYetFor(ticketID, err) // the ticket itself is on its way
	}
	if err != nil {
		return err
	}
	if hostOf(t.APID) != sender {
		return apperr.New(apperr.Forbidden, "%s does not track %s", sender, ticketID)
	}
	// An invitation for the member whose job this copy is, unless the job
	// ended. One for another member of this node waits if they accepted
	// the job (the state that hands them the copy is on its way); one
	// for a member who gave the job back is nobody's to answer.
	switch to := s.localAddressee(a); {
	case to == "" || strings.EqualFold(to, t.AssigneeHandle):
		if ended(t.Status) {
			return nil
		}
	default:
		name, _, _ := strings.Cut(to, "@")
		memberID, err := s.members.ActiveID(ctx, name)
		if err != nil {
			return err
		}
		states, err := member.OfferStates(ctx, s.db, t.APID, memberID)
		if err != nil {
			return err
		}
		n := 0
		for _, st := range states {
			if st == "pending" || st == "accepted" {
				n++
			}
		}
		if n > 0 {
			return inbox.NotYetFor(t.APID, fmt.Errorf("the copy of %s is not %s's yet", t.APID, to))
		}
		return nil
	}
	in := planning.Invitation{APID: a.ObjectID}
	in.Organizer, _ = str(o, "handle")
	if handleHost(in.Organizer) != sender {
		in.Organizer = s.handleOfActor(a.Actor)
	}
	for k, dst := range map[string]*time.Time{"startTime": &in.Start, "endTime": &in.End} {
		v, _ := str(o, k)
		tm, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return doc.Malformed("%s must be an RFC 3339 time", k)
		}
		*dst = tm
	}
	if loc, ok := o["location"].(map[string]any); ok {
		in.Location, _ = str(loc, "name")
	}
	return s.planning.ApplyInvite(ctx, t, in)
}

// localAddressee is the handle of the member of this node an activity is
// addressed to, or "" for none in particular.
func (s *Service) localAddressee(a *doc.Activity) string {
	var to []any
	switch v := a.Raw["to"].(type) {
	case []any:
		to = v
	case string:
		to = []any{v}
	}
	for _, v := range to {
		u, _ := v.(string)
		if h := s.handleOfActor(u); strings.Contains(h, "@") && handleHost(h) == s.host {
			return h
		}
	}
	return ""
}

// applyAnswer records the attendee's answer to an invitation.
func (s *Service) applyAnswer(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	eventID := doc.IDOf(a.Object["object"])
	if hostOf(eventID) != s.host {
		return apperr.New(apperr.Invalid, "%s is not an event of this node", eventID)
	}
	state := map[string]string{"Accept": planning.Accepted, "TentativeAccept": planning.Tentative, "Reject": planning.Rejected}[a.Type]
	at := time.Now()
	if p, ok := a.Raw["published"].(string); ok {
		t, err := time.Parse(time.RFC3339Nano, p)
		if err != nil {
			return doc.Malformed("published is not an RFC 3339 time")
		}
		// Never later than now and the clocks' allowed skew: an answer
		// stamped in the future would make every later one look older.
		at = t
		if limit := time.Now().Add(s.cfg.Skew); at.After(limit) {
			at = limit
		}
	}
	return s.planning.ApplyAnswer(ctx, eventID, state, s.handleOfActor(a.Actor), at)
}
