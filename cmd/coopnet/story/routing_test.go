package story_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"

	"github.com/nats-io/nats.go"

	"github.com/coopnet/coopnet/federation"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

// TestRoutingStory is the heart of coopnet, across three real nodes and a
// real NATS: Jean (Bourgogne-Franche-Comté) forwards a school's website
// request; Marie (Bretagne: website 4, remote work, free) gets the offer
// before Gwen (website 3), Paul (website 2) and Zoé (website 5, but fully
// booked); she accepts; Jean's ticket shows her as assignee.
func TestRoutingStory(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	id := c.SchoolTicket("Site web de l'École primaire des Tilleuls", "website", false, 16)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/clients/"+c.Ticket(id).ClientID+"/sites", rig.Jean,
		map[string]any{"name": "École", "address": "12 rue des Écoles", "postcode": "25150", "commune": "Bourguignon"}, 201)

	fwd := c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean,
		map[string]any{"note": "Petit site vitrine ; contact : Mme Martin, ecole.tilleuls@example.org, 06 12 34 56 78 ; rendez-vous rue des Écoles"}, 202)
	if fwd["status"] != "routing" {
		t.Fatalf("forwarded: %v", fwd)
	}
	offer := c.OfferFor("bretagne", rig.Marie, id)
	if offer.Commune != "Bourguignon" || offer.Departement != "25" ||
		offer.Note != "Petit site vitrine ; contact : [client], [e-mail], [téléphone] ; rendez-vous [adresse]" ||
		offer.OriginRegion != "bourgogne-franche-comte" || offer.EstimatedHours != 16 {
		t.Errorf("offer: %v", offer)
	}
	if offer.Title != "Site web de l'[client]" {
		t.Errorf("offer title %q: the client's name must not travel before acceptance", offer.Title)
	}
	raw, _ := json.Marshal(offer)
	for _, private := range []string{"Tilleuls", "Martin", "ecole.tilleuls", "12 34 56 78", "des Écoles"} {
		if bytes.Contains(raw, []byte(private)) {
			t.Errorf("the offer carries the client's %q before acceptance: %s", private, raw)
		}
	}
	if got := c.Ticket(id); got.Status != "offered" {
		t.Errorf("while offered: %v", got.Status)
	}
	for _, other := range []struct{ region, email string }{{"bretagne", rig.Gwen}, {"ile-de-france", rig.Paul}, {"ile-de-france", rig.Zoe}} {
		if c.HasOffer(other.region, other.email, id) {
			t.Errorf("%s got an offer too", other.email)
		}
	}
	// The routing shows who it is offered to.
	r := c.Routing(id)
	if r.State != "offering" || r.OfferHandle != c.Handle(rig.Marie) || r.OfferRegion != "bretagne" {
		t.Errorf("routing: %+v", r)
	}

	acc := rig.Must[tickets.View](c.As(rig.Marie).Do("POST", "/api/v1/offers/"+offer.ID+"/accept", nil), 200)
	if acc.Status != "accepted" || acc.Assignee == nil || *acc.Assignee != (tickets.Assignee{Handle: c.Handle(rig.Marie), Region: "bretagne", Name: "Marie Le Gall"}) {
		t.Fatalf("accepted: %+v", acc)
	}
	got := c.Ticket(id)
	if got.Status != "accepted" || got.Assignee.Handle != c.Handle(rig.Marie) {
		t.Fatalf("Jean's ticket: %v", got)
	}
	if c.HasOffer("bretagne", rig.Marie, id) {
		t.Error("an accepted offer is still pending")
	}
	h := c.History(id)
	if rig.Count(h, "forwarded status routing") != 1 || rig.Count(h, "offered_to") != 1 || rig.Count(h, "accepted assignee") != 1 {
		t.Errorf("history: %v", h)
	}
}

// TestDeclineCascadesAndUnroutable: a declined offer passes to the next
// candidate at once; when nobody qualifies, staff see why.
func TestDeclineCascadesAndUnroutable(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	id := c.SchoolTicket("Site web de l'école", "website", false, 16)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 202)
	marie := c.OfferFor("bretagne", rig.Marie, id)
	// Gwen cannot answer Marie's offer.
	c.API("bretagne", "POST", "/api/v1/offers/"+marie.ID+"/accept", rig.Gwen, nil, 404)
	// Someone on NATS publishes first under the id the decline would have
	// were it the offer's id alone: the real decline still gets through.
	junk := nats.NewMsg("coopnet.v1.jobs.bourgogne-franche-comte.decline")
	junk.Data = []byte("{}")
	junk.Header.Set(nats.MsgIdHdr, "decline-"+marie.ID)
	c.publishMsg(junk)
	c.API("bretagne", "POST", "/api/v1/offers/"+marie.ID+"/decline", rig.Marie, map[string]any{"reason": "Pas le temps ce mois-ci"}, 204)
	c.API("bretagne", "POST", "/api/v1/offers/"+marie.ID+"/decline", rig.Marie, nil, 409)
	gwen := c.OfferFor("bretagne", rig.Gwen, id)
	c.API("bretagne", "POST", "/api/v1/offers/"+gwen.ID+"/decline", rig.Gwen, nil, 204)
	paul := c.OfferFor("ile-de-france", rig.Paul, id)
	c.API("ile-de-france", "POST", "/api/v1/offers/"+paul.ID+"/decline", rig.Paul, nil, 204)
	// Zoé is full: nobody is left.
	rig.WaitFor(t, "unroutable", func() bool { return c.Ticket(id).Status == "unroutable" })
	if h := c.History(id); rig.Count(h, "offer_declined") != 3 || rig.Count(h, "offered_to") != 3 {
		t.Errorf("history: %v", h)
	}

	// Nobody has the skill at all; nobody within reach for work on site.
	tel := c.SchoolTicket("Standard téléphonique", "telephony", false, 4)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+tel+"/forward", rig.Jean, nil, 202)
	site := c.SchoolTicket("Site web, atelier sur place", "website", true, 4)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+site+"/forward", rig.Jean, nil, 202)
	rig.WaitFor(t, "both unroutable", func() bool {
		return c.Ticket(tel).Status == "unroutable" && c.Ticket(site).Status == "unroutable"
	})
	c.API("bourgogne-franche-comte", "GET", "/api/v1/routing/unroutable", rig.Jean, nil, 403)
	reasons := map[string]string{}
	for _, u := range rig.List[routing.Unroutable](c.Coop, rig.Claire, "/api/v1/routing/unroutable") {
		reasons[u.TicketID] = u.Reason
	}
	if reasons[id] != "all_declined" || reasons[tel] != "no_skill" || reasons[site] != "out_of_radius" {
		t.Errorf("reasons: %v", reasons)
	}
	// An unroutable ticket can be forwarded again, here with a lower bar.
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+tel+"/forward", rig.Jean, map[string]any{"skill": "website"}, 202)
	c.OfferFor("bretagne", rig.Marie, tel)
}

