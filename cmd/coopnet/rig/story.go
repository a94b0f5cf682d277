package rig

import (
	"context"
	"strings"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/api"
)

// The story's people, by e-mail: Jean (technician) and Claire (staff) in
// Bourgogne-Franche-Comté; Marie and Gwen (technicians, websites) and
// Yann (staff) in Bretagne; Paul and Zoé (technicians, websites) in
// Île-de-France. Every one's password is Password.
const (
	Jean   = "jean@bfc.test"
	Claire = "claire@bfc.test"
	Marie  = "marie@bzh.test"
	Gwen   = "gwen@bzh.test"
	Yann   = "yann@bzh.test"
	Paul   = "paul@idf.test"
	Zoe    = "zoe@idf.test"
)

// Password is every seeded member's.
const Password = "mot de passe"

// RegionOf is the region of one of the story's people.
func RegionOf(email string) string {
	switch {
	case strings.HasSuffix(email, "@bfc.test"):
		return BFC
	case strings.HasSuffix(email, "@bzh.test"):
		return BZH
	case strings.HasSuffix(email, "@idf.test"):
		return IDF
	}
	return ""
}

func ptrTo[T any](v T) *T { return &v }

// Seed registers the story's members, each with an API token, and gives
// Zoé a full fortnight (10 h a week, 20 h of work under way).
func (c *Coop) Seed() {
	c.T.Helper()
	ctx := context.Background()
	add := func(region string, in members.CreateInput) members.Actor {
		in.Password = Password
		n := c.Node(region).N
		m, err := n.Members.Create(ctx, nil, in)
		if err != nil {
			c.T.Fatalf("seed %s: %v", in.Email, err)
		}
		tok, err := n.Members.IssueToken(ctx, m.ID, members.APIToken)
		if err != nil {
			c.T.Fatal(err)
		}
		c.TokensMu.Lock()
		c.Tokens[in.Email] = tok
		c.TokensMu.Unlock()
		return members.Actor{ID: m.ID, Handle: m.FullHandle, Name: m.Name, Role: m.Role}
	}
	add(BFC, members.CreateInput{Email: Jean, Name: "Jean Dugnouf", Role: "technician",
		Postcode: "25150", Commune: "Bourguignon", RadiusKm: ptrTo(40), Skills: []members.SkillLevel{{Name: "workstation", Level: 4}}})
	add(BFC, members.CreateInput{Email: Claire, Name: "Claire Vernier", Role: "staff", Postcode: "25000"})
	add(BZH, members.CreateInput{Email: Marie, Name: "Marie Le Gall", Role: "technician", Postcode: "35000",
		RemoteOK: true, WeeklyHours: ptrTo(32), Skills: []members.SkillLevel{{Name: "website", Level: 4}}})
	add(BZH, members.CreateInput{Email: Gwen, Name: "Gwen Tanguy", Role: "technician", Postcode: "29000",
		RemoteOK: true, WeeklyHours: ptrTo(30), Skills: []members.SkillLevel{{Name: "website", Level: 3}}})
	add(BZH, members.CreateInput{Email: Yann, Name: "Yann Kerjean", Role: "staff", Postcode: "35000"})
	add(IDF, members.CreateInput{Email: Paul, Name: "Paul Moreau", Role: "technician", Postcode: "93100",
		RemoteOK: true, WeeklyHours: ptrTo(35), Skills: []members.SkillLevel{{Name: "website", Level: 2}}})
	zoe := add(IDF, members.CreateInput{Email: Zoe, Name: "Zoé Bernard", Role: "technician", Postcode: "75011",
		RemoteOK: true, WeeklyHours: ptrTo(10), Skills: []members.SkillLevel{{Name: "website", Level: 5}}})
	idf := c.Node(IDF).N
	cl, err := idf.Clients.Create(ctx, zoe, clients.CreateInput{Description: clients.Description{Name: "Médiathèque", Kind: "town_hall", Postcode: "93100"}})
	if err != nil {
		c.T.Fatal(err)
	}
	tk, err := idf.Tickets.Create(ctx, zoe, tickets.CreateInput{ClientID: cl.ID, Title: "Refonte du site", Skill: "website",
		OnSite: ptrTo(false), EstimatedHours: ptrTo(20.0)})
	if err != nil {
		c.T.Fatal(err)
	}
	st := tickets.StatusInProgress
	if _, err := idf.Tickets.Update(ctx, zoe, tk.ID, tickets.UpdateInput{Version: 1, Status: &st}); err != nil {
		c.T.Fatal(err)
	}
}

// Token is the API token of one of the story's people.
func (c *Coop) Token(email string) string {
	c.TokensMu.Lock()
	defer c.TokensMu.Unlock()
	return c.Tokens[email]
}

// Handle is the full handle (name@host) of one of the story's people.
func (c *Coop) Handle(email string) string {
	local, _, _ := strings.Cut(email, "@")
	return local + "@" + strings.TrimPrefix(c.Node(RegionOf(email)).URL, "http://")
}

// API calls a region's API as the member with that e-mail ("" for
// nobody), fails the test unless it answers want, and returns the body
// decoded loosely. New tests use the typed client (As).
func (c *Coop) API(region, method, path, email string, body any, want int) map[string]any {
	c.T.Helper()
	return Call(c.T, method, c.Node(region).URL+path, c.Token(email), body, want)
}

