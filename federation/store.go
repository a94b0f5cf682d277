package federation

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/coopnet/coopnet/migrations"
)

// Group commit of received activities. Every activity is stored before it
// is answered 202; on a busy inbox, the activities that arrive while one
// batch is being written go in the next, as one multi-row INSERT and one
// commit (one WAL flush), rather than one transaction each. The first
// request to find nobody writing writes; the others wait for their batch.

// maxStoreBatch bounds one INSERT.
const maxStoreBatch = 128

type storeReq struct {
	row      inboxRow
	inserted bool
	err      error
	done     chan struct{} // closed when the request's batch is written
	turn     chan struct{} // closed when the request is to write the next batch
}

type storeBatcher struct {
	mu      sync.Mutex
	pending []*storeReq
	writing bool
}

// storeActivity stores a received activity once (its id is unique) and
// reports whether it was new.
func (s *Service) storeActivity(ctx context.Context, row inboxRow) (bool, error) {
	req := &storeReq{row: row, done: make(chan struct{}), turn: make(chan struct{})}
	b := &s.batch
	b.mu.Lock()
	b.pending = append(b.pending, req)
	lead := !b.writing
	if lead {
		b.writing = true
	}
	b.mu.Unlock()
	if !lead {
		select {
		case <-req.done:
			return req.inserted, req.err
		case <-req.turn:
		}
	}
	// This request writes the batch it is in (and everything waiting).
	b.mu.Lock()
	n := min(len(b.pending), maxStoreBatch)
	reqs := b.pending[:n:n]
	b.pending = b.pending[n:]
	b.mu.Unlock()
	s.writeBatch(context.WithoutCancel(ctx), reqs)
	for _, r := range reqs {
		close(r.done)
	}
	// Hand over to the first request waiting, if any.
	b.mu.Lock()
	if len(b.pending) > 0 {
		close(b.pending[0].turn)
	} else {
		b.writing = false
	}
	b.mu.Unlock()
	<-req.done
	return req.inserted, req.err
}

// writeBatch inserts the rows of reqs in one statement, skipping those
// whose activity id is already stored, and records each one's outcome.
func (s *Service) writeBatch(ctx context.Context, reqs []*storeReq) {
	var q strings.Builder
	q.WriteString("INSERT INTO federation_inbox (activity_id, actor, type, body, digest, state, attempts, last_error, received_at) VALUES ")
	args := make([]any, 0, 6*len(reqs))
	seen := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		if seen[r.row.ActivityID] {
			continue // the same activity twice in one batch: stored once
		}
		seen[r.row.ActivityID] = true
		if len(args) > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, 'pending', 0, '', ?)")
		args = append(args, r.row.ActivityID, r.row.Actor, r.row.Type, r.row.Body, r.row.Digest, r.row.ReceivedAt.UTC())
	}
	q.WriteString(" ON CONFLICT (activity_id) DO NOTHING RETURNING activity_id")
	defer s.lockInboxWrites()()
	rows, err := s.db.WithContext(ctx).Raw(q.String(), args...).Rows()
	if err != nil {
		err = fmt.Errorf("federation: store %d activities: %w", len(seen), err)
		for _, r := range reqs {
			r.err = err
		}
		return
	}
	defer rows.Close()
	inserted := make(map[string]bool, len(reqs))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err == nil {
			inserted[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		for _, r := range reqs {
			r.err = fmt.Errorf("federation: store activities: %w", err)
		}
		return
	}
	for _, r := range reqs {
		if inserted[r.row.ActivityID] {
			r.inserted = true
			delete(inserted, r.row.ActivityID) // a duplicate within the batch is not new
		}
	}
}

// inboxWriting runs f holding inboxWrites (see lockInboxWrites).
func (s *Service) inboxWriting(f func() error) error {
	defer s.lockInboxWrites()()
	return f()
}

// lockInboxWrites takes inboxWrites on SQLite (one writer at a time is
// SQLite's rule anyway) and returns its unlock; on PostgreSQL, where
// writers proceed side by side, it does nothing.
func (s *Service) lockInboxWrites() func() {
	if s.db.Dialect != migrations.SQLite {
		return func() {}
	}
	s.inboxWrites.Lock()
	return s.inboxWrites.Unlock
}