// TestForwardRefusals: what may not be forwarded, and by whom.
func TestForwardRefusals(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	id := c.SchoolTicket("Site web", "website", false, 16)
	bfc := "bourgogne-franche-comte"
	c.API(bfc, "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, map[string]any{"skill": "cobol"}, 422)
	c.API(bfc, "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, map[string]any{"min_level": 9}, 422)
	c.API(bfc, "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, map[string]any{"colour": "blue"}, 422)
	c.API(bfc, "POST", "/api/v1/tickets/"+id+"/forward", "", nil, 401)
	c.API(bfc, "POST", "/api/v1/tickets/01a201c8-0000-7000-8000-000000000000/forward", rig.Jean, nil, 404)
	c.API(bfc, "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 202)
	c.API(bfc, "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 409) // already routed
	closed := c.SchoolTicket("Ancien ticket", "website", false, 1)
	c.API(bfc, "PATCH", "/api/v1/tickets/"+closed, rig.Jean, map[string]any{"version": 1, "status": "cancelled"}, 200)
	c.API(bfc, "POST", "/api/v1/tickets/"+closed+"/forward", rig.Jean, nil, 409)
	c.API("bretagne", "POST", "/api/v1/offers/not-an-offer/accept", rig.Marie, nil, 404)
	c.OfferFor("bretagne", rig.Marie, id)
}

// TestExactlyOneAcceptance: the same acceptance sent many times at once
// assigns the ticket once; an expired offer accepted at the same time as
// the next one loses.
func TestExactlyOneAcceptance(t *testing.T) {
	c := newCoop(t, 48*time.Hour) // offers expire when the test says (expireOffer), not when a loaded machine gets there
	id := c.SchoolTicket("Site web de l'école", "website", false, 16)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 202)
	offer := c.OfferFor("bretagne", rig.Marie, id)
	statuses := make([]int, 8)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = post(t, c.Node("bretagne").URL+"/api/v1/offers/"+offer.ID+"/accept", c.Tokens[rig.Marie])
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		if s != 200 {
			t.Errorf("repeated acceptance answered %d, want 200 each time (idempotent): %v", s, statuses)
			break
		}
	}
	if h := c.History(id); rig.Count(h, "accepted assignee") != 1 || rig.Count(h, "accepted status") != 1 {
		t.Fatalf("assigned more than once: %v", h)
	}

	// Two offers racing: the first candidate's offer expires and passes to
	// the next; both accept at once. (With Marie's first job counted, the
	// ranking may now put Gwen first: read who it is from the routing.)
	id2 := c.SchoolTicket("Deuxième site", "website", false, 8)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id2+"/forward", rig.Jean, nil, 202)
	byHandle := map[string]string{c.Handle(rig.Marie): rig.Marie, c.Handle(rig.Gwen): rig.Gwen}
	var first string
	rig.WaitFor(t, "the first offer", func() bool {
		first = c.Routing(id2).OfferHandle
		return byHandle[first] != ""
	})
	late := c.OfferFor("bretagne", byHandle[first], id2)
	c.expireOffer(id2)
	var second string
	rig.WaitFor(t, "the offer to pass on", func() bool {
		second = c.Routing(id2).OfferHandle
		return second != first
	})
	if byHandle[second] == "" {
		t.Fatalf("the second candidate is %s, want the other Breton", second)
	}
	next := c.OfferFor("bretagne", byHandle[second], id2)
	var lateStatus, nextStatus int
	wg.Add(2)
	go func() {
		defer wg.Done()
		lateStatus = post(t, c.Node("bretagne").URL+"/api/v1/offers/"+late.ID+"/accept", c.Tokens[byHandle[first]])
	}()
	go func() {
		defer wg.Done()
		nextStatus = post(t, c.Node("bretagne").URL+"/api/v1/offers/"+next.ID+"/accept", c.Tokens[byHandle[second]])
	}()
	wg.Wait()
	got := c.Ticket(id2)
	if nextStatus != 200 || lateStatus != 409 || got.Assignee.Handle != second {
		t.Fatalf("race: late offer %d, current offer %d, ticket %v", lateStatus, nextStatus, got)
	}
	if h := c.History(id2); rig.Count(h, "accepted assignee") != 1 || rig.Count(h, "offer_expired") != 1 {
		t.Errorf("history: %v", h)
	}
}

func post(t *testing.T, url, token string) int {
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestOfferToARegionThatIsDown: the job passes to a member of a region
// whose node is down; the offer waits in JetStream and reaches her when the
// node comes back; a withdrawn offer disappears from the inbox.
func TestOfferToARegionThatIsDown(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	id := c.SchoolTicket("Site web de l'école", "website", false, 16)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 202)
	c.OfferFor("bretagne", rig.Marie, id)
	c.Node("bretagne").Stop()
	// Marie's offer expires (its time is set past, rather than waited
	// for: Gwen's, next, must not expire before she accepts it on a
	// loaded machine); the next candidate is Gwen, in Bretagne, down.
	c.expireOffer(id)
	rig.WaitFor(t, "the offer to pass to Gwen", func() bool {
		r := c.API("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+id+"/routing", rig.Jean, nil, 200)
		return r["offered_to"] == c.Handle(rig.Gwen)
	})
	c.Restart("bretagne")
	gwen := c.OfferFor("bretagne", rig.Gwen, id)
	rig.WaitFor(t, "Marie's offer to be withdrawn", func() bool { return !c.HasOffer("bretagne", rig.Marie, id) })
	c.API("bretagne", "POST", "/api/v1/offers/"+gwen.ID+"/accept", rig.Gwen, nil, 200)
	if got := c.Ticket(id); got.Assignee.Handle != c.Handle(rig.Gwen) {
		t.Fatalf("ticket: %v", got)
	}
}

// TestRoutingRightAfterRestart: a node that has just started does not know
// the other regions yet; a job forwarded at once (or a routing it resumes
// after a crash) still reaches them, rather than ending unroutable with its
// own region's empty answer.
func TestRoutingRightAfterRestart(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	// Jean's region has a beginner in website work: it answers the
	// question itself, with nobody at the level asked.
	if _, err := c.Node("bourgogne-franche-comte").N.Members.Create(context.Background(), nil, members.CreateInput{
		Email: "lea@bfc.test", Name: "Léa Girard", Role: "technician", Password: "mot de passe", Postcode: "25000",
		RemoteOK: true, Skills: []members.SkillLevel{{Name: "website", Level: 1}}}); err != nil {
		t.Fatal(err)
	}
	for i, known := range []bool{false, true} {
		// At once: the node waits for the whole window. Once the other
		// regions have answered its first presence, it expects their
		// answers. (Waited for as a state, not a duration.)
		id := c.SchoolTicket(fmt.Sprintf("Site web de l'école (%d)", i), "website", false, 4)
		bfc := c.Restart("bourgogne-franche-comte")
		if known {
			rig.WaitFor(t, "the restarted node to know the three regions", func() bool { return bfc.N.Routing.LiveRegions() == 3 })
		}
		c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, map[string]any{"min_level": 4}, 202)
		c.OfferFor("bretagne", rig.Marie, id)
		if st := c.Ticket(id).Status; st != "offered" {
			t.Fatalf("forwarded after a restart (the regions known: %t): %v", known, st)
		}
	}
}

// TestNATSRestart: NATS stops in the middle of routing. Acceptances wait
// (503, the offer kept), forwards wait (the ticket stays "routing"); when
// NATS is back everything completes: no offer lost, no double assignment.
func TestNATSRestart(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	a := c.SchoolTicket("Site A", "website", false, 8)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+a+"/forward", rig.Jean, nil, 202)
	offerA := c.OfferFor("bretagne", rig.Marie, a)

	c.StopNATS()
	// NATS is reported apart: the node stays ready (its web and API work),
	// degraded, so that a load balancer does not take the web down.
	rig.WaitFor(t, "nodes to see NATS down", func() bool {
		res, err := http.Get(c.Node("bretagne").URL + "/readyz")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var ready struct {
			Ready, Degraded bool
			Checks          map[string]string
		}
		if err := json.NewDecoder(res.Body).Decode(&ready); err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || !ready.Ready {
			t.Fatalf("readyz while only NATS is down: %d %+v, want 200 and ready", res.StatusCode, ready)
		}
		return ready.Degraded && ready.Checks["nats"] == "unavailable" && ready.Checks["database"] == "ok"
	})
	c.API("bretagne", "GET", "/api/v1/tickets", rig.Marie, nil, 200) // the API works without NATS
	c.API("bretagne", "POST", "/api/v1/offers/"+offerA.ID+"/accept", rig.Marie, nil, 503)
	b := c.SchoolTicket("Site B", "website", false, 8)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+b+"/forward", rig.Jean, nil, 202)
	time.Sleep(500 * time.Millisecond)
	if st := c.Ticket(b).Status; st != "routing" {
		t.Fatalf("a forward while NATS is down: %v, want routing (waiting)", st)
	}

	c.StartNATS()
	// B goes to whoever ranks first among the regions that answer first
	// after the restart: read it from the routing.
	who := map[string][2]string{c.Handle(rig.Marie): {"bretagne", rig.Marie}, c.Handle(rig.Gwen): {"bretagne", rig.Gwen},
		c.Handle(rig.Paul): {"ile-de-france", rig.Paul}}
	var to [2]string
	// The regions reconnect one by one, each after its own delay: a search
	// that hears nobody with the skill from fewer regions than are alive
	// asks again rather than calling the ticket unroutable.
	rig.WaitWithin(t, 30*time.Second, "B to be offered", func() bool {
		to = who[c.Routing(b).OfferHandle]
		return to[0] != ""
	})
	offerB := c.OfferFor(to[0], to[1], b)
	c.API("bretagne", "POST", "/api/v1/offers/"+offerA.ID+"/accept", rig.Marie, nil, 200)
	c.API(to[0], "POST", "/api/v1/offers/"+offerB.ID+"/accept", to[1], nil, 200)
	for _, id := range []string{a, b} {
		got := c.Ticket(id)
		if got.Status != "accepted" || rig.Count(c.History(id), "accepted assignee") != 1 {
			t.Errorf("ticket %s: %v %v", id, got.Status, c.History(id))
		}
	}
}

