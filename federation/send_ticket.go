// What this node sends about its tickets and the copies it holds, inside
// the transaction of each change (the listeners of tickets and clients).

package federation

// Tickets across regions. Once a routed job is accepted by a member of
// another region, the ticket's origin (its tracker) and the assignee's node
// each hold it:
//
//   - tracker → assignee's node: Offer{Ticket} when the job is given, then
//     Update{Ticket} after every change, each with the whole state and the
//     client as the job needs it (sent only there); the assignee's node
//     answers the Offer with Accept once it holds its copy;
//   - assignee's node → tracker: Update{Ticket} with only the fields changed
//     on the copy, Resolve{Ticket} when the assignee resolves it and
//     Undo{Resolve} when they reopen it;
//   - both ways: Create{Note} for each public comment (internal comments
//     never leave their node);
//   - planning: Invite{Event} to the assignee's node, answered with Accept,
//     TentativeAccept or Reject.
//
// The tracker is the authority (see services/tickets/shared.go): it
// answers every change with its whole state, so that both nodes converge.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/sign"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// Work gives federation the services whose objects it carries between
// nodes, and hooks it to their changes. Call it once, before Start.
func (s *Service) Work(ts *tickets.Service, cs *clients.Service, ps *planning.Service) {
	s.tickets, s.clients, s.planning = ts, cs, ps
	storage.ListenThen(s.db, s.TicketChanged, s.Wake)
	storage.ListenThen(s.db, s.EventChanged, s.Wake)
	storage.ListenThen(s.db, s.ClientChanged, s.Wake)
}

