package story_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/tickets"
)

// TestSharedTicketAcrossRegions continues the routing story over
// ActivityPub: once Marie accepted, her node holds the ticket with what
// she needs of the client; comments, status, time and the resolution flow
// both ways; internal comments stay home; the intervention Jean plans
// reaches Marie's calendar and her answer comes back.
func TestSharedTicketAcrossRegions(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, marieID := c.SharedTicket("Site web de l'École primaire des Tilleuls")

	copyView := c.TicketOn(rig.Marie, marieID)
	if copyView.OriginRegion != "bourgogne-franche-comte" || copyView.Status != "accepted" ||
		copyView.Assignee.Handle != c.Handle(rig.Marie) {
		t.Fatalf("Marie's copy: %v", copyView)
	}
	// Marie sees the client of her job, and only she on her node.
	cl := c.API("bretagne", "GET", "/api/v1/clients/"+copyView.ClientID, rig.Marie, nil, 200)
	if cl["name"] != "École primaire des Tilleuls" || cl["contact_email"] != "ecole.tilleuls@example.org" || cl["origin"] != copyView.APID {
		t.Errorf("the client on Marie's node: %v", cl)
	}
	c.API("bretagne", "GET", "/api/v1/clients/"+copyView.ClientID, rig.Gwen, nil, 404)
	// Nor do Bretagne's staff see or change the copy: the job is Jean's
	// region's, done by Marie.
	c.API("bretagne", "GET", "/api/v1/clients/"+copyView.ClientID, rig.Yann, nil, 404)
	c.API("bretagne", "GET", "/api/v1/tickets/"+marieID, rig.Yann, nil, 404)
	c.API("bretagne", "PATCH", "/api/v1/tickets/"+marieID, rig.Yann, map[string]any{"version": 1, "status": "cancelled"}, 404)
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/comments", rig.Yann, map[string]any{"body": "?"}, 404)
	if items := rig.List[tickets.View](c.Coop, rig.Yann, "/api/v1/tickets"); len(items) != 0 {
		t.Errorf("Bretagne's staff see another region's ticket: %v", items)
	}
	// A peer cannot put a ticket, and its client, in the charge of a member
	// who never accepted it: Jean's node's own Offer, replayed for Gwen.
	offerFor(t, c, "gwen@", copyView.APID)
	if items := rig.List[clients.Client](c.Coop, rig.Marie, "/api/v1/clients"); len(items) != 0 {
		t.Errorf("another region's client is listed among Marie's own clients: %v", items)
	}
	// Jean corrects the school's contact: Marie's node has it at once.
	jc := c.ClientOn(rig.Jean, c.Ticket(jeanID).ClientID)
	c.API("bourgogne-franche-comte", "PATCH", "/api/v1/clients/"+jc.ID, rig.Jean, map[string]any{
		"version": jc.Version, "name": jc.Name, "kind": jc.Kind, "postcode": jc.Postcode, "commune": jc.Commune,
		"contact_name": "M. Durand", "contact_email": "direction.tilleuls@example.org"}, 200)
	rig.WaitFor(t, "the corrected contact on Marie's node", func() bool {
		cl := c.ClientOn(rig.Marie, copyView.ClientID)
		return cl.ContactName == "M. Durand" && cl.ContactEmail == "direction.tilleuls@example.org"
	})
	// Only the ticket's own node routes it; the copy's client is described
	// by its region.
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/forward", rig.Marie, map[string]any{}, 409)
	c.API("bretagne", "POST", "/api/v1/clients/"+copyView.ClientID+"/sites", rig.Marie,
		map[string]any{"name": "Annexe", "postcode": "25150"}, 403)
	// Île-de-France, not part of this job, holds nothing of it.
	var n int64
	c.Node("ile-de-france").N.DB.Raw("SELECT COUNT(*) FROM clients WHERE name LIKE '%Tilleuls%'").Scan(&n)
	if n != 0 {
		t.Error("a node that does not work on the job holds the client")
	}

	// Comments: public ones both ways, internal ones never.
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean,
		map[string]any{"body": "La directrice préfère un rendez-vous le mardi."}, 201)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean,
		map[string]any{"body": "Facturer au tarif association", "internal": true}, 201)
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/comments", rig.Marie,
		map[string]any{"body": "Maquette envoyée à l'école."}, 201)
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/comments", rig.Marie,
		map[string]any{"body": "Note pour moi : thème clair", "internal": true}, 201)
	rig.WaitFor(t, "public comments on both nodes", func() bool {
		return len(c.Comments("bretagne", rig.Marie, marieID)) == 3 && len(c.Comments("bourgogne-franche-comte", rig.Jean, jeanID)) == 3
	})
	for _, body := range c.Comments("bretagne", rig.Marie, marieID) {
		if strings.Contains(body, "tarif association") {
			t.Error("Jean's internal comment reached Bretagne")
		}
	}
	for _, body := range c.Comments("bourgogne-franche-comte", rig.Jean, jeanID) {
		if strings.Contains(body, "thème clair") {
			t.Error("Marie's internal comment reached Bourgogne-Franche-Comté")
		}
	}

	// Marie starts the work and logs time: Jean's ticket follows.
	v := c.TicketOn(rig.Marie, marieID).Version
	c.API("bretagne", "PATCH", "/api/v1/tickets/"+marieID, rig.Marie, map[string]any{"version": v, "status": "in_progress"}, 200)
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/time", rig.Marie, map[string]any{"minutes": 90, "note": "maquette"}, 201)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/time", rig.Jean, map[string]any{"minutes": 30}, 201)
	defer func() {
		if t.Failed() {
			t.Log(strings.Join(c.federationTrouble(), "\n"))
		}
	}()
	rig.WaitFor(t, "status and time on both nodes", func() bool {
		j, m := c.Ticket(jeanID), c.TicketOn(rig.Marie, marieID)
		return j.Status == "in_progress" && j.TimeSpentHours == 2.0 && rig.SameState(j, m)
	})

	// Jean plans an intervention: it reaches Marie's calendar; she accepts.
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Hour)
	ev := c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/events", rig.Jean, map[string]any{
		"start": start, "end": start.Add(2 * time.Hour), "location": "École des Tilleuls, Bourguignon"}, 201)
	if ev["state"] != "invited" || ev["attendee"] != c.Handle(rig.Marie) {
		t.Fatalf("planned: %v", ev)
	}
	cal := "/api/v1/calendar?from=" + start.Add(-24*time.Hour).Format(time.DateOnly)
	var marieEvent *planning.Event
	rig.WaitFor(t, "the intervention in Marie's calendar", func() bool {
		if items := c.Calendar(rig.Marie, cal); len(items) == 1 {
			marieEvent = items[0]
		}
		return marieEvent != nil
	})
	if marieEvent.APID != ev["ap_id"] || marieEvent.TicketTitle != "Site web de l'École primaire des Tilleuls" ||
		marieEvent.Location != "École des Tilleuls, Bourguignon" || marieEvent.State != "invited" {
		t.Errorf("Marie's event: %+v", marieEvent)
	}
	if !marieEvent.StartAt.Equal(start) {
		t.Errorf("start %v, want %v", marieEvent.StartAt, start)
	}
	c.API("bretagne", "POST", "/api/v1/events/"+marieEvent.ID+"/answer", rig.Marie, map[string]any{"answer": "accept"}, 200)
	c.API("bretagne", "POST", "/api/v1/events/"+marieEvent.ID+"/answer", rig.Gwen, map[string]any{"answer": "reject"}, 404)
	rig.WaitFor(t, "Marie's acceptance on Jean's node", func() bool {
		items := c.Calendar(rig.Jean, cal)
		return len(items) == 1 && items[0].State == "accepted"
	})

	// Marie resolves; then reopens: Resolve and Undo{Resolve}.
	v = c.TicketOn(rig.Marie, marieID).Version
	c.API("bretagne", "PATCH", "/api/v1/tickets/"+marieID, rig.Marie, map[string]any{"version": v, "status": "resolved"}, 200)
	rig.WaitFor(t, "resolved on Jean's node", func() bool { return c.Ticket(jeanID).Status == "resolved" })
	v = c.TicketOn(rig.Marie, marieID).Version
	c.API("bretagne", "PATCH", "/api/v1/tickets/"+marieID, rig.Marie, map[string]any{"version": v, "status": "in_progress"}, 200)
	rig.WaitFor(t, "reopened on Jean's node, and both the same", func() bool {
		j, m := c.Ticket(jeanID), c.TicketOn(rig.Marie, marieID)
		return j.Status == "in_progress" && rig.SameState(j, m)
	})
	h := c.History(jeanID)
	if rig.Count(h, "copy_held") != 1 || rig.Count(h, "updated status resolved") != 1 || rig.Count(h, "updated status in_progress") != 2 {
		t.Errorf("Jean's history: %v", h)
	}

	// The ticket as ActivityPub serves it: only to the node it is shared
	// with, by a signed request.
	resp, err := http.Get(c.Ticket(jeanID).APID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned GET of a ticket: %d", resp.StatusCode)
	}
	signedGet := func(region string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, c.Ticket(jeanID).APID, nil)
		req.Header.Set("Accept", "application/activity+json")
		if err := c.Node(region).N.Fed.Sign(req, nil); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		return resp.StatusCode, doc
	}
	if code, _ := signedGet("ile-de-france"); code != http.StatusNotFound {
		t.Errorf("a peer the ticket is not shared with gets %d", code)
	}
	code, doc := signedGet("bretagne")
	if code != http.StatusOK || doc["type"] != "Ticket" || doc["status"] != "in_progress" ||
		doc["client"].(map[string]any)["contactEmail"] != "direction.tilleuls@example.org" || doc["isResolved"] != false {
		t.Errorf("the ticket as Bretagne's node gets it: %d %v", code, doc)
	}

	// Marie resolves, then closes: a close, not a reopening. Nobody works
	// for the school on this ticket any more, and Marie's node forgets the
	// contact (the job's record stays).
	v = c.TicketOn(rig.Marie, marieID).Version
	c.API("bretagne", "PATCH", "/api/v1/tickets/"+marieID, rig.Marie, map[string]any{"version": v, "status": "resolved"}, 200)
	rig.WaitFor(t, "resolved again on Jean's node", func() bool { return c.Ticket(jeanID).Status == "resolved" })
	v = c.TicketOn(rig.Marie, marieID).Version
	c.API("bretagne", "PATCH", "/api/v1/tickets/"+marieID, rig.Marie, map[string]any{"version": v, "status": "closed"}, 200)
	rig.WaitFor(t, "closed on Jean's node", func() bool { return c.Ticket(jeanID).Status == "closed" })
	var undos int64
	c.Node("bourgogne-franche-comte").N.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE type = 'Undo'").Row().Scan(&undos)
	if undos != 1 {
		t.Errorf("Jean's node received %d Undo activities, want 1 (the reopening; the close is an Update)", undos)
	}
	rig.WaitFor(t, "the contact erased on Marie's node once the ticket is closed", func() bool {
		cl := c.ClientOn(rig.Marie, copyView.ClientID)
		return cl.ContactName == "" && cl.ContactEmail == "" && cl.ContactPhone == ""
	})
	if cl := c.ClientOn(rig.Marie, copyView.ClientID); cl.Name != "École primaire des Tilleuls" ||
		cl.Lat != math.Round(cl.Lat*10)/10 || cl.Lon != math.Round(cl.Lon*10)/10 {
		t.Errorf("the closed job's client on Marie's node (name kept, place to 0.1°): %v", cl)
	}
	if items := c.Calendar(rig.Marie, cal); len(items) != 1 || items[0].Location != "" {
		t.Errorf("Marie's calendar keeps the place of a closed job: %v", items)
	}
	if items := c.Calendar(rig.Jean, cal); len(items) != 1 || items[0].Location != "École des Tilleuls, Bourguignon" {
		t.Errorf("Jean's calendar lost the place of his own intervention: %v", items)
	}

	// Answers to an invitation that arrive out of order: the later given
	// wins (Marie rejects, then accepts; the acceptance arrives first).
	base := time.Now().UTC()
	answerAs(t, c, "Accept", base.Add(2*time.Second))
	answerAs(t, c, "Reject", base.Add(time.Second))
	jeanState := func() string { return c.Calendar(rig.Jean, cal)[0].State }
	if st := jeanState(); st != "accepted" {
		t.Errorf("after a late, older rejection Jean sees %v, want accepted", st)
	}
	answerAs(t, c, "Reject", base.Add(3*time.Second))
	if st := jeanState(); st != "rejected" {
		t.Errorf("after a newer rejection Jean sees %v, want rejected", st)
	}
	// An answer stamped years ahead (a clock gone wrong) counts as given
	// now, within the clocks' allowed skew: it cannot freeze the answer.
	answerAs(t, c, "Accept", base.AddDate(10, 0, 0))
	var answered time.Time
	if err := c.Node("bourgogne-franche-comte").N.DB.Raw("SELECT MAX(answered_at) FROM ticket_events").Row().Scan(&answered); err != nil {
		t.Fatal(err)
	}
	if answered.After(time.Now().Add(time.Hour)) {
		t.Errorf("an answer from the future is kept as given at %v", answered)
	}
	if m := c.TicketOn(rig.Marie, marieID); m.Status != "closed" {
		t.Errorf("Marie's copy after the close: %v", m)
	}
	if cl := c.API("bourgogne-franche-comte", "GET", "/api/v1/clients/"+c.Ticket(jeanID).ClientID, rig.Jean, nil, 200); cl["contact_email"] != "direction.tilleuls@example.org" {
		t.Errorf("Jean's own client lost its contact: %v", cl)
	}
}

