package federation

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"github.com/coopnet/coopnet/federation/doc"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/storage"
)

type outboxRow struct {
	ID            int64  `gorm:"primaryKey"`
	ActivityID    string `gorm:"column:activity_id"`
	Inbox         string
	Body          string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LeaseUntil    *time.Time
	LastStatus    int
	LastError     string
	CreatedAt     time.Time
	DoneAt        *time.Time
	// Type, ObjectID and ContextID say what the activity was about, once
	// its body is gone (see retention.go).
	Type      string
	ObjectID  string `gorm:"column:object_id"`
	ContextID string `gorm:"column:context_id"`
}

func (outboxRow) TableName() string { return "federation_outbox" }

// aboutOf is what an activity is about: its type, its object's id and
// that object's context or own object (the ticket of a comment or an
// intervention, the event of an invitation answered, the ticket of an
// offer accepted).
func aboutOf(activity map[string]any) (typ, object, context string) {
	typ, _ = activity["type"].(string)
	switch o := activity["object"].(type) {
	case string:
		object = o
	case map[string]any:
		object = doc.IDOf(o["id"])
		if context = doc.IDOf(o["context"]); context == "" {
			context = doc.IDOf(o["object"])
		}
	}
	return typ, object, context
}

// DefaultLease is how long a worker holds the deliveries it claimed before
// another may take them: short, and renewed every third of it while the
// worker still works on them (a batch may take a while at the client's
// timeout of 30 s a delivery), so that a row is never delivered by two
// workers at once unless one has died — and that a lease stranded by a
// connection to the database lost at the wrong moment (a claim committed
// whose answer never came back) holds its rows a minute, not minutes.
const DefaultLease = time.Minute

// enqueue queues activity for each inbox inside tx: the caller's change
// and its federation commit together (save first, then publish). Queuing
// the same activity to the same inbox twice queues it once.
func (s *Service) enqueue(ctx context.Context, tx *gorm.DB, activity map[string]any, inboxes []string) error {
	id, _ := activity["id"].(string)
	if id == "" {
		return fmt.Errorf("federation: an activity without id")
	}
	body, err := json.Marshal(activity)
	if err != nil {
		return fmt.Errorf("federation: encode %s: %w", id, err)
	}
	now := time.Now().UTC()
	typ, object, context := aboutOf(activity)
	rows := make([]outboxRow, 0, len(inboxes))
	for _, in := range inboxes {
		rows = append(rows, outboxRow{ActivityID: id, Inbox: in, Body: string(body), State: "pending",
			NextAttemptAt: now, CreatedAt: now, Type: typ, ObjectID: object, ContextID: context})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return fmt.Errorf("federation: queue %s: %w", id, err)
	}
	return nil
}

// peerInboxes are the shared inboxes of every peer: coopnet nodes receive
// at their node actor's inbox.
func (s *Service) peerInboxes() []string {
	out := make([]string, 0, len(s.peers))
	for _, base := range s.peers {
		out = append(out, base+"/actor/inbox")
	}
	return out
}

// Wake tells the delivery workers that work was queued (after a commit).
func (s *Service) Wake() { s.wake.Poke() }

