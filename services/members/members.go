// Package members holds the coop's members on this node: technicians, coop
// staff and administrators, their skills, home location and capacity, and
// their credentials (passwords and API/session tokens).
package members

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
)

// Role is what a member may do on their node.
type Role string

// The roles. Staff see everything on their node; admins also manage admins.
const (
	Technician Role = "technician"
	Staff      Role = "staff"
	Admin      Role = "admin"
)

// Roles lists every role, for validation and documentation.
var Roles = []string{string(Technician), string(Staff), string(Admin)}

// IsStaff reports whether the role sees everything on the node.
func (r Role) IsStaff() bool { return r == Staff || r == Admin }

// SkillLevel is a member's level in one skill, 1 (beginner) to 5 (expert).
type SkillLevel struct {
	Name  string `json:"name"`
	Level int    `json:"level"`
}

// Member is a person of the coop registered on this node.
type Member struct {
	ID              string       `json:"id" gorm:"primaryKey"`
	Handle          string       `json:"handle"`
	Email           string       `json:"email"`
	Name            string       `json:"name"`
	Role            Role         `json:"role"`
	PasswordHash    string       `json:"-"`
	Postcode        string       `json:"postcode"`
	Commune         string       `json:"commune"`
	Departement     string       `json:"departement"`
	Lat             *float64     `json:"lat"`
	Lon             *float64     `json:"lon"`
	LocationPrecise bool         `json:"location_precise"`
	RadiusKm        int          `json:"radius_km"`
	RemoteOK        bool         `json:"remote_ok" gorm:"column:remote_ok"`
	WeeklyHours     int          `json:"weekly_hours"`
	Active          bool         `json:"active"`
	Version         int          `json:"version"`
	CreatedAt       time.Time    `json:"created_at"`
	UpdatedAt       time.Time    `json:"updated_at"`
	Skills          []SkillLevel `json:"skills" gorm:"-"`
	// ProposedSkills are levels the member proposed above those confirmed
	// (Skills, which the routing uses), waiting for staff.
	ProposedSkills []SkillLevel `json:"proposed_skills" gorm:"-"`
	DeactivatedAt  *time.Time   `json:"deactivated_at"`
	ErasedAt       *time.Time   `json:"erased_at,omitempty"`
	// Region and FullHandle are filled by the service from the node's config.
	Region     string `json:"region" gorm:"-"`
	FullHandle string `json:"full_handle" gorm:"-"`
}

// TableName maps Member to its table.
func (Member) TableName() string { return "members" }

type memberSkill struct {
	MemberID string
	Skill    string
	Level    int
}

func (memberSkill) TableName() string { return "member_skills" }

// Actor is the authenticated member behind a request: what every service
// needs to decide what may be seen or done.
type Actor struct {
	ID     string
	Handle string // full handle, name@host
	Name   string
	Role   Role
}

// Config is what the members service needs to know about its node.
type Config struct {
	Region string // e.g. "bretagne"
	Host   string // the node's public host, for handles name@host
	// BcryptCost is the password hashing cost; 0 means bcrypt.DefaultCost.
	// Tests lower it: hashing is slow on purpose.
	BcryptCost int
	// SessionTTL is how long a login session lasts; 0 means 30 days.
	SessionTTL time.Duration
	// TokenCacheTTL is how long an authenticated token is trusted without
	// asking the database again; 0 disables the cache.
	TokenCacheTTL time.Duration
}

// Service is the members domain.
type Service struct {
	db      *storage.DB
	skills  *skills.Catalog
	cfg     Config
	log     *slog.Logger
	dummyPW []byte
	// throttleKey is the HMAC key of login attempts (SetThrottleSecret).
	throttleKey []byte

	cacheMu sync.Mutex
	cache   map[string]cachedActor
}

// MemberChanged is published when a member is created or changed (their
// profile, their confirmed skills, their leaving), with the member as the
// transaction leaves them.
type MemberChanged struct{ Member *Member }

