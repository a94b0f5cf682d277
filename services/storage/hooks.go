package storage

import (
	"context"
	"sync"
)

// Hooks are what a service runs when one of its objects changes, for each
// listener registered: Within, inside the transaction that changed it,
// which its context carries (storage.DB.Conn: to queue what the change
// means elsewhere, atomically with it), in the order
// the listeners were added, the first error undoing the change; then
// After, once it committed. Any number of listeners (federation today;
// invoicing, notifications later) each get every change: adding one never
// replaces another. Add them while wiring, before serving.
type Hooks[T any] struct {
	mu        sync.RWMutex
	listeners []hook[T]
}

type hook[T any] struct {
	within func(ctx context.Context, v T) error
	after  func()
}

// Add adds a listener; either function may be nil.
func (h *Hooks[T]) Add(within func(ctx context.Context, v T) error, after func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.listeners = append(h.listeners, hook[T]{within: within, after: after})
}

func (h *Hooks[T]) all() []hook[T] {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.listeners
}

// Within runs the listeners' in-transaction hooks, stopping at the first
// error.
func (h *Hooks[T]) Within(ctx context.Context, v T) error {
	for _, l := range h.all() {
		if l.within != nil {
			if err := l.within(ctx, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// After runs the listeners' after-commit hooks.
func (h *Hooks[T]) After() {
	for _, l := range h.all() {
		if l.after != nil {
			l.after()
		}
	}
}

// Active reports whether a listener has an in-transaction hook (to skip
// preparing what only one would use).
func (h *Hooks[T]) Active() bool {
	for _, l := range h.all() {
		if l.within != nil {
			return true
		}
	}
	return false
}
