package clients_test

import (
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestClientGoesWithItsJob, in a coop of three regions: the school Jean
// registered is his node's; once Marie, in Bretagne, accepts its website
// job, her node holds the client's name and contact for her (and for
// nobody else there); Île-de-France, which did the job no work, never
// hears of it. Each answer decodes into the API's own types.
func TestClientGoesWithItsJob(t *testing.T) {
	c := rig.New(t, time.Minute)
	jean, marie, gwen, paul := c.As(rig.Jean), c.As(rig.Marie), c.As(rig.Gwen), c.As(rig.Paul)

	jeanID, marieID := c.SharedTicket("Site web de l'École primaire des Tilleuls")
	original := rig.Must[tickets.View](jean.Do("GET", "/api/v1/tickets/"+jeanID, nil), 200)
	school := rig.Must[clients.Client](jean.Do("GET", "/api/v1/clients/"+original.ClientID, nil), 200)
	if school.Name != "École primaire des Tilleuls" || school.ContactEmail != "ecole.tilleuls@example.org" || school.Postcode != "25150" {
		t.Fatalf("Jean's client: %+v", school)
	}

	// Marie's node: the client of her copy, with what she needs to work.
	copied := rig.Must[tickets.View](marie.Do("GET", "/api/v1/tickets/"+marieID, nil), 200)
	var hers clients.Client
	rig.WaitFor(t, "the school on Marie's node", func() bool {
		r := marie.Do("GET", "/api/v1/clients/"+copied.ClientID, nil)
		if r.Status != 200 {
			return false
		}
		hers = rig.Must[clients.Client](r, 200)
		return hers.ContactEmail != ""
	})
	if hers.ID == school.ID || hers.Name != school.Name || hers.ContactName != "Mme Martin" || hers.ContactEmail != school.ContactEmail {
		t.Errorf("Marie's copy of the client: %+v", hers)
	}
	// Gwen, on the same node, does not work for the school.
	if p := rig.Refused(gwen.Do("GET", "/api/v1/clients/"+copied.ClientID, nil), 404); p.Status != 404 {
		t.Errorf("Gwen asked for the school: %+v", p)
	}
	for _, cl := range rig.Must[rig.Page[clients.Client]](gwen.Do("GET", "/api/v1/clients?limit=200", nil), 200).Items {
		if cl.Name == school.Name {
			t.Errorf("Gwen's clients list the school: %+v", cl)
		}
	}
	// Paul's region did no work for it: not a trace.
	for _, cl := range rig.Must[rig.Page[clients.Client]](paul.Do("GET", "/api/v1/clients?limit=200", nil), 200).Items {
		if cl.Name == school.Name {
			t.Errorf("Île-de-France holds the school: %+v", cl)
		}
	}
	var n int64
	c.Node(rig.IDF).N.DB.Raw("SELECT COUNT(*) FROM clients WHERE contact_email = ?", school.ContactEmail).Scan(&n)
	if n != 0 {
		t.Errorf("Île-de-France's database holds the school's contact %d times", n)
	}

	// A bad client is refused whole, with the field named.
	p := rig.Refused(jean.Do("POST", "/api/v1/clients", map[string]any{"name": "", "kind": "school", "postcode": "2515"}), 422)
	if p.Errors["name"] == "" || p.Errors["postcode"] == "" {
		t.Errorf("a client without a name and with a bad postcode: %+v", p)
	}
}
