package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

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
	jeanID, marieID := c.sharedTicket("Site web de l'École primaire des Tilleuls")
	apID := c.ticket(jeanID)["ap_id"].(string)
	copyPath := "/api/v1/tickets/" + marieID
	clientOnBretagne := "/api/v1/clients/" + c.api("bretagne", "GET", copyPath, marieEmail, nil, 200)["client_id"].(string)

	// Jean plans an intervention with Marie; Marie logs an hour.
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	c.api("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/events", jeanEmail, map[string]any{
		"start": start, "end": start.Add(2 * time.Hour), "location": "École des Tilleuls, Bourguignon"}, 201)
	cal := "/api/v1/calendar?from=" + start.Add(-24*time.Hour).Format(time.DateOnly)
	waitFor(t, "the intervention in Marie's calendar", func() bool {
		return len(c.api("bretagne", "GET", cal, marieEmail, nil, 200)["items"].([]any)) == 1
	})
	c.api("bretagne", "POST", copyPath+"/time", marieEmail, map[string]any{"minutes": 60}, 201)
	waitFor(t, "Marie's hour on Jean's node", func() bool { return c.ticket(jeanID)["time_spent_hours"] == 1.0 })

	// Only Marie may give it back, with a reason.
	c.api("bretagne", "POST", copyPath+"/release", marieEmail, map[string]any{"reason": ""}, 422)
	c.api("bretagne", "POST", copyPath+"/release", marieEmail, map[string]any{"reason": "x", "extra": 1}, 422)
	c.api("bretagne", "POST", copyPath+"/release", gwenEmail, map[string]any{"reason": "?"}, 404)
	c.api("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", jeanEmail, map[string]any{"reason": "?"}, 403)

	back := c.api("bretagne", "POST", copyPath+"/release", marieEmail,
		map[string]any{"reason": "Hospitalisée la semaine prochaine, désolée."}, 200)
	if back["status"] != "cancelled" {
		t.Errorf("Marie's copy once given back: %v", back)
	}
	c.api("bretagne", "POST", copyPath+"/release", marieEmail, map[string]any{"reason": "encore"}, 409)

	// Marie's node keeps nothing of the contact; her calendar drops the job.
	cl := c.api("bretagne", "GET", clientOnBretagne, marieEmail, nil, 200)
	if cl["contact_name"] != "" || cl["contact_email"] != "" || cl["name"] != "École primaire des Tilleuls" {
		t.Errorf("the client on Marie's node after she gave the job back: %v", cl)
	}
	if items := c.api("bretagne", "GET", cal, marieEmail, nil, 200)["items"].([]any); len(items) != 0 {
		t.Errorf("Marie's calendar still shows the job she gave back: %v", items)
	}

	// Jean's node took it back and offers it to the next candidate.
	offer := c.offerFor("bretagne", gwenEmail, jeanID)
	j := c.ticket(jeanID)
	if j["status"] != "offered" || j["assignee"] != nil || j["time_spent_hours"] != 1.0 {
		t.Errorf("Jean's ticket once given back: %v", j)
	}
	h := c.history(jeanID)
	if !slices.Contains(h, "released status routing") || !slices.Contains(h, "release_reason <nil> Hospitalisée la semaine prochaine, désolée.") ||
		count(h, "offered_to <nil> "+c.handle(gwenEmail)) != 1 {
		t.Errorf("Jean's history: %q", h)
	}
	if items := c.api("bourgogne-franche-comte", "GET", cal, jeanEmail, nil, 200)["items"].([]any); len(items) != 0 {
		t.Errorf("Jean's calendar still shows the intervention with Marie: %v", items)
	}
	// Marie's node heard it from Jean's too (the Update, without the
	// client, that ends a copy), and applied it without fuss.
	waitFor(t, "Jean's word on Marie's node", func() bool {
		var n int64
		c.node("bretagne").n.db.Raw("SELECT COUNT(*) FROM federation_inbox WHERE type = 'Update' AND body LIKE '%\"routing\"%' " +
			"AND body NOT LIKE '%ecole.tilleuls%' AND state = 'applied'").Row().Scan(&n)
		return n == 1
	})

	// Gwen takes it: the copy on Bretagne's node is hers now, with the
	// contact; Marie no longer sees it.
	c.api("bretagne", "POST", "/api/v1/offers/"+offer["id"].(string)+"/accept", gwenEmail, nil, 200)
	waitFor(t, "the copy handed to Gwen", func() bool {
		return c.copyOf("bretagne", gwenEmail, apID) == marieID
	})
	g := c.api("bretagne", "GET", copyPath, gwenEmail, nil, 200)
	if g["status"] != "accepted" || g["assignee"].(map[string]any)["handle"] != c.handle(gwenEmail) {
		t.Errorf("Gwen's copy: %v", g)
	}
	waitFor(t, "the contact back for Gwen", func() bool {
		cl := c.api("bretagne", "GET", clientOnBretagne, gwenEmail, nil, 200)
		return cl["contact_email"] == "ecole.tilleuls@example.org"
	})
	c.api("bretagne", "GET", copyPath, marieEmail, nil, 404)
	c.api("bretagne", "GET", clientOnBretagne, marieEmail, nil, 404)
	if j := c.ticket(jeanID); j["status"] != "accepted" || j["assignee"].(map[string]any)["handle"] != c.handle(gwenEmail) {
		t.Errorf("Jean's ticket once Gwen accepted: %v", j)
	}
}

