package members

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
)

// ErasedName is the name an erased member's records keep.
const ErasedName = "Ancien membre"

// Deactivate records that a member left the coop: they can no longer log
// in, their sessions and tokens stop working at once (on this replica; on
// others within TokenCacheTTL), they get no more offers, and every peer
// removes them from its directory (a listener of MemberChanged, in the same
// transaction). by is an administrator (nil: the node's command line).
// Their pending offers and jobs go back to the routing (routing sweeps
// inactive members). Deactivating twice is a no-op.
func (s *Service) Deactivate(ctx context.Context, by *Actor, id string) (*Member, error) {
	if by != nil && by.Role != Admin {
		return nil, apperr.New(apperr.Forbidden, "only an administrator deactivates a member")
	}
	if by != nil && by.ID == id {
		return nil, apperr.New(apperr.Conflict, "you cannot deactivate yourself: ask another administrator")
	}
	m, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !m.Active {
		return m, nil
	}
	now := storage.Now()
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		res := tx.Model(&Member{}).Where("id = ? AND active", id).
			Updates(map[string]any{"active": false, "deactivated_at": now, "version": gorm.Expr("version + 1"), "updated_at": now})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		if err := tx.Where("member_id = ?", id).Delete(&apiToken{}).Error; err != nil {
			return err
		}
		if err := tx.Where("member_id = ?", id).Delete(&skillProposal{}).Error; err != nil {
			return err
		}
		return s.changedWithin(ctx, tx, id)
	})
	if err != nil {
		return nil, fmt.Errorf("members: deactivate %s: %w", id, err)
	}
	s.forgetTokens()
	s.log.Info("member deactivated", "member", id)
	return s.Get(ctx, id)
}

// Erase anonymises, in the transaction ctx carries, what this node holds of a member who left
// the coop: name, e-mail, home place, skills and proposals; the password
// is made unusable. Their handle and id stay, as the pseudonym their work
// is recorded under (tickets, time, history: the coop's figures).
func (s *Service) Erase(ctx context.Context, id string) error {
	tx := s.db.Conn(ctx)
	var m Member
	if err := tx.WithContext(ctx).Where("id = ?", id).Take(&m).Error; err != nil {
		return apperr.NotFoundf("no member %q on this node", id)
	}
	if m.Active {
		return apperr.New(apperr.Conflict, "deactivate the member before erasing their data")
	}
	now := storage.Now()
	err := tx.WithContext(ctx).Model(&Member{}).Where("id = ?", id).Updates(map[string]any{
		"name": ErasedName, "email": "erased-" + id + "@invalid", "password_hash": "!", "postcode": "", "commune": "",
		"departement": "", "lat": nil, "lon": nil, "location_precise": false, "erased_at": now, "updated_at": now,
		"version": gorm.Expr("version + 1")}).Error
	if err != nil {
		return err
	}
	for _, t := range []any{&memberSkill{}, &skillProposal{}, &apiToken{}} {
		if err := tx.WithContext(ctx).Where("member_id = ?", id).Delete(t).Error; err != nil {
			return err
		}
	}
	s.forgetTokens()
	return nil
}

// Left is what a member's export says of their life in the coop.
type Left struct {
	DeactivatedAt *time.Time `json:"deactivated_at"`
	ErasedAt      *time.Time `json:"erased_at"`
}
