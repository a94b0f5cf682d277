package clients_test

import (
	"context"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestForRoutingAddresses: what identifies a client for routing holds the
// addresses of their sites that have one, with postcode and commune.
func TestForRoutingAddresses(t *testing.T) {
	ctx := context.Background()
	cs, by, c := schoolOfJean(t, storagetest.Open(t, migrations.SQLite))
	for _, in := range []clients.SiteInput{
		{Name: "École", Address: "12 rue des Écoles", Postcode: "25150", Commune: "Bourguignon"},
		{Name: "Gymnase", Postcode: "25150"},                                 // no address: nothing to scrub
		{Name: "Annexe", Address: "3 bis allée du Stade", Postcode: "25150"}, // 25150 serves several communes
	} {
		if _, err := cs.AddSite(ctx, by, c.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	place, private, err := cs.ForRouting(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"12 rue des Écoles, 25150 Bourguignon", "3 bis allée du Stade, 25150"}
	if place.Commune != "Bourguignon" || private.Name != "École primaire des Tilleuls" || private.ContactName != "Mme Martin" ||
		!slices.Equal(private.Addresses, want) {
		t.Errorf("for routing: %+v %+v", place, private)
	}
}

// schoolOfJean is the clients service over db, with Jean, a technician,
// and his client the school near Bourguignon (Mme Martin its contact).
func schoolOfJean(t *testing.T, db *storage.DB) (*clients.Service, members.Actor, *clients.Client) {
	t.Helper()
	ctx := context.Background()
	ms := members.New(db, skills.NewCatalog(db), members.Config{Region: "bourgogne-franche-comte", Host: "bfc.test",
		BcryptCost: bcrypt.MinCost}, nil)
	m, err := ms.Create(ctx, nil, members.CreateInput{Email: "jean@bfc.test", Name: "Jean", Role: "technician",
		Password: "mot de passe", Postcode: "25150"})
	if err != nil {
		t.Fatal(err)
	}
	by := members.Actor{ID: m.ID, Role: m.Role}
	cs := clients.New(db, ms)
	c, err := cs.Create(ctx, by, clients.CreateInput{Description: clients.Description{Name: "École primaire des Tilleuls",
		Kind: "school", Postcode: "25150", Commune: "Bourguignon", ContactName: "Mme Martin"}})
	if err != nil {
		t.Fatal(err)
	}
	return cs, by, c
}
