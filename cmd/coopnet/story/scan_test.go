package story_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"

	"github.com/coopnet/coopnet/federation"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

// Jeanne Dupont, a private person near Bourguignon, asks Jean for a
// website: what of her must never be where it does not belong.
var (
	jeanneName    = "Jeanne Dupont"
	jeanneEmail   = "jeanne.dupont@example.org"
	jeannePhone   = "06 12 34 56 78"
	jeanneStreet  = "12 rue des Écoles"
	jeanneSecrets = map[string][]string{ // what to look for, as it may be written
		"name":   {"jeanne", "dupont"},
		"e-mail": {"jeanne.dupont"},
		"phone":  {"06 12 34 56 78", "0612345678", "6 12 34 56 78", "612345678"},
		"street": {"rue des ecoles"},
	}
)

// found is where a secret was found: "table.column" → the kinds found.
type found map[string][]string

func (f found) String() string {
	var out []string
	for where, kinds := range f {
		out = append(out, where+": "+strings.Join(kinds, ","))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// tables are the tables in f, sorted.
func (f found) tables() []string {
	seen := map[string]bool{}
	var out []string
	for where := range f {
		tb, _, _ := strings.Cut(where, ".")
		if !seen[tb] {
			seen[tb] = true
			out = append(out, tb)
		}
	}
	sort.Strings(out)
	return out
}

// kinds are the kinds of secret found in f.
func (f found) kinds() map[string]bool {
	out := map[string]bool{}
	for _, ks := range f {
		for _, k := range ks {
			out[k] = true
		}
	}
	return out
}

// scanDB reads every row of every table of db, as the database's own
// catalogue lists them (a table added later is scanned too), and reports
// where Jeanne's data is, case and accents folded.
func scanDB(t *testing.T, db *storage.DB) found {
	t.Helper()
	ctx := context.Background()
	tables, err := db.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := found{}
	for _, tb := range tables {
		rows, err := db.SQL.QueryContext(ctx, "SELECT * FROM "+tb)
		if err != nil {
			t.Fatalf("scan %s: %v", tb, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("scan %s: %v", tb, err)
			}
			for i, v := range vals {
				for kind := range matches(string(v)) {
					where := tb + "." + cols[i]
					if !slices.Contains(out[where], kind) {
						out[where] = append(out[where], kind)
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("scan %s: %v", tb, err)
		}
		rows.Close()
	}
	return out
}

// matches are the kinds of Jeanne's data in s.
func matches(s string) map[string]bool {
	folded := geo.Fold(s)
	out := map[string]bool{}
	for kind, forms := range jeanneSecrets {
		for _, f := range forms {
			if strings.Contains(folded, geo.Fold(f)) || strings.Contains(s, f) {
				out[kind] = true
			}
		}
	}
	return out
}

// scanNATS reads every message still held by every JetStream stream.
func (c *coop) scanNATS(t *testing.T) found {
	t.Helper()
	js := c.JetStream()
	out := found{}
	for name := range js.StreamNames() {
		info, err := js.StreamInfo(name)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := js.GetMsg(name, seq)
			if err != nil {
				continue // deleted (consumed from the work queue)
			}
			for kind := range matches(string(m.Data) + " " + fmt.Sprint(m.Header)) {
				out["nats:"+name] = append(out["nats:"+name], kind)
			}
		}
	}
	return out
}

// scanCoop scans every node's database and every stream.
func (c *coop) scanCoop(t *testing.T) map[string]found {
	t.Helper()
	out := map[string]found{"nats": c.scanNATS(t)}
	for region, n := range c.Nodes {
		out[region] = scanDB(t, n.N.DB)
	}
	return out
}

// only checks that data of the kinds given is found only in the tables
// allowed (table names; "*" any kind allowed there).
func only(t *testing.T, when, where string, f found, allowed map[string][]string) {
	t.Helper()
	for loc, kinds := range f {
		tb, _, _ := strings.Cut(loc, ".")
		for _, k := range kinds {
			if !slices.Contains(allowed[tb], k) && !slices.Contains(allowed[tb], "*") {
				t.Errorf("%s: Jeanne's %s found in %s on %s", when, k, loc, where)
			}
		}
	}
}

// TestClientDataOnlyWhereItBelongs is the scan of the README's promise
// ("Who sees what"): Jeanne's name, e-mail, phone and street are found,
// right after Marie accepted her job, only on Jean's node (hers) and on
// Marie's (the assignee's), in the tables that hold them for the job;
// never on the third region's node nor in NATS. Once the job is over and
// the retention has run (the tests' clock), Marie's node keeps only the
// client's name with the job's record; after Jeanne asked for erasure,
// nothing of her is left on any node. Run with the tracker on PostgreSQL
// and the assignee on SQLite, then the other way round.
func TestClientDataOnlyWhereItBelongs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bfc, bzh func(testing.TB) string
	}{
		{"tracker on PostgreSQL, assignee on SQLite", storagetest.PostgresURL, storagetest.SQLiteURL},
		{"tracker on SQLite, assignee on PostgreSQL", storagetest.SQLiteURL, storagetest.PostgresURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCoopOn(t, 48*time.Hour, map[string]string{"bourgogne-franche-comte": tc.bfc(t), "bretagne": tc.bzh(t),
				"ile-de-france": storagetest.SQLiteURL(t)})
			testClientData(t, c)
		})
	}
}

func testClientData(t *testing.T, c *coop) {
	bfc, bzh := "bourgogne-franche-comte", "bretagne"
	cl := rig.Must[clients.Client](c.As(rig.Jean).Do("POST", "/api/v1/clients", map[string]any{"name": jeanneName, "kind": "person",
		"postcode": "25150", "commune": "Bourguignon", "contact_name": jeanneName, "contact_email": jeanneEmail,
		"contact_phone": jeannePhone}), 201)
	clientID := cl.ID
	c.API(bfc, "POST", "/api/v1/clients/"+clientID+"/sites", rig.Jean, map[string]any{"name": "Maison", "address": jeanneStreet,
		"postcode": "25150", "commune": "Bourguignon"}, 201)
	tk := rig.Must[tickets.View](c.As(rig.Jean).Do("POST", "/api/v1/tickets", map[string]any{"client_id": clientID,
		"title": "Site web pour " + jeanneName + " (" + jeannePhone + ")", "skill": "website", "on_site": false,
		"estimated_hours": 8, "description": "Appeler " + jeanneName + " au " + jeannePhone + " ou " + jeanneEmail}), 201)
	jeanID := tk.ID
	c.API(bfc, "POST", "/api/v1/tickets/"+jeanID+"/forward", rig.Jean, map[string]any{
		"note": "Chez " + jeanneName + ", " + jeanneStreet + ", (+33) 6 12 34 56 78, le matin"}, 202)
	offer := c.OfferFor(bzh, rig.Marie, jeanID)
	c.API(bzh, "POST", "/api/v1/offers/"+offer.ID+"/accept", rig.Marie, nil, 200)
	apID := tk.APID
	var marieID string
	rig.WaitFor(t, "Marie's copy", func() bool { marieID = c.CopyOf(bzh, rig.Marie, apID); return marieID != "" })
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	c.API(bfc, "POST", "/api/v1/tickets/"+jeanID+"/events", rig.Jean, map[string]any{"start": start, "end": start.Add(2 * time.Hour),
		"location": jeanneStreet + ", Bourguignon"}, 201)
	rig.WaitFor(t, "the intervention on Marie's node", func() bool {
		var n int64
		c.Node(bzh).N.DB.Raw("SELECT COUNT(*) FROM ticket_events WHERE location <> ''").Scan(&n)
		return n == 1
	})
	rig.WaitFor(t, "everything delivered", func() bool { return c.pendingDeliveries() == 0 })

	// Right after acceptance.
	scan := c.scanCoop(t)
	all := []string{"name", "e-mail", "phone", "street"}
	only(t, "after acceptance", "Jean's node", scan[bfc], map[string][]string{"clients": all, "sites": all, "tickets": all,
		"routings": all, "ticket_events": all, "federation_outbox": all, "ticket_history": all})
	only(t, "after acceptance", "Marie's node", scan[bzh], map[string][]string{"clients": all, "tickets": all,
		"ticket_events": all, "federation_inbox": all})
	only(t, "after acceptance", "Paul's node", scan["ile-de-france"], nil)
	only(t, "after acceptance", "NATS", scan["nats"], nil)
	if k := scan[bzh].kinds(); !k["e-mail"] || !k["phone"] || !k["street"] {
		t.Errorf("Marie's node lacks what her job needs: %v", scan[bzh])
	}

	// The job is done and closed; the retention runs, a week on.
	v := c.TicketOn(rig.Marie, marieID).Version
	c.API(bzh, "PATCH", "/api/v1/tickets/"+marieID, rig.Marie, map[string]any{"version": v, "status": "resolved"}, 200)
	rig.WaitFor(t, "resolved on Jean's node", func() bool { return c.Ticket(jeanID).Status == "resolved" })
	v = c.Ticket(jeanID).Version
	c.API(bfc, "PATCH", "/api/v1/tickets/"+jeanID, rig.Jean, map[string]any{"version": v, "status": "closed"}, 200)
	rig.WaitFor(t, "closed on Marie's node", func() bool {
		return c.API(bzh, "GET", "/api/v1/tickets/"+marieID, rig.Marie, nil, 200)["status"] == "closed"
	})
	rig.WaitFor(t, "everything delivered", func() bool { return c.pendingDeliveries() == 0 })
	later := time.Now().Add(federation.DefaultBodyRetention + time.Hour)
	for _, n := range c.Nodes {
		if _, _, err := n.N.Fed.PurgeActivities(context.Background(), later); err != nil {
			t.Fatal(err)
		}
	}
	scan = c.scanCoop(t)
	only(t, "after the job and the retention", "Jean's node", scan[bfc], map[string][]string{"clients": all, "sites": all,
		"tickets": all, "routings": all, "ticket_events": all, "ticket_history": all})
	only(t, "after the job and the retention", "Marie's node", scan[bzh], map[string][]string{"clients": {"name"}})
	only(t, "after the job and the retention", "Paul's node", scan["ile-de-france"], nil)
	only(t, "after the job and the retention", "NATS", scan["nats"], nil)

	// The export says what Jean's node holds and who received what.
	exp := rig.Must[privacy.ClientExport](c.As(rig.Claire).Do("GET", "/api/v1/clients/"+clientID+"/export", nil), 200)
	if exp.Client == nil || exp.Client.ContactEmail != jeanneEmail || len(exp.Sites) != 1 || len(exp.Tickets) != 1 || len(exp.Interventions) != 1 {
		t.Errorf("the export: %+v", exp)
	}
	bzhHost := strings.TrimPrefix(c.Node(bzh).URL, "http://")
	types := map[string]bool{}
	for _, d := range exp.SharedWith {
		if d.Node != bzhHost || d.DoneAt != nil && d.State != "delivered" {
			t.Errorf("shared with: %+v", d)
		}
		types[d.Type] = true
	}
	if !types["Offer"] || !types["Invite"] || !types["Update"] {
		t.Errorf("the export's record of sharing lacks the job, its changes or the intervention: %v", exp.SharedWith)
	}
	c.API(bfc, "GET", "/api/v1/clients/"+clientID+"/export", rig.Jean, nil, 403) // staff only

	// Jeanne asks for her data to be erased: on Jean's node and Marie's.
	c.API(bfc, "POST", "/api/v1/clients/"+clientID+"/erasure", rig.Claire, map[string]any{"confirm": false}, 422)
	c.API(bfc, "POST", "/api/v1/clients/"+clientID+"/erasure", rig.Jean, map[string]any{"confirm": true}, 403)
	c.API(bfc, "POST", "/api/v1/clients/"+clientID+"/erasure", rig.Claire, map[string]any{"confirm": true,
		"reason": "demande écrite du 2 décembre"}, 204)
	defer func() {
		if t.Failed() {
			var title string
			c.Node(bzh).N.DB.Raw("SELECT title FROM tickets WHERE id = ?", marieID).Row().Scan(&title)
			var rows []struct{ Type, State, LastError, Body string }
			c.Node(bzh).N.DB.Raw("SELECT type, state, last_error, body FROM federation_inbox WHERE type = 'Delete'").Scan(&rows)
			var outs []struct{ Type, State, Inbox string }
			c.Node(bfc).N.DB.Raw("SELECT type, state, inbox FROM federation_outbox WHERE type = 'Delete'").Scan(&outs)
			t.Logf("copy title %q; trouble: %v; Marie's node got %+v; Jean's sent %+v", title, c.federationTrouble(), rows, outs)
		}
	}()
	rig.WaitFor(t, "Marie's copy erased", func() bool {
		var name string
		c.Node(bzh).N.DB.Raw("SELECT name FROM clients WHERE origin_ap_id = ?", apID).Row().Scan(&name)
		return name == "Client effacé"
	})
	rig.WaitFor(t, "everything delivered", func() bool { return c.pendingDeliveries() == 0 })
	scan = c.scanCoop(t)
	for region, f := range scan {
		if len(f) > 0 {
			t.Errorf("after the erasure, %s still holds Jeanne's data: %v", region, f)
		}
	}
	// The coop's figures stay: the ticket, its hours and status.
	if tk := c.Ticket(jeanID); tk.Status != "closed" || tk.Title != "Demande effacée" {
		t.Errorf("the erased ticket: %v", tk)
	}
}