// ClientChanged sends the new state of each open ticket of the client
// that another region's member works on: their node holds the client's
// contact for the job, and it must not go stale (a listener of clients.ClientChanged).
func (s *Service) ClientChanged(ctx context.Context, e clients.ClientChanged) error {
	tx, c := s.db.Conn(ctx), e.Client
	if c.OriginAPID != nil {
		return nil
	}
	ids, err := s.tickets.SharedOfClient(ctx, c.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		t, err := s.touchTicket(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.trackerChanged(ctx, tx, &tickets.Changed{Ticket: t, By: t.CreatedBy}); err != nil {
			return err
		}
	}
	return nil
}

// touchTicket gives ticket id a new version inside tx, for a change of its
// client: of two corrections in a row, the copy keeps the later whatever
// order they arrive in. The ticket changed by someone else meanwhile is
// read again, not reported: the client's edit is not the ticket's.
func (s *Service) touchTicket(ctx context.Context, tx *gorm.DB, id string) (*tickets.Ticket, error) {
	for attempt := 1; ; attempt++ {
		t, err := s.tickets.ByID(ctx, id)
		if err != nil {
			return nil, err
		}
		t, err = s.tickets.Touch(ctx, t, t.CreatedBy, "client_updated")
		if apperr.CodeOf(err) == apperr.Conflict && attempt < 5 {
			continue
		}
		return t, err
	}
}

func (s *Service) newActivityID() string {
	return s.NodeActor() + "/activities/" + uuid.Must(uuid.NewV7()).String()
}

// handleHost is the host of a full handle name@host.
func handleHost(handle string) string {
	_, host, _ := strings.Cut(handle, "@")
	return strings.ToLower(host)
}

// baseOf is the base URL of a host: this node's, or a peer's.
func (s *Service) baseOf(host string) (string, bool) {
	if host == s.host {
		return s.cfg.PublicURL, true
	}
	b, ok := s.peers[host]
	return b, ok
}

// actorOfHandle is the actor id of a full handle, on this node or a peer;
// "" for a handle of an unknown node.
func (s *Service) actorOfHandle(handle string) string {
	name, _, _ := strings.Cut(handle, "@")
	base, ok := s.baseOf(handleHost(handle))
	if !ok || name == "" {
		return ""
	}
	return base + "/members/" + url.PathEscape(name)
}

// actorFor is the actor to name as the author of a change: the member who
// made it, or the node.
func (s *Service) actorFor(handle string) string {
	if handleHost(handle) == s.host {
		if a := s.actorOfHandle(handle); a != "" {
			return a
		}
	}
	return s.NodeActor()
}

// peerInboxOf is the inbox of the peer node at host.
func (s *Service) peerInboxOf(host string) (string, bool) {
	base, ok := s.peers[host]
	return base + "/actor/inbox", ok
}

// hostOf is the lower-cased host of a URL.
func hostOf(u string) string {
	h, _ := sign.KeyHost(u)
	return h
}

// TicketChanged queues what a change to a shared ticket means for the
// other node, inside the transaction that made it (a listener of *tickets.Changed).
func (s *Service) TicketChanged(ctx context.Context, c *tickets.Changed) error {
	tx := s.db.Conn(ctx)
	t := c.Ticket
	if t.OriginRegion != s.cfg.Region && ended(t.Status) && !ended(c.OldStatus) {
		if err := s.jobOver(ctx, tx, t); err != nil {
			return err
		}
	}
	if c.Unassigned != nil && t.OriginRegion == s.cfg.Region {
		if err := s.unassigned(ctx, tx, c); err != nil {
			return err
		}
	}
	if !t.Shared(s.cfg.Region) {
		return nil
	}
	if c.Comment != nil && c.Comment.Internal {
		return nil // internal comments never leave their node
	}
	if t.OriginRegion == s.cfg.Region {
		return s.trackerChanged(ctx, tx, c)
	}
	if c.Remote {
		return nil // the tracker's own state, just applied
	}
	return s.copyChanged(ctx, tx, c)
}

// trackerChanged sends the assignee's node the ticket's whole state (or a
// new public comment).
func (s *Service) trackerChanged(ctx context.Context, tx *gorm.DB, c *tickets.Changed) error {
	t := c.Ticket
	host := handleHost(t.AssigneeHandle)
	inbox, ok := s.peerInboxOf(host)
	if !ok {
		s.log.Warn("ticket assigned on a node that is not a peer", "ticket", t.ID, "assignee", t.AssigneeHandle)
		return nil
	}
	to := []string{s.actorOfHandle(t.AssigneeHandle)}
	if c.Comment != nil {
		if c.Remote {
			return nil
		}
		return s.queueNote(ctx, tx, t, c.Comment, to, inbox)
	}
	obj, err := s.ticketState(ctx, tx, t, true)
	if err != nil {
		return err
	}
	typ := "Update"
	if c.Assigned {
		typ = "Offer"
	}
	act, err := doc.ActivityOf(typ, s.newActivityID(), s.actorFor(c.By), obj, to, "", time.Now())
	if err != nil {
		return err
	}
	return s.transport.Enqueue(ctx, tx, act, []string{inbox})
}

// ended reports whether a ticket's job is over.
func ended(st tickets.Status) bool {
	return st == tickets.StatusClosed || st == tickets.StatusCancelled
}

// unassigned tells the node of the member a ticket was just taken from
// (they gave the job back) that the job is no longer theirs: the ticket's
// state without its client, so that the node ends its copy.
func (s *Service) unassigned(ctx context.Context, tx *gorm.DB, c *tickets.Changed) error {
	host := handleHost(c.Unassigned.Handle)
	if host == s.host {
		return nil
	}
	inbox, ok := s.peerInboxOf(host)
	if !ok {
		return nil
	}
	obj, err := s.ticketState(ctx, tx, c.Ticket, false)
	if err != nil {
		return err
	}
	obj["takenFrom"] = c.Unassigned.Handle
	// The acceptance that ends: the offer the job was given back under.
	offer, err := s.tickets.ReleasedUnder(ctx, c.Ticket.ID)
	if err != nil {
		return err
	}
	if offer != "" {
		obj["takenOffer"] = offer
	}
	act, err := doc.ActivityOf("Update", s.newActivityID(), s.actorFor(c.By), obj, []string{s.actorOfHandle(c.Unassigned.Handle)}, "", time.Now())
	if err != nil {
		return err
	}
	return s.transport.Enqueue(ctx, tx, act, []string{inbox})
}

// copyChanged sends the tracker what changed on this node's copy.
func (s *Service) copyChanged(ctx context.Context, tx *gorm.DB, c *tickets.Changed) error {
	t := c.Ticket
	host := hostOf(t.APID)
	inbox, ok := s.peerInboxOf(host)
	if !ok {
		return fmt.Errorf("federation: the tracker of %s is not a peer", t.APID)
	}
	to := []string{s.peers[host] + "/actor"}
	if c.Comment != nil {
		return s.queueNote(ctx, tx, t, c.Comment, to, inbox)
	}
	actor := s.actorFor(c.By)
	// send queues one activity by the member to the tracker, with the
	// copy's version (the tracker orders the copy's changes by it).
	send := func(typ string, object any, extra map[string]any) error {
		act, err := doc.ActivityOf(typ, s.newActivityID(), actor, object, to, "", time.Now())
		if err != nil {
			return err
		}
		act["version"] = t.Version
		for k, v := range extra {
			act[k] = v
		}
		return s.transport.Enqueue(ctx, tx, act, []string{inbox})
	}
	patch := map[string]any{"id": t.APID, "type": "Ticket", "version": t.Version}
	for field, v := range c.Fields {
		switch field {
		case "title":
			patch["summary"] = v
		case "description":
			patch["content"] = v
		case "priority":
			patch["priority"] = v
		case "on_site":
			patch["onSite"] = v == "true"
		case "estimated_hours":
			patch["estimatedMinutes"] = t.EstimatedMinutes
		case "time_spent_minutes":
			patch["assigneeMinutes"] = t.TimeSpentMinutes
		case "status":
			var err error
			switch {
			case t.Status == tickets.StatusResolved:
				err = send("Resolve", t.APID, nil)
			case c.OldStatus == tickets.StatusResolved && t.Status != tickets.StatusClosed:
				// Reopened. (Closing a resolved ticket is no reopening: it
				// goes as an Update.)
				undone := map[string]any{"type": "Resolve", "actor": actor, "object": t.APID}
				err = send("Undo", undone, map[string]any{"status": string(t.Status)})
			default:
				patch["status"] = v
			}
			if err != nil {
				return err
			}
		}
	}
	if len(patch) == 3 {
		return nil
	}
	return send("Update", patch, nil)
}

func (s *Service) queueNote(ctx context.Context, tx *gorm.DB, t *tickets.Ticket, cm *tickets.Comment, to []string, inbox string) error {
	if cm.APID == nil {
		return nil
	}
	author := s.actorFor(cm.AuthorHandle)
	var fs []doc.NoteFile
	for _, a := range cm.Attachments {
		fs = append(fs, doc.NoteFile{ID: a.APID, URL: a.APID, Name: a.Name, MediaType: a.ContentType, SHA256: a.SHA256, Size: a.SizeBytes})
	}
	note, err := doc.Note(*cm.APID, author, cm.AuthorHandle, cm.AuthorName, t.APID, cm.Body, cm.CreatedAt, fs...)
	if err != nil {
		return err
	}
	act, err := doc.ActivityOf("Create", *cm.APID+"/create", author, note, to, "", cm.CreatedAt)
	if err != nil {
		return err
	}
	return s.transport.Enqueue(ctx, tx, act, []string{inbox})
}

// ticketState is a ticket this node tracks as a ForgeFed Ticket with its
// whole working state; with the client as the assignee's job needs it
// when withClient (only ever sent to the assignee's node), and without the
// client's contact or exact place once the ticket is closed or cancelled.
func (s *Service) ticketState(ctx context.Context, tx *gorm.DB, t *tickets.Ticket, withClient bool) (map[string]any, error) {
	extra := map[string]any{
		"status": string(t.Status), "priority": t.Priority, "skill": t.Skill, "onSite": t.OnSite,
		"estimatedMinutes": t.EstimatedMinutes, "trackerMinutes": t.TimeSpentMinutes,
		"assigneeMinutes": t.RemoteTimeMinutes, "version": t.Version, "originRegion": t.OriginRegion,
		"createdBy": t.CreatedBy,
	}
	if t.AssigneeHandle != "" {
		extra["assignee"] = map[string]any{"handle": t.AssigneeHandle, "region": t.AssigneeRegion, "name": t.AssigneeName}
	}
	if withClient {
		cl, err := s.clients.ByID(ctx, t.ClientID)
		if err != nil {
			return nil, err
		}
		sh := clients.SharedOf(cl)
		if ended(t.Status) {
			sh = sh.AfterJob() // the job is over: the copy's client loses its contact
		}
		extra["client"] = sh
	}
	return doc.Ticket(doc.TicketDoc{ID: t.APID, Title: t.Title, Description: t.Description,
		AttributedTo: s.actorOfHandle(t.CreatedBy), AssignedTo: s.actorOfHandle(t.AssigneeHandle),
		Resolved:  t.Status == tickets.StatusResolved || t.Status == tickets.StatusClosed,
		Published: t.CreatedAt, Updated: t.UpdatedAt, Extra: extra})
}

// --- receiving ---

// str, num and flag read a term of a received document.
func str(m map[string]any, k string) (string, bool) {
	v, ok := m[k].(string)
	return v, ok
}

func num(m map[string]any, k string) (int, bool) {
	n, ok := m[k].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil || i < -1<<31 || i > 1<<31 {
		return 0, false
	}
	return int(i), true
}

func flag(m map[string]any, k string) (bool, bool) {
	v, ok := m[k].(bool)
	return v, ok
}

// present is a pointer to v when a term was there, nil otherwise.
func present[T any](v T, ok bool) *T {
	if !ok {
		return nil
	}
	return &v
}