// TestMalformedMessages: garbage on the routing subjects is dropped,
// counted and logged; the nodes keep routing.
func TestMalformedMessages(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	nc := c.NATSConn()
	js, _ := nc.JetStream()
	for _, junk := range [][]byte{[]byte("not json"), []byte(`{"v":1}`), []byte(`{"v":1,"id":"x","skill":"website","extra":1}`), bytes.Repeat([]byte("["), 5000)} {
		if _, err := nc.Request("coopnet.v1.route.website", junk, 200*time.Millisecond); err == nil {
			t.Errorf("a node answered junk %q", junk[:min(len(junk), 20)])
		}
	}
	for _, kind := range []string{"offer", "decline", "withdraw", "unknown"} {
		if _, err := js.Publish("coopnet.v1.jobs.bretagne."+kind, []byte(`{"v":1,"kind":"`+kind+`","offer_id":"nope"}`)); err != nil {
			t.Fatal(err)
		}
	}
	rig.WaitFor(t, "the junk to be counted", func() bool {
		body := c.metrics("bretagne")
		return strings.Contains(string(body), `coopnet_routing_dropped_messages_total{kind="question"}`) &&
			strings.Contains(string(body), `coopnet_routing_dropped_messages_total{kind="offer"} 1`) &&
			strings.Contains(string(body), `coopnet_routing_dropped_messages_total{kind="unknown"} 1`)
	})
	// Still routing.
	id := c.SchoolTicket("Site web", "website", false, 16)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 202)
	c.OfferFor("bretagne", rig.Marie, id)
}

