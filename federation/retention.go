package federation

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/inbox"
	"github.com/coopnet/coopnet/federation/transport"
	"github.com/coopnet/coopnet/services/tickets"
)

// ResolvedRetention is how long the node of a job's assignee keeps the
// client's contact once the job is resolved, if the ticket's node neither
// closes nor reopens it: past that, the copy keeps what a closed job keeps
// (no contact person, the place to 0.1°, no places in the interventions).
// A reopening brings the contact back with the ticket's state.
const ResolvedRetention = 30 * 24 * time.Hour

// retentionLoop applies ResolvedRetention and the activity retention once
// an hour.
func (s *Service) retentionLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := s.ForgetResolved(ctx, time.Now().Add(-ResolvedRetention)); err != nil && ctx.Err() == nil {
			s.log.Error("forget the contacts of resolved jobs", "err", err)
		}
		if _, _, err := s.PurgeActivities(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Error("purge old activities", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ForgetResolved ends what this node holds of the clients of the copies of
// other regions' tickets resolved (and unchanged) since before, and reports
// how many it did.
func (s *Service) ForgetResolved(ctx context.Context, before time.Time) (int, error) {
	if s.tickets == nil {
		return 0, nil
	}
	// The copies' clients that still carry a contact, then those of their
	// tickets resolved long ago: a client's copy belongs to one ticket.
	withContact, err := s.clients.CopiesWithContact(ctx)
	if err != nil {
		return 0, fmt.Errorf("federation: resolved jobs: %w", err)
	}
	rows, err := s.tickets.ResolvedCopies(ctx, withContact, before, 500)
	if err != nil {
		return 0, fmt.Errorf("federation: resolved jobs: %w", err)
	}
	done, failed := 0, 0
	for _, r := range rows {
		forgot := false
		err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			// The client, then the ticket, as the inbox writes them: a
			// reopening applied meanwhile is seen below, not undone.
			if err := s.clients.Lock(ctx, r.ClientID); err != nil {
				return err
			}
			if err := s.tickets.Lock(ctx, r.ID); err != nil {
				return err
			}
			t, err := s.tickets.ByID(ctx, r.ID)
			if err != nil || t.Status != tickets.StatusResolved || !t.UpdatedAt.Before(before) {
				return err // changed meanwhile: left for the next round
			}
			forgot = true
			return s.jobOver(ctx, tx, t)
		})
		switch {
		case err != nil:
			// One that fails is tried again next time; the others go on.
			failed++
			s.log.Warn("forget the client of a resolved job", "ticket", r.ID, "err", err)
		case forgot:
			done++
		}
	}
	if failed > 0 {
		return done, fmt.Errorf("federation: the clients of %d resolved jobs could not be forgotten (see the warnings)", failed)
	}
	return done, nil
}

// Defaults of the activity retention (Config.BodyRetention,
// Config.RecordRetention).
const (
	// DefaultBodyRetention is how long a received activity's raw body is
	// kept once applied (or set aside), and a sent one's once delivered
	// (or given up): an audit window to see what came and went.
	DefaultBodyRetention = 7 * 24 * time.Hour
	// DefaultRecordRetention is how long the rest of the row is kept: the
	// ids, digest, actor, type and times that de-duplication needs (a peer
	// retries for two days at most) and that a client's export shows
	// (which nodes received what, when).
	DefaultRecordRetention = 400 * 24 * time.Hour
)

// purgeBatch bounds one statement of PurgeActivities, so that a first run
// over a long history does not hold a lock for long.
const purgeBatch = 1000

// PurgeActivities empties the bodies of activities received and applied
// (or set aside), and sent and delivered (or given up), longer than the
// body retention ago, and deletes the rows older than the record
// retention. Activities still to apply or deliver keep their bodies. It
// reports how many bodies were emptied and rows deleted.
func (s *Service) PurgeActivities(ctx context.Context, now time.Time) (emptied, deleted int64, err error) {
	bodyBefore, recordBefore := now.UTC().Add(-s.cfg.BodyRetention), now.UTC().Add(-s.cfg.RecordRetention)
	received, applied := inbox.PurgeSteps(now, bodyBefore, recordBefore, purgeBatch)
	sent, gone := transport.PurgeSteps(now, bodyBefore, recordBefore, purgeBatch)
	steps := []struct {
		q     string
		args  []any
		count *int64
	}{
		{received.SQL, received.Args, &emptied},
		{sent.SQL, sent.Args, &emptied},
		{applied.SQL, applied.Args, &deleted},
		{gone.SQL, gone.Args, &deleted},
	}
	for _, st := range steps {
		for {
			var res *gorm.DB
			err := s.inbox.Writing(func() error {
				res = s.db.WithContext(ctx).Exec(st.q, st.args...)
				return res.Error
			})
			if err != nil {
				return emptied, deleted, fmt.Errorf("federation: purge activities: %w", err)
			}
			*st.count += res.RowsAffected
			if res.RowsAffected < purgeBatch {
				break
			}
		}
	}
	return emptied, deleted, nil
}