// TestCommentBeforeItsTicket: a comment on a ticket whose copy has not
// reached the assignee's node yet waits for it — not woken by whatever else
// is applied meanwhile — and is applied as soon as the ticket's state is.
func TestCommentBeforeItsTicket(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	// A first shared ticket and comment: a Create{Note} as Jean's node sends.
	jeanID, _ := c.SharedTicket("Site web de la mairie")
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean,
		map[string]any{"body": "Bonjour Marie !"}, 201)
	bzh := c.Node("bretagne")
	var body string
	rig.WaitFor(t, "the comment on Marie's node", func() bool {
		return bzh.N.DB.Raw("SELECT body FROM federation_inbox WHERE type = 'Create' AND state = 'applied' ORDER BY id LIMIT 1").
			Row().Scan(&body) == nil
	})

	// The second ticket exists on Jean's node; its comment reaches Marie's
	// node before the ticket does.
	nextID := c.SchoolTicket("Site web de l'école", "website", false, 8)
	nextAP := c.Ticket(nextID).APID
	var act map[string]any
	if err := json.Unmarshal([]byte(body), &act); err != nil {
		t.Fatal(err)
	}
	note := act["object"].(map[string]any)
	act["id"], note["id"] = act["id"].(string)+"-early", note["id"].(string)+"-early"
	note["context"], note["content"] = nextAP, "Le commentaire arrivé avant la demande"
	c.deliver("bourgogne-franche-comte", "bretagne", act)
	type waitRow struct {
		State    string
		WaitsFor *string
		Due      *time.Time
		Attempts int
	}
	row := func() waitRow {
		var r waitRow
		_ = bzh.N.DB.Raw("SELECT state, waits_for, next_attempt_at, attempts FROM federation_inbox WHERE activity_id = ?", act["id"]).
			Row().Scan(&r.State, &r.WaitsFor, &r.Due, &r.Attempts)
		return r
	}
	rig.WaitFor(t, "the early comment waiting for its ticket", func() bool {
		r := row()
		return r.State == "pending" && r.WaitsFor != nil && *r.WaitsFor == nextAP && r.Due != nil
	})
	// Something else applied on Marie's node (Paul's new profile) does not
	// make it due again: it is not tried once more. Its back-off is set an
	// hour ahead first, so that only a wake-up, never its own next attempt
	// on a slow machine, could try it again before the end of the check.
	// An attempt already under way when the back-off is set may write its
	// own over it: set it again until it holds a moment later.
	rig.WaitFor(t, "the early comment's back-off an hour ahead", func() bool {
		if err := bzh.N.DB.Exec("UPDATE federation_inbox SET next_attempt_at = ? WHERE activity_id = ? AND state = 'pending'",
			time.Now().UTC().Add(time.Hour), act["id"]).Error; err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		r := row()
		return r.State == "pending" && r.Due != nil && r.Due.After(time.Now().Add(30*time.Minute))
	})
	before := row()
	paul := rig.Must[members.Member](c.As(rig.Paul).Do("GET", "/api/v1/me", nil), 200)
	c.API("ile-de-france", "PATCH", "/api/v1/members/"+paul.ID, rig.Paul, map[string]any{"name": "Paul Moreau-Leroy", "version": paul.Version}, 200)
	rig.WaitFor(t, "Paul's new name on Marie's node", func() bool {
		return bzh.N.DB.Raw("SELECT 1 FROM directory_entries WHERE name = ?", "Paul Moreau-Leroy").Row().Scan(new(int)) == nil
	})
	if r := row(); r.State != "pending" || r.WaitsFor == nil || r.Due == nil || r.Attempts != before.Attempts {
		t.Errorf("an unrelated activity woke the waiting comment: %+v, before %+v", r, before)
	}

	// The ticket is routed to Bretagne (to Marie, or to Gwen now that Marie
	// has work): the comment is applied with it, though its back-off had an
	// hour to run.
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+nextID+"/forward", rig.Jean, map[string]any{}, 202)
	var who string
	rig.WaitFor(t, "an offer in Bretagne", func() bool {
		r := c.API("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+nextID+"/routing", rig.Jean, nil, 200)
		for _, email := range []string{rig.Marie, rig.Gwen} {
			if r["offered_to"] == c.Handle(email) {
				who = email
			}
		}
		return who != ""
	})
	offer := c.OfferFor("bretagne", who, nextID)
	c.API("bretagne", "POST", "/api/v1/offers/"+offer.ID+"/accept", who, nil, 200)
	var copyID string
	rig.WaitFor(t, "the early comment on the copy", func() bool {
		if copyID = c.CopyOf("bretagne", who, nextAP); copyID == "" {
			return false
		}
		items := rig.List[tickets.Comment](c.Coop, who, "/api/v1/tickets/"+copyID+"/comments")
		return len(items) == 1 && items[0].Body == "Le commentaire arrivé avant la demande"
	})
}

