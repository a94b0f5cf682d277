package story_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"github.com/coopnet/coopnet/cmd/coopnet/rig"

	"github.com/coopnet/coopnet/federation"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestResolvedJobForgotten: Marie resolved her job and Jean never closed
// nor reopened it. A month on, her node no longer holds the school's
// contact; a reopening brings it back.
func TestResolvedJobForgotten(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, marieID := c.SharedTicket("Site web de l'École primaire des Tilleuls")
	copyPath := "/api/v1/tickets/" + marieID
	v := c.TicketOn(rig.Marie, marieID).Version
	c.API("bretagne", "PATCH", copyPath, rig.Marie, map[string]any{"version": v, "status": "resolved"}, 200)
	rig.WaitFor(t, "resolved on Jean's node", func() bool { return c.Ticket(jeanID).Status == "resolved" })
	// The tracker's own word of the resolution comes back with the
	// contact: it is applied before the month passes, as in life.
	rig.WaitFor(t, "everything delivered and applied", func() bool { return c.pendingDeliveries() == 0 })
	clientPath := "/api/v1/clients/" + c.TicketOn(rig.Marie, marieID).ClientID

	fed, ctx := c.Node("bretagne").N.Fed, context.Background()
	if n, err := fed.ForgetResolved(ctx, time.Now().Add(-federation.ResolvedRetention)); err != nil || n != 0 {
		t.Fatalf("a job resolved just now: forgot %d (%v)", n, err)
	}
	if cl := c.API("bretagne", "GET", clientPath, rig.Marie, nil, 200); cl["contact_email"] != "ecole.tilleuls@example.org" {
		t.Fatalf("the contact went too early: %v", cl)
	}
	// A month later.
	rig.WaitFor(t, "the client of a job resolved a month ago forgotten", func() bool {
		c.Node("bretagne").N.DB.Exec("UPDATE tickets SET updated_at = ? WHERE id = ?", time.Now().Add(-31*24*time.Hour).UTC(), marieID)
		n, err := fed.ForgetResolved(ctx, time.Now().Add(-federation.ResolvedRetention))
		if err != nil || n > 1 {
			t.Fatalf("forgot %d (%v), want 1", n, err)
		}
		return n == 1
	})
	if cl := c.API("bretagne", "GET", clientPath, rig.Marie, nil, 200); cl["contact_name"] != "" || cl["contact_email"] != "" ||
		cl["name"] != "École primaire des Tilleuls" {
		t.Errorf("a month after the resolution, Marie's node holds %v", cl)
	}
	if n, _ := fed.ForgetResolved(ctx, time.Now().Add(-federation.ResolvedRetention)); n != 0 {
		t.Errorf("forgot the same job again (%d)", n)
	}
	// Jean reopens it: the contact comes back with the ticket.
	v = c.Ticket(jeanID).Version
	c.API("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+jeanID, rig.Jean, map[string]any{"version": v, "status": "in_progress"}, 200)
	rig.WaitFor(t, "the contact back on Marie's node", func() bool {
		return c.API("bretagne", "GET", clientPath, rig.Marie, nil, 200)["contact_email"] == "ecole.tilleuls@example.org"
	})
}

// TestActivitiesForgotten: the raw activities a shared job left in the
// federation tables (the Offer{Ticket} with the school's contact on
// Marie's node, its delivered copies on Jean's) are kept while needed and
// for the audit window, then only their records (ids, digest, type,
// times) stay, and those go after the second window. An activity still
// to deliver keeps its body.
func TestActivitiesForgotten(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, _ := c.SharedTicket("Site web de l'école")
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean,
		map[string]any{"body": "Le contact est Mme Martin"}, 201)
	rig.WaitFor(t, "everything delivered", func() bool { return c.pendingDeliveries() == 0 })
	bfc, bzh := c.Node("bourgogne-franche-comte").N, c.Node("bretagne").N
	bodies := func(db *storage.DB, table string) (withBody, total int64) {
		db.Raw("SELECT COUNT(*) FROM " + table + " WHERE body <> ''").Scan(&withBody)
		db.Raw("SELECT COUNT(*) FROM " + table).Scan(&total)
		return
	}
	if n, _ := bodies(bzh.DB, "federation_inbox"); n == 0 {
		t.Fatal("no activity received on Marie's node")
	}
	ctx := context.Background()
	// Within the audit window, nothing goes.
	if e, d, err := bzh.Fed.PurgeActivities(ctx, time.Now().Add(federation.DefaultBodyRetention-time.Hour)); err != nil || e+d != 0 {
		t.Fatalf("within the audit window: emptied %d, deleted %d (%v)", e, d, err)
	}
	// An activity for a peer that does not answer stays with its body.
	bfc.DB.Exec(`INSERT INTO federation_outbox (activity_id, inbox, body, state, next_attempt_at, created_at)
		VALUES ('https://bfc.test/a/1', 'http://127.0.0.1:1/actor/inbox', '{"id":"x"}', 'pending', ?, ?)`,
		time.Now().Add(time.Hour).UTC(), time.Now().UTC())
	later := time.Now().Add(federation.DefaultBodyRetention + time.Hour)
	for region, n := range map[string]*node.Node{"bourgogne-franche-comte": bfc, "bretagne": bzh} {
		if _, _, err := n.Fed.PurgeActivities(ctx, later); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"federation_inbox", "federation_outbox"} {
			withBody, total := bodies(n.DB, table)
			want := int64(0)
			if region == "bourgogne-franche-comte" && table == "federation_outbox" {
				want = 1 // the one still to deliver
			}
			if withBody != want {
				t.Errorf("%s %s: %d of %d rows keep their body after the audit window, want %d", region, table, withBody, total, want)
			}
			if total == 0 {
				t.Errorf("%s %s: the records went with the bodies", region, table)
			}
		}
	}
	var missing int64
	bzh.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE digest = '' OR activity_id = '' OR type = '' OR body_purged_at IS NULL").Scan(&missing)
	if missing != 0 {
		t.Errorf("%d received activities lost what de-duplication needs", missing)
	}
	var about int64
	bfc.DB.Raw("SELECT COUNT(*) FROM federation_outbox WHERE state = 'delivered' AND object_id <> '' AND type <> ''").Scan(&about)
	if about == 0 {
		t.Error("the records of deliveries do not say what they were about")
	}
	// Past the second window, the records go too (but the one still due).
	much := time.Now().Add(federation.DefaultRecordRetention + time.Hour)
	for _, n := range []*node.Node{bfc, bzh} {
		if _, _, err := n.Fed.PurgeActivities(ctx, much); err != nil {
			t.Fatal(err)
		}
	}
	if _, total := bodies(bzh.DB, "federation_inbox"); total != 0 {
		t.Errorf("Marie's node keeps %d records past the second window", total)
	}
	if _, total := bodies(bfc.DB, "federation_outbox"); total != 1 {
		t.Errorf("Jean's node keeps %d deliveries past the second window, want the one still due", total)
	}
}