// TestCancelWhileOffered: a ticket cancelled by hand while offered ends its
// routing and the offer leaves the member's inbox.
func TestCancelWhileOffered(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	id := c.SchoolTicket("Site web", "website", false, 16)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 202)
	offer := c.OfferFor("bretagne", rig.Marie, id)
	v := c.Ticket(id).Version
	c.API("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+id, rig.Jean, map[string]any{"version": v, "status": "cancelled"}, 200)
	rig.WaitFor(t, "the offer to be withdrawn", func() bool { return !c.HasOffer("bretagne", rig.Marie, id) })
	if r := c.API("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+id+"/routing", rig.Jean, nil, 200); r["state"] != "cancelled" {
		t.Errorf("routing after cancellation: %v", r)
	}
	c.API("bretagne", "POST", "/api/v1/offers/"+offer.ID+"/accept", rig.Marie, nil, 409)
}

// TestForgedAcceptance: an acceptance sent straight on NATS in the name of
// someone the job was not offered to is refused; the job stays offered.
func TestForgedAcceptance(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	id := c.SchoolTicket("Site web", "website", false, 16)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 202)
	offer := c.OfferFor("bretagne", rig.Marie, id)
	r := c.API("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+id+"/routing", rig.Jean, nil, 200)
	forged, _ := json.Marshal(map[string]any{"v": 1, "offer_id": offer.ID, "routing_id": r["id"], "region": "ile-de-france",
		"member_id": "01a201c8-0000-7000-8000-000000000000", "handle": "intrus@idf.test", "name": "Intrus",
		"release_token": "00112233445566778899aabbccddeeff"})
	msg, err := c.NATSConnAs("ile-de-france").Request("coopnet.v1.accept.bourgogne-franche-comte", forged, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg.Data), `"ok":false`) {
		t.Fatalf("forged acceptance answered %s", msg.Data)
	}
	if got := c.Ticket(id); got.Status != "offered" || got.Assignee != nil {
		t.Fatalf("ticket after a forged acceptance: %v", got)
	}
	// Nor one in Marie's own name and region: it is not signed by her node.
	forged, _ = json.Marshal(map[string]any{"v": 1, "offer_id": offer.ID, "routing_id": r["id"], "region": "bretagne",
		"member_id": "01a201c8-0000-7000-8000-000000000000", "handle": c.Handle(rig.Marie), "name": "Marie Le Gall",
		"release_token": "00112233445566778899aabbccddeeff"})
	bzh := c.NATSConnAs("bretagne")
	msg, err = bzh.Request("coopnet.v1.accept.bourgogne-franche-comte", forged, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg.Data), `"code":"forbidden"`) {
		t.Fatalf("an unsigned acceptance in Marie's name answered %s", msg.Data)
	}
	// Signed by another region's node: still not hers.
	idf := c.Node("ile-de-france").N.Fed
	m := signedMsg(t, idf, "coopnet.v1.accept.bourgogne-franche-comte", forged)
	if msg, err = bzh.RequestMsg(m, 5*time.Second); err != nil || !strings.Contains(string(msg.Data), `"code":"forbidden"`) {
		t.Fatalf("an acceptance in Marie's name signed by Île-de-France answered %v %v", msg, err)
	}
	if got := c.Ticket(id); got.Status != "offered" || got.Assignee != nil {
		t.Fatalf("ticket after forged acceptances: %v", got)
	}
	// Nor one in the name of a member of the ticket's own region (who
	// accepts on that node, never over NATS), nor from a host that is not
	// a peer.
	for _, who := range []struct{ region, handle string }{
		{"bourgogne-franche-comte", "jean@" + strings.TrimPrefix(c.Node("bourgogne-franche-comte").URL, "http://")},
		{"bretagne", "marie@elsewhere.test"},
	} {
		forged, _ := json.Marshal(map[string]any{"v": 1, "offer_id": offer.ID, "routing_id": r["id"], "region": who.region,
			"member_id": "01a201c8-0000-7000-8000-000000000000", "handle": who.handle, "name": "?"})
		if msg, err := c.NATSConnAs(who.region).Request("coopnet.v1.accept.bourgogne-franche-comte", forged, 5*time.Second); err != nil ||
			!strings.Contains(string(msg.Data), `"code":"forbidden"`) {
			t.Fatalf("a forged acceptance for %s answered %v %v", who.handle, msg, err)
		}
	}
	// A withdrawal naming another region than the offer's origin changes
	// nothing, even signed by the origin's node (it is not that region's
	// node: dropped): only its origin withdraws its offers.
	withdraw, _ := json.Marshal(map[string]any{"v": 1, "kind": "withdraw", "offer_id": offer.ID, "routing_id": r["id"],
		"region": "ile-de-france", "reason": "cancelled"})
	c.publishJob("coopnet.v1.jobs.bretagne.withdraw", withdraw, "bourgogne-franche-comte")
	c.jobsHandled("bretagne")
	if !c.HasOffer("bretagne", rig.Marie, id) {
		t.Fatal("a region that is not the offer's origin withdrew it")
	}
	// Nor can anyone end the offer in the name of the node that may: a
	// withdrawal as from the origin, a decline or a "superseded" as from
	// Marie's node, an offer in the place of hers, unsigned or signed by
	// another node, are dropped and counted.
	answer := func(kind, region string) []byte {
		b, _ := json.Marshal(map[string]any{"v": 1, "kind": kind, "offer_id": offer.ID, "routing_id": r["id"], "region": region})
		return b
	}
	bfc := "bourgogne-franche-comte"
	for _, signer := range []string{"", "ile-de-france"} {
		c.publishJob("coopnet.v1.jobs.bretagne.withdraw", answer("withdraw", bfc), signer)
		c.publishJob("coopnet.v1.jobs.bourgogne-franche-comte.decline", answer("decline", "bretagne"), signer)
		c.publishJob("coopnet.v1.jobs.bourgogne-franche-comte.superseded", answer("superseded", "bretagne"), signer)
	}
	forged = []byte(`{"v":1,"kind":"offer","offer_id":"01a201c8-0000-7000-8000-0000000000e1","routing_id":"01a201c8-0000-7000-8000-0000000000aa",` +
		`"origin_region":"bourgogne-franche-comte","ticket_id":"01a201c8-0000-7000-8000-0000000000ab","ticket_ap_id":"` +
		c.Node(bfc).URL + `/tickets/01a201c8-0000-7000-8000-0000000000ab","member_id":"` + c.MemberID("bretagne", rig.Marie) +
		`","title":"Urgent","skill":"website","estimated_minutes":3600,"commune":"Bourguignon","departement":"25",` +
		`"forwarded_by":"jean@example.test","forwarded_by_name":"Jean","expires_at":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) +
		`","supersedes":"` + offer.ID + `","regret":0.9}`)
	c.publishJob("coopnet.v1.jobs.bretagne.offer", forged, "ile-de-france")
	rig.WaitFor(t, "the forged job messages dropped", func() bool {
		bzh, bfcMetrics := c.metrics("bretagne"), c.metrics(bfc)
		return strings.Contains(bzh, `coopnet_routing_dropped_messages_total{kind="withdraw"} 3`) &&
			strings.Contains(bzh, `coopnet_routing_dropped_messages_total{kind="offer"} 1`) &&
			strings.Contains(bfcMetrics, `coopnet_routing_dropped_messages_total{kind="decline"} 2`) &&
			strings.Contains(bfcMetrics, `coopnet_routing_dropped_messages_total{kind="superseded"} 2`)
	})
	if !c.HasOffer("bretagne", rig.Marie, id) {
		t.Fatal("a forged message ended Marie's offer")
	}
	if got := c.API(bfc, "GET", "/api/v1/tickets/"+id+"/routing", rig.Jean, nil, 200); got["offered_to"] != c.Handle(rig.Marie) {
		t.Fatalf("the routing after forged declines: %v", got)
	}
	c.API("bretagne", "POST", "/api/v1/offers/"+offer.ID+"/accept", rig.Marie, nil, 200)

	// Nor can anyone on NATS give the job back in Marie's name: the
	// request must carry the secret her node sent with her acceptance.
	for _, token := range []string{"00112233445566778899aabbccddeeff", ""} {
		release, _ := json.Marshal(map[string]any{"v": 1, "offer_id": offer.ID, "routing_id": r["id"], "region": "bretagne",
			"handle": c.Handle(rig.Marie), "token": token, "reason": "forgé"})
		msg, err = bzh.Request("coopnet.v1.release.bourgogne-franche-comte", release, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(msg.Data), `"ok":false`) {
			t.Fatalf("forged release (token %q) answered %s", token, msg.Data)
		}
	}
	if got := c.Ticket(id); got.Status != "accepted" || got.Assignee.Handle != c.Handle(rig.Marie) {
		t.Fatalf("ticket after a forged release: %v", got)
	}
}

