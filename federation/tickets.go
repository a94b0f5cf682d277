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
	"github.com/coopnet/coopnet/federation/doc"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coopnet/coopnet/services/routing/member"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing"
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
	h, _ := keyHost(u)
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
	return s.enqueue(ctx, tx, act, []string{inbox})
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
	return s.enqueue(ctx, tx, act, []string{inbox})
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
		return s.enqueue(ctx, tx, act, []string{inbox})
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
	note, err := doc.Note(*cm.APID, author, cm.AuthorHandle, cm.AuthorName, t.APID, cm.Body, cm.CreatedAt)
	if err != nil {
		return err
	}
	act, err := doc.ActivityOf("Create", *cm.APID+"/create", author, note, to, "", cm.CreatedAt)
	if err != nil {
		return err
	}
	return s.enqueue(ctx, tx, act, []string{inbox})
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

// applyTicket applies an Offer or Update of a Ticket: the tracker's state
// on the assignee's node, or a change of the copy on the tracker.
func (s *Service) applyTicket(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	sender := hostOf(a.Actor)
	if hostOf(a.ObjectID) == s.host {
		if a.Type != "Update" {
			return doc.Malformed("only an Update changes a ticket of this node")
		}
		return s.applyPatch(ctx, tx, a, sender, a.Object)
	}
	if hostOf(a.ObjectID) != sender {
		return apperr.New(apperr.Forbidden, "%s may not send the state of %s", sender, a.ObjectID)
	}
	st, err := stateFrom(a.Object)
	if err != nil {
		return err
	}
	if handleHost(st.Assignee.Handle) != s.host {
		return s.withdrawCopy(ctx, tx, st, a)
	}
	// Read in the transaction (ctx carries it): on SQLite, a query on
	// another connection while this transaction holds the write lock may
	// wait for a pool slot held by a writer waiting for this transaction.
	name, _, _ := strings.Cut(st.Assignee.Handle, "@")
	memberID, err := s.members.ActiveID(ctx, name)
	if err != nil {
		return err
	}
	if memberID == "" {
		return apperr.New(apperr.Invalid, "ticket %s is assigned to %s, not an active member of this node", st.APID, st.Assignee.Handle)
	}
	if err := s.heldOrAccepted(ctx, st.APID, memberID); err != nil {
		return err
	}
	applied, err := s.tickets.ApplyState(ctx, st, memberID, st.CreatedBy)
	if err != nil {
		return err
	}
	if applied && a.Type == "Offer" {
		// Tell the tracker this node holds the ticket now.
		offer := map[string]any{"type": "Offer", "id": a.ID, "actor": a.Actor, "object": st.APID}
		act, err := doc.ActivityOf("Accept", s.newActivityID(), s.actorOfHandle(st.Assignee.Handle), offer,
			[]string{a.Actor}, "", time.Now())
		if err != nil {
			return err
		}
		inbox, _ := s.peerInboxOf(sender)
		return s.enqueue(ctx, tx, act, []string{inbox})
	}
	return nil
}

