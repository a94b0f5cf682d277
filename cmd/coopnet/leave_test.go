package main

import (
	"context"
	"testing"
	"time"

	"github.com/coopnet/coopnet/services/members"
)

// addAdmin registers an administrator on a region's node and returns their
// e-mail (their API token is in the rig).
func (c *coop) addAdmin(region, email string) string {
	c.t.Helper()
	n := c.node(region).n
	m, err := n.members.Create(context.Background(), nil, members.CreateInput{Email: email, Name: "Admin " + region, Role: "admin",
		Password: "mot de passe"})
	if err != nil {
		c.t.Fatal(err)
	}
	tok, err := n.members.IssueToken(context.Background(), m.ID, members.APIToken)
	if err != nil {
		c.t.Fatal(err)
	}
	c.tmu.Lock()
	c.tokens[email] = tok
	c.tmu.Unlock()
	return email
}

// TestMemberLeaves: Marie leaves the coop. Bretagne's admin deactivates
// her: her token stops at once, the offer waiting for her goes to the next
// candidate, the job she had accepted goes back to the routing (her copy
// ends, with the client's contact), and every region's directory drops
// her.
func TestMemberLeaves(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	admin := c.addAdmin("bretagne", "admin@bzh.test")
	second := c.schoolTicket("Site web de la mairie", "website", false, 8)
	c.api("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+second+"/forward", jeanEmail, nil, 202)
	c.offerFor("bretagne", marieEmail, second)
	jeanID, marieID := c.sharedTicket("Site web de l'école")
	waitFor(t, "Marie in every directory", func() bool {
		_, inBFC := c.directoryHandles("bourgogne-franche-comte", jeanEmail)[c.handle(marieEmail)]
		_, inIDF := c.directoryHandles("ile-de-france", paulEmail)[c.handle(marieEmail)]
		return inBFC && inIDF
	})

	m := c.api("bretagne", "POST", "/api/v1/members/"+c.memberID("bretagne", marieEmail)+"/deactivate", admin, nil, 200)
	if m["active"] != false {
		t.Fatalf("deactivated: %v", m)
	}
	c.api("bretagne", "GET", "/api/v1/me", marieEmail, nil, 401)
	// Her pending offer: declined for her, offered to the next candidate.
	c.offerFor("bretagne", gwenEmail, second)
	// Her job: given back, offered anew; her copy ends.
	waitFor(t, "Marie's job back to the routing", func() bool {
		tk := c.ticket(jeanID)
		return tk["assignee"] == nil && tk["status"] == "offered"
	})
	waitFor(t, "Marie's copy ended", func() bool {
		var status, contact string
		bzh := c.node("bretagne").n
		bzh.db.Raw("SELECT status FROM tickets WHERE id = ?", marieID).Row().Scan(&status)
		bzh.db.Raw("SELECT c.contact_email FROM clients c JOIN tickets t ON t.client_id = c.id WHERE t.id = ?", marieID).Row().Scan(&contact)
		return status == "cancelled" && contact == ""
	})
	if h := c.history(jeanID); count(h, "released") == 0 {
		t.Errorf("Jean's ticket does not say the job was given back: %v", h)
	}
	waitFor(t, "Marie gone from every directory", func() bool {
		_, inBFC := c.directoryHandles("bourgogne-franche-comte", jeanEmail)[c.handle(marieEmail)]
		_, inIDF := c.directoryHandles("ile-de-france", paulEmail)[c.handle(marieEmail)]
		_, inBZH := c.directoryHandles("bretagne", gwenEmail)[c.handle(marieEmail)]
		return !inBFC && !inIDF && !inBZH
	})
	// And no more offers for her.
	third := c.schoolTicket("Site web de la médiathèque", "website", false, 4)
	c.api("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+third+"/forward", jeanEmail, nil, 202)
	waitFor(t, "the third job offered", func() bool { return c.ticket(third)["status"] == "offered" })
	if r := c.api("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+third+"/routing", jeanEmail, nil, 200); r["offered_to"] == c.handle(marieEmail) {
		t.Errorf("a job offered to a member who left")
	}
}