// TestSupersededOffer: a member with no room left because of a pending offer
// is offered a job that only they can do; their pending offer goes to its
// job's next candidate. Then the faults: an offer naming one that was
// answered meanwhile, or a member's offer it is not theirs, ends nothing.
// Marie's node runs on each database.
func TestSupersededOffer(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			bzh := storagetest.SQLiteURL(t)
			if db == "postgres" {
				bzh = storagetest.PostgresURL(t)
			}
			testSupersededOffer(t, newCoopOn(t, 48*time.Hour, map[string]string{
				"bourgogne-franche-comte": storagetest.PostgresURL(t),
				"bretagne":                bzh,
				"ile-de-france":           storagetest.SQLiteURL(t),
			}))
		})
	}
}

func testSupersededOffer(t *testing.T, c *coop) {
	bfc := "bourgogne-franche-comte"
	// Marie (64 h this fortnight) gets the 40-hour job before Gwen.
	big := c.SchoolTicket("Site web et intranet", "website", false, 40)
	c.API(bfc, "POST", "/api/v1/tickets/"+big+"/forward", rig.Jean, nil, 202)
	first := c.OfferFor("bretagne", rig.Marie, big)
	// A 30-hour job at level 4: only Marie has the level (Zoé, level 5, is
	// full), and she has room only without the pending 40 hours.
	expert := c.SchoolTicket("Site web accessible", "website", false, 30)
	c.API(bfc, "POST", "/api/v1/tickets/"+expert+"/forward", rig.Jean, map[string]any{"min_level": 4}, 202)
	second := c.OfferFor("bretagne", rig.Marie, expert)
	// The big job went to Gwen.
	gwen := c.OfferFor("bretagne", rig.Gwen, big)
	if c.HasOffer("bretagne", rig.Marie, big) {
		t.Error("Marie still has the offer she was given another job in place of")
	}
	if h := c.History(big); rig.Count(h, "offer_superseded") != 1 || rig.Count(h, "offered_to") != 2 {
		t.Errorf("history of the big job: %v", h)
	}
	r := c.API(bfc, "GET", "/api/v1/tickets/"+big+"/routing", rig.Jean, nil, 200)
	if r["offered_to"] != c.Handle(rig.Gwen) || r["superseded"] != true {
		t.Errorf("routing of the big job: %v", r)
	}
	// The superseded offer cannot be accepted any more.
	c.API("bretagne", "POST", "/api/v1/offers/"+first.ID+"/accept", rig.Marie, nil, 409)
	// Her page of offers says where it went, in French.
	page := c.page("bretagne", rig.Marie, "/app/offers")
	if !strings.Contains(page, `id="ended-`+first.ID+`"`) || !strings.Contains(page, "un autre travail avait davantage besoin de vous") ||
		!strings.Contains(page, `id="offer-`+second.ID+`"`) {
		t.Errorf("Marie's offers page does not show the superseded offer ended and the new one to answer:\n%s", page)
	}
	metrics := c.metrics
	if !strings.Contains(metrics("bretagne"), "coopnet_routing_offers_superseded_total 1") {
		t.Error("the superseded offer is not counted")
	}

	// Marie accepts the expert job. A late offer in the place of that
	// answered offer does not undo it: it is kept as an ordinary offer
	// while she has room (30 h of 64 booked).
	c.API("bretagne", "POST", "/api/v1/offers/"+second.ID+"/accept", rig.Marie, nil, 200)
	marie := c.MemberID("bretagne", rig.Marie)
	late := c.SchoolTicket("Sauvegardes", "website", false, 10)
	offer := func(id, member, supersedes string, hours int) {
		t.Helper()
		c.forgeOffer(map[string]any{"offer_id": id, "ticket_id": late, "member_id": member, "estimated_minutes": hours * 60,
			"supersedes": supersedes, "regret": 0.5})
	}
	offer("01a201c8-0000-7000-8000-0000000000b1", marie, second.ID, 10)
	if state, _ := c.storedOffer("bretagne", "01a201c8-0000-7000-8000-0000000000b1"); state != "pending" {
		t.Errorf("an offer Marie has room for is %s", state)
	}
	// Now 40 h of 64 are booked. A 30-hour offer naming Gwen's pending
	// offer in Marie's name, or Marie's own superseded one, ends nothing:
	// Marie lacks the room, so her node declines it.
	for i, named := range []string{gwen.ID, first.ID} {
		id := fmt.Sprintf("01a201c8-0000-7000-8000-0000000000b%d", 5+i)
		offer(id, marie, named, 30)
		if state, reason := c.storedOffer("bretagne", id); state != "declined" || reason != "full" {
			t.Errorf("an offer naming %s: %s (%q), want declined (full)", named, state, reason)
		}
	}
	if state, _ := c.storedOffer("bretagne", first.ID); state != "superseded" {
		t.Errorf("Marie's superseded offer is now %s", state)
	}
	if got := c.Ticket(expert); got.Status != "accepted" || got.Assignee.Handle != c.Handle(rig.Marie) {
		t.Errorf("the expert job after a late offer in its place: %v", got)
	}
	if !c.HasOffer("bretagne", rig.Gwen, big) {
		t.Error("an offer in Marie's name ended Gwen's")
	}
	if !strings.Contains(metrics("bretagne"), "coopnet_routing_offers_superseded_total 1") {
		t.Error("an offer that was not superseded is counted")
	}
	// A 40-hour offer finds no room either: her node declines it at once
	// rather than leave the job waiting for her answer.
	c.forgeOffer(map[string]any{"offer_id": "01a201c8-0000-7000-8000-0000000000b4", "ticket_id": late, "member_id": marie,
		"title": "Gros chantier", "estimated_minutes": 40 * 60})
	if state, reason := c.storedOffer("bretagne", "01a201c8-0000-7000-8000-0000000000b4"); state != "declined" || reason != "full" {
		t.Errorf("an offer beyond Marie's room is %s (%q), want declined (full)", state, reason)
	}
	// A malformed superseding offer is dropped and counted.
	c.forgeOffer(map[string]any{"offer_id": "01a201c8-0000-7000-8000-0000000000b3", "member_id": marie,
		"supersedes": "not an id", "regret": -1})
	rig.WaitFor(t, "the malformed offer dropped", func() bool {
		return strings.Contains(metrics("bretagne"), `coopnet_routing_dropped_messages_total{kind="offer"} 1`)
	})

	// Gwen (60 h) holds the big job (40 h). An offer in its place that
	// finds her with room for both ends nothing: she can take both.
	gwenID := c.MemberID("bretagne", rig.Gwen)
	offer("01a201c8-0000-7000-8000-0000000000c1", gwenID, gwen.ID, 10)
	rig.WaitFor(t, "Gwen's small offer", func() bool { return c.HasOffer("bretagne", rig.Gwen, late) })
	if !c.HasOffer("bretagne", rig.Gwen, big) {
		t.Fatal("an offer Gwen had room for superseded her big job")
	}
	// One for which giving up the big job would not make room enough ends
	// nothing (70 h: she lacks 60, the big job is 40).
	offer("01a201c8-0000-7000-8000-0000000000c3", gwenID, gwen.ID, 70)
	if state, reason := c.storedOffer("bretagne", "01a201c8-0000-7000-8000-0000000000c3"); state != "declined" || reason != "full" {
		t.Errorf("a 70-hour offer for Gwen: %s (%q), want declined (full)", state, reason)
	}
	if !c.HasOffer("bretagne", rig.Gwen, big) {
		t.Fatal("an offer too big for Gwen superseded her big job")
	}
	// One she has room for only without the big job supersedes it, which
	// goes on to Paul.
	offer("01a201c8-0000-7000-8000-0000000000c2", gwenID, gwen.ID, 50)
	c.OfferFor("ile-de-france", rig.Paul, big)
	if c.HasOffer("bretagne", rig.Gwen, big) {
		t.Error("Gwen kept the big job's offer")
	}
	if !strings.Contains(metrics("bretagne"), "coopnet_routing_offers_superseded_total 2") {
		t.Error("the second superseded offer is not counted")
	}
}