type cachedActor struct {
	actor   Actor
	expires time.Time
}

// New returns the members service.
func New(db *storage.DB, catalog *skills.Catalog, cfg Config, log *slog.Logger) *Service {
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	// A hash to compare against when the e-mail is unknown, so that a login
	// takes as long whether or not the account exists.
	dummy, _ := bcrypt.GenerateFromPassword([]byte("coopnet-no-such-member"), cfg.BcryptCost)
	return &Service{db: db, skills: catalog, cfg: cfg, log: log, dummyPW: dummy, cache: map[string]cachedActor{}}
}

// FullHandle returns handle@host for a local handle.
func (s *Service) FullHandle(handle string) string { return handle + "@" + s.cfg.Host }

func (s *Service) decorate(m *Member) {
	m.Region = s.cfg.Region
	m.FullHandle = s.FullHandle(m.Handle)
	if m.Skills == nil {
		m.Skills = []SkillLevel{}
	}
	if m.ProposedSkills == nil {
		m.ProposedSkills = []SkillLevel{}
	}
}

// Get returns a member of this node by id.
func (s *Service) Get(ctx context.Context, id string) (*Member, error) {
	if !storage.ValidID(id) {
		return nil, apperr.NotFoundf("no member %q on this node", id)
	}
	return s.getWhere(ctx, id, "id = ?", id)
}

// GetByHandle returns an active member by their local handle (the part
// before @).
func (s *Service) GetByHandle(ctx context.Context, handle string) (*Member, error) {
	if handle == "" || len(handle) > 64 {
		return nil, apperr.NotFoundf("no member %q on this node", handle)
	}
	return s.getWhere(ctx, handle, "handle = ? AND active", handle)
}

// Local returns the id and name of the active member of this node whose
// full handle (name@host) is h; ok is false for a member of another node,
// or none. One query, without the skills GetByHandle reads: for the hot
// paths that only need to know who someone is.
func (s *Service) Local(ctx context.Context, h string) (id, name string, ok bool, err error) {
	handle, mine := strings.CutSuffix(h, "@"+s.cfg.Host)
	if !mine || handle == "" || len(handle) > 64 {
		return "", "", false, nil
	}
	var rows []struct{ ID, Name string }
	if err := s.db.Conn(ctx).Raw("SELECT id, name FROM members WHERE handle = ? AND active", handle).Scan(&rows).Error; err != nil {
		return "", "", false, fmt.Errorf("members: who is %s: %w", h, err)
	}
	if len(rows) == 0 {
		return "", "", false, nil
	}
	return rows[0].ID, rows[0].Name, true, nil
}

// getWhere reads one member with their skills; key names them in errors.
func (s *Service) getWhere(ctx context.Context, key, cond string, args ...any) (*Member, error) {
	var m Member
	err := s.db.WithContext(ctx).Where(cond, args...).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFoundf("no member %q on this node", key)
	}
	if err != nil {
		return nil, fmt.Errorf("members: get %s: %w", key, err)
	}
	if err := s.loadSkills(ctx, s.db.Conn(ctx), []*Member{&m}); err != nil {
		return nil, err
	}
	if err := s.loadProposals(ctx, s.db.Conn(ctx), []*Member{&m}); err != nil {
		return nil, err
	}
	s.decorate(&m)
	return &m, nil
}

// GetByEmail returns a member by e-mail address.
func (s *Service) GetByEmail(ctx context.Context, email string) (*Member, error) {
	var m Member
	err := s.db.WithContext(ctx).Where("email = ?", normEmail(email)).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFoundf("no member with that e-mail address on this node")
	}
	if err != nil {
		return nil, fmt.Errorf("members: get by email: %w", err)
	}
	if err := s.loadSkills(ctx, s.db.Conn(ctx), []*Member{&m}); err != nil {
		return nil, err
	}
	s.decorate(&m)
	return &m, nil
}

