package privacy_test

import (
	"context"
	"slices"
	"testing"

	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestRecordCoversEveryTable: every table of the database, as its own
// catalogue lists it (so that one added later is checked too), is either
// in the record of processing or known to hold no personal data; and every
// table the record names exists.
func TestRecordCoversEveryTable(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		tables, err := db.Tables(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) < 20 {
			t.Fatalf("only %d tables: %v", len(tables), tables)
		}
		recorded := privacy.Tables()
		for _, tb := range tables {
			if !slices.Contains(recorded, tb) && !slices.Contains(privacy.NotPersonal, tb) {
				t.Errorf("table %s is neither in the record of processing (services/privacy/record.go) nor known to hold no personal data", tb)
			}
		}
		for _, tb := range append(recorded, privacy.NotPersonal...) {
			if !slices.Contains(tables, tb) {
				t.Errorf("the record names %s, which the database does not have", tb)
			}
		}
	})
}
