package storage

import (
	"context"

	"gorm.io/gorm"
)

// Hooks are what a service runs when one of its objects changes: Within,
// inside the transaction that changed it (to queue what the change means
// elsewhere, atomically with it), then After, once it committed. Set them
// once, before serving; unset hooks do nothing.
type Hooks[T any] struct {
	within func(ctx context.Context, tx *gorm.DB, v T) error
	after  func()
}

// Set sets the hooks.
func (h *Hooks[T]) Set(within func(ctx context.Context, tx *gorm.DB, v T) error, after func()) {
	h.within, h.after = within, after
}

// Within runs the in-transaction hook.
func (h *Hooks[T]) Within(ctx context.Context, tx *gorm.DB, v T) error {
	if h.within == nil {
		return nil
	}
	return h.within(ctx, tx, v)
}

// After runs the after-commit hook.
func (h *Hooks[T]) After() {
	if h.after != nil {
		h.after()
	}
}

// Active reports whether an in-transaction hook is set (to skip preparing
// what only it would use).
func (h *Hooks[T]) Active() bool { return h.within != nil }
