package story_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/tickets"

	"github.com/nats-io/nats.go"
)

// receivedNote is the Create{Note} a region's node received last, as a map
// to forge others from.
func (c *coop) receivedNote(region string) map[string]any {
	c.T.Helper()
	var body string
	if err := c.Node(region).N.DB.Raw("SELECT body FROM federation_inbox WHERE type = 'Create' ORDER BY id DESC LIMIT 1").
		Row().Scan(&body); err != nil {
		c.T.Fatal(err)
	}
	var act map[string]any
	if err := json.Unmarshal([]byte(body), &act); err != nil {
		c.T.Fatal(err)
	}
	return act
}

// forgedNote is note changed to be by the member at actor (an actor id),
// with a new id, attributed to by and naming handle and name.
func forgedNote(note map[string]any, suffix, actor, by, handle, name string) map[string]any {
	b, _ := json.Marshal(note)
	var act map[string]any
	_ = json.Unmarshal(b, &act)
	obj := act["object"].(map[string]any)
	obj["id"] = obj["id"].(string) + suffix
	act["id"] = obj["id"].(string) + "/create"
	act["actor"], obj["attributedTo"], obj["handle"], obj["authorName"] = actor, by, handle, name
	obj["content"] = "faux commentaire " + suffix
	return act
}

// TestNoteAuthorship: a node may comment on a shared ticket only as the
// member who works on it (on the tracker) or as a member of the tracker's
// node (on the copy), and the name shown comes from what the receiving
// node knows of the author, never from the activity. What the sender could
// have known is refused at once (403) and not kept.
func TestNoteAuthorship(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, marieID := c.SharedTicket("Site web de l'école")
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/comments", rig.Marie, map[string]any{"body": "Je commence lundi"}, 201)
	rig.WaitFor(t, "Marie's comment on Jean's node", func() bool {
		return strings.Contains(strings.Join(c.Comments("bourgogne-franche-comte", rig.Jean, jeanID), "|"), "Je commence lundi")
	})
	bzh := strings.TrimPrefix(c.Node("bretagne").URL, "http://")
	note := c.receivedNote("bourgogne-franche-comte")
	marie := note["actor"].(string)
	gwen := "http://" + bzh + "/members/gwen"
	ghost := "http://" + bzh + "/members/personne"
	bfc := c.Node("bourgogne-franche-comte").N
	storedAs := func(id string) int64 {
		var n int64
		bfc.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE activity_id = ?", id).Scan(&n)
		return n
	}
	for _, tc := range []struct {
		name string
		act  map[string]any
	}{
		{"as Gwen, who does not work on it", forgedNote(note, "-gwen", gwen, gwen, "gwen@"+bzh, "Gwen Tanguy")},
		{"as a member who does not exist", forgedNote(note, "-ghost", ghost, ghost, "personne@"+bzh, "Personne")},
		{"sent by Marie, attributed to Gwen", forgedNote(note, "-mixed", marie, gwen, "marie@"+bzh, "Marie Le Gall")},
		{"sent by Marie, naming Gwen", forgedNote(note, "-named", marie, marie, "gwen@"+bzh, "Gwen Tanguy")},
		{"sent by the node itself", forgedNote(note, "-node", "http://"+bzh+"/actor", "http://"+bzh+"/actor", "", "Bretagne")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status := c.deliverStatus("bretagne", "bourgogne-franche-comte", tc.act); status != http.StatusForbidden {
				t.Errorf("status %d, want 403", status)
			}
			if storedAs(tc.act["id"].(string)) != 0 {
				t.Errorf("the refused note was stored")
			}
		})
	}
	// Marie, calling herself someone else: her comment, under her name.
	act := forgedNote(note, "-name", marie, marie, "marie@"+bzh, "Claire Vernier (équipe de la coop)")
	c.deliver("bretagne", "bourgogne-franche-comte", act)
	rig.WaitFor(t, "the comment applied", func() bool {
		for _, cm := range rig.List[tickets.Comment](c.Coop, rig.Jean, "/api/v1/tickets/"+jeanID+"/comments?limit=200") {
			if cm.Body == "faux commentaire -name" {
				if cm.AuthorName != "Marie Le Gall" {
					t.Fatalf("shown as %v", cm.AuthorName)
				}
				return true
			}
		}
		return false
	})

	// On Marie's copy: a comment of Jean's node by a member it does not
	// have waits for their profile, and is not shown meanwhile; one by
	// Claire (a member of Jean's node) under another name shows hers.
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean, map[string]any{"body": "Merci Marie"}, 201)
	rig.WaitFor(t, "Jean's comment on Marie's copy", func() bool {
		return strings.Contains(strings.Join(c.Comments("bretagne", rig.Marie, marieID), "|"), "Merci Marie")
	})
	fromJean := c.receivedNote("bretagne")
	bfcHost := strings.TrimPrefix(c.Node("bourgogne-franche-comte").URL, "http://")
	nobody := "http://" + bfcHost + "/members/inconnu"
	claire := "http://" + bfcHost + "/members/claire"
	waiting := forgedNote(fromJean, "-unknown", nobody, nobody, "inconnu@"+bfcHost, "Jean Dugnouf")
	c.deliver("bourgogne-franche-comte", "bretagne", waiting)
	bzhNode := c.Node("bretagne").N
	rig.WaitFor(t, "the unknown author's comment waiting", func() bool {
		var lastErr string
		bzhNode.DB.Raw("SELECT last_error FROM federation_inbox WHERE activity_id = ? AND state = 'pending'", waiting["id"]).Row().Scan(&lastErr)
		return strings.Contains(lastErr, "directory")
	})
	asClaire := forgedNote(fromJean, "-claire", claire, claire, "claire@"+bfcHost, "Jean Dugnouf")
	c.deliver("bourgogne-franche-comte", "bretagne", asClaire)
	rig.WaitFor(t, "Claire's comment on Marie's copy", func() bool {
		for _, cm := range rig.List[tickets.Comment](c.Coop, rig.Marie, "/api/v1/tickets/"+marieID+"/comments?limit=200") {
			if cm.Body == "faux commentaire -claire" {
				if cm.AuthorName != "Claire Vernier" {
					t.Fatalf("shown as %v", cm.AuthorName)
				}
				return true
			}
		}
		return false
	})
	for _, body := range c.Comments("bretagne", rig.Marie, marieID) {
		if body == "faux commentaire -unknown" {
			t.Error("a comment by a member the node does not know is shown")
		}
	}
}

