// Package inbox is the federation's inbox: the activities received from
// peers, stored once each before they are answered, then applied in the
// order they came, each exactly once (taken in turn and moved out of
// pending in the transaction that applies it), one that needs another
// first waiting for it, one that fails set aside. What an activity means
// is its Applier's.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/storage"
)

// Applier carries out one activity inside tx; ignored says this node has
// nothing to do with it. An error made by NotYet or NotYetFor makes the
// activity wait and be tried again.
type Applier interface {
	Apply(ctx context.Context, tx *gorm.DB, a *doc.Activity) (ignored bool, err error)
}

// Inbox is a node's inbox.
type Inbox struct {
	db        *storage.DB
	log       *slog.Logger
	poll      time.Duration
	applier   Applier
	onApplied func() // after a batch applied something (what it queued goes now)
	queue     *queue.Queue
	wake      queue.Signal
	applied   *prometheus.CounterVec

	// writes, on SQLite, queues the inbox's two writers (storing what
	// arrives, applying it) in the process rather than on SQLite's busy
	// timeout, whose sleeps left a busy inbox mostly idle.
	writes sync.Mutex
	// timeWaiters is set when a received activity waits on time alone, so
	// that the next applied batch makes it due again.
	timeWaiters atomic.Bool
}

// New returns the inbox of a node; poll is how often its worker looks for
// due activities when nothing wakes it.
func New(db *storage.DB, poll time.Duration, log *slog.Logger, reg prometheus.Registerer, applier Applier, onApplied func()) *Inbox {
	in := &Inbox{db: db, log: log, poll: poll, applier: applier, onApplied: onApplied, wake: queue.NewSignal(),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_federation_applied_total",
			Help: "Received activities processed, by outcome (ok, pending: to retry, failed)."}, []string{"result"})}
	in.queue = queue.New(db, reg, queue.Spec{Topic: "federation_inbox", Table: "federation_inbox",
		Due:     "state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
		Waiting: "state = 'pending' AND next_attempt_at > ?", Dead: "state = 'failed'", Order: "id", Leases: true, Ordered: true,
		What: "type", Error: "last_error", At: "COALESCE(processed_at, received_at)"})
	in.timeWaiters.Store(true) // some may wait since before a restart
	if reg != nil {
		reg.MustRegister(in.applied)
	}
	return in
}

// TableName maps Row to its table.
func (Row) TableName() string { return "federation_inbox" }

// Queue is the inbox as a durable queue.
func (in *Inbox) Queue() *queue.Queue { return in.queue }

// Wake tells the worker that an activity was stored.
func (in *Inbox) Wake() { in.wake.Poke() }

// EmptyAbout empties, in the transaction ctx carries, the bodies of the
// activities received and done with that are about the objects ids (a
// client's erasure).
func (in *Inbox) EmptyAbout(ctx context.Context, ids []string) error {
	now := time.Now().UTC()
	for _, id := range ids {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(id) + "%"
		if err := in.db.Conn(ctx).Exec(`UPDATE federation_inbox SET body = '', body_purged_at = ? WHERE body <> '' AND state <> 'pending'
			AND body LIKE ? ESCAPE '\'`, now, like).Error; err != nil {
			return fmt.Errorf("federation: empty received activities: %w", err)
		}
	}
	return nil
}

// PurgeSteps are the statements that purge the inbox (see
// federation.Service.PurgeActivities): bodies of activities done with
// before bodyBefore emptied, rows before recordBefore deleted, at most
// batch a statement; run under Writing.
func PurgeSteps(now, bodyBefore, recordBefore time.Time, batch int) (empty, remove storage.Stmt) {
	return storage.Stmt{SQL: `UPDATE federation_inbox SET body = '', body_purged_at = ? WHERE id IN (SELECT id FROM federation_inbox
			WHERE state <> 'pending' AND body_purged_at IS NULL AND processed_at < ? LIMIT ?)`, Args: []any{now.UTC(), bodyBefore, batch}},
		storage.Stmt{SQL: `DELETE FROM federation_inbox WHERE id IN (SELECT id FROM federation_inbox
			WHERE state <> 'pending' AND processed_at < ? LIMIT ?)`, Args: []any{recordBefore, batch}}
}

type Row struct {
	ID            int64  `gorm:"primaryKey"`
	ActivityID    string `gorm:"column:activity_id"`
	Actor         string
	Type          string
	Body          string
	State         string
	Attempts      int
	LastError     string
	ReceivedAt    time.Time
	ProcessedAt   *time.Time
	NextAttemptAt *time.Time
	WaitsFor      *string // the id of the object it waits for, if any
	Digest        string  // SHA-256 of the body as received, hex
	BodyPurgedAt  *time.Time
}

