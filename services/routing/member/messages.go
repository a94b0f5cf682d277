package member

import (
	"encoding/json"
	"time"

	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/tickets"
)

// The routing plane's messages that carry a ticket: an acceptance's reply
// (the others are in package wire).

// AcceptReply is the origin's decision.
type AcceptReply struct {
	V       int    `json:"v"`
	OK      bool   `json:"ok"`
	Code    string `json:"code,omitempty"` // conflict, not_found, forbidden (not signed by the member's node), unavailable, internal
	Message string `json:"message,omitempty"`
	// Ticket is the job as accepted (an AcceptedTicket): no title or
	// description as written, no client.
	Ticket json.RawMessage `json:"ticket,omitempty"`
	// Local is the ticket given, when this node decided (not sent).
	Local *tickets.Ticket `json:"-"`
}

// AcceptedTicket is what of a ticket the origin tells the member's node
// with its acceptance, over NATS, where every region's node can read:
// what the job is and whose it is now, nothing personal. The ticket itself
// follows over ActivityPub, to that node only.
type AcceptedTicket struct {
	ID             string            `json:"id"`
	APID           string            `json:"ap_id"`
	Status         tickets.Status    `json:"status"`
	Version        int               `json:"version"`
	Skill          string            `json:"skill"`
	Priority       string            `json:"priority"`
	OnSite         bool              `json:"on_site"`
	EstimatedHours float64           `json:"estimated_hours"`
	OriginRegion   string            `json:"origin_region"`
	Assignee       *tickets.Assignee `json:"assignee"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
}

// AcceptedOf is what the reply to an acceptance says of ticket t.
func AcceptedOf(t *tickets.Ticket) AcceptedTicket {
	v := t.View()
	return AcceptedTicket{ID: v.ID, APID: v.APID, Status: v.Status, Version: v.Version, Skill: v.Skill, Priority: v.Priority,
		OnSite: v.OnSite, EstimatedHours: v.EstimatedHours, OriginRegion: v.OriginRegion, Assignee: v.Assignee,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

func (a *AcceptedTicket) validate(o *Offer) error {
	switch {
	case a.ID != o.TicketID || a.APID != o.TicketAPID || a.OriginRegion != o.OriginRegion:
		return wire.Bad("the accepted ticket is not the offer's")
	case a.Assignee == nil || len(a.Assignee.Handle) > 300 || len(a.Assignee.Name) > 300 || !wire.Plain(a.Assignee.Name, false):
		return wire.Bad("the accepted ticket's assignee")
	case a.Version < 1 || len(a.Priority) > 16 || !wire.SkillRe.MatchString(a.Skill) || !wire.Finite(a.EstimatedHours):
		return wire.Bad("the accepted ticket's figures")
	}
	return nil
}

// WireVersion is the reply's version (see relay.Reply).
func (r *AcceptReply) WireVersion() int { return r.V }
