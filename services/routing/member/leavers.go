package member

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
)

// declinedLeft is the reason of an offer declined because its member left
// the coop.
const declinedLeft = "left"

// leaversEvery is how often the routing looks for what members who left
// the coop still hold (besides being asked at once, see SweepLeavers).
const leaversEvery = time.Minute

// leaverReason is the reason of a job given back for a member who left.
const leaverReason = "A quitté la coopérative / left the cooperative"

// SweepLeavers ends what members of this node who left the coop still
// hold: their pending offers are declined (their jobs go to the next
// candidates at once) and the jobs they had accepted are given back, as
// they would give them back themselves, so that they go to the next
// candidates of their searches. What cannot be done now (the node of a
// job's ticket does not answer) is done at a later sweep. It reports how
// many offers and jobs it ended.
func (s *Service) SweepLeavers(ctx context.Context) (offers, jobs int, err error) {
	// The members who hold a skill are cached for a moment: one who just
	// left must not be proposed again meanwhile.
	s.holdMu.Lock()
	s.holdCache = map[string]cachedHolders{}
	s.holdMu.Unlock()
	left, err := s.members.Left(ctx)
	if err != nil || len(left) == 0 {
		return 0, 0, err
	}
	ids := make([]string, len(left))
	for i, m := range left {
		ids[i] = m.ID
	}
	var pending []*Offer
	if err := s.db.WithContext(ctx).Where("member_id IN ? AND state = 'pending'", ids).Order("created_at").
		Find(&pending).Error; err != nil {
		return 0, 0, fmt.Errorf("routing: offers of members who left: %w", err)
	}
	var errs []error
	for _, o := range pending {
		err := s.relay.InTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			declined, err := s.declineTx(ctx, tx, o, declinedLeft)
			if declined {
				offers++
			}
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("decline offer %s: %w", o.ID, err))
		}
	}
	if offers > 0 {
		s.book.invalidate()
	}
	type held struct {
		ticketID string
		as       members.Actor
	}
	var jobsHeld []held
	for _, m := range left {
		ids, err := s.tickets.AssignedTo(ctx, m.ID, ReleasableStatuses)
		if err != nil {
			return offers, 0, fmt.Errorf("routing: jobs of members who left: %w", err)
		}
		m.Role = members.Technician // giving a job back as its technician would
		for _, id := range ids {
			jobsHeld = append(jobsHeld, held{ticketID: id, as: m})
		}
	}
	for _, h := range jobsHeld {
		_, err := s.Release(ctx, h.as, h.ticketID, leaverReason)
		switch {
		case err == nil:
			jobs++
		case apperr.CodeOf(err) == apperr.Conflict:
			// Not routed through the network (their own region's job given
			// by hand): for staff to hand on; nothing to retry.
			s.log.Info("routing: a job of a member who left is not a routed one", "ticket", h.ticketID, "err", err)
		default:
			errs = append(errs, fmt.Errorf("give back ticket %s: %w", h.ticketID, err))
		}
	}
	return offers, jobs, errors.Join(errs...)
}

// LeaversLoop sweeps what members who left still hold, every leaversEvery.
func (s *Service) LeaversLoop(ctx context.Context) {
	t := time.NewTicker(leaversEvery)
	defer t.Stop()
	for {
		if _, _, err := s.SweepLeavers(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("routing: what members who left hold; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
