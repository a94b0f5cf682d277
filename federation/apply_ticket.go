// Applying a ticket's activities received from its other node: its state
// offered or updated (Offer, Update of a Ticket), resolved and reopened
// (Resolve, Undo), an acceptance recorded (Accept of an Offer).

package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/inbox"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/tickets"
)

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
		return s.transport.Enqueue(ctx, tx, act, []string{inbox})
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
		return inbox.NotYet(fmt.Errorf("the offer of %s is not recorded as accepted yet", apID))
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