// TestForgedActivitiesRefused: validly signed activities that their sender
// could have known it may not send are answered 403 and not kept: a third
// region changing Jean's ticket, Bretagne answering an invitation it never
// got, a profile of another node's member.
func TestForgedActivitiesRefused(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, _ := c.SharedTicket("Site web")
	apID := c.Ticket(jeanID).APID
	idf := "http://" + strings.TrimPrefix(c.Node("ile-de-france").URL, "http://")
	bzh := "http://" + strings.TrimPrefix(c.Node("bretagne").URL, "http://")
	bfcHost := strings.TrimPrefix(c.Node("bourgogne-franche-comte").URL, "http://")
	cases := []struct {
		name, from string
		act        map[string]any
	}{
		{"a region that does not work on the ticket changes it", "ile-de-france", map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": idf + "/activities/forged-1", "type": "Update",
			"actor": idf + "/members/paul", "object": map[string]any{"id": apID, "type": "Ticket", "summary": "Pirate", "version": 99}}},
		{"a region resolves a ticket it does not work on", "ile-de-france", map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": idf + "/activities/forged-2", "type": "Resolve",
			"actor": idf + "/members/paul", "object": apID}},
		{"the assignee's node changes it as another of its members", "bretagne", map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": bzh + "/activities/forged-3", "type": "Update",
			"actor": bzh + "/members/gwen", "object": map[string]any{"id": apID, "type": "Ticket", "summary": "Pirate", "version": 99}}},
		{"an answer to an invitation nobody sent", "bretagne", map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": bzh + "/activities/forged-4", "type": "Accept",
			"actor": bzh + "/members/marie", "object": map[string]any{"type": "Invite", "id": "http://" + bfcHost + "/events/x/invite",
				"actor": "http://" + bfcHost + "/actor", "object": "http://" + bfcHost + "/events/x"}}},
		{"a profile of another node's member", "bretagne", map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": bzh + "/activities/forged-5", "type": "Update",
			"actor": bzh + "/actor", "object": map[string]any{"id": idf + "/members/paul", "type": "Person",
				"preferredUsername": "paul", "name": "Paul", "inbox": idf + "/actor/inbox", "outbox": idf + "/actor/outbox"}}},
	}
	bfc := c.Node("bourgogne-franche-comte").N
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if status := c.deliverStatus(tc.from, "bourgogne-franche-comte", tc.act); status != http.StatusForbidden {
				t.Errorf("status %d, want 403", status)
			}
			var n int64
			bfc.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE activity_id = ?", tc.act["id"]).Scan(&n)
			if n != 0 {
				t.Errorf("the refused activity was stored")
			}
		})
	}
	if got := c.Ticket(jeanID).Title; got != "Site web" {
		t.Errorf("the ticket became %q", got)
	}
}