// TestSupersededJobSearchesAgain: a job whose offer was superseded goes
// down its list without taking anyone's place; when the list runs out it
// searches once more, leaving out those it was offered to, and then, with
// nobody left, is unroutable.
func TestSupersededJobSearchesAgain(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	bfc := "bourgogne-franche-comte"
	// 20 h, then 45 h at level 4: Marie (64 h) has room for one only.
	big := c.SchoolTicket("Site web et intranet", "website", false, 20)
	c.API(bfc, "POST", "/api/v1/tickets/"+big+"/forward", rig.Jean, nil, 202)
	c.OfferFor("bretagne", rig.Marie, big)
	expert := c.SchoolTicket("Site web accessible", "website", false, 45)
	c.API(bfc, "POST", "/api/v1/tickets/"+expert+"/forward", rig.Jean, map[string]any{"min_level": 4}, 202)
	c.OfferFor("bretagne", rig.Marie, expert)
	gwen := c.OfferFor("bretagne", rig.Gwen, big)
	// Zoé's work under way is done: she has room now (20 h), but was not
	// among the big job's candidates.
	for _, tk := range rig.List[tickets.View](c.Coop, rig.Zoe, "/api/v1/tickets") {
		if tk.Title == "Refonte du site" {
			c.API("ile-de-france", "PATCH", "/api/v1/tickets/"+tk.ID, rig.Zoe, map[string]any{"version": tk.Version, "status": "resolved"}, 200)
		}
	}
	time.Sleep(1100 * time.Millisecond) // the Île-de-France node's view of bookings is at most a second old
	c.API("bretagne", "POST", "/api/v1/offers/"+gwen.ID+"/decline", rig.Gwen, nil, 204)
	paul := c.OfferFor("ile-de-france", rig.Paul, big)
	c.API("ile-de-france", "POST", "/api/v1/offers/"+paul.ID+"/decline", rig.Paul, nil, 204)
	zoe := c.OfferFor("ile-de-france", rig.Zoe, big)
	h := c.History(big)
	if rig.Count(h, "searched_again") != 1 || rig.Count(h, "offered_to") != 4 || rig.Count(h, "offer_superseded") != 1 {
		t.Errorf("history: %v", h)
	}
	for _, who := range []struct{ region, email string }{{"bretagne", rig.Marie}, {"bretagne", rig.Gwen}, {"ile-de-france", rig.Paul}} {
		if c.HasOffer(who.region, who.email, big) {
			t.Errorf("%s was offered the job again", who.email)
		}
	}
	c.API("ile-de-france", "POST", "/api/v1/offers/"+zoe.ID+"/decline", rig.Zoe, nil, 204)
	rig.WaitFor(t, "unroutable", func() bool { return c.Ticket(big).Status == "unroutable" })
	if h := c.History(big); rig.Count(h, "searched_again") != 1 || rig.Count(h, "unroutable") != 1 {
		t.Errorf("history: %v", h)
	}
	r := c.API(bfc, "GET", "/api/v1/tickets/"+big+"/routing", rig.Jean, nil, 200)
	if r["reason"] != "all_declined" {
		t.Errorf("routing: %v", r)
	}
}