// TestConcurrentUpdatesConverge: Jean and Marie change the same ticket at
// the same moment, on their own nodes, many times. The tracker (Jean's
// node) applies the changes in the order they reach it, field by field;
// both nodes end with the same state, the tracker's.
func TestConcurrentUpdatesConverge(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, marieID := c.SharedTicket("Site web de la mairie")
	marieView := func() tickets.View { return c.TicketOn(rig.Marie, marieID) }
	// patch retries on a stale version, as a client would.
	patch := func(region, email, id string, get func() tickets.View, body map[string]any) {
		for {
			body["version"] = get().Version
			var out map[string]any
			code := rig.Status(t, "PATCH", c.Node(region).URL+"/api/v1/tickets/"+id, c.Tokens[email], body, &out)
			if code == 200 {
				return
			}
			if code != 409 {
				t.Errorf("%s PATCH: %d %v", email, code, out)
				return
			}
		}
	}
	// Each edits in turn, both at once.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 10; i++ {
			patch("bourgogne-franche-comte", rig.Jean, jeanID, func() tickets.View { return c.Ticket(jeanID) },
				map[string]any{"description": fmt.Sprintf("Jean %d", i), "priority": []string{"high", "low"}[i%2]})
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 10; i++ {
			patch("bretagne", rig.Marie, marieID, marieView,
				map[string]any{"description": fmt.Sprintf("Marie %d", i), "title": fmt.Sprintf("Site web (v%d)", i)})
		}
	}()
	wg.Wait()
	var j, m tickets.View
	rig.WaitFor(t, "both nodes to converge", func() bool {
		j, m = c.Ticket(jeanID), marieView()
		return rig.SameState(j, m) && c.pendingDeliveries() == 0
	})
	// Each field holds the last value written to it, by one or the other:
	// Marie's last title, even if her changes reached the tracker out of
	// order; Jean's last priority; the last description of either.
	if j.Title != "Site web (v9)" || (j.Description != "Jean 9" && j.Description != "Marie 9") || j.Priority != "low" {
		t.Errorf("converged on %v", j)
	}
	b, _ := json.Marshal(j)
	t.Logf("converged at version %v: %s", j.Version, b)
}