func (s *Service) deliverLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			rows, err := s.claim(ctx, claimBatch)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("delivery: claim", "err", err)
				}
				break
			}
			if len(rows) == 0 {
				break
			}
			batchStart := time.Now()
			stopRenew := s.renewLeases(ctx, rows)
			var delivered, released []int64
			var statuses []int
			down := map[string]bool{} // peers that did not answer in this batch
			for _, row := range rows {
				host, _ := keyHost(row.Inbox)
				if down[host] {
					released = append(released, row.ID) // not tried: back to its schedule
					continue
				}
				ok, status := s.deliver(ctx, row)
				switch {
				case ok:
					delivered, statuses = append(delivered, row.ID), append(statuses, status)
				case status == 0 || status >= 500 || status == http.StatusTooManyRequests:
					down[host] = true
				}
			}
			stopRenew()
			s.recordDelivered(ctx, delivered, statuses)
			if len(released) > 0 {
				// Not now: the next claim would take them again at once
				// (unless the peer said it is back meanwhile).
				next := time.Now().UTC().Add(s.backoff(1))
				for host := range down {
					if s.backSince(host, batchStart) {
						next = time.Now().UTC()
					}
				}
				if err := s.untilRecorded(ctx, func(db *gorm.DB) error {
					return db.Exec("UPDATE federation_outbox SET lease_until = NULL, next_attempt_at = ? WHERE id IN ?",
						next, released).Error
				}); err != nil {
					s.log.Warn("delivery: release", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// claimBatch is how many deliveries a worker leases at once: one
// statement for several, and the deliveries that worked recorded together.
const claimBatch = 8

// claim leases up to n due deliveries, in the outbox queue's one way.
func (s *Service) claim(ctx context.Context, n int) ([]outboxRow, error) {
	var rows []outboxRow
	if err := s.outboxQ.Lease(ctx, n, s.cfg.Lease, "id, activity_id, inbox, body, attempts, created_at", &rows); err != nil {
		return nil, fmt.Errorf("federation: claim deliveries: %w", err)
	}
	slices.SortFunc(rows, func(a, b outboxRow) int { return cmp.Compare(a.ID, b.ID) })
	return rows, nil
}

// recordDelivered marks deliveries that landed, in one statement per
// status. If the node dies before, they are delivered again after their
// lease: the peer stores an activity once.
func (s *Service) recordDelivered(ctx context.Context, ids []int64, statuses []int) {
	byStatus := map[int][]int64{}
	for i, id := range ids {
		byStatus[statuses[i]] = append(byStatus[statuses[i]], id)
	}
	now := time.Now().UTC()
	for status, ids := range byStatus {
		err := s.untilRecorded(ctx, func(db *gorm.DB) error {
			return db.Exec(`UPDATE federation_outbox
			SET state = 'delivered', done_at = ?, last_error = '', last_status = ?, attempts = attempts + 1, lease_until = NULL
			WHERE id IN ?`, now, status, ids).Error
		})
		if err != nil {
			s.log.Error("delivery: record deliveries", "count", len(ids), "err", err)
		}
	}
}

// deliver makes one attempt, signed afresh. A delivery that landed is
// reported (ok) for the caller to record; any other outcome is recorded
// here.
func (s *Service) deliver(ctx context.Context, row outboxRow) (ok bool, status int) {
	start := time.Now()
	status, err := s.post(ctx, row.Inbox, []byte(row.Body))
	s.metrics.deliveryLatency.Observe(time.Since(start).Seconds())
	now := time.Now().UTC()
	host, _ := keyHost(row.Inbox)
	upd := map[string]any{"attempts": row.Attempts + 1, "last_status": status, "lease_until": nil}
	result := ""
	switch {
	case err == nil && status >= 200 && status < 300:
		result = "delivered"
	case err == nil && status == http.StatusGone:
		upd["state"], upd["done_at"], upd["last_error"] = "gone", now, "410 Gone"
		result = "gone"
	case err == nil && status >= 400 && status < 500 && status != http.StatusTooManyRequests &&
		status != http.StatusRequestTimeout:
		// Refused for good: retrying the same bytes would be refused again.
		upd["state"], upd["done_at"], upd["last_error"] = "failed", now, fmt.Sprintf("refused: %d", status)
		result = "refused"
	default:
		msg := fmt.Sprintf("status %d", status)
		if err != nil {
			msg = err.Error()
		}
		upd["last_error"] = truncate(msg, 500)
		if now.Sub(row.CreatedAt) > s.cfg.Retry.GiveUpAfter {
			upd["state"], upd["done_at"] = "failed", now
			result = "expired"
		} else {
			next := now.Add(s.backoff(row.Attempts + 1))
			if s.backSince(host, start) {
				// The peer said it is back while this attempt was under way
				// (it was starting): the rescheduling it caused missed this
				// row, leased then.
				next = now
			}
			upd["next_attempt_at"] = next
			result = "retry"
		}
	}
	s.metrics.deliveries.WithLabelValues(result).Inc()
	s.peerOutcome(ctx, host, result == "delivered" || result == "refused" || result == "gone")
	if result == "delivered" {
		return true, status
	}
	if err := s.untilRecorded(ctx, func(db *gorm.DB) error {
		return db.Model(&outboxRow{}).Where("id = ?", row.ID).Updates(upd).Error
	}); err != nil {
		s.log.Error("delivery: record outcome", "activity", row.ActivityID, "inbox", row.Inbox, "err", err)
	}
	s.log.Info("delivery", "activity", row.ActivityID, "inbox", row.Inbox, "result", result, "status", status,
		"attempt", row.Attempts+1, "err", upd["last_error"])
	return false, status
}

// renewLeases keeps the lease of rows while their worker delivers them,
// until the returned stop is called.
func (s *Service) renewLeases(ctx context.Context, rows []outboxRow) (stop func()) {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(s.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				// Only rows still leased: one recorded meanwhile has none.
				if err := s.db.WithContext(ctx).Exec("UPDATE federation_outbox SET lease_until = ? WHERE id IN ? AND lease_until IS NOT NULL",
					time.Now().UTC().Add(s.cfg.Lease), ids).Error; err != nil {
					s.log.Warn("delivery: renew leases", "err", err)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// recordFor bounds how long a worker keeps trying to record what became
// of its deliveries while the database does not answer; past that, their
// leases run out and they are delivered again (the peer stores an
// activity once).
const recordFor = 2 * time.Minute

// untilRecorded runs f on the database until it works: at once, then
// again with growing waits while the database is unavailable (a broken
// connection, a restart), for up to recordFor, or until the node stops.
// A delivery that landed is then recorded as soon as the database is
// back, rather than delivered again a lease later.
func (s *Service) untilRecorded(ctx context.Context, f func(db *gorm.DB) error) error {
	db := s.db.WithContext(context.WithoutCancel(ctx))
	deadline := time.Now().Add(recordFor)
	wait := 50 * time.Millisecond
	for {
		err := storage.Retry(func() error { return f(db) })
		if err == nil || !storage.IsUnavailable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// backoff is the wait before attempt n+1: First·2ⁿ⁻¹ capped at Max, ±25%.
func (s *Service) backoff(n int) time.Duration {
	return queue.Backoff{First: s.cfg.Retry.First, Max: s.cfg.Retry.Max}.After(n)
}

// peerOutcome tracks whether a peer answers: one failing for longer than
// UnavailableAfter is marked unavailable (its deliveries wait at the
// longest back-off) until it answers or sends a signed request again.
func (s *Service) peerOutcome(ctx context.Context, host string, answered bool) {
	if _, ok := s.peers[host]; !ok {
		return
	}
	s.seenMu.Lock()
	healthy := s.healthy[host]
	s.healthy[host] = answered
	s.seenMu.Unlock()
	if answered && healthy {
		return // known to be recorded as working: spare the database
	}
	if !answered {
		s.forgetSeen(host)
	}
	db := s.db.WithContext(context.WithoutCancel(ctx)).Model(&peerRow{}).Where("host = ?", host)
	now := time.Now().UTC()
	var err error
	if answered {
		err = db.Where("failing_since IS NOT NULL OR unavailable").
			Updates(map[string]any{"failing_since": nil, "unavailable": false}).Error
		if err != nil {
			s.seenMu.Lock()
			s.healthy[host] = false
			s.seenMu.Unlock()
		}
	} else {
		err = db.Where("failing_since IS NULL").Update("failing_since", now).Error
		if err == nil {
			err = s.db.WithContext(context.WithoutCancel(ctx)).Model(&peerRow{}).
				Where("host = ? AND NOT unavailable AND failing_since < ?", host, now.Add(-s.cfg.Retry.UnavailableAfter)).
				Update("unavailable", true).Error
		}
	}
	if err != nil {
		s.log.Warn("peer state", "peer", host, "err", err)
	}
}

// post sends one signed POST and returns the status.
func (s *Service) post(ctx context.Context, inbox string, body []byte) (int, error) {
	kp, err := s.keys.get(ctx, "node")
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, inbox, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", doc.MediaLD)
	req.Header.Set("Accept", doc.MediaActivity)
	req.Header.Set("User-Agent", s.userAgent())
	if err := sign(req, kp, s.NodeActor()+"#main-key", body, time.Now()); err != nil {
		return 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// QueueDepth is how many deliveries wait.
func (s *Service) QueueDepth(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&outboxRow{}).Where("state = 'pending'").Count(&n).Error
	return n, err
}

// DeliveryStates counts the outbox's rows by state (tests, operators).
func (s *Service) DeliveryStates(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		State string
		N     int64
	}
	if err := s.db.WithContext(ctx).Model(&outboxRow{}).Select("state, COUNT(*) AS n").Group("state").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[strings.TrimSpace(r.State)] = r.N
	}
	return out, nil
}