// SchoolTicket makes Jean's client (the school near Bourguignon) and a
// ticket for it; it returns the ticket's id.
func (c *Coop) SchoolTicket(title, skill string, onSite bool, hours float64) string {
	c.T.Helper()
	jean := c.As(Jean)
	cl := Must[clients.Client](jean.Do("POST", "/api/v1/clients", map[string]any{
		"name": "École primaire des Tilleuls", "kind": "school", "postcode": "25150", "commune": "Bourguignon",
		"contact_name": "Mme Martin", "contact_email": "ecole.tilleuls@example.org"}), 201)
	tk := Must[tickets.View](jean.Do("POST", "/api/v1/tickets", map[string]any{
		"client_id": cl.ID, "title": title, "description": "Demande de l'école", "skill": skill,
		"on_site": onSite, "estimated_hours": hours}), 201)
	return tk.ID
}

// SharedTicket routes a school's website job from Jean (Bourgogne-
// Franche-Comté) to Marie (Bretagne), who accepts it, and waits for the
// copy on Marie's node. It returns the ticket's id on each node.
func (c *Coop) SharedTicket(title string) (jeanID, marieID string) {
	c.T.Helper()
	jeanID = c.SchoolTicket(title, "website", false, 16)
	c.API(BFC, "POST", "/api/v1/tickets/"+jeanID+"/forward", Jean, map[string]any{}, 202)
	offer := c.OfferFor(BZH, Marie, jeanID)
	c.API(BZH, "POST", "/api/v1/offers/"+offer.ID+"/accept", Marie, nil, 200)
	apID := c.Ticket(jeanID).APID
	WaitFor(c.T, "Marie's copy of the ticket", func() bool {
		marieID = c.CopyOf(BZH, Marie, apID)
		return marieID != ""
	})
	return jeanID, marieID
}

// CopyOf is the id of the member's ticket with that ActivityPub id, or "".
func (c *Coop) CopyOf(region, email, apID string) string {
	for _, tk := range Must[Page[tickets.View]](c.As(email).On(region).Do("GET", "/api/v1/tickets?limit=200", nil), 200).Items {
		if tk.APID == apID {
			return tk.ID
		}
	}
	return ""
}

// Comments are the bodies of a ticket's comments, oldest first.
func (c *Coop) Comments(region, email, id string) []string {
	var out []string
	for _, cm := range Must[Page[tickets.Comment]](c.As(email).On(region).Do("GET", "/api/v1/tickets/"+id+"/comments?limit=200", nil), 200).Items {
		out = append(out, cm.Body)
	}
	return out
}

// OfferFor waits for an offer of the ticket in the member's inbox.
func (c *Coop) OfferFor(region, email, ticketID string) member.Offer {
	c.T.Helper()
	var offer member.Offer
	WaitFor(c.T, email+"'s offer for "+ticketID, func() bool {
		for _, o := range c.Offers(region, email) {
			if o.TicketID == ticketID {
				offer = o
				return true
			}
		}
		return false
	})
	return offer
}

// Offers are the offers waiting in the member's inbox.
func (c *Coop) Offers(region, email string) []member.Offer {
	c.T.Helper()
	return Must[Page[member.Offer]](c.As(email).On(region).Do("GET", "/api/v1/offers", nil), 200).Items
}

// HasOffer reports whether the member has an offer of the ticket.
func (c *Coop) HasOffer(region, email, ticketID string) bool {
	c.T.Helper()
	for _, o := range c.Offers(region, email) {
		if o.TicketID == ticketID {
			return true
		}
	}
	return false
}

// TicketOn is the member's view of a ticket on their node.
func (c *Coop) TicketOn(email, id string) tickets.View {
	c.T.Helper()
	return Must[tickets.View](c.As(email).Do("GET", "/api/v1/tickets/"+id, nil), 200)
}

// ClientOn is the member's view of a client on their node.
func (c *Coop) ClientOn(email, id string) clients.Client {
	c.T.Helper()
	return Must[clients.Client](c.As(email).Do("GET", "/api/v1/clients/"+id, nil), 200)
}

// Calendar is the member's calendar on their node; path is the request's
// ("/api/v1/calendar?from=…").
func (c *Coop) Calendar(email, path string) []*planning.Event {
	c.T.Helper()
	return Must[api.Calendar](c.As(email).Do("GET", path, nil), 200).Items
}

// List is the items of a list the member reads on their node (one page).
func List[T any](c *Coop, email, path string) []T {
	c.T.Helper()
	return Must[Page[T]](c.As(email).Do("GET", path, nil), 200).Items
}

// Routing is the routing of one of Jean's tickets, as Jean sees it.
func (c *Coop) Routing(id string) routing.Routing {
	c.T.Helper()
	return Must[routing.Routing](c.As(Jean).Do("GET", "/api/v1/tickets/"+id+"/routing", nil), 200)
}

// Ticket is Jean's view of one of his tickets.
func (c *Coop) Ticket(id string) tickets.View {
	c.T.Helper()
	return c.TicketOn(Jean, id)
}

// History is Jean's ticket's history, a line "action field new" each
// (without the parts a change has not).
func (c *Coop) History(id string) []string {
	var out []string
	for _, e := range Must[Page[tickets.Change]](c.As(Jean).Do("GET", "/api/v1/tickets/"+id+"/history?limit=200", nil), 200).Items {
		line := string(e.Action)
		for _, part := range []string{e.Field, e.NewValue} {
			if part != "" {
				line += " " + part
			}
		}
		out = append(out, line)
	}
	return out
}

// Count is how many lines of list start with prefix.
func Count(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}
