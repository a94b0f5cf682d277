package members

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// TokenKind tells a login session from a long-lived API token.
type TokenKind string

// Token kinds.
const (
	SessionToken TokenKind = "session"
	APIToken     TokenKind = "api"
)

// tokenPrefix makes coopnet tokens recognisable to secret scanners.
const tokenPrefix = "cn_"

type apiToken struct {
	ID        string
	MemberID  string
	TokenHash string
	Kind      TokenKind
	Label     string
	CreatedAt time.Time
	ExpiresAt *time.Time
}

func (apiToken) TableName() string { return "api_tokens" }

// ErrBadCredentials is returned by Login for a wrong e-mail or password; it
// does not say which.
var ErrBadCredentials = apperr.New(apperr.Unauthorised, "wrong e-mail address or password")

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Login checks an e-mail address and password and opens a session. It
// returns the session token (shown once, stored only hashed) and the member.
func (s *Service) Login(ctx context.Context, email, password string) (string, *Member, error) {
	var v apperr.Validation
	if validate.Email(&v, "email", email, true); v.Err() != nil {
		_ = bcrypt.CompareHashAndPassword(s.dummyPW, []byte(password))
		return "", nil, ErrBadCredentials
	}
	m, err := s.GetByEmail(ctx, email)
	if apperr.CodeOf(err) == apperr.NotFound {
		_ = bcrypt.CompareHashAndPassword(s.dummyPW, []byte(password))
		return "", nil, ErrBadCredentials
	}
	if err != nil {
		return "", nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(m.PasswordHash), []byte(password)) != nil || !m.Active {
		return "", nil, ErrBadCredentials
	}
	token, err := s.IssueToken(ctx, m.ID, SessionToken)
	if err != nil {
		return "", nil, err
	}
	return token, m, nil
}

// IssueToken creates a new token for a member. Session tokens expire after
// the configured session lifetime; API tokens last until revoked.
func (s *Service) IssueToken(ctx context.Context, memberID string, kind TokenKind) (string, error) {
	tok, _, err := s.issue(ctx, memberID, kind, "", 0)
	return tok, err
}

// issue creates a token: a session (lasting the session lifetime) or an
// API token with a label, lasting ttl (0: until revoked). Only an active
// member gets one.
func (s *Service) issue(ctx context.Context, memberID string, kind TokenKind, label string, ttl time.Duration) (string, TokenInfo, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", TokenInfo{}, fmt.Errorf("members: token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := storage.Now()
	row := apiToken{ID: storage.NewID(), MemberID: memberID, TokenHash: hashToken(token), Kind: kind, Label: label, CreatedAt: now}
	if kind == SessionToken {
		ttl = s.cfg.SessionTTL
	}
	if ttl > 0 {
		exp := now.Add(ttl)
		row.ExpiresAt = &exp
	}
	err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var active bool
		if err := tx.Raw("SELECT active FROM members WHERE id = ?", memberID).Row().Scan(&active); err != nil || !active {
			return ErrInactive
		}
		return tx.Create(&row).Error
	})
	if errors.Is(err, ErrInactive) {
		return "", TokenInfo{}, apperr.New(apperr.Conflict, "this member left the coop: no token for them")
	}
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("members: store token: %w", err)
	}
	return token, TokenInfo{ID: row.ID, Kind: kind, Label: label, CreatedAt: now, ExpiresAt: row.ExpiresAt}, nil
}

// Authenticate returns the actor a token belongs to.
func (s *Service) Authenticate(ctx context.Context, token string) (Actor, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 100 {
		return Actor{}, apperr.New(apperr.Unauthorised, "invalid or expired token")
	}
	h := hashToken(token)
	now := time.Now()
	if s.cfg.TokenCacheTTL > 0 {
		s.cacheMu.Lock()
		c, ok := s.cache[h]
		s.cacheMu.Unlock()
		if ok && now.Before(c.expires) {
			return c.actor, nil
		}
	}
	var row struct {
		ID, Handle, Name string
		Role             Role
		Active           bool
	}
	err := s.db.WithContext(ctx).Table("api_tokens t").
		Select("m.id, m.handle, m.name, m.role, m.active").
		Joins("JOIN members m ON m.id = t.member_id").
		Where("t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)", h, now.UTC()).
		Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !row.Active) {
		return Actor{}, apperr.New(apperr.Unauthorised, "invalid or expired token")
	}
	if err != nil {
		return Actor{}, fmt.Errorf("members: authenticate: %w", err)
	}
	a := Actor{ID: row.ID, Handle: s.FullHandle(row.Handle), Name: row.Name, Role: row.Role}
	if s.cfg.TokenCacheTTL > 0 {
		s.cacheMu.Lock()
		if len(s.cache) > 10000 { // bounded: drop everything rather than grow
			s.cache = map[string]cachedActor{}
		}
		s.cache[h] = cachedActor{actor: a, expires: now.Add(s.cfg.TokenCacheTTL)}
		s.cacheMu.Unlock()
	}
	return a, nil
}

// Revoke deletes a token (logout). Unknown tokens are ignored.
func (s *Service) Revoke(ctx context.Context, token string) error {
	h := hashToken(token)
	s.cacheMu.Lock()
	delete(s.cache, h)
	s.cacheMu.Unlock()
	if err := s.db.WithContext(ctx).Where("token_hash = ?", h).Delete(&apiToken{}).Error; err != nil {
		return fmt.Errorf("members: revoke: %w", err)
	}
	return nil
}
