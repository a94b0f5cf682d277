package story_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"

	"github.com/nats-io/nats.go"

	"github.com/coopnet/coopnet/services/members"
)

// TestReleaseAcrossRegions: Marie (Bretagne) accepted Jean's job and cannot
// do it after all. She gives it back: Jean's node offers it to the next
// candidate (Gwen, on Marie's node too), Marie's copy ends and keeps
// nothing of the client's contact, her calendar drops the intervention;
// when Gwen accepts, the same copy is hers, with the contact.
func TestReleaseAcrossRegions(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	defer func() {
		if t.Failed() {
			t.Log(strings.Join(c.federationTrouble(), "\n"))
		}
	}()
	jeanID, marieID := c.SharedTicket("Site web de l'École primaire des Tilleuls")
	apID := c.Ticket(jeanID).APID
	copyPath := "/api/v1/tickets/" + marieID
	clientOnBretagne := c.TicketOn(rig.Marie, marieID).ClientID

	// Jean plans an intervention with Marie; Marie logs an hour.
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/events", rig.Jean, map[string]any{
		"start": start, "end": start.Add(2 * time.Hour), "location": "École des Tilleuls, Bourguignon"}, 201)
	cal := "/api/v1/calendar?from=" + start.Add(-24*time.Hour).Format(time.DateOnly)
	rig.WaitFor(t, "the intervention in Marie's calendar", func() bool {
		return len(c.Calendar(rig.Marie, cal)) == 1
	})
	c.API("bretagne", "POST", copyPath+"/time", rig.Marie, map[string]any{"minutes": 60}, 201)
	rig.WaitFor(t, "Marie's hour on Jean's node", func() bool { return c.Ticket(jeanID).TimeSpentHours == 1.0 })

	// Only Marie may give it back, with a reason.
	c.API("bretagne", "POST", copyPath+"/release", rig.Marie, map[string]any{"reason": ""}, 422)
	c.API("bretagne", "POST", copyPath+"/release", rig.Marie, map[string]any{"reason": "x", "extra": 1}, 422)
	c.API("bretagne", "POST", copyPath+"/release", rig.Gwen, map[string]any{"reason": "?"}, 404)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", rig.Jean, map[string]any{"reason": "?"}, 403)

	back := c.API("bretagne", "POST", copyPath+"/release", rig.Marie,
		map[string]any{"reason": "Hospitalisée la semaine prochaine, désolée."}, 200)
	if back["status"] != "cancelled" {
		t.Errorf("Marie's copy once given back: %v", back)
	}
	c.API("bretagne", "POST", copyPath+"/release", rig.Marie, map[string]any{"reason": "encore"}, 409)

	// Marie's node keeps nothing of the contact; her calendar drops the job.
	cl := c.ClientOn(rig.Marie, clientOnBretagne)
	if cl.ContactName != "" || cl.ContactEmail != "" || cl.Name != "École primaire des Tilleuls" {
		t.Errorf("the client on Marie's node after she gave the job back: %+v", cl)
	}
	if items := c.Calendar(rig.Marie, cal); len(items) != 0 {
		t.Errorf("Marie's calendar still shows the job she gave back: %v", items)
	}

	// Jean's node took it back and offers it to the next candidate.
	offer := c.OfferFor("bretagne", rig.Gwen, jeanID)
	j := c.Ticket(jeanID)
	if j.Status != "offered" || j.Assignee != nil || j.TimeSpentHours != 1.0 {
		t.Errorf("Jean's ticket once given back: %v", j)
	}
	h := c.History(jeanID)
	if !slices.Contains(h, "released status routing") || !slices.Contains(h, "release_reason Hospitalisée la semaine prochaine, désolée.") ||
		rig.Count(h, "offered_to "+c.Handle(rig.Gwen)) != 1 {
		t.Errorf("Jean's history: %q", h)
	}
	if items := c.Calendar(rig.Jean, cal); len(items) != 0 {
		t.Errorf("Jean's calendar still shows the intervention with Marie: %v", items)
	}
	// Marie's node heard it from Jean's too (the Update, without the
	// client, that ends a copy), and applied it without fuss.
	rig.WaitFor(t, "Jean's word on Marie's node", func() bool {
		var n int64
		c.Node("bretagne").N.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE type = 'Update' AND body LIKE '%\"routing\"%' " +
			"AND body NOT LIKE '%ecole.tilleuls%' AND state = 'applied'").Row().Scan(&n)
		return n == 1
	})

	// Gwen takes it: the copy on Bretagne's node is hers now, with the
	// contact; Marie no longer sees it.
	c.API("bretagne", "POST", "/api/v1/offers/"+offer.ID+"/accept", rig.Gwen, nil, 200)
	rig.WaitFor(t, "the copy handed to Gwen", func() bool {
		return c.CopyOf("bretagne", rig.Gwen, apID) == marieID
	})
	g := c.TicketOn(rig.Gwen, marieID)
	if g.Status != "accepted" || g.Assignee == nil || g.Assignee.Handle != c.Handle(rig.Gwen) {
		t.Errorf("Gwen's copy: %+v", g)
	}
	rig.WaitFor(t, "the contact back for Gwen", func() bool {
		return c.ClientOn(rig.Gwen, clientOnBretagne).ContactEmail == "ecole.tilleuls@example.org"
	})
	c.API("bretagne", "GET", copyPath, rig.Marie, nil, 404)
	c.API("bretagne", "GET", "/api/v1/clients/"+clientOnBretagne, rig.Marie, nil, 404)
	if j := c.Ticket(jeanID); j.Status != "accepted" || j.Assignee.Handle != c.Handle(rig.Gwen) {
		t.Errorf("Jean's ticket once Gwen accepted: %v", j)
	}
}