// ListOptions filter and paginate List.
type ListOptions struct {
	Skill    string // only members with this skill …
	MinLevel int    // … at this level or above
	After    string // cursor: the last id of the previous page
	Limit    int
}

// List returns members ordered by id, a page at a time.
func (s *Service) List(ctx context.Context, opt ListOptions) ([]*Member, error) {
	q := s.db.WithContext(ctx).Model(&Member{}).Order("id").Limit(opt.Limit)
	if opt.After != "" {
		q = q.Where("id > ?", opt.After)
	}
	if opt.Skill != "" {
		q = q.Where("id IN (?)", s.db.Model(&memberSkill{}).Select("member_id").
			Where("skill = ? AND level >= ?", opt.Skill, max(opt.MinLevel, 1)))
	}
	var ms []*Member
	if err := q.Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("members: list: %w", err)
	}
	if err := s.loadSkills(ctx, s.db.Conn(ctx), ms); err != nil {
		return nil, err
	}
	for _, m := range ms {
		s.decorate(m)
	}
	return ms, nil
}

// ListedOptions filter and paginate Listed.
type ListedOptions struct {
	Skill    string // only members with this skill …
	MinLevel int    // … at this level or above
	After    string // cursor: the last full handle of the previous page
	Limit    int
}

// Listed returns the node's active members as the coop's directory lists
// them: ordered by full handle (name@host) in byte order, the order the
// directory merges them in with other regions' members, a page at a time.
func (s *Service) Listed(ctx context.Context, opt ListedOptions) ([]*Member, error) {
	full := "(handle || '@' || ?)"
	if s.db.Dialect == migrations.Postgres {
		full = `(handle || '@' || CAST(? AS TEXT)) COLLATE "C"`
	}
	q := s.db.Conn(ctx).Model(&Member{}).Where("active").Order(clause.OrderBy{Expression: clause.Expr{SQL: full, Vars: []any{s.cfg.Host}}}).Limit(opt.Limit)
	if opt.After != "" {
		q = q.Where(full+" > ?", s.cfg.Host, opt.After)
	}
	if opt.Skill != "" {
		q = q.Where("id IN (?)", s.db.Conn(ctx).Model(&memberSkill{}).Select("member_id").
			Where("skill = ? AND level >= ?", opt.Skill, max(opt.MinLevel, 1)))
	}
	var ms []*Member
	if err := q.Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("members: listed: %w", err)
	}
	if err := s.loadSkills(ctx, s.db.Conn(ctx), ms); err != nil {
		return nil, err
	}
	for _, m := range ms {
		s.decorate(m)
	}
	return ms, nil
}

// loadSkills fills in the members' skills, read through db (the service's
// database, or a transaction).
func (s *Service) loadSkills(ctx context.Context, db *gorm.DB, ms []*Member) error {
	if len(ms) == 0 {
		return nil
	}
	ids := make([]string, len(ms))
	byID := make(map[string]*Member, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
		byID[m.ID] = m
		m.Skills = []SkillLevel{}
	}
	var rows []memberSkill
	if err := db.WithContext(ctx).Where("member_id IN ?", ids).Order("skill").Find(&rows).Error; err != nil {
		return fmt.Errorf("members: load skills: %w", err)
	}
	for _, r := range rows {
		m := byID[r.MemberID]
		m.Skills = append(m.Skills, SkillLevel{Name: r.Skill, Level: r.Level})
	}
	return nil
}

// Count returns the number of members on this node.
func (s *Service) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Member{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("members: count: %w", err)
	}
	return n, nil
}

