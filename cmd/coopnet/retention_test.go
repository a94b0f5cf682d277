package main

import (
	"context"
	"testing"
	"time"

	"github.com/coopnet/coopnet/federation"
)

// TestResolvedJobForgotten: Marie resolved her job and Jean never closed
// nor reopened it. A month on, her node no longer holds the school's
// contact; a reopening brings it back.
func TestResolvedJobForgotten(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, marieID := c.sharedTicket("Site web de l'École primaire des Tilleuls")
	copyPath := "/api/v1/tickets/" + marieID
	v := int(c.api("bretagne", "GET", copyPath, marieEmail, nil, 200)["version"].(float64))
	c.api("bretagne", "PATCH", copyPath, marieEmail, map[string]any{"version": v, "status": "resolved"}, 200)
	waitFor(t, "resolved on Jean's node", func() bool { return c.ticket(jeanID)["status"] == "resolved" })
	clientPath := "/api/v1/clients/" + c.api("bretagne", "GET", copyPath, marieEmail, nil, 200)["client_id"].(string)

	fed, ctx := c.node("bretagne").n.fed, context.Background()
	if n, err := fed.ForgetResolved(ctx, time.Now().Add(-federation.ResolvedRetention)); err != nil || n != 0 {
		t.Fatalf("a job resolved just now: forgot %d (%v)", n, err)
	}
	if cl := c.api("bretagne", "GET", clientPath, marieEmail, nil, 200); cl["contact_email"] != "ecole.tilleuls@example.org" {
		t.Fatalf("the contact went too early: %v", cl)
	}
	// A month later. (The tracker's own word of the resolution may still
	// be on its way, and would make the copy's last change now again.)
	waitFor(t, "the client of a job resolved a month ago forgotten", func() bool {
		c.node("bretagne").n.db.Exec("UPDATE tickets SET updated_at = ? WHERE id = ?", time.Now().Add(-31*24*time.Hour).UTC(), marieID)
		n, err := fed.ForgetResolved(ctx, time.Now().Add(-federation.ResolvedRetention))
		if err != nil || n > 1 {
			t.Fatalf("forgot %d (%v), want 1", n, err)
		}
		return n == 1
	})
	if cl := c.api("bretagne", "GET", clientPath, marieEmail, nil, 200); cl["contact_name"] != "" || cl["contact_email"] != "" ||
		cl["name"] != "École primaire des Tilleuls" {
		t.Errorf("a month after the resolution, Marie's node holds %v", cl)
	}
	if n, _ := fed.ForgetResolved(ctx, time.Now().Add(-federation.ResolvedRetention)); n != 0 {
		t.Errorf("forgot the same job again (%d)", n)
	}
	// Jean reopens it: the contact comes back with the ticket.
	v = int(c.ticket(jeanID)["version"].(float64))
	c.api("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+jeanID, jeanEmail, map[string]any{"version": v, "status": "in_progress"}, 200)
	waitFor(t, "the contact back on Marie's node", func() bool {
		return c.api("bretagne", "GET", clientPath, marieEmail, nil, 200)["contact_email"] == "ecole.tilleuls@example.org"
	})
}
