package clients_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestEveryListenerHearsAChange: two listeners of a client's changes (as
// federation, and later invoicing, will be) each hear it, in the
// transaction in the order they were added, then after it commits; a
// second listener no longer replaces the first. A listener that fails in
// the transaction undoes the change, and nobody hears it after.
func TestEveryListenerHearsAChange(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		cs, by, c := schoolOfJean(t, db)
		var heard []string
		fail := false
		storage.ListenThen(db, func(ctx context.Context, e clients.ClientChanged) error {
			cl := e.Client
			var name string
			if err := db.Conn(ctx).Raw("SELECT name FROM clients WHERE id = ?", cl.ID).Row().Scan(&name); err != nil {
				return err
			}
			heard = append(heard, "first:"+name) // sees the change, inside its transaction
			return nil
		}, func() { heard = append(heard, "first after") })
		storage.ListenThen(db, func(context.Context, clients.ClientChanged) error {
			heard = append(heard, "second")
			if fail {
				return errors.New("the second listener fails")
			}
			return nil
		}, func() { heard = append(heard, "second after") })

		if _, err := cs.Update(ctx, by, c.ID, clients.UpdateInput{Version: c.Version, Description: clients.Description{
			Name: "École des Tilleuls", Kind: "school", Postcode: "25150", Commune: "Bourguignon", ContactName: "Mme Martin"}}); err != nil {
			t.Fatal(err)
		}
		if got := joined(heard); got != "first:École des Tilleuls|second|first after|second after" {
			t.Fatalf("the listeners heard %s", got)
		}
		heard, fail = nil, true
		if _, err := cs.Update(ctx, by, c.ID, clients.UpdateInput{Version: c.Version + 1, Description: clients.Description{
			Name: "Autre nom", Kind: "school", Postcode: "25150", Commune: "Bourguignon"}}); err == nil {
			t.Fatal("a change a listener refused went through")
		}
		if got := joined(heard); got != "first:Autre nom|second" {
			t.Fatalf("the listeners of a failed change heard %s", got)
		}
		if cur, err := cs.Get(ctx, by, c.ID); err != nil || cur.Name != "École des Tilleuls" {
			t.Fatalf("after a listener failed, the client is %+v (%v)", cur, err)
		}
	})
}

func joined(s []string) string { return strings.Join(s, "|") }
