package storage_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

type made struct{ N int }
type other struct{}

// TestEventsReachEveryListener: every listener of an event's type hears
// it, in the order added, inside the transaction and then after its
// commit; listeners of another type do not; a listener's error undoes
// the transaction and nothing runs after it.
func TestEventsReachEveryListener(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			db := storagetest.Open(t, d)
			ctx := context.Background()
			if storage.Listening[made](db) {
				t.Fatal("listening before any listener")
			}
			var heard []string
			fail := false
			storage.Listen(db, func(ctx context.Context, e made) error {
				if !db.InTx(ctx) {
					t.Error("the first listener is not in the transaction")
				}
				heard = append(heard, "first within")
				return nil
			}, func(e made) { heard = append(heard, "first after") })
			storage.Listen(db, func(ctx context.Context, e made) error {
				heard = append(heard, "second within")
				if fail {
					return errors.New("no")
				}
				return nil
			}, nil)
			storage.Listen(db, nil, func(e made) { heard = append(heard, "third after") })
			storage.Listen(db, func(ctx context.Context, e other) error {
				t.Error("a listener of another type heard it")
				return nil
			}, nil)
			if !storage.Listening[made](db) {
				t.Fatal("not listening")
			}
			publish := func() error {
				return db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
					if err := tx.Exec("INSERT INTO skills (name, label_fr, label_en) VALUES ('events-test', 'x', 'x')").Error; err != nil {
						return err
					}
					if err := storage.Publish(ctx, db, made{N: 1}); err != nil {
						return err
					}
					heard = append(heard, "commit")
					return nil
				})
			}
			if err := publish(); err != nil {
				t.Fatal(err)
			}
			want := []string{"first within", "second within", "commit", "first after", "third after"}
			if len(heard) != len(want) {
				t.Fatalf("heard %v, want %v", heard, want)
			}
			for i := range want {
				if heard[i] != want[i] {
					t.Fatalf("heard %v, want %v", heard, want)
				}
			}
			db.Exec("DELETE FROM skills WHERE name = 'events-test'")
			heard, fail = nil, true
			if err := publish(); err == nil {
				t.Fatal("the listener's error was not returned")
			}
			if len(heard) != 2 {
				t.Errorf("after a failed listener: %v, want the two within and nothing after", heard)
			}
			var n int64
			db.Table("skills").Where("name = 'events-test'").Count(&n)
			if n != 0 {
				t.Error("the transaction was not undone")
			}
		})
	}
}