// withdrawCopy ends this node's copy of a ticket whose tracker no longer
// has it done here: its assignee gave it back (the state names them and
// the acceptance that ends, in takenFrom and takenOffer, and ends their
// copy whatever its version: edits of theirs may have been on their way,
// which the tracker no longer takes), or it went to a member of another
// node. A state for a member of this node's region on another host, or of
// a ticket this node never held, is refused.
func (s *Service) withdrawCopy(ctx context.Context, tx *gorm.DB, st tickets.State, a *doc.Activity) error {
	if st.Assignee.Handle != "" && st.Assignee.Region == s.cfg.Region || a.Type != "Update" {
		return apperr.New(apperr.Invalid, "ticket %s is not assigned to a member of this node", st.APID)
	}
	cur, err := s.tickets.GetByAPID(ctx, st.APID)
	if apperr.CodeOf(err) == apperr.NotFound {
		// The copy may not be here yet (its Offer still being retried): the
		// acceptance it would be held under ends now, so that it is refused
		// when it comes.
		if takenOffer, _ := str(a.Object, "takenOffer"); takenOffer != "" {
			if ended, err := member.WithdrawAccepted(ctx, s.db, takenOffer, st.APID); err != nil || ended {
				return err
			}
		}
		return apperr.New(apperr.Invalid, "ticket %s is not assigned to a member of this node", st.APID)
	}
	if err != nil {
		return err
	}
	if cur.OriginRegion == s.cfg.Region {
		return nil
	}
	// The acceptance the tracker ends: the member's latest.
	var offer string
	takenFrom, _ := str(a.Object, "takenFrom")
	takenOffer, _ := str(a.Object, "takenOffer")
	mine := false
	if cur.AssigneeMemberID != nil && takenFrom != "" && strings.EqualFold(takenFrom, cur.AssigneeHandle) {
		if offer, err = member.LatestAccepted(ctx, s.db, st.APID, *cur.AssigneeMemberID); err != nil {
			return err
		}
		mine = offer != "" && offer == takenOffer
	}
	if !mine && st.Version < cur.Version {
		return nil // an older state than the copy's
	}
	if mine {
		// Their offer is over too, even if the answer to their request to
		// give the job back was lost.
		if _, err := member.WithdrawAccepted(ctx, s.db, offer, ""); err != nil {
			return err
		}
	}
	_, err = s.tickets.Withdraw(ctx, cur, s.handleOfActor(a.Actor), "", st.Version)
	return err
}

// jobOver, on this node's copy of a ticket that just ended (closed,
// cancelled, or given back), removes what the job needed of the client:
// the contact person, the exact place, and the places of the
// interventions.
func (s *Service) jobOver(ctx context.Context, tx *gorm.DB, t *tickets.Ticket) error {
	cl, err := s.clients.ByID(ctx, t.ClientID)
	if err != nil {
		return err
	}
	if _, err := s.clients.UpsertShared(ctx, t.APID, cl.TechnicianID, clients.SharedOf(cl).AfterJob()); err != nil {
		return err
	}
	// The job's record stays, its title and description scrubbed of the
	// contact as an offer's are (a phone number written in the title).
	p := clients.Private{Name: cl.Name, Kind: cl.Kind, ContactName: cl.ContactName, ContactEmail: cl.ContactEmail, ContactPhone: cl.ContactPhone}
	if err := s.tickets.Scrub(ctx, t.ID, routing.Scrub(t.Title, p), routing.Scrub(t.Description, p)); err != nil {
		return err
	}
	return s.planning.ForgetPlaces(ctx, t.ID)
}

// heldOrAccepted checks, inside tx, that a ticket's state may be kept here
// for the member: this node holds its copy for them already, or the member accepted
// the routing's offer of it. A peer cannot put a ticket, and its client's
// contact, in the charge of a member who never took the job. The acceptance
// is recorded when the tracker's answer comes back, which may be just after
// the tracker's Offer{Ticket}: a pending offer waits for it.
func (s *Service) heldOrAccepted(ctx context.Context, apID, memberID string) error {
	// A cancelled copy does not count: it may be the job the member gave
	// back, which only a new acceptance brings back.
	if held, err := s.tickets.HeldBy(ctx, apID, memberID); err != nil || held {
		return err
	}
	states, err := member.OfferStates(ctx, s.db, apID, memberID)
	if err != nil {
		return err
	}
	switch {
	case slices.Contains(states, "accepted"):
		return nil
	case slices.Contains(states, "pending"):
		return notYet(fmt.Errorf("the offer of %s is not recorded as accepted yet", apID))
	}
	return apperr.New(apperr.Forbidden, "no member of this node accepted ticket %s", apID)
}

