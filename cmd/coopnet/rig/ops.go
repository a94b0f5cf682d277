package rig

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/tickets"
)

// SameState reports whether two nodes' views of a shared ticket agree on
// what both share (ids, the client and the technician are each node's
// own).
func SameState(a, b tickets.View) bool {
	same := a.Title == b.Title && a.Description == b.Description && a.Status == b.Status && a.Priority == b.Priority &&
		a.Skill == b.Skill && a.OnSite == b.OnSite && a.EstimatedHours == b.EstimatedHours && a.Version == b.Version &&
		a.APID == b.APID && a.OriginRegion == b.OriginRegion && a.TimeSpentHours == b.TimeSpentHours
	return same && (a.Assignee == nil) == (b.Assignee == nil) && (a.Assignee == nil || *a.Assignee == *b.Assignee)
}

// AddAdmin registers an admin with that e-mail on the region's node, with
// an API token; it returns the e-mail.
func (c *Coop) AddAdmin(region, email string) string {
	c.T.Helper()
	n := c.Node(region).N
	m, err := n.Members.Create(context.Background(), nil, members.CreateInput{Email: email, Name: "Admin " + region, Role: "admin",
		Password: Password})
	if err != nil {
		c.T.Fatal(err)
	}
	tok, err := n.Members.IssueToken(context.Background(), m.ID, members.APIToken)
	if err != nil {
		c.T.Fatal(err)
	}
	c.TokensMu.Lock()
	c.Tokens[email] = tok
	c.TokensMu.Unlock()
	return email
}

// MemberID is the id of the member with that e-mail on the region's node.
func (c *Coop) MemberID(region, email string) string {
	c.T.Helper()
	m, err := c.Node(region).N.Members.GetByEmail(context.Background(), email)
	if err != nil {
		c.T.Fatal(err)
	}
	return m.ID
}

// NATSConn is a connection of the test's own to the coop's NATS server
// (as the operators), closed when the test ends.
func (c *Coop) NATSConn() *nats.Conn {
	c.T.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://%s127.0.0.1:%d", c.OpsUser, c.NATSPort))
	if err != nil {
		c.T.Fatal(err)
	}
	c.T.Cleanup(nc.Close)
	return nc
}

// NATSConnAs is NATSConn with the region's inbox prefix: the test
// answering requests as that region's node would.
func (c *Coop) NATSConnAs(region string) *nats.Conn {
	c.T.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://%s127.0.0.1:%d", c.OpsUser, c.NATSPort), nats.CustomInboxPrefix(bus.InboxPrefix(region)))
	if err != nil {
		c.T.Fatal(err)
	}
	c.T.Cleanup(nc.Close)
	return nc
}

// JetStream is the JetStream context of a NATSConn.
func (c *Coop) JetStream() nats.JetStreamContext {
	c.T.Helper()
	js, err := c.NATSConn().JetStream()
	if err != nil {
		c.T.Fatal(err)
	}
	return js
}
