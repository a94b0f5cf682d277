package members

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// MaxTokenDays bounds the life of an API token given an expiry.
const MaxTokenDays = 3660

// checkPassword validates a new password.
func checkPassword(v *apperr.Validation, field, pw string) {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		v.Reject(field, "min_chars", "must be at least %d characters", MinPasswordLen)
	} else if len(pw) > MaxPasswordLen {
		v.Reject(field, "max_bytes", "must be at most %d bytes", MaxPasswordLen)
	}
}

// ChangePassword changes the actor's own password, given the current one,
// and ends their other sessions (not their API tokens, which they list and
// revoke apart): someone who knew the old password is logged out.
// keepToken is the session the change is made from ("" for none).
func (s *Service) ChangePassword(ctx context.Context, by Actor, current, next, keepToken string) error {
	var v apperr.Validation
	if current == "" {
		v.Reject("current_password", "required", "is required")
	}
	checkPassword(&v, "new_password", next)
	if err := v.Err(); err != nil {
		return err
	}
	m, err := s.Get(ctx, by.ID)
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(m.PasswordHash), []byte(current)) != nil {
		return &apperr.Error{Code: apperr.Invalid, Message: "the current password is wrong",
			Fields:  map[string]string{"current_password": "is wrong"},
			Reasons: map[string]apperr.Reason{"current_password": {Code: "wrong_password"}}}
	}
	if current == next {
		return &apperr.Error{Code: apperr.Invalid, Message: "the new password is the current one",
			Fields:  map[string]string{"new_password": "is the current password"},
			Reasons: map[string]apperr.Reason{"new_password": {Code: "same_password"}}}
	}
	return s.setPassword(ctx, m.ID, next, hashToken(keepToken))
}

// ResetPassword sets a member's password from the node's command line (an
// administrator helping someone who lost theirs) and ends all their
// sessions.
func (s *Service) ResetPassword(ctx context.Context, email, password string) error {
	var v apperr.Validation
	checkPassword(&v, "password", password)
	if err := v.Err(); err != nil {
		return err
	}
	m, err := s.GetByEmail(ctx, email)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, m.ID, password, "")
}

// setPassword stores a new password hash and ends the member's sessions
// but the one whose token hash is keep.
func (s *Service) setPassword(ctx context.Context, memberID, password, keep string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	if err != nil {
		return fmt.Errorf("members: hash password: %w", err)
	}
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Model(&Member{}).Where("id = ?", memberID).
			Updates(map[string]any{"password_hash": string(hash), "updated_at": storage.Now()}).Error; err != nil {
			return err
		}
		return tx.Where("member_id = ? AND kind = ? AND token_hash <> ?", memberID, SessionToken, keep).Delete(&apiToken{}).Error
	})
	if err != nil {
		return fmt.Errorf("members: set password: %w", err)
	}
	s.forgetTokens()
	return nil
}

// forgetTokens empties the cache of authenticated tokens, so that a token
// deleted stops working at once on this replica (others ask the database
// again within TokenCacheTTL).
func (s *Service) forgetTokens() {
	s.cacheMu.Lock()
	s.cache = map[string]cachedActor{}
	s.cacheMu.Unlock()
}

// TokenInfo is one of a member's tokens, as they see it: never the token.
type TokenInfo struct {
	ID        string     `json:"id"`
	Kind      TokenKind  `json:"kind"`
	Label     string     `json:"label"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Current is the token or session the request was made with.
	Current bool `json:"current"`
}

// Tokens lists the actor's sessions and API tokens still valid, newest
// first; current is the token the request was made with.
func (s *Service) Tokens(ctx context.Context, by Actor, current string) ([]TokenInfo, error) {
	var rows []apiToken
	if err := s.db.WithContext(ctx).Where("member_id = ? AND (expires_at IS NULL OR expires_at > ?)", by.ID, time.Now().UTC()).
		Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("members: tokens: %w", err)
	}
	cur := hashToken(current)
	out := make([]TokenInfo, len(rows))
	for i, r := range rows {
		out[i] = TokenInfo{ID: r.ID, Kind: r.Kind, Label: r.Label, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt,
			Current: r.TokenHash == cur}
		if r.ExpiresAt != nil {
			e := r.ExpiresAt.UTC()
			out[i].ExpiresAt = &e
		}
	}
	return out, nil
}

// RevokeToken deletes one of the actor's tokens (or sessions) by its id.
func (s *Service) RevokeToken(ctx context.Context, by Actor, id string) error {
	if !storage.ValidID(id) {
		return apperr.NotFoundf("no token %q of yours", id)
	}
	res := s.db.WithContext(ctx).Where("id = ? AND member_id = ?", id, by.ID).Delete(&apiToken{})
	if res.Error != nil {
		return fmt.Errorf("members: revoke token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.NotFoundf("no token %q of yours", id)
	}
	s.forgetTokens()
	return nil
}

// NewTokenInput is an API token a member makes for a program of theirs.
type NewTokenInput struct {
	Label string
	// ExpiresInDays: 0 for a token that lasts until revoked.
	ExpiresInDays int
}

// CreateToken makes an API token for the actor; it returns the token
// (shown once) and what their list shows of it.
func (s *Service) CreateToken(ctx context.Context, by Actor, in NewTokenInput) (string, TokenInfo, error) {
	var v apperr.Validation
	label := validate.Text(&v, "label", in.Label, 1, 80, false)
	if in.ExpiresInDays < 0 || in.ExpiresInDays > MaxTokenDays {
		v.Reject("expires_in_days", "int_range", "must be between %d and %d", 0, MaxTokenDays)
	}
	if err := v.Err(); err != nil {
		return "", TokenInfo{}, err
	}
	var ttl time.Duration
	if in.ExpiresInDays > 0 {
		ttl = time.Duration(in.ExpiresInDays) * 24 * time.Hour
	}
	return s.issue(ctx, by.ID, APIToken, label, ttl)
}

// IssueTokenFor makes an API token for a member from the node's command
// line, with a label and an optional lifetime (0: until revoked).
func (s *Service) IssueTokenFor(ctx context.Context, memberID, label string, ttl time.Duration) (string, error) {
	tok, _, err := s.issue(ctx, memberID, APIToken, label, ttl)
	return tok, err
}

// ErrInactive is the error of an account that was deactivated.
var ErrInactive = errors.New("members: the member left the coop")