// stateFrom reads the tracker's state of a ticket.
func stateFrom(o map[string]any) (tickets.State, error) {
	var st tickets.State
	var ok bool
	if o == nil {
		return st, doc.Malformed("the ticket must be embedded")
	}
	st.APID, _ = str(o, "id")
	st.Title, _ = str(o, "summary")
	st.Description, _ = str(o, "content")
	st.Skill, _ = str(o, "skill")
	st.Priority, _ = str(o, "priority")
	st.OriginRegion, _ = str(o, "originRegion")
	st.CreatedBy, _ = str(o, "createdBy")
	status, _ := str(o, "status")
	st.Status = tickets.Status(status)
	st.OnSite, _ = flag(o, "onSite")
	st.EstimatedMinutes, _ = num(o, "estimatedMinutes")
	st.TrackerMinutes, _ = num(o, "trackerMinutes")
	if st.Version, ok = num(o, "version"); !ok {
		return st, doc.Malformed("a ticket's state needs its version")
	}
	if pub, _ := str(o, "published"); pub != "" {
		t, err := time.Parse(time.RFC3339, pub)
		if err != nil {
			return st, doc.Malformed("published is not an RFC 3339 time")
		}
		st.CreatedAt = t
	} else {
		st.CreatedAt = time.Now()
	}
	// No assignee: the job was given back (the state tells the node that
	// held the copy to end it).
	as, _ := o["assignee"].(map[string]any)
	st.Assignee.Handle, _ = str(as, "handle")
	st.Assignee.Region, _ = str(as, "region")
	st.Assignee.Name, _ = str(as, "name")
	if c, ok := o["client"].(map[string]any); ok {
		var sh clients.Shared
		b, _ := json.Marshal(c)
		if err := json.Unmarshal(b, &sh); err != nil {
			return st, doc.Malformed("client: %v", err)
		}
		st.Client = &sh
	}
	return st, nil
}

// trackedTicket reads a ticket this node tracks and checks that sender,
// the host of a signed request, is its assignee's node.
func (s *Service) trackedTicket(ctx context.Context, tx *gorm.DB, apID, sender string) (*tickets.Ticket, error) {
	t, err := s.tickets.GetByAPID(ctx, apID)
	if err != nil {
		return nil, err
	}
	if t.OriginRegion != s.cfg.Region || handleHost(t.AssigneeHandle) != sender {
		return nil, apperr.New(apperr.Forbidden, "%s does not work on %s", sender, apID)
	}
	return t, nil
}

// changedBy checks that a change of a tracked ticket comes from its
// assignee (or their node): a member who gave the job back, whose change
// arrives after another member of their node took it, changes nothing.
func (s *Service) changedBy(t *tickets.Ticket, actor string) error {
	if h := s.handleOfActor(actor); strings.Contains(h, "@") && !strings.EqualFold(h, t.AssigneeHandle) {
		return apperr.New(apperr.Forbidden, "%s no longer works on %s", h, t.APID)
	}
	return nil
}

func (s *Service) applyPatch(ctx context.Context, tx *gorm.DB, a *doc.Activity, sender string, o map[string]any) error {
	t, err := s.trackedTicket(ctx, tx, a.ObjectID, sender)
	if err != nil {
		return err
	}
	if err := s.changedBy(t, a.Actor); err != nil {
		return err
	}
	p := tickets.Patch{Title: present(str(o, "summary")), Description: present(str(o, "content")),
		Priority: present(str(o, "priority")), OnSite: present(flag(o, "onSite")),
		EstimatedMinutes: present(num(o, "estimatedMinutes")), AssigneeMinutes: present(num(o, "assigneeMinutes"))}
	if v, ok := str(o, "status"); ok {
		st := tickets.Status(v)
		p.Status = &st
	}
	p.Seq, _ = num(o, "version")
	_, err = s.tickets.ApplyPatch(ctx, t, p, s.handleOfActor(a.Actor))
	return err
}

// handleOfActor is the full handle of a member's actor id (name@host), or
// the host for another actor (a node).
func (s *Service) handleOfActor(actor string) string {
	u, err := url.Parse(actor)
	if err != nil {
		return actor
	}
	if name, ok := strings.CutPrefix(u.Path, "/members/"); ok && name != "" && !strings.Contains(name, "/") {
		return name + "@" + strings.ToLower(u.Host)
	}
	return strings.ToLower(u.Host)
}