// pendingDeliveries counts what the nodes still have to deliver.
func (c *coop) pendingDeliveries() int64 {
	var total int64
	for _, cn := range c.Nodes {
		var n int64
		cn.N.DB.Raw("SELECT COUNT(*) FROM federation_outbox WHERE state = 'pending'").Scan(&n)
		total += n
		cn.N.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE state = 'pending'").Scan(&n)
		total += n
	}
	return total
}

// federationTrouble lists what the nodes failed to deliver or to apply, to
// explain a test that timed out.
func (c *coop) federationTrouble() []string {
	var out []string
	for region, cn := range c.Nodes {
		var rows []struct{ Type, State, LastError string }
		cn.N.DB.Raw("SELECT type, state, last_error FROM federation_inbox WHERE state IN ('failed', 'pending')").Scan(&rows)
		for _, r := range rows {
			out = append(out, fmt.Sprintf("%s inbox %s %s: %s", region, r.Type, r.State, r.LastError))
		}
		var outs []struct{ Inbox, State, LastError string }
		cn.N.DB.Raw("SELECT inbox, state, last_error FROM federation_outbox WHERE state <> 'delivered'").Scan(&outs)
		for _, r := range outs {
			out = append(out, fmt.Sprintf("%s outbox to %s %s: %s", region, r.Inbox, r.State, r.LastError))
		}
	}
	return out
}

