package federation

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/tickets"
)

// ResolvedRetention is how long the node of a job's assignee keeps the
// client's contact once the job is resolved, if the ticket's node neither
// closes nor reopens it: past that, the copy keeps what a closed job keeps
// (no contact person, the place to 0.1°, no places in the interventions).
// A reopening brings the contact back with the ticket's state.
const ResolvedRetention = 30 * 24 * time.Hour

// retentionLoop applies ResolvedRetention once an hour.
func (s *Service) retentionLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := s.ForgetResolved(ctx, time.Now().Add(-ResolvedRetention)); err != nil && ctx.Err() == nil {
			s.log.Error("forget the contacts of resolved jobs", "err", err)
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
	var rows []struct{ ID, ClientID string }
	err := s.db.WithContext(ctx).Raw(`SELECT t.id, t.client_id FROM tickets t JOIN clients c ON c.id = t.client_id
		WHERE t.origin_region <> ? AND t.status = 'resolved' AND t.updated_at < ? AND c.origin_ap_id = t.ap_id
		AND (c.contact_name <> '' OR c.contact_email <> '' OR c.contact_phone <> '') ORDER BY t.updated_at LIMIT 500`,
		s.cfg.Region, before.UTC()).Scan(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("federation: resolved jobs: %w", err)
	}
	done, failed := 0, 0
	for _, r := range rows {
		forgot := false
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if s.db.Dialect == migrations.Postgres {
				// The client, then the ticket, as the inbox writes them: a
				// reopening applied meanwhile is seen below, not undone.
				if err := tx.Exec("SELECT id FROM clients WHERE id = ? FOR UPDATE", r.ClientID).Error; err != nil {
					return err
				}
				if err := tx.Exec("SELECT id FROM tickets WHERE id = ? FOR UPDATE", r.ID).Error; err != nil {
					return err
				}
			}
			t, err := s.tickets.GetTx(ctx, tx, r.ID)
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
