package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// pipeRows reads the test table: id → n.
func pipeRows(t *testing.T, db *storage.DB) map[string]int {
	t.Helper()
	var rows []struct {
		ID string
		N  int
	}
	if err := db.Raw("SELECT id, n FROM pipe_test ORDER BY id").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out
}

func TestPipeline(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.Exec("CREATE TABLE pipe_test (id TEXT PRIMARY KEY, n INTEGER NOT NULL, at TIMESTAMPTZ)").Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("INSERT INTO pipe_test (id, n) VALUES ('a', 1)").Error; err != nil {
			t.Fatal(err)
		}
		bump := storage.Stmt{SQL: "UPDATE pipe_test SET n = n + 1 WHERE id = ? AND n = ?", Args: []any{"a", 1}, Guard: true}
		insert := func(id string) storage.Stmt {
			return storage.Stmt{SQL: "INSERT INTO pipe_test (id, n, at) VALUES (?, ?, ?)", Args: []any{id, 0, time.Now().UTC()}}
		}
		want := map[string]int{"a": 1}
		check := func(what string) {
			t.Helper()
			if got := pipeRows(t, db); len(got) != len(want) || func() bool {
				for k, v := range want {
					if got[k] != v {
						return true
					}
				}
				return false
			}() {
				t.Fatalf("%s: rows %v, want %v", what, got, want)
			}
		}

		// Applied, with what more did in the same transaction.
		var inMore int
		committed := false
		err := db.Pipeline(ctx, []storage.Stmt{bump, insert("b")}, func(ctx context.Context, tx *gorm.DB) error {
			// more sees what the statements did, through its context too.
			if err := db.Conn(ctx).Raw("SELECT n FROM pipe_test WHERE id = 'a'").Scan(&inMore).Error; err != nil {
				return err
			}
			storage.AfterCommit(ctx, func() { committed = true })
			return tx.Exec("INSERT INTO pipe_test (id, n) VALUES ('c', 3)").Error
		})
		if err != nil || inMore != 2 || !committed {
			t.Fatalf("Pipeline: %v (more read n = %d, want 2; after the commit ran: %v)", err, inMore, committed)
		}
		want = map[string]int{"a": 2, "b": 0, "c": 3}
		check("applied")

		// A guard that fails: nothing applied, even the statements after it.
		err = db.Pipeline(ctx, []storage.Stmt{insert("d"), bump, insert("e")}, func(context.Context, *gorm.DB) error {
			t.Error("more ran after a failed guard")
			return nil
		})
		if !storage.UnmetAt(err, 1) {
			t.Fatalf("stale guard: %v, want Unmet at 1", err)
		}
		check("failed guard")

		// A statement that fails (a duplicate key): nothing applied.
		if err := db.Pipeline(ctx, []storage.Stmt{insert("f"), insert("b")}, nil); err == nil || !storage.IsUniqueViolation(err) {
			t.Fatalf("duplicate: %v, want a unique violation", err)
		}
		check("failed statement")

		// more fails: nothing applied.
		boom := errors.New("boom")
		if err := db.Pipeline(ctx, []storage.Stmt{insert("g")}, func(context.Context, *gorm.DB) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("more failed: %v", err)
		}
		check("more failed")

		// A transaction inside more is a savepoint of Pipeline's: its
		// rollback leaves the rest, which commits.
		err = db.Pipeline(ctx, []storage.Stmt{insert("h")}, func(ctx context.Context, tx *gorm.DB) error {
			if err := db.WithTx(ctx, func(_ context.Context, tx *gorm.DB) error {
				if err := tx.Exec("INSERT INTO pipe_test (id, n) VALUES ('i', 9)").Error; err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				return err
			}
			return tx.Exec("INSERT INTO pipe_test (id, n) VALUES ('j', 7)").Error
		})
		if err != nil {
			t.Fatalf("nested: %v", err)
		}
		want["h"], want["j"] = 0, 7
		check("nested transaction")

		if db.Dialect == migrations.Postgres {
			// more ignores a failed statement: PostgreSQL has rolled the
			// transaction back, and Pipeline says so instead of "committed".
			err = db.Pipeline(ctx, []storage.Stmt{insert("k")}, func(_ context.Context, tx *gorm.DB) error {
				_ = tx.Exec("INSERT INTO pipe_test (id, n) VALUES ('a', 0)").Error
				return nil
			})
			if err == nil {
				t.Fatal("a failed transaction reported committed")
			}
			check("failed transaction")
		}

		// A cancelled context: nothing applied, and the pool still works.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := db.Pipeline(cctx, []storage.Stmt{insert("l")}, nil); err == nil {
			t.Fatal("cancelled: no error")
		}
		check("cancelled")
		for i := range 30 { // more than the pool's connections
			id := string(rune('m' + i))
			if err := db.Pipeline(ctx, []storage.Stmt{insert(id)}, nil); err != nil {
				t.Fatalf("after the failures: %v", err)
			}
			want[id] = 0
		}
		check("after the failures")
	})
}