// TestAcceptStartedNotSuperseded: once a member has started to accept an
// offer (here the ticket's node is down, so the acceptance waits), no other
// job takes its place; when the node is back, the acceptance goes through.
func TestAcceptStartedNotSuperseded(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	bfc := "bourgogne-franche-comte"
	big := c.SchoolTicket("Site web et intranet", "website", false, 40)
	c.API(bfc, "POST", "/api/v1/tickets/"+big+"/forward", rig.Jean, nil, 202)
	first := c.OfferFor("bretagne", rig.Marie, big)
	c.Node(bfc).Stop()
	c.API("bretagne", "POST", "/api/v1/offers/"+first.ID+"/accept", rig.Marie, nil, 503)
	c.Restart(bfc) // its key can be fetched again to check the offer below
	// A 30-hour job in the place of the offer she is accepting: she has no
	// room for both, so her node declines it at once and keeps hers.
	const other = "01a201c8-0000-7000-8000-0000000000d1"
	c.forgeOffer(map[string]any{"offer_id": other, "member_id": c.MemberID("bretagne", rig.Marie), "title": "Site web accessible",
		"estimated_minutes": 30 * 60, "supersedes": first.ID, "regret": 0.1})
	if state, _ := c.storedOffer("bretagne", other); state != "declined" || !c.HasOffer("bretagne", rig.Marie, big) {
		t.Fatalf("the other offer is %s; Marie still has hers: %v", state, c.HasOffer("bretagne", rig.Marie, big))
	}
	acc := c.API("bretagne", "POST", "/api/v1/offers/"+first.ID+"/accept", rig.Marie, nil, 200)
	if acc["status"] != "accepted" {
		t.Fatalf("accepted: %v", acc)
	}
}

