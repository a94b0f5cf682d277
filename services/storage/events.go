package storage

import (
	"context"
	"reflect"
	"sync"
)

// The node's domain events. A service publishes a typed event (a
// ticket created or moved, an offer made, time logged…) inside the
// transaction that saved what it tells, once saved; every listener of that
// type hears it, in the order they were added: inside the transaction
// (to write what the event means elsewhere, atomically with it: the first
// error undoes it all), and after the commit, as each chooses. Any number
// of listeners per type (federation and routing today; invoicing and
// notifications later): adding one never replaces another. Listeners are
// added while wiring, before serving. Events are in-process: what must
// reach another node or survive a crash is written by a listener inside
// the transaction (an outbox row).

// Bus carries the events of the services sharing one database.
type Bus struct {
	mu        sync.RWMutex
	listeners map[reflect.Type][]listener
}

type listener struct {
	within func(ctx context.Context, e any) error
	after  func(e any)
}

// Listen adds a listener of the events of type E on db's bus: within runs
// inside the publishing transaction, after once it committed (after a
// rollback it does not); either may be nil.
func Listen[E any](db *DB, within func(ctx context.Context, e E) error, after func(e E)) {
	l := listener{}
	if within != nil {
		l.within = func(ctx context.Context, e any) error { return within(ctx, e.(E)) }
	}
	if after != nil {
		l.after = func(e any) { after(e.(E)) }
	}
	b := db.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.listeners == nil {
		b.listeners = map[reflect.Type][]listener{}
	}
	t := reflect.TypeFor[E]()
	b.listeners[t] = append(b.listeners[t], l)
}

func listenersOf[E any](db *DB) []listener {
	b := db.bus
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.listeners[reflect.TypeFor[E]()]
}

// Publish tells e to the listeners of its type on db's bus, inside the
// transaction ctx carries, and queues their after-commit part
// (AfterCommit). The first listener's error is returned: the caller's
// transaction is then rolled back.
func Publish[E any](ctx context.Context, db *DB, e E) error {
	for _, l := range listenersOf[E](db) {
		if l.within != nil {
			if err := l.within(ctx, e); err != nil {
				return err
			}
		}
		if l.after != nil {
			after := l.after
			AfterCommit(ctx, func() { after(e) })
		}
	}
	return nil
}

// ListenThen is Listen with an after-commit part that needs not the
// event (a worker's wake-up); either may be nil.
func ListenThen[E any](db *DB, within func(ctx context.Context, e E) error, after func()) {
	var then func(E)
	if after != nil {
		then = func(E) { after() }
	}
	Listen(db, within, then)
}

// Listening reports whether events of type E have a listener on db's bus
// (to skip preparing an event nobody hears).
func Listening[E any](db *DB) bool { return len(listenersOf[E](db)) > 0 }