// TestReleaseOnTheTrackersNode: the job was taken by a member of the
// ticket's own region; giving it back needs no other node, and the next
// candidate (Marie, in Bretagne) gets the offer.
func TestReleaseOnTheTrackersNode(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	n := c.Node("bourgogne-franche-comte").N
	const lucieEmail = "lucie@bfc.test"
	lucie, err := n.Members.Create(context.Background(), nil, members.CreateInput{Email: lucieEmail, Name: "Lucie Faivre",
		Role: "technician", Password: "mot de passe", Postcode: "25000", RemoteOK: true, WeeklyHours: ptrTo(35),
		Skills: []members.SkillLevel{{Name: "website", Level: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Tokens[lucieEmail], err = n.Members.IssueToken(context.Background(), lucie.ID, members.APIToken); err != nil {
		t.Fatal(err)
	}
	jeanID := c.SchoolTicket("Site web de l'école", "website", false, 8)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/forward", rig.Jean, map[string]any{}, 202)
	offer := c.OfferFor("bourgogne-franche-comte", lucieEmail, jeanID)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/offers/"+offer.ID+"/accept", lucieEmail, nil, 200)
	v := c.Ticket(jeanID).Version
	c.API("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+jeanID, lucieEmail, map[string]any{"version": v, "status": "in_progress"}, 200)

	back := c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", lucieEmail,
		map[string]any{"reason": "Pas le temps ce mois-ci"}, 200)
	if back["status"] != "offered" || back["assignee"] != nil {
		t.Errorf("the ticket once Lucie gave it back: %v", back)
	}
	c.OfferFor("bretagne", rig.Marie, jeanID)
	// Lucie no longer works on it: she neither sees it nor can give it back again.
	c.API("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+jeanID, lucieEmail, nil, 404)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", lucieEmail, map[string]any{"reason": "?"}, 404)
	var released int64
	n.DB.Raw("SELECT COUNT(*) FROM offers WHERE member_id = ? AND state = 'withdrawn' AND decline_reason = 'Pas le temps ce mois-ci'", lucie.ID).Row().Scan(&released)
	if released != 1 {
		t.Errorf("Lucie's offer is not recorded as given back (%d)", released)
	}
}

// TestReleaseFaults: what could go wrong around a job given back.
func TestReleaseFaults(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	bzh := c.Node("bretagne").N
	nc := c.NATSConnAs("bretagne")

	// The answer to Marie's request is lost while edits of hers are on their
	// way (her copy is ahead of the tracker): the tracker's word still ends
	// her copy, and her offer.
	jeanID, marieID := c.SharedTicket("Site web B")
	var offerID, routingID, token string
	bzh.DB.Raw("SELECT id, routing_id, release_token FROM offers WHERE state = 'accepted' AND ticket_id = ?", jeanID).
		Row().Scan(&offerID, &routingID, &token)
	if len(token) != 32 {
		t.Fatalf("Marie's accepted offer keeps no release token: %q", token)
	}
	bzh.DB.Exec("UPDATE tickets SET version = version + 2 WHERE id = ?", marieID)
	req, _ := json.Marshal(map[string]any{"v": 1, "offer_id": offerID, "routing_id": routingID, "region": "bretagne",
		"handle": c.Handle(rig.Marie), "token": token, "reason": "réponse perdue"})
	// Unsigned, even with the right secret, it is refused: only Marie's node
	// may ask.
	if msg, err := nc.Request("coopnet.v1.release.bourgogne-franche-comte", req, 5*time.Second); err != nil ||
		!strings.Contains(string(msg.Data), `"code":"forbidden"`) {
		t.Fatalf("an unsigned release with the right secret answered %v %v", msg, err)
	}
	// Sent as Marie's node sends it: signed with its key.
	signed := func() *nats.Msg { return signedMsg(t, bzh.Fed, "coopnet.v1.release.bourgogne-franche-comte", req) }
	if msg, err := nc.RequestMsg(signed(), 5*time.Second); err != nil || !strings.Contains(string(msg.Data), `"ok":true`) {
		t.Fatalf("release: %v %v", msg, err)
	}
	rig.WaitFor(t, "Marie's copy ended by the tracker's word", func() bool {
		return c.TicketOn(rig.Marie, marieID).Status == "cancelled"
	})
	cl := c.API("bretagne", "GET", "/api/v1/clients/"+c.TicketOn(rig.Marie, marieID).ClientID, rig.Marie, nil, 200)
	var state string
	bzh.DB.Raw("SELECT state FROM offers WHERE id = ?", offerID).Row().Scan(&state)
	if cl["contact_email"] != "" || state != "withdrawn" {
		t.Errorf("after the tracker's word: contact %q, offer %s", cl["contact_email"], state)
	}
	// The same request again gets the same answer.
	if msg, err := nc.RequestMsg(signed(), 5*time.Second); err != nil || !strings.Contains(string(msg.Data), `"ok":true`) {
		t.Fatalf("release again: %v %v", msg, err)
	}

	// A late "accepted" message from the origin (signed by its node) does
	// not bring the offer given back to life (Marie would look booked with
	// it).
	late, _ := json.Marshal(map[string]any{"v": 1, "kind": "accepted", "offer_id": offerID, "routing_id": routingID,
		"region": "bourgogne-franche-comte", "reason": ""})
	c.publishJob("coopnet.v1.jobs.bretagne.accepted", late, "bourgogne-franche-comte")
	c.jobsHandled("bretagne")
	bzh.DB.Raw("SELECT state FROM offers WHERE id = ?", offerID).Row().Scan(&state)
	if state != "withdrawn" {
		t.Errorf("a late acceptance message made the offer %s", state)
	}
	if body := c.metrics("bretagne"); strings.Contains(body, `coopnet_routing_dropped_messages_total{kind="accepted"}`) {
		t.Error("the late acceptance message was dropped as malformed: the check above proves nothing")
	}
}

// TestCopyNotHandedOver: the tracker cannot hand Marie's copy, and the
// client's contact, to another member of her node who never accepted the
// job.
func TestCopyNotHandedOver(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	bzh := c.Node("bretagne").N
	jeanID, marieID := c.SharedTicket("Site web A")
	bfc := c.Node("bourgogne-franche-comte").N
	bfc.DB.Exec("UPDATE tickets SET assignee_handle = ?, assignee_name = 'Gwen Tanguy' WHERE id = ?", c.Handle(rig.Gwen), jeanID)
	v := c.Ticket(jeanID).Version
	c.API("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+jeanID, rig.Jean, map[string]any{"version": v, "title": "Site web A bis"}, 200)
	// Refused by Marie's node at once (403: Gwen never accepted the job),
	// which keeps nothing of it; the tracker gives up that delivery.
	rig.WaitFor(t, "the state refused by Marie's node", func() bool {
		var n int64
		bfc.DB.Raw("SELECT COUNT(*) FROM federation_outbox WHERE type = 'Update' AND state = 'failed' AND last_status = 403").Row().Scan(&n)
		return n == 1
	})
	var kept int64
	bzh.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE body LIKE '%Site web A bis%'").Row().Scan(&kept)
	if kept != 0 {
		t.Errorf("Marie's node kept the refused state")
	}
	c.API("bretagne", "GET", "/api/v1/tickets/"+marieID, rig.Gwen, nil, 404)
	if m := c.TicketOn(rig.Marie, marieID); m.Title != "Site web A" {
		t.Errorf("Marie's copy took the refused state: %v", m)
	}
}

// TestReleaseOutOfOrder: deliveries overtake one another. Marie's copy is
// ahead of the tracker (edits of hers on their way, which the tracker no
// longer takes once she gave the job back): the copy still passes to Gwen
// when she accepts, and Jean's invitation reaches Gwen's calendar. A state
// of the tracker that named Marie, delivered late, does not bring her
// copy, and the contact, back.
func TestReleaseOutOfOrder(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	defer func() {
		if t.Failed() {
			t.Log(strings.Join(c.federationTrouble(), "\n"))
		}
	}()
	bzh := c.Node("bretagne").N
	jeanID, marieID := c.SharedTicket("Site web de l'école")
	apID := c.Ticket(jeanID).APID
	var lateState string
	bzh.DB.Raw("SELECT body FROM federation_inbox WHERE type IN ('Offer', 'Update') AND state = 'applied' " +
		"AND body LIKE '%ecole.tilleuls%' ORDER BY id DESC LIMIT 1").Row().Scan(&lateState)
	if lateState == "" {
		t.Fatal("no state of the ticket on Marie's node")
	}
	bzh.DB.Exec("UPDATE tickets SET version = version + 5 WHERE id = ?", marieID) // five edits of hers in flight
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/release", rig.Marie, map[string]any{"reason": "Imprévu"}, 200)
	rig.WaitFor(t, "the tracker's word applied on Marie's node", func() bool {
		var n int64
		bzh.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE body LIKE '%takenOffer%' AND state = 'applied'").Row().Scan(&n)
		return n == 1
	})

	// The tracker's state naming Marie, delivered late.
	var m map[string]any
	if err := json.Unmarshal([]byte(lateState), &m); err != nil {
		t.Fatal(err)
	}
	m["id"], m["type"] = m["id"].(string)+"-late", "Update"
	b, _ := json.Marshal(m)
	bzh.DB.Exec("INSERT INTO federation_inbox (activity_id, actor, type, body, state, attempts, last_error, received_at) "+
		"VALUES (?, ?, 'Update', ?, 'pending', 0, '', ?)", m["id"], m["actor"], string(b), time.Now().UTC())
	rig.WaitFor(t, "the late state handled", func() bool {
		var st string
		bzh.DB.Raw("SELECT state FROM federation_inbox WHERE activity_id = ?", m["id"]).Row().Scan(&st)
		return st != "" && st != "pending"
	})
	mc := c.TicketOn(rig.Marie, marieID)
	cl := c.API("bretagne", "GET", "/api/v1/clients/"+mc.ClientID, rig.Marie, nil, 200)
	if mc.Status != "cancelled" || cl["contact_email"] != "" {
		t.Errorf("a late state brought Marie's copy back: status %v, contact %q", mc.Status, cl["contact_email"])
	}

	// Gwen takes the job: the copy, ahead as it is, passes to her; Jean's
	// invitation reaches her.
	offer := c.OfferFor("bretagne", rig.Gwen, jeanID)
	c.API("bretagne", "POST", "/api/v1/offers/"+offer.ID+"/accept", rig.Gwen, nil, 200)
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/events", rig.Jean, map[string]any{
		"start": start, "end": start.Add(2 * time.Hour), "location": "École"}, 201)
	rig.WaitFor(t, "the copy handed to Gwen", func() bool { return c.CopyOf("bretagne", rig.Gwen, apID) == marieID })
	cal := "/api/v1/calendar?from=" + start.Add(-24*time.Hour).Format(time.DateOnly)
	rig.WaitFor(t, "the intervention in Gwen's calendar", func() bool {
		return len(c.Calendar(rig.Gwen, cal)) == 1
	})
	// And the copy follows the tracker again.
	v := c.Ticket(jeanID).Version
	c.API("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+jeanID, rig.Jean, map[string]any{"version": v, "title": "Site web (refonte)"}, 200)
	rig.WaitFor(t, "Jean's edit on Gwen's copy", func() bool {
		return c.TicketOn(rig.Gwen, marieID).Title == "Site web (refonte)"
	})
}

// TestStaffTakesJobBack: Marie falls ill and cannot say so; Claire, staff of
// the ticket's region, takes the job back on Jean's node. It goes to the
// next candidate; Marie's node ends her copy and her offer on the word of
// Jean's node. Staff of another region, or a technician, cannot.
func TestStaffTakesJobBack(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	defer func() {
		if t.Failed() {
			t.Log(strings.Join(c.federationTrouble(), "\n"))
		}
	}()
	jeanID, marieID := c.SharedTicket("Site web de l'école")
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/release", rig.Yann, map[string]any{"reason": "?"}, 404)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", rig.Jean, map[string]any{"reason": "?"}, 403)
	back := c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", rig.Claire,
		map[string]any{"reason": "Marie est malade pour trois semaines."}, 200)
	if back["status"] != "offered" || back["assignee"] != nil {
		t.Errorf("the ticket once taken back: %v", back)
	}
	c.OfferFor("bretagne", rig.Gwen, jeanID)
	if h := c.History(jeanID); !slices.Contains(h, "taken_back status routing") ||
		!slices.Contains(h, "release_reason Marie est malade pour trois semaines.") ||
		!slices.Contains(h, "taken_from "+c.Handle(rig.Marie)) {
		t.Errorf("Jean's history: %q", h)
	}
	rig.WaitFor(t, "Marie's copy ended on the word of Jean's node", func() bool {
		return c.TicketOn(rig.Marie, marieID).Status == "cancelled"
	})
	var state string
	c.Node("bretagne").N.DB.Raw("SELECT state FROM offers WHERE ticket_id = ? AND member_id IN (SELECT id FROM members WHERE handle = 'marie')", jeanID).
		Row().Scan(&state)
	if state != "withdrawn" {
		t.Errorf("Marie's offer: %s", state)
	}
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", rig.Claire, map[string]any{"reason": "encore"}, 409)
}

// TestTakeBackBeforeCopy: staff take the job back while the ticket's state
// is still on its way to Marie's node (her node was unreachable, say), and
// the word that ends her job arrives first. Her acceptance ends there and
// then: the state, when it comes, is refused, and her node never holds the
// client.
func TestTakeBackBeforeCopy(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	bzh := c.Node("bretagne").N
	jeanID, marieID := c.SharedTicket("Site web de l'école")
	var offerState string
	var first map[string]any
	var body string
	bzh.DB.Raw("SELECT body FROM federation_inbox WHERE type = 'Offer' ORDER BY id LIMIT 1").Row().Scan(&body)
	if err := json.Unmarshal([]byte(body), &first); err != nil {
		t.Fatal(err)
	}
	// As if the copy had not arrived yet.
	bzh.DB.Exec("DELETE FROM tickets WHERE id = ?", marieID)
	bzh.DB.Exec("DELETE FROM clients WHERE origin_ap_id = ?", c.Ticket(jeanID).APID)
	if c.CopyOf("bretagne", rig.Marie, c.Ticket(jeanID).APID) != "" {
		t.Fatal("the copy is still there")
	}
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", rig.Claire, map[string]any{"reason": "Injoignable"}, 200)
	rig.WaitFor(t, "Marie's acceptance ended", func() bool {
		bzh.DB.Raw("SELECT state FROM offers WHERE ticket_id = ? AND member_id IN (SELECT id FROM members WHERE handle = 'marie')", jeanID).
			Row().Scan(&offerState)
		return offerState == "withdrawn"
	})
	// The state, late.
	first["id"] = first["id"].(string) + "-late"
	b, _ := json.Marshal(first)
	bzh.DB.Exec("INSERT INTO federation_inbox (activity_id, actor, type, body, state, attempts, last_error, received_at) "+
		"VALUES (?, ?, 'Offer', ?, 'pending', 0, '', ?)", first["id"], first["actor"], string(b), time.Now().UTC())
	rig.WaitFor(t, "the late state refused", func() bool {
		var st string
		bzh.DB.Raw("SELECT state FROM federation_inbox WHERE activity_id = ?", first["id"]).Row().Scan(&st)
		return st == "failed"
	})
	var n int64
	bzh.DB.Raw("SELECT COUNT(*) FROM clients WHERE name LIKE '%Tilleuls%'").Row().Scan(&n)
	if n != 0 {
		t.Error("Marie's node holds the client of a job taken back from her")
	}
}