// TestDeliveryLeaseOnDatabaseLoss: Jean's node on PostgreSQL loses its
// database connections again and again while it delivers a burst of
// comments to Marie's node; once the database is back, every comment
// reaches her, without waiting minutes for leases stranded by the lost
// connections (a claim committed whose answer never came back, an outcome
// that could not be recorded).
func TestDeliveryLeaseOnDatabaseLoss(t *testing.T) {
	pg := storagetest.PostgresURL(t)
	proxy := storagetest.NewProxy(t, storagetest.Target(t, pg))
	c := newCoopOn(t, 48*time.Hour, map[string]string{
		"bourgogne-franche-comte": proxy.URL(pg),
		"bretagne":                storagetest.SQLiteURL(t),
		"ile-de-france":           storagetest.SQLiteURL(t),
	})
	jeanID, marieID := c.SharedTicket("Site web")
	received := func() int {
		var n int
		c.Node("bretagne").N.DB.Raw("SELECT COUNT(*) FROM ticket_comments WHERE ticket_id = ?", marieID).Scan(&n)
		return n
	}
	// Marie's node is down while Jean comments: the comments wait in the
	// outbox, to go all at once when it is back.
	c.Node("bretagne").Stop()
	const n = 400
	for i := range n {
		c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean,
			map[string]any{"body": fmt.Sprintf("commentaire %d", i)}, 201)
	}
	c.Restart("bretagne")
	rig.WaitFor(t, "deliveries under way", func() bool { return received() > 0 })
	// Outages while the workers claim, deliver and record.
	for i := 0; i < 30 && received() < n; i++ {
		proxy.Cut()
		time.Sleep(20 * time.Millisecond) // the outage
		proxy.Restore()
		time.Sleep(30 * time.Millisecond) // work between outages
	}
	// Wait for every comment, failing only when the deliveries stall: on a
	// loaded machine they are slow, not stuck.
	last, lastAt := -1, time.Now()
	for got := received(); got != n; got = received() {
		if got != last {
			last, lastAt = got, time.Now()
		}
		if time.Since(lastAt) > time.Minute {
			var rows []struct {
				State  string
				Leased bool
				N      int
			}
			c.Node("bourgogne-franche-comte").N.DB.Raw("SELECT state, lease_until IS NOT NULL AS leased, COUNT(*) AS n " +
				"FROM federation_outbox GROUP BY state, leased").Scan(&rows)
			t.Fatalf("%d of %d comments on Marie's node, none for a minute; Jean's outbox: %+v; trouble: %v", got, n, rows, c.federationTrouble())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