// TestOffersSignedAndBounded: an offer on the routing plane books the
// member it is for, so only the node of its ticket, of the region it
// names, may make one, and for a bounded time. An unsigned one, one signed
// by another region's node, or one that says it lasts till 2099, sized to
// Marie's whole capacity, are dropped and counted: Marie is not booked and
// still gets the next job.
func TestOffersSignedAndBounded(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	marie := c.MemberID("bretagne", rig.Marie)
	for i, tc := range []struct {
		name, signer string
		expires      time.Time
	}{
		{"unsigned", "", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"signed by another region's node", "ile-de-france", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"signed by the ticket's node, lasting till 2099", "bourgogne-franche-comte", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("01a201c8-0000-7000-8000-0000000001%02d", i)
			msg := map[string]any{"v": 1, "kind": "offer", "offer_id": id, "routing_id": "01a201c8-0000-7000-8000-0000000000aa",
				"origin_region": "bourgogne-franche-comte", "ticket_id": "01a201c8-0000-7000-8000-0000000000ab",
				"ticket_ap_id": c.Node("bourgogne-franche-comte").URL + "/tickets/01a201c8-0000-7000-8000-0000000000ab",
				"member_id":    marie, "title": "Réservé", "skill": "website", "estimated_minutes": 32 * 2 * 60,
				"commune": "Bourguignon", "departement": "25", "forwarded_by": "jean@example.test", "forwarded_by_name": "Jean",
				"expires_at": tc.expires}
			body, _ := json.Marshal(msg)
			before := c.metrics("bretagne")
			c.publishJob("coopnet.v1.jobs.bretagne.offer", body, tc.signer)
			c.jobsHandled("bretagne")
			var n int64
			c.Node("bretagne").N.DB.Raw("SELECT COUNT(*) FROM offers WHERE id = ?", id).Scan(&n)
			if n != 0 {
				t.Errorf("the offer was stored")
			}
			if after := c.metrics("bretagne"); droppedOffers(after) != droppedOffers(before)+1 {
				t.Errorf("not counted as dropped: %d then %d", droppedOffers(before), droppedOffers(after))
			}
		})
	}
	// Marie has all her room: the school's website job comes to her.
	id := c.SchoolTicket("Site web de l'école", "website", false, 16)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean, nil, 202)
	c.OfferFor("bretagne", rig.Marie, id)
}

