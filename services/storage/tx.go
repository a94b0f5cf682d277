package storage

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/migrations"
)

// Transactions travel in the context: WithTx opens one and hands fn a
// context that carries it, and Conn gives whoever holds that context the
// connection to use, the transaction's or the database's. A method that
// takes its connection from Conn works the same inside a caller's
// transaction or on its own, so services write their tables safely
// inside each other's transactions without passing *gorm.DB around.

type txKey struct{}

// txState is the transaction a context carries, with what waits for its
// commit.
type txState struct {
	db     *DB
	tx     *gorm.DB
	parent *txState    // the transaction a savepoint belongs to
	done   atomic.Bool // committed or rolled back: its context no longer carries it
	mu     sync.Mutex
	after  []func()
}

// current is the open transaction of db that ctx carries, or nil: a
// savepoint's once it is released is its parent's, and a context kept
// past its transaction's end (a closure run after the commit) carries
// none.
func current(ctx context.Context, db *DB) *txState {
	st, _ := ctx.Value(txKey{}).(*txState)
	for ; st != nil && st.db == db; st = st.parent {
		if !st.done.Load() {
			return st
		}
	}
	return nil
}

// WithTx runs fn in a transaction and commits it if fn returns nil, else
// rolls it back. fn's context carries the transaction (Conn); tx is the
// same transaction, for code that still takes it as a parameter. Called
// with a context that already carries one of db's transactions, it joins
// it as a savepoint: fn's failure undoes fn's writes alone, and what fn
// queued with AfterCommit waits for the outermost commit. Once the
// outermost transaction commits, the functions queued with AfterCommit
// run, in order; after a rollback they do not.
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context, tx *gorm.DB) error) error {
	if outer := current(ctx, db); outer != nil {
		inner := &txState{db: db, parent: outer}
		err := outer.tx.Transaction(func(tx *gorm.DB) error {
			inner.tx = tx
			return fn(context.WithValue(ctx, txKey{}, inner), tx)
		})
		inner.done.Store(true)
		if err == nil {
			outer.mu.Lock()
			outer.after = append(outer.after, inner.after...)
			outer.mu.Unlock()
		}
		return err
	}
	return db.begin(ctx, nil, fn)
}

// begin runs fn in a new transaction (with opts when not nil) whose
// context carries it, and once it commits, what waits for the commit.
func (db *DB) begin(ctx context.Context, opts *sql.TxOptions, fn func(ctx context.Context, tx *gorm.DB) error) error {
	st := &txState{db: db}
	var o []*sql.TxOptions
	if opts != nil {
		o = append(o, opts)
	}
	err := db.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st.tx = tx
		return fn(context.WithValue(ctx, txKey{}, st), tx)
	}, o...)
	st.done.Store(true)
	if err != nil {
		return err
	}
	st.committed()
	return nil
}

// committed runs what waited for the transaction's commit, in order.
func (st *txState) committed() {
	for _, f := range st.after {
		f()
	}
}

// Snapshot runs fn with a context whose reads (through Conn) all see the
// database as it was at one moment, for reads that must agree with each
// other (two services' tables read one after the other while a third
// writes): a read-only REPEATABLE READ transaction on PostgreSQL, a
// transaction on SQLite. Inside a transaction already, fn runs in it.
func (db *DB) Snapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	if db.InTx(ctx) || db.Dialect != migrations.Postgres {
		return db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error { return fn(ctx) })
	}
	return db.begin(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
		func(ctx context.Context, _ *gorm.DB) error { return fn(ctx) })
}

// Conn is the connection for ctx: the transaction of db it carries, or db
// itself, with ctx.
func (db *DB) Conn(ctx context.Context) *gorm.DB {
	if st := current(ctx, db); st != nil {
		return st.tx // with the context the transaction began with: no session made per call
	}
	return db.DB.WithContext(ctx)
}

// WithContext is Conn: it shadows gorm's, which would take a connection
// of its own from the pool inside a caller's transaction: on SQLite, whose
// writer holds the database, a read there waits on a pool the
// transaction's callers may have exhausted (a release stalled its
// origin's node that way), and a write waits for the transaction itself.
func (db *DB) WithContext(ctx context.Context) *gorm.DB { return db.Conn(ctx) }

// InTx reports whether ctx carries an open transaction of db.
func (db *DB) InTx(ctx context.Context) bool { return current(ctx, db) != nil }

// AfterCommit runs f once the transaction ctx carries has committed (the
// outermost one), or at once when ctx carries none. After a rollback f
// does not run.
func AfterCommit(ctx context.Context, f func()) {
	st, _ := ctx.Value(txKey{}).(*txState)
	if st != nil {
		st = current(ctx, st.db)
	}
	if st == nil {
		f()
		return
	}
	st.mu.Lock()
	st.after = append(st.after, f)
	st.mu.Unlock()
}

// LockRow locks the row of table with that id until the end of the
// transaction ctx carries: SELECT … FOR UPDATE on PostgreSQL; nothing on
// SQLite, whose transactions hold the whole database. (For the table's
// owner: the others lock through its API.)
func (db *DB) LockRow(ctx context.Context, table, id string) error {
	if db.Dialect != migrations.Postgres {
		return nil
	}
	return db.Conn(ctx).Exec("SELECT id FROM "+table+" WHERE id = ? FOR UPDATE", id).Error
}