// forgeOffer publishes straight on JetStream an offer to a member of
// Bretagne, as from Bourgogne-Franche-Comté, with the given fields, signed
// by that node as it signs an offer in the place of another.
func (c *coop) forgeOffer(fields map[string]any) {
	c.T.Helper()
	msg := map[string]any{"v": 1, "kind": "offer", "routing_id": "01a201c8-0000-7000-8000-0000000000aa",
		"origin_region": "bourgogne-franche-comte", "ticket_id": "01a201c8-0000-7000-8000-0000000000ab",
		"title": "Sauvegardes", "skill": "website", "estimated_minutes": 600, "commune": "Bourguignon", "departement": "25",
		"forwarded_by": "jean@example.test", "forwarded_by_name": "Jean", "expires_at": time.Now().Add(time.Hour)}
	maps.Copy(msg, fields)
	if _, ok := msg["ticket_ap_id"]; !ok {
		msg["ticket_ap_id"] = c.Node("bourgogne-franche-comte").URL + "/tickets/" + msg["ticket_id"].(string)
	}
	body, _ := json.Marshal(msg)
	c.publishJob("coopnet.v1.jobs.bretagne.offer", body, "bourgogne-franche-comte")
}

// publishJob publishes a message straight on JetStream, signed by the node
// of region signer ("": unsigned).
func (c *coop) publishJob(subject string, body []byte, signer string) {
	c.T.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	if signer != "" {
		m = signedMsg(c.T, c.Node(signer).N.Fed, subject, body)
	}
	c.publishMsg(m)
}

// signedMsg is a message on subject signed now by fed's node, as the node
// signs what it publishes on the routing plane.
func signedMsg(t testing.TB, fed *federation.Service, subject string, body []byte) *nats.Msg {
	t.Helper()
	at := time.Now()
	keyID, sig, err := fed.SignMessage(context.Background(), subject, at, body)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set("Coopnet-Key-Id", keyID)
	m.Header.Set("Coopnet-Signature", sig)
	m.Header.Set("Coopnet-Signed-At", strconv.FormatInt(at.UnixMicro(), 10))
	return m
}

// jobsHandled waits until a region's node has handled every job message
// published so far: delivered, then acknowledged or dropped.
func (c *coop) jobsHandled(region string) {
	c.T.Helper()
	js := c.JetStream()
	rig.WaitFor(c.T, region+"'s job messages handled", func() bool {
		ci, err := js.ConsumerInfo("COOPNET_JOBS", "jobs-"+region)
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0
	})
}

// publishMsg publishes a message straight on JetStream.
func (c *coop) publishMsg(m *nats.Msg) {
	c.T.Helper()
	if _, err := c.JetStream().PublishMsg(m); err != nil {
		c.T.Fatal(err)
	}
}

// expireOffer makes the current offer of the ticket's routing (on its
// region's node, Bourgogne-Franche-Comté) past its expiry, for the
// tracker's next round.
func (c *coop) expireOffer(ticketID string) {
	c.T.Helper()
	res := c.Node("bourgogne-franche-comte").N.DB.Exec("UPDATE routings SET offer_expires_at = ? WHERE ticket_id = ? AND state = 'offering'",
		time.Now().Add(-time.Minute).UTC(), ticketID)
	if res.Error != nil || res.RowsAffected != 1 {
		c.T.Fatalf("expire the offer of %s: %v (%d routings)", ticketID, res.Error, res.RowsAffected)
	}
}

// metrics is a region's node's /metrics page.
func (c *coop) metrics(region string) string {
	c.T.Helper()
	req, _ := http.NewRequest("GET", c.Node(region).URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+rig.MetricsToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		c.T.Fatalf("metrics of %s: %d %s", region, res.StatusCode, body)
	}
	return string(body)
}

// storedOffer waits for an offer to be stored on a region's node and
// returns its state and decline reason.
func (c *coop) storedOffer(region, id string) (state, reason string) {
	c.T.Helper()
	rig.WaitFor(c.T, "offer "+id+" stored", func() bool {
		return c.Node(region).N.DB.DB.Raw("SELECT state, decline_reason FROM offers WHERE id = ?", id).Row().Scan(&state, &reason) == nil
	})
	return state, reason
}

// page logs in with the web form as the member and returns a page of the
// web interface.
func (c *coop) page(region, email, path string) string {
	c.T.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	base := c.Node(region).URL
	get := func(u string) string {
		res, err := browser.Get(u)
		if err != nil {
			c.T.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			c.T.Fatalf("GET %s: %d", u, res.StatusCode)
		}
		return string(body)
	}
	csrf := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindStringSubmatch(get(base + "/app/login"))
	if csrf == nil {
		c.T.Fatal("no CSRF token on the login page")
	}
	res, err := browser.PostForm(base+"/app/login", url.Values{"_csrf": {csrf[1]}, "email": {email}, "password": {"mot de passe"}})
	if err != nil {
		c.T.Fatal(err)
	}
	res.Body.Close()
	return get(base + path)
}
