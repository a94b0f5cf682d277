package story_test

import (
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
)

// TestMemberLeaves: Marie leaves the coop. Bretagne's admin deactivates
// her: her token stops at once, the offer waiting for her goes to the next
// candidate, the job she had accepted goes back to the routing (her copy
// ends, with the client's contact), and every region's directory drops
// her.
func TestMemberLeaves(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	admin := c.AddAdmin("bretagne", "admin@bzh.test")
	second := c.SchoolTicket("Site web de la mairie", "website", false, 8)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+second+"/forward", rig.Jean, nil, 202)
	c.OfferFor("bretagne", rig.Marie, second)
	jeanID, marieID := c.SharedTicket("Site web de l'école")
	rig.WaitFor(t, "Marie in every directory", func() bool {
		_, inBFC := c.directoryHandles("bourgogne-franche-comte", rig.Jean)[c.Handle(rig.Marie)]
		_, inIDF := c.directoryHandles("ile-de-france", rig.Paul)[c.Handle(rig.Marie)]
		return inBFC && inIDF
	})

	m := c.API("bretagne", "POST", "/api/v1/members/"+c.MemberID("bretagne", rig.Marie)+"/deactivate", admin, nil, 200)
	if m["active"] != false {
		t.Fatalf("deactivated: %v", m)
	}
	c.API("bretagne", "GET", "/api/v1/me", rig.Marie, nil, 401)
	// Her pending offer: declined for her, offered to the next candidate.
	c.OfferFor("bretagne", rig.Gwen, second)
	// Her job: given back, offered anew; her copy ends.
	rig.WaitFor(t, "Marie's job back to the routing", func() bool {
		tk := c.Ticket(jeanID)
		return tk.Assignee == nil && tk.Status == "offered"
	})
	rig.WaitFor(t, "Marie's copy ended", func() bool {
		var status, contact string
		bzh := c.Node("bretagne").N
		bzh.DB.Raw("SELECT status FROM tickets WHERE id = ?", marieID).Row().Scan(&status)
		bzh.DB.Raw("SELECT c.contact_email FROM clients c JOIN tickets t ON t.client_id = c.id WHERE t.id = ?", marieID).Row().Scan(&contact)
		return status == "cancelled" && contact == ""
	})
	if h := c.History(jeanID); rig.Count(h, "released") == 0 {
		t.Errorf("Jean's ticket does not say the job was given back: %v", h)
	}
	rig.WaitFor(t, "Marie gone from every directory", func() bool {
		_, inBFC := c.directoryHandles("bourgogne-franche-comte", rig.Jean)[c.Handle(rig.Marie)]
		_, inIDF := c.directoryHandles("ile-de-france", rig.Paul)[c.Handle(rig.Marie)]
		_, inBZH := c.directoryHandles("bretagne", rig.Gwen)[c.Handle(rig.Marie)]
		return !inBFC && !inIDF && !inBZH
	})
	// And no more offers for her.
	third := c.SchoolTicket("Site web de la médiathèque", "website", false, 4)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+third+"/forward", rig.Jean, nil, 202)
	rig.WaitFor(t, "the third job offered", func() bool { return c.Ticket(third).Status == "offered" })
	if r := c.API("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+third+"/routing", rig.Jean, nil, 200); r["offered_to"] == c.Handle(rig.Marie) {
		t.Errorf("a job offered to a member who left")
	}
}

// TestMemberExportAndErasure: Marie exports what her node holds about her
// (her profile, her work: the job she did, her time, her comment, the
// offer she accepted), another technician may not; once she left, her
// node's admin erases her data: her name goes from her profile and the
// records of her work, which keep her handle.
func TestMemberExportAndErasure(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	admin := c.AddAdmin("bretagne", "admin@bzh.test")
	_, marieCopy := c.SharedTicket("Site web de l'école")
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieCopy+"/time", rig.Marie, map[string]any{"minutes": 45}, 201)
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieCopy+"/comments", rig.Marie, map[string]any{"body": "Maquette envoyée"}, 201)
	id := c.MemberID("bretagne", rig.Marie)
	path := "/api/v1/members/" + id + "/export"

	exp := c.API("bretagne", "GET", path, rig.Marie, nil, 200)
	w := exp["work"].(map[string]any)
	list := func(k string) []any {
		l, ok := w[k].([]any)
		if !ok {
			t.Fatalf("work.%s is %v, want a list", k, w[k])
		}
		return l
	}
	if exp["member"].(map[string]any)["email"] != rig.Marie || len(list("tickets_assigned")) != 1 || len(list("time")) != 1 ||
		len(list("comments")) != 1 || len(list("offers")) != 1 || len(list("tickets_taken_in")) != 1 || len(list("interventions")) != 0 { // her copy is in her charge too
		t.Fatalf("Marie's export: %v", exp)
	}
	if o := list("offers")[0].(map[string]any); o["state"] != "accepted" || o["origin_region"] != "bourgogne-franche-comte" {
		t.Errorf("her offer in the export: %v", o)
	}
	if tm := list("time")[0].(map[string]any); tm["minutes"] != 45.0 || tm["ticket_id"] != marieCopy {
		t.Errorf("her time in the export: %v", tm)
	}
	c.API("bretagne", "GET", path, rig.Gwen, nil, 403)
	c.API("bretagne", "GET", path, admin, nil, 200)

	c.API("bretagne", "POST", "/api/v1/members/"+id+"/erasure", admin, map[string]any{"reason": "demande", "confirm": true}, 409) // still a member
	c.API("bretagne", "POST", "/api/v1/members/"+id+"/deactivate", admin, nil, 200)
	c.API("bretagne", "POST", "/api/v1/members/"+id+"/erasure", admin, map[string]any{"reason": "demande", "confirm": true}, 204)
	after := c.API("bretagne", "GET", path, admin, nil, 200)
	if m := after["member"].(map[string]any); m["name"] == "Marie Le Gall" || m["email"] == rig.Marie {
		t.Errorf("her profile after the erasure: %v", m)
	}
	if len(after["erasures"].([]any)) != 1 {
		t.Errorf("the erasure is not recorded: %v", after["erasures"])
	}
	var names []string
	c.Node("bretagne").N.DB.Raw("SELECT assignee_name FROM tickets WHERE id = ?", marieCopy).Scan(&names)
	var authors []string
	c.Node("bretagne").N.DB.Raw("SELECT author_name FROM ticket_comments WHERE ticket_id = ?", marieCopy).Scan(&authors)
	for _, n := range append(names, authors...) {
		if n == "Marie Le Gall" {
			t.Errorf("her name stays on the records of her work: %v %v", names, authors)
		}
	}
}
