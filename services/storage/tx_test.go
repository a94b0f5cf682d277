package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestTransactionInTheContext: what a method writes through Conn(ctx)
// is in the caller's transaction when there is one (seen inside, kept on
// commit, gone on rollback), on its own when there is none; a nested
// WithTx is a savepoint; what waits for the commit runs after the
// outermost commit only, and never after a rollback.
func TestTransactionInTheContext(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.Exec("CREATE TABLE tx_probe (id TEXT PRIMARY KEY)").Error; err != nil {
			t.Fatal(err)
		}
		// A method of some service, unaware of transactions.
		insert := func(ctx context.Context, id string) error {
			return db.Conn(ctx).Exec("INSERT INTO tx_probe (id) VALUES (?)", id).Error
		}
		committed := func(id string) bool { // seen from another connection
			var n int64
			db.SQL.QueryRowContext(ctx, db.Bind("SELECT COUNT(*) FROM tx_probe WHERE id = ?"), id).Scan(&n)
			return n == 1
		}
		var log []string
		boom := errors.New("boom")

		// Outside a transaction: on its own, at once.
		if err := insert(ctx, "alone"); err != nil || !committed("alone") || db.InTx(ctx) {
			t.Fatalf("outside a transaction: %v", err)
		}
		storage.AfterCommit(ctx, func() { log = append(log, "at once") })

		err := db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			if !db.InTx(ctx) {
				t.Error("the context carries no transaction")
			}
			if err := insert(ctx, "outer"); err != nil {
				return err
			}
			var n int64
			db.Conn(ctx).Raw("SELECT COUNT(*) FROM tx_probe WHERE id = 'outer'").Scan(&n)
			if n != 1 {
				t.Error("the transaction does not see its own write through Conn")
			}
			storage.AfterCommit(ctx, func() {
				if committed("outer") { // it runs once the write is there for everyone
					log = append(log, "outer")
				}
			})
			// A savepoint that fails: its write goes, its waiters too.
			if err := db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error {
				if err := insert(ctx, "inner-failed"); err != nil {
					return err
				}
				storage.AfterCommit(ctx, func() { log = append(log, "inner-failed") })
				return boom
			}); !errors.Is(err, boom) {
				t.Errorf("the failed savepoint returned %v", err)
			}
			// One that succeeds: its waiter waits for the outermost commit.
			if err := db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error {
				storage.AfterCommit(ctx, func() { log = append(log, "inner") })
				return insert(ctx, "inner")
			}); err != nil {
				return err
			}
			if len(log) != 1 {
				t.Errorf("something ran before the commit: %v", log)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !committed("outer") || !committed("inner") || committed("inner-failed") {
			t.Errorf("after the commit: outer %v, inner %v, inner-failed %v", committed("outer"), committed("inner"), committed("inner-failed"))
		}
		if got := strings.Join(log, "|"); got != "at once|outer|inner" {
			t.Errorf("after the commit ran %q", got)
		}

		// A rollback: nothing kept, nothing run.
		log = nil
		err = db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error {
			storage.AfterCommit(ctx, func() { log = append(log, "rolled back") })
			if err := insert(ctx, "rolled-back"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || committed("rolled-back") || len(log) != 0 {
			t.Errorf("a rollback: %v, kept %v, ran %v", err, committed("rolled-back"), log)
		}
	})
}

// TestWithContextIsTheTransaction: db.WithContext(ctx), gorm's usual
// way in, is Conn: inside a transaction it is that transaction (it sees
// the uncommitted write; on SQLite a connection of its own would wait for
// the writer, the transaction itself); a savepoint's context kept past the
// savepoint is its parent's transaction; a context kept past the commit
// is the database's.
func TestWithContextIsTheTransaction(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.Exec("CREATE TABLE wc_probe (id TEXT PRIMARY KEY)").Error; err != nil {
			t.Fatal(err)
		}
		count := func(ctx context.Context) (n int64) {
			if err := db.WithContext(ctx).Raw("SELECT COUNT(*) FROM wc_probe").Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		var kept, savepoint context.Context
		err := db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error {
			kept = ctx
			if err := db.WithContext(ctx).Exec("INSERT INTO wc_probe (id) VALUES ('a')").Error; err != nil {
				return err
			}
			if n := count(ctx); n != 1 {
				t.Errorf("inside the transaction WithContext counts %d rows, not its own write", n)
			}
			if err := db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error {
				savepoint = ctx
				return db.WithContext(ctx).Exec("INSERT INTO wc_probe (id) VALUES ('b')").Error
			}); err != nil {
				return err
			}
			if !db.InTx(savepoint) || count(savepoint) != 2 {
				t.Errorf("a released savepoint's context: in a transaction %v, %d rows", db.InTx(savepoint), count(savepoint))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if db.InTx(kept) || db.InTx(savepoint) || count(kept) != 2 || count(savepoint) != 2 {
			t.Errorf("contexts kept past the commit: in a transaction %v/%v", db.InTx(kept), db.InTx(savepoint))
		}
		ran := false
		storage.AfterCommit(kept, func() { ran = true })
		if !ran {
			t.Error("AfterCommit with a context kept past the commit waits for a commit that is over")
		}
	})
}

// TestSnapshot: two reads inside Snapshot agree, though another
// connection writes between them (on PostgreSQL the write commits and the
// snapshot does not see it; on SQLite it waits for the snapshot to end).
func TestSnapshot(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.Exec("CREATE TABLE snap_probe (id TEXT PRIMARY KEY)").Error; err != nil {
			t.Fatal(err)
		}
		count := func(ctx context.Context) (n int64) {
			db.Conn(ctx).Raw("SELECT COUNT(*) FROM snap_probe").Scan(&n)
			return n
		}
		wrote := make(chan error, 1)
		err := db.Snapshot(ctx, func(ctx context.Context) error {
			if n := count(ctx); n != 0 {
				t.Fatalf("first read: %d rows", n)
			}
			write := func() {
				_, err := db.SQL.ExecContext(context.Background(), "INSERT INTO snap_probe (id) VALUES ('x')")
				wrote <- err
			}
			if db.Dialect == "postgres" {
				write() // commits now, beside the snapshot
			} else {
				go write() // waits for the snapshot's end
			}
			if n := count(ctx); n != 0 {
				t.Errorf("the second read of the snapshot sees %d rows written since", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
		if n := count(ctx); n != 1 {
			t.Errorf("after the snapshot: %d rows, want the one written", n)
		}
	})
}
