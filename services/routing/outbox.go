package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/storage"
)

// outboxRow is a message to publish on JetStream once the transaction that
// wrote it has committed.
type outboxRow struct {
	ID            string `gorm:"primaryKey"`
	Subject       string
	Payload       string
	Signed        bool // published with the node's signature (see Signer)
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

func (outboxRow) TableName() string { return "bus_outbox" }

// enqueue writes a message to the outbox inside tx. id becomes the
// message's Nats-Msg-Id. A signed message is published with the node's
// signature: every message that ends an offer or gives it away, which the
// receiving node checks (see verifySigned). A plain offer is not signed: by
// itself it wins nobody, the member's acceptance (signed) does.
func enqueue(ctx context.Context, tx *gorm.DB, id, subject string, msg any, signed bool) error {
	row, err := newOutboxRow(id, subject, msg, signed)
	if err != nil {
		return err
	}
	if err := tx.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("routing: outbox %s: %w", subject, err)
	}
	if p, ok := tx.Get(outboxSetting); ok {
		rows := p.(*[]outboxRow)
		*rows = append(*rows, row)
	}
	return nil
}

// newOutboxRow is a message to publish, due now.
func newOutboxRow(id, subject string, msg any, signed bool) (outboxRow, error) {
	payload, err := json.Marshal(msg)
	if err != nil {
		return outboxRow{}, fmt.Errorf("routing: encode %s: %w", subject, err)
	}
	now := storage.Now()
	return outboxRow{ID: id, Subject: subject, Payload: string(payload), Signed: signed, NextAttemptAt: now, CreatedAt: now}, nil
}

// insert is the statement that writes the row (see enqueue).
func (r outboxRow) insert() storage.Stmt {
	return storage.Stmt{SQL: "INSERT INTO bus_outbox (id, subject, payload, signed, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		Args: []any{r.ID, r.Subject, r.Payload, r.Signed, r.Attempts, r.NextAttemptAt, r.CreatedAt}}
}

// answerID is the outbox id, and so the Nats-Msg-Id, of a message about an
// offer (a decline, a withdrawal…). Every region's node reads the offer's
// id on the stream: with that id alone, anyone who may publish could send
// a message under it first, and JetStream would drop the real one as a
// duplicate. A fresh suffix makes it unguessable; republishing the same
// row still reuses it, so that JetStream drops the copies.
func answerID(kind, offerID string) string { return kind + "-" + offerID + "-" + storage.NewID() }

// outboxSetting marks a transaction run by inTx, which collects the
// messages it enqueues.
const outboxSetting = "coopnet:outbox"

// inTx runs f in a transaction (which f's context carries) and, once it
// has committed, publishes at once the messages f enqueued (the outbox
// loop retries any that fail).
func (s *Service) inTx(ctx context.Context, f func(ctx context.Context, tx *gorm.DB) error) error {
	return s.inTxThen(ctx, false, f)
}

// inTxThen is inTx; with background, the messages are published by another
// goroutine, so that the caller (an acceptance waiting for its answer) does
// not wait for JetStream.
func (s *Service) inTxThen(ctx context.Context, background bool, f func(ctx context.Context, tx *gorm.DB) error) error {
	var pending []outboxRow
	err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		// A new session, so that the setting is kept and statements do not
		// accumulate on the one the setting created.
		return f(ctx, tx.Set(outboxSetting, &pending).Session(&gorm.Session{}))
	})
	switch {
	case err != nil || len(pending) == 0:
	case background:
		// Not the caller's context: a request's ends with its answer, while
		// the publishing goes on.
		bg := context.WithoutCancel(ctx)
		s.spawn(func() { s.publishNow(bg, pending) })
	default:
		s.publishNow(ctx, pending)
	}
	return err
}

// publishNow publishes committed outbox rows and deletes them; on any
// failure it leaves the rest to the outbox loop.
func (s *Service) publishNow(ctx context.Context, rows []outboxRow) {
	for _, r := range rows {
		if !s.bus.Connected() || s.publish(ctx, r) != nil {
			s.kickOutbox.Poke()
			return
		}
	}
}

// publish sends one outbox row to JetStream and deletes it.
func (s *Service) publish(ctx context.Context, r outboxRow) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	msg, err := s.newMsg(pctx, r.Subject, []byte(r.Payload))
	if err == nil {
		_, err = s.bus.JS.PublishMsg(pctx, msg, jetstream.WithMsgID(r.ID))
	}
	cancel()
	if err != nil {
		s.m.pubErrors.Inc()
		return err
	}
	s.m.published.Inc()
	// Deleted with others in one statement by the outbox loop: should the
	// process stop before, the row is published again, and JetStream drops
	// the duplicate by its Nats-Msg-Id.
	s.sentMu.Lock()
	s.sent = append(s.sent, r.ID)
	s.sentMu.Unlock()
	return nil
}

// wasSent reports whether a row was published and awaits deletion.
func (s *Service) wasSent(id string) bool {
	s.sentMu.Lock()
	defer s.sentMu.Unlock()
	return slices.Contains(s.sent, id)
}

// deleteSent removes the rows published since the last call.
func (s *Service) deleteSent(ctx context.Context) {
	s.sentMu.Lock()
	ids := s.sent
	s.sent = nil
	s.sentMu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := s.db.WithContext(ctx).Delete(&outboxRow{}, "id IN ?", ids[:n]).Error; err != nil {
			s.log.Warn("outbox: delete published messages", "err", err)
			s.sentMu.Lock()
			s.sent = append(s.sent, ids...)
			s.sentMu.Unlock()
			return
		}
		ids = ids[n:]
	}
}

// outboxLoop publishes due messages, oldest first, when woken up and every tick.
func (s *Service) outboxLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.flushOutbox(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kickOutbox:
		}
	}
}

// outboxBackoff is the wait before a message that failed to go out is
// tried again.
var outboxBackoff = queue.Backoff{First: time.Second, Max: time.Minute}

// flushOutbox publishes every due message. A failure leaves the row with a
// later next attempt (exponential back-off with jitter, at most a minute):
// while NATS is down, messages wait in the database, not in memory.
func (s *Service) flushOutbox(ctx context.Context) {
	for ctx.Err() == nil && s.bus.Connected() { // while NATS is away, messages wait here, not in its buffer
		s.deleteSent(ctx)
		var rows []outboxRow
		if err := s.db.WithContext(ctx).Where("next_attempt_at <= ?", storage.Now()).Order("created_at, id").Limit(100).
			Find(&rows).Error; err != nil {
			if ctx.Err() == nil {
				s.log.Warn("outbox: read", "err", err)
			}
			return
		}
		if len(rows) == 0 {
			return
		}
		attempted := 0
		for _, r := range rows {
			if s.wasSent(r.ID) {
				continue // published just now; deleted at the next pass
			}
			attempted++
			if err := s.publish(ctx, r); err != nil {
				backoff := outboxBackoff.After(r.Attempts + 1)
				s.db.WithContext(ctx).Model(&outboxRow{}).Where("id = ?", r.ID).
					Updates(map[string]any{"attempts": r.Attempts + 1, "next_attempt_at": storage.Now().Add(backoff)})
				if ctx.Err() == nil {
					s.log.Warn("outbox: publish failed; will retry", "subject", r.Subject, "id", r.ID, "attempt", r.Attempts+1, "err", err)
				}
				return // NATS is likely down: try again at the next tick
			}
		}
		if attempted == 0 {
			return // only rows awaiting deletion are left
		}
	}
}