// ActiveID is the id of the active member of this node whose handle (the
// part before @) is handle, or "" when there is none, in the transaction
// ctx carries if any.
func (s *Service) ActiveID(ctx context.Context, handle string) (string, error) {
	var ids []string
	if err := s.db.Conn(ctx).Raw("SELECT id FROM members WHERE handle = ? AND active", handle).Scan(&ids).Error; err != nil {
		return "", fmt.Errorf("members: %s: %w", handle, err)
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

// Left lists the members of this node who left the coop (deactivated,
// not yet erased), as actors.
func (s *Service) Left(ctx context.Context) ([]Actor, error) {
	var rows []struct{ ID, Handle, Name, Role string }
	if err := s.db.Conn(ctx).Raw(`SELECT id, handle, name, role FROM members WHERE NOT active ORDER BY id`).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("members: who left: %w", err)
	}
	out := make([]Actor, len(rows))
	for i, r := range rows {
		out[i] = Actor{ID: r.ID, Handle: s.FullHandle(r.Handle), Name: r.Name, Role: Role(r.Role)}
	}
	return out, nil
}

// Capacity is an active technician of this node with their weekly hours:
// what the coop's workload figures count.
type Capacity struct {
	ID          string
	Name        string
	WeeklyHours int
}

// Technicians lists this node's active technicians.
func (s *Service) Technicians(ctx context.Context) ([]Capacity, error) {
	var out []Capacity
	if err := s.db.Conn(ctx).Raw(`SELECT id, name, weekly_hours FROM members WHERE active AND role = ?`, Technician).
		Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("members: technicians: %w", err)
	}
	return out, nil
}

// SessionTTL is how long a login session lasts.
func (s *Service) SessionTTL() time.Duration { return s.cfg.SessionTTL }

// SkillHolder is a member who has a skill, with what routing needs to know.
type SkillHolder struct {
	ID          string
	Handle      string // full handle
	Name        string
	Level       int
	Lat, Lon    *float64
	RadiusKm    int
	RemoteOK    bool
	WeeklyHours int
	Active      bool
}

// WithSkill returns the members of this node who have a skill, at any level.
func (s *Service) WithSkill(ctx context.Context, skill string) ([]SkillHolder, error) {
	var rows []struct {
		ID, Handle, Name string
		Level            int
		Lat, Lon         *float64
		RadiusKm         int
		RemoteOK         bool `gorm:"column:remote_ok"`
		WeeklyHours      int
		Active           bool
	}
	err := s.db.WithContext(ctx).Table("member_skills ms").
		Select("m.id, m.handle, m.name, ms.level, m.lat, m.lon, m.radius_km, m.remote_ok, m.weekly_hours, m.active").
		Joins("JOIN members m ON m.id = ms.member_id").Where("ms.skill = ?", skill).Order("m.id").
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("members: with skill %s: %w", skill, err)
	}
	out := make([]SkillHolder, len(rows))
	for i, r := range rows {
		out[i] = SkillHolder{ID: r.ID, Handle: s.FullHandle(r.Handle), Name: r.Name, Level: r.Level, Lat: r.Lat, Lon: r.Lon,
			RadiusKm: r.RadiusKm, RemoteOK: r.RemoteOK, WeeklyHours: r.WeeklyHours, Active: r.Active}
	}
	return out, nil
}

// Public is what any member of the coop may see of another: no e-mail
// address, no exact home position.
type Public struct {
	ID          string       `json:"id"`
	Handle      string       `json:"handle"`
	FullHandle  string       `json:"full_handle"`
	Name        string       `json:"name"`
	Role        Role         `json:"role"`
	Region      string       `json:"region"`
	Commune     string       `json:"commune"`
	Departement string       `json:"departement"`
	RadiusKm    int          `json:"radius_km"`
	RemoteOK    bool         `json:"remote_ok"`
	WeeklyHours int          `json:"weekly_hours"`
	Skills      []SkillLevel `json:"skills"`
}

// Public returns the member as other members see them.
func (m *Member) Public() Public {
	return Public{ID: m.ID, Handle: m.Handle, FullHandle: m.FullHandle, Name: m.Name, Role: m.Role, Region: m.Region,
		Commune: m.Commune, Departement: m.Departement, RadiusKm: m.RadiusKm, RemoteOK: m.RemoteOK,
		WeeklyHours: m.WeeklyHours, Skills: m.Skills}
}