// Loop applies received activities in the order they came.
func (in *Inbox) Loop(ctx context.Context) {
	t := time.NewTicker(in.poll)
	defer t.Stop()
	for {
		for {
			n, err := in.Process(ctx, 64)
			if err != nil && ctx.Err() == nil {
				in.log.Error("inbox", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-in.wake:
		case <-t.C:
		}
	}
}

// maxApplyAttempts is how often an activity that fails to apply is tried
// (a database hiccup) before it is set aside as failed.
const maxApplyAttempts = 5

// Process applies up to limit pending activities and returns how
// many it handled. They are leased and applied in one transaction, in the
// order they came, each in its own savepoint with its row's state: an
// activity is applied exactly once, replicas take turns (the inbox is an
// Ordered queue), one that fails is rolled back alone and set to wait or
// fail in the same transaction, and should the worker die, all of it is
// undone and due again at once. One commit for the batch: a busy inbox
// keeps up.
func (in *Inbox) Process(ctx context.Context, limit int) (int, error) {
	if due, err := in.queue.HasDue(ctx); err != nil || !due {
		return 0, err // an idle poll: a read, no transaction
	}
	var (
		handled int
		applied int
		tickets []string // the tickets whose state was applied: what waits for them is due
	)
	err := in.Writing(func() error {
		return in.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			var rows []Row
			if err := in.queue.TakeTurn(ctx, limit, "*", &rows); err != nil {
				return err
			}
			handled, applied, tickets = len(rows), 0, tickets[:0]
			for _, row := range rows {
				var failed error
				a, err := in.applyOne(ctx, tx, row, &failed)
				if err != nil {
					return err
				}
				if failed != nil {
					if err := in.applyFailed(ctx, row, failed); err != nil {
						return err
					}
					continue
				}
				if a != nil {
					applied++
					if a.ObjectType == "Ticket" {
						tickets = append(tickets, a.ObjectID)
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("federation: apply: %w", err)
	}
	in.applied.WithLabelValues("ok").Add(float64(applied))
	if applied > 0 {
		in.onApplied() // what applying queued (the tracker's answers) goes now
		if err := in.retryWaiting(ctx, tickets); err != nil {
			return 0, err
		}
	}
	return handled, nil
}

// applyOne claims and applies one activity inside tx, in a savepoint, and
// returns it once applied (nil otherwise): on failure of the activity
// itself, the savepoint is rolled back and *failed says why; err is an error
// of the database, which fails the whole batch.
func (in *Inbox) applyOne(ctx context.Context, tx *gorm.DB, row Row, failed *error) (applied *doc.Activity, err error) {
	err = in.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error { // a savepoint of ctx's transaction
		// Claim: only one worker moves a row out of pending.
		res := tx.Model(&Row{}).Where("id = ? AND state = 'pending'", row.ID).
			Updates(map[string]any{"state": "applied", "processed_at": time.Now().UTC(), "attempts": row.Attempts + 1})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil // another worker had it
		}
		// Checked when received: read it again without go-fed's check.
		a, err := doc.ReadActivity([]byte(row.Body))
		if err == nil {
			var ignored bool
			ignored, err = in.applier.Apply(ctx, tx, a)
			if err == nil && ignored {
				return tx.Model(&Row{}).Where("id = ?", row.ID).Update("state", "ignored").Error
			}
		}
		if err != nil {
			*failed = err
			return errRollback
		}
		applied = a
		return nil
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	return applied, err
}

// waitBackoff spaces the attempts of an activity that waits for another.
var waitBackoff = queue.Backoff{First: time.Second, Max: 5 * time.Minute}

// applyFailed records why an activity was not applied: it waits (for an
// activity it needs, or after a conflict), is tried again, or has failed.
func (in *Inbox) applyFailed(ctx context.Context, row Row, applyErr error) error {
	// A conflict is a concurrent change of the same object on this node
	// (a member's edit): try again shortly, on the new version.
	if apperr.CodeOf(applyErr) == apperr.Conflict {
		applyErr = NotYet(applyErr)
	}
	if errors.Is(applyErr, ErrNotYet) && time.Since(row.ReceivedAt) < maxWait {
		// It needs an activity not received yet: wait for it, with back-off;
		// it is due again at once when the ticket it waits for arrives.
		in.applied.WithLabelValues("waiting").Inc()
		next := time.Now().UTC().Add(waitBackoff.After(row.Attempts + 1))
		var waitsFor *string
		var we *waitError
		if errors.As(applyErr, &we) && we.object != "" {
			waitsFor = &we.object
		} else {
			in.timeWaiters.Store(true)
		}
		return in.db.WithContext(ctx).Model(&Row{}).Where("id = ? AND state = 'pending'", row.ID).Updates(map[string]any{
			"attempts": row.Attempts + 1, "next_attempt_at": next, "waits_for": waitsFor,
			"last_error": queue.ErrorText(applyErr.Error())}).Error
	}
	// Invalid content is final; anything else is tried again a few times.
	state := "pending"
	var ae *apperr.Error
	if errors.Is(applyErr, doc.ErrMalformed) || errors.As(applyErr, &ae) || row.Attempts+1 >= maxApplyAttempts {
		state = "failed"
	}
	in.applied.WithLabelValues(state).Inc()
	in.log.Warn("activity not applied", "activity", row.ActivityID, "type", row.Type, "state", state, "err", applyErr)
	upd := map[string]any{"state": state, "attempts": row.Attempts + 1, "last_error": queue.ErrorText(applyErr.Error())}
	if state == "failed" {
		// Refused (not the sender's to send, or not valid) or failing for
		// good: nothing will apply it, so its body — perhaps a client's
		// data sent where it does not belong — is not kept. The digest
		// stays, and the error says why.
		now := time.Now().UTC()
		upd["body"], upd["body_purged_at"], upd["processed_at"] = "", now, now
	}
	// Only if no other replica applied it meanwhile.
	return in.db.WithContext(ctx).Model(&Row{}).Where("id = ? AND state = 'pending'", row.ID).Updates(upd).Error
}

var errRollback = errors.New("rollback")

// ErrNotYet is the error of an activity that needs another one first (the
// ticket a comment is about): it waits and is tried again.
var ErrNotYet = errors.New("waits for an earlier activity")

// maxWait bounds how long an activity waits for the one it needs.
const maxWait = 48 * time.Hour

// waitError is errNotYet with what is waited for: the id of a ticket whose
// state is on its way, or "" for a wait on time alone (a conflict, an
// acceptance being recorded).
type waitError struct {
	object string
	err    error
}

func (e *waitError) Error() string { return ErrNotYet.Error() + ": " + e.err.Error() }

func (e *waitError) Is(target error) bool { return target == ErrNotYet }

func (e *waitError) Unwrap() error { return e.err }

func NotYet(err error) error { return &waitError{err: err} }

// NotYetFor is notYet for an activity that needs ticket apID first.
func NotYetFor(apID string, err error) error { return &waitError{object: apID, err: err} }

// retryWaiting, after a batch applied something, makes due again the
// activities that wait for one of the tickets whose state was just applied,
// and those that wait on time alone (a conflict with a change made at that
// instant, an acceptance being recorded): what was applied may be what they
// needed. An activity waiting for another ticket keeps its back-off.
func (in *Inbox) retryWaiting(ctx context.Context, tickets []string) error {
	timeWaiters := in.timeWaiters.Swap(false)
	q := in.db.WithContext(ctx).Model(&Row{}).Where("state = 'pending' AND next_attempt_at IS NOT NULL")
	switch {
	case timeWaiters && len(tickets) > 0:
		q = q.Where("(waits_for IS NULL OR waits_for IN ?)", tickets)
	case timeWaiters:
		q = q.Where("waits_for IS NULL")
	case len(tickets) > 0:
		q = q.Where("waits_for IN ?", tickets)
	default:
		return nil
	}
	return q.Updates(map[string]any{"next_attempt_at": nil, "waits_for": nil}).Error
}

// Store stores a received activity once (its id is unique), before
// it is answered 202, and reports whether it was new. One INSERT and one
// commit per activity. (Activities arriving together were written as one
// multi-row INSERT before: alternating on 3 December 2026, the inbox
// benchmark gave 1118–2141 activities/s with it against 1702–1963 without
// on PostgreSQL, and 749–876 against 647–754 on SQLite: 16 % at most,
// below what would pay for the code; the plain way stays.)
func (in *Inbox) Store(ctx context.Context, row Row) (bool, error) {
	defer in.lockWrites()()
	var ids []string
	err := in.db.WithContext(context.WithoutCancel(ctx)).Raw(`INSERT INTO federation_inbox (activity_id, actor, type, body, digest, state,
		attempts, last_error, received_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, '', ?) ON CONFLICT (activity_id) DO NOTHING
		RETURNING activity_id`, row.ActivityID, row.Actor, row.Type, row.Body, row.Digest, row.ReceivedAt.UTC()).Scan(&ids).Error
	if err != nil {
		return false, fmt.Errorf("federation: store activity %s: %w", row.ActivityID, err)
	}
	return len(ids) == 1, nil
}

// Writing runs f holding inboxWrites (see lockInboxWrites).
func (in *Inbox) Writing(f func() error) error {
	defer in.lockWrites()()
	return f()
}

// lockWrites takes inboxWrites on SQLite (one writer at a time is
// SQLite's rule anyway) and returns its unlock; on PostgreSQL, where
// writers proceed side by side, it does nothing.
func (in *Inbox) lockWrites() func() {
	if in.db.Dialect != migrations.SQLite {
		return func() {}
	}
	in.writes.Lock()
	return in.writes.Unlock
}