// applyResolve applies Resolve{Ticket} (resolved) and Undo{Resolve}
// (reopened) from the assignee's node.
func (s *Service) applyResolve(ctx context.Context, tx *gorm.DB, a *doc.Activity, ticketID string, to tickets.Status) error {
	t, err := s.trackedTicket(ctx, tx, ticketID, hostOf(a.Actor))
	if err != nil {
		return err
	}
	if err := s.changedBy(t, a.Actor); err != nil {
		return err
	}
	seq, _ := num(a.Raw, "version")
	_, err = s.tickets.ApplyPatch(ctx, t, tickets.Patch{Status: &to, Seq: seq}, s.handleOfActor(a.Actor))
	return err
}

// applyNote stores a public comment on a ticket shared with the sender.
func (s *Service) applyNote(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	o := a.Object
	sender := hostOf(a.Actor)
	ticketID := doc.IDOf(o["context"])
	if hostOf(a.ObjectID) != sender {
		return apperr.New(apperr.Forbidden, "a comment of %s sent by %s", a.ObjectID, sender)
	}
	t, err := s.tickets.GetByAPID(ctx, ticketID)
	if apperr.CodeOf(err) == apperr.NotFound && hostOf(ticketID) == sender {
		return notYetFor(ticketID, err) // the ticket itself is on its way
	}
	if err != nil {
		return err
	}
	// Only the two nodes of a shared ticket talk about it.
	party := (t.OriginRegion == s.cfg.Region && handleHost(t.AssigneeHandle) == sender) ||
		(t.OriginRegion != s.cfg.Region && hostOf(t.APID) == sender)
	if !party {
		return apperr.New(apperr.Forbidden, "%s does not share %s", sender, ticketID)
	}
	body, _ := str(o, "content")
	// The author is the activity's actor, a member of the sending node; the
	// name shown is what this node knows of them, never what the activity
	// says: on the tracker, only the ticket's assignee comments from their
	// node; on a copy, a member of the tracker's node in the directory.
	handle, err := s.noteAuthor(a, sender)
	if err != nil {
		return err
	}
	var name string
	if t.OriginRegion == s.cfg.Region {
		if !strings.EqualFold(handle, t.AssigneeHandle) {
			return apperr.New(apperr.Forbidden, "%s does not work on %s", handle, ticketID)
		}
		name = t.AssigneeName
	} else {
		e, err := s.directory.ByHandle(ctx, handle)
		if apperr.CodeOf(err) == apperr.NotFound {
			// Their profile may be on its way (a member who just joined):
			// wait for it, as for a ticket; one that never comes is set
			// aside after maxWait.
			return notYet(fmt.Errorf("%s is not in the directory: %w", handle, errNoDirectoryEntry))
		}
		if err != nil {
			return err
		}
		name = e.Name
	}
	at := time.Now()
	if pub, _ := str(o, "published"); pub != "" {
		if p, err := time.Parse(time.RFC3339, pub); err == nil {
			at = p
		}
	}
	_, err = s.tickets.AddRemoteComment(ctx, t, a.ObjectID, handle, name, body, at)
	return err
}

// applyOfferAccepted records on the tracker that the assignee's node holds
// the ticket.
func (s *Service) applyOfferAccepted(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	ticketID := doc.IDOf(a.Object["object"])
	t, err := s.trackedTicket(ctx, tx, ticketID, hostOf(a.Actor))
	if err != nil {
		return err
	}
	return s.tickets.Note(ctx, t, s.handleOfActor(a.Actor), tickets.ActCopyHeld, hostOf(a.Actor))
}

// --- planning ---

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
		return s.enqueue(ctx, tx, act, []string{inbox})
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
	return s.enqueue(ctx, tx, act, []string{inbox})
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
		return notYetFor(ticketID, err) // the ticket itself is on its way
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
			return notYetFor(t.APID, fmt.Errorf("the copy of %s is not %s's yet", t.APID, to))
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