// offerFor sends Bretagne, signed by Jean's node, the Offer{Ticket} it
// received for ticket apID, changed into a new ticket assigned to the
// member of handle prefix who; Bretagne refuses it and keeps nothing.
func offerFor(t *testing.T, c *coop, who, apID string) {
	t.Helper()
	bzh := c.Node("bretagne")
	var body string
	if err := bzh.N.DB.Raw("SELECT body FROM federation_inbox WHERE type = 'Offer' ORDER BY id LIMIT 1").Row().Scan(&body); err != nil {
		t.Fatal(err)
	}
	var handle string
	if err := bzh.N.DB.Raw("SELECT handle FROM members WHERE email = ?", rig.Gwen).Row().Scan(&handle); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(handle+"@", who) {
		t.Fatalf("handle %q", handle)
	}
	var act map[string]any
	if err := json.Unmarshal([]byte(body), &act); err != nil {
		t.Fatal(err)
	}
	fake := apID + "0"
	act["id"] = act["id"].(string) + "-forged"
	obj := act["object"].(map[string]any)
	obj["id"] = fake
	obj["assignee"].(map[string]any)["handle"] = handle + "@" + strings.TrimPrefix(bzh.URL, "http://")
	// Jean's node could have known that Gwen never accepted the job: it
	// is refused at once, and nothing of it is kept.
	if status := c.deliverStatus("bourgogne-franche-comte", "bretagne", act); status != http.StatusForbidden {
		t.Fatalf("a forged offer: %d, want 403", status)
	}
	var n int64
	bzh.N.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE activity_id = ?", act["id"]).Row().Scan(&n)
	if n != 0 {
		t.Errorf("the forged offer was stored")
	}
	bzh.N.DB.Raw("SELECT COUNT(*) FROM tickets WHERE ap_id = ?", fake).Row().Scan(&n)
	if n != 0 {
		t.Errorf("Bretagne keeps a ticket nobody accepted")
	}
	if items := rig.List[tickets.View](c.Coop, rig.Gwen, "/api/v1/tickets"); len(items) != 0 {
		t.Errorf("Gwen has a ticket she never accepted: %v", items)
	}
}