// TestReleaseOnTheTrackersNode: the job was taken by a member of the
// ticket's own region; giving it back needs no other node, and the next
// candidate (Marie, in Bretagne) gets the offer.
func TestReleaseOnTheTrackersNode(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	n := c.node("bourgogne-franche-comte").n
	const lucieEmail = "lucie@bfc.test"
	lucie, err := n.members.Create(context.Background(), nil, members.CreateInput{Email: lucieEmail, Name: "Lucie Faivre",
		Role: "technician", Password: "mot de passe", Postcode: "25000", RemoteOK: true, WeeklyHours: ptrTo(35),
		Skills: []members.SkillLevel{{Name: "website", Level: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.tokens[lucieEmail], err = n.members.IssueToken(context.Background(), lucie.ID, members.APIToken); err != nil {
		t.Fatal(err)
	}
	jeanID := c.schoolTicket("Site web de l'école", "website", false, 8)
	c.api("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/forward", jeanEmail, map[string]any{}, 202)
	offer := c.offerFor("bourgogne-franche-comte", lucieEmail, jeanID)
	c.api("bourgogne-franche-comte", "POST", "/api/v1/offers/"+offer["id"].(string)+"/accept", lucieEmail, nil, 200)
	v := int(c.ticket(jeanID)["version"].(float64))
	c.api("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+jeanID, lucieEmail, map[string]any{"version": v, "status": "in_progress"}, 200)

	back := c.api("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", lucieEmail,
		map[string]any{"reason": "Pas le temps ce mois-ci"}, 200)
	if back["status"] != "offered" || back["assignee"] != nil {
		t.Errorf("the ticket once Lucie gave it back: %v", back)
	}
	c.offerFor("bretagne", marieEmail, jeanID)
	// Lucie no longer works on it: she neither sees it nor can give it back again.
	c.api("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+jeanID, lucieEmail, nil, 404)
	c.api("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/release", lucieEmail, map[string]any{"reason": "?"}, 404)
	var released int64
	n.db.Raw("SELECT COUNT(*) FROM offers WHERE member_id = ? AND state = 'declined' AND decline_reason = 'Pas le temps ce mois-ci'", lucie.ID).Row().Scan(&released)
	if released != 1 {
		t.Errorf("Lucie's offer is not recorded as given back (%d)", released)
	}
}