// droppedOffers reads coopnet_routing_dropped_messages_total{kind="offer"}
// in a metrics page.
func droppedOffers(metrics string) int {
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, `coopnet_routing_dropped_messages_total{kind="offer"} `); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// TestQuestionsAnsweredToTheAskerOnly: the regions' answers carry every
// candidate's booked and capacity minutes, so a region answers a question
// only when its asking region's node signed it, and only on that node's
// own inboxes (which NATS permissions keep from the other regions, see
// deploy/nats). Over the whole story, what crosses NATS carries none of
// the client's data: not the title or description as written, not the
// contact, not even in the acceptance's reply.
func TestQuestionsAnsweredToTheAskerOnly(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	nc := c.NATSConn()
	q := map[string]any{"v": 1, "id": "01a201c8-0000-7000-8000-0000000002a1", "origin_region": "bourgogne-franche-comte",
		"skill": "website", "min_level": 1, "estimated_minutes": 60, "on_site": false, "commune": "Bourguignon",
		"departement": "25", "lat": 47.4, "lon": 6.8, "horizon_days": 14}
	body, _ := json.Marshal(q)
	bfc := c.Node("bourgogne-franche-comte").N.Fed
	ask := func(m *nats.Msg) int {
		t.Helper()
		sub, err := nc.SubscribeSync(m.Reply)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			if _, err := sub.NextMsg(1500 * time.Millisecond); err != nil {
				return n
			}
			n++
		}
	}
	unsigned := nats.NewMsg("coopnet.v1.route.website")
	unsigned.Data, unsigned.Reply = body, "_INBOX.bourgogne-franche-comte.probe1"
	if n := ask(unsigned); n != 0 {
		t.Errorf("an unsigned question got %d answers", n)
	}
	elsewhere := signedMsg(t, bfc, "coopnet.v1.route.website", body)
	elsewhere.Reply = "_INBOX.probe.elsewhere"
	if n := ask(elsewhere); n != 0 {
		t.Errorf("a question with its answers sent outside the asker's inboxes got %d answers", n)
	}
	asOther := signedMsg(t, c.Node("ile-de-france").N.Fed, "coopnet.v1.route.website", body)
	asOther.Reply = "_INBOX.bourgogne-franche-comte.probe2"
	if n := ask(asOther); n != 0 {
		t.Errorf("a question in Bourgogne-Franche-Comté's name signed by Île-de-France got %d answers", n)
	}
	real := signedMsg(t, bfc, "coopnet.v1.route.website", body)
	real.Reply = "_INBOX.bourgogne-franche-comte.probe3"
	if n := ask(real); n != 3 {
		t.Errorf("the asker's own question got %d answers, want one per region", n)
	}

	// The whole story, every message on NATS seen.
	var mu sync.Mutex
	var wire []string
	tap, err := nc.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		wire = append(wire, m.Subject+" "+string(m.Data))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := c.API("bourgogne-franche-comte", "POST", "/api/v1/clients", rig.Jean, map[string]any{
		"name": "Jeanne Dupont", "kind": "person", "postcode": "25150", "commune": "Bourguignon",
		"contact_name": "Jeanne Dupont", "contact_email": "jeanne.dupont@example.org", "contact_phone": "06 12 34 56 78"}, 201)
	tk := rig.Must[tickets.View](c.As(rig.Jean).Do("POST", "/api/v1/tickets", map[string]any{
		"client_id": cl["id"], "title": "Site web pour Jeanne Dupont (06 12 34 56 78)",
		"description": "Appeler Jeanne Dupont au 06 12 34 56 78, jeanne.dupont@example.org", "skill": "website",
		"on_site": false, "estimated_hours": 8}), 201)
	id := tk.ID
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+id+"/forward", rig.Jean,
		map[string]any{"note": "Jeanne Dupont préfère le matin : 06 12 34 56 78"}, 202)
	offer := c.OfferFor("bretagne", rig.Marie, id)
	acc := rig.Must[tickets.View](c.As(rig.Marie).Do("POST", "/api/v1/offers/"+offer.ID+"/accept", nil), 200)
	if acc.Status != "accepted" || acc.Description != "" {
		t.Errorf("the acceptance's answer: %+v", acc)
	}
	rig.WaitFor(t, "Marie's copy", func() bool { return c.CopyOf("bretagne", rig.Marie, tk.APID) != "" })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	tap.Unsubscribe()
	mu.Lock()
	defer mu.Unlock()
	if len(wire) < 5 {
		t.Fatalf("only %d messages seen on NATS", len(wire))
	}
	for _, m := range wire {
		for _, secret := range []string{"Jeanne", "Dupont", "06 12 34 56 78", "0612345678", "jeanne.dupont", "Appeler"} {
			if strings.Contains(m, secret) {
				t.Errorf("%q crossed NATS: %.300s", secret, m)
			}
		}
	}
}

// TestAnswersOnlyOnInboxes: a node answers an acceptance or a release
// only on an inbox of the member's node that asks. An answer published
// where the request says, with the node's own NATS rights, would let
// anyone make it publish anywhere: on "$JS.API.STREAM.PURGE.COOPNET_JOBS",
// the answer purges every region's queue (NATS lets a subscriber answer
// whatever reply subject a request names, see deploy/nats).
func TestAnswersOnlyOnInboxes(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	nc := c.NATSConn()
	probe, err := nc.SubscribeSync("coopnet.v1.probe.>")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"01a201c8-0000-7000-8000-0000000003a1", "01a201c8-0000-7000-8000-0000000003a2", "01a201c8-0000-7000-8000-0000000003a3"}
	for _, r := range []struct {
		subject string
		body    map[string]any
	}{
		{"coopnet.v1.accept.bourgogne-franche-comte", map[string]any{"v": 1, "offer_id": ids[0], "routing_id": ids[1],
			"region": "bretagne", "member_id": ids[2], "handle": c.Handle(rig.Marie), "name": "Marie Le Gall"}},
		{"coopnet.v1.release.bourgogne-franche-comte", map[string]any{"v": 1, "offer_id": ids[0], "routing_id": ids[1],
			"region": "bretagne", "handle": c.Handle(rig.Marie), "reason": "test"}},
	} {
		body, _ := json.Marshal(r.body)
		for i, m := range []*nats.Msg{
			{Subject: r.subject, Data: body},
			signedMsg(t, c.Node("bretagne").N.Fed, r.subject, body),
		} {
			m.Reply = fmt.Sprintf("coopnet.v1.probe.%d", i)
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	kind := func(k string) string { return `coopnet_routing_dropped_messages_total{kind="` + k + `"} 2` }
	rig.WaitFor(t, "the four requests dropped", func() bool {
		m := c.metrics("bourgogne-franche-comte")
		return strings.Contains(m, kind("accept")) && strings.Contains(m, kind("release"))
	})
	if m, err := probe.NextMsg(time.Millisecond); err == nil {
		t.Fatalf("a node answered on %s: %s", m.Subject, m.Data)
	}
}