// answerAs sends Jean's node, signed by Bretagne's, Marie's answer typ to
// her invitation as given at, made from the answer it received before, and
// waits until it is processed.
func answerAs(t *testing.T, c *coop, typ string, at time.Time) {
	t.Helper()
	bfc := c.Node("bourgogne-franche-comte")
	var body string
	if err := bfc.N.DB.Raw("SELECT body FROM federation_inbox WHERE type = 'Accept' AND body LIKE '%/invite%' ORDER BY id LIMIT 1").
		Row().Scan(&body); err != nil {
		t.Fatal(err)
	}
	var act map[string]any
	if err := json.Unmarshal([]byte(body), &act); err != nil {
		t.Fatal(err)
	}
	act["id"] = fmt.Sprintf("%s-%s-%d", act["id"], typ, at.UnixNano())
	act["type"] = typ
	act["published"] = at.Format(time.RFC3339Nano)
	c.deliver("bretagne", "bourgogne-franche-comte", act)
	rig.WaitFor(t, "the answer applied", func() bool {
		var state string
		_ = bfc.N.DB.Raw("SELECT state FROM federation_inbox WHERE activity_id = ?", act["id"]).Row().Scan(&state)
		return state == "applied"
	})
}

// deliver posts act to region to's inbox, signed by region from's node, as
// that node would deliver it, and expects it accepted (202).
func (c *coop) deliver(from, to string, act map[string]any) {
	c.T.Helper()
	if status := c.deliverStatus(from, to, act); status != http.StatusAccepted {
		c.T.Fatalf("%s %s from %s to %s: status %d", act["type"], act["id"], from, to, status)
	}
}

// deliverStatus posts act as deliver does and returns the status.
func (c *coop) deliverStatus(from, to string, act map[string]any) int {
	c.T.Helper()
	b, _ := json.Marshal(act)
	req, _ := http.NewRequest(http.MethodPost, c.Node(to).URL+"/actor/inbox", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/activity+json")
	if err := c.Node(from).N.Fed.Sign(req, b); err != nil {
		c.T.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
