package members

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// Defaults for a new member.
const (
	DefaultRadiusKm    = 50
	DefaultWeeklyHours = 35
	MaxRadiusKm        = 1000
	MaxWeeklyHours     = 80
	MinPasswordLen     = 8
	MaxPasswordLen     = 72 // bcrypt reads no further
	maxSkills          = 30
)

// CreateInput is what it takes to register a member.
type CreateInput struct {
	Email       string
	Name        string
	Role        string
	Password    string
	Handle      string // optional; derived from the e-mail address when empty
	Skills      []SkillLevel
	Postcode    string
	Commune     string
	Lat, Lon    *float64
	RadiusKm    *int
	RemoteOK    bool
	WeeklyHours *int
}

var handleRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,29}$`)

func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Create registers a member. by is the member asking (nil for the node's
// own command line); staff may create technicians and staff, admins anyone.
func (s *Service) Create(ctx context.Context, by *Actor, in CreateInput) (*Member, error) {
	var v apperr.Validation
	m := &Member{
		ID:          storage.NewID(),
		Email:       validate.Email(&v, "email", in.Email, true),
		Name:        validate.Text(&v, "name", in.Name, 1, 120, false),
		Role:        Role(validate.OneOf(&v, "role", in.Role, Roles...)),
		RadiusKm:    DefaultRadiusKm,
		WeeklyHours: DefaultWeeklyHours,
		RemoteOK:    in.RemoteOK,
		Active:      true,
		Version:     1,
	}
	if n := utf8.RuneCountInString(in.Password); n < MinPasswordLen {
		v.Reject("password", "min_chars", "must be at least %d characters", MinPasswordLen)
	} else if len(in.Password) > MaxPasswordLen {
		v.Reject("password", "max_bytes", "must be at most %d bytes", MaxPasswordLen)
	}
	if in.Handle != "" {
		m.Handle = strings.TrimSpace(in.Handle)
		if !handleRe.MatchString(m.Handle) {
			v.Add("handle", "must be 1 to 30 lower-case letters, digits, dots, dashes or underscores")
		}
	}
	if in.RadiusKm != nil {
		if *in.RadiusKm < 0 || *in.RadiusKm > MaxRadiusKm {
			v.Reject("radius_km", "int_range", "must be between %d and %d", 0, MaxRadiusKm)
		}
		m.RadiusKm = *in.RadiusKm
	}
	if in.WeeklyHours != nil {
		if *in.WeeklyHours < 0 || *in.WeeklyHours > MaxWeeklyHours {
			v.Reject("weekly_hours", "int_range", "must be between %d and %d", 0, MaxWeeklyHours)
		}
		m.WeeklyHours = *in.WeeklyHours
	}
	if loc, ok := validate.Location(&v, in.Postcode, in.Commune, in.Lat, in.Lon, false); ok {
		m.Postcode, m.Commune, m.Departement = loc.Postcode, loc.Commune, loc.Departement
		m.Lat, m.Lon, m.LocationPrecise = &loc.Lat, &loc.Lon, loc.Precise
	}
	skillRows, err := s.checkSkills(ctx, &v, in.Skills)
	if err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if by != nil {
		if !by.Role.IsStaff() {
			return nil, apperr.New(apperr.Forbidden, "only coop staff may register members")
		}
		if m.Role == Admin && by.Role != Admin {
			return nil, apperr.New(apperr.Forbidden, "only an administrator may register an administrator")
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("members: hash password: %w", err)
	}
	m.PasswordHash = string(hash)
	now := storage.Now()
	m.CreatedAt, m.UpdatedAt = now, now

	derived := m.Handle == ""
	// A handle derived from the e-mail address may be taken by a concurrent
	// registration between the check and the insert: then try the next one.
	for attempt := 0; ; attempt++ {
		if derived {
			m.Handle = ""
		}
		err = s.insert(ctx, m, skillRows)
		if !(derived && attempt < 5 && storage.UniqueViolationOn(err, "members.handle")) {
			break
		}
	}
	switch {
	case storage.UniqueViolationOn(err, "members.email"):
		return nil, &apperr.Error{Code: apperr.Conflict, Message: "this e-mail address is already registered",
			Fields: map[string]string{"email": "is already registered"}, Err: err}
	case storage.UniqueViolationOn(err, "members.handle"):
		return nil, &apperr.Error{Code: apperr.Conflict, Message: "this handle is already taken",
			Fields: map[string]string{"handle": "is already taken"}, Err: err}
	case err != nil && apperr.CodeOf(err) != apperr.Internal:
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("members: create: %w", err)
	}
	m.Skills = append([]SkillLevel{}, in.Skills...)
	for i := range m.Skills {
		m.Skills[i].Name = skillRows[i].Skill
	}
	s.decorate(m)
	return m, nil
}

// insert writes a new member and their skills in one transaction, choosing
// a free handle when it has none.
func (s *Service) insert(ctx context.Context, m *Member, skillRows []memberSkill) error {
	err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var taken int64
		if err := tx.Model(&Member{}).Where("email = ?", m.Email).Count(&taken).Error; err != nil {
			return err
		}
		if taken > 0 {
			return &apperr.Error{Code: apperr.Conflict, Message: "this e-mail address is already registered",
				Fields: map[string]string{"email": "is already registered"}}
		}
		if m.Handle == "" {
			h, err := freeHandle(tx, m.Email)
			if err != nil {
				return err
			}
			m.Handle = h
		} else if err := tx.Model(&Member{}).Where("handle = ?", m.Handle).Count(&taken).Error; err != nil {
			return err
		} else if taken > 0 {
			return &apperr.Error{Code: apperr.Conflict, Message: "this handle is already taken",
				Fields: map[string]string{"handle": "is already taken"}}
		}
		if err := tx.Create(m).Error; err != nil {
			return err
		}
		for i := range skillRows {
			skillRows[i].MemberID = m.ID
		}
		if len(skillRows) > 0 {
			if err := tx.Create(&skillRows).Error; err != nil {
				return err
			}
		}
		if storage.Listening[MemberChanged](s.db) {
			c := *m
			c.Skills = make([]SkillLevel, len(skillRows))
			for i, r := range skillRows {
				c.Skills[i] = SkillLevel{Name: r.Skill, Level: r.Level}
			}
			return storage.Publish(ctx, s.db, MemberChanged{Member: &c})
		}
		return nil
	})
	return err
}

func (s *Service) checkSkills(ctx context.Context, v *apperr.Validation, in []SkillLevel) ([]memberSkill, error) {
	if len(in) > maxSkills {
		v.Addf("skills", "at most %d skills", maxSkills)
		return nil, nil
	}
	seen := map[string]bool{}
	rows := make([]memberSkill, 0, len(in))
	for i, sk := range in {
		field := fmt.Sprintf("skills[%d]", i)
		name := strings.ToLower(strings.TrimSpace(sk.Name))
		known, err := s.skills.Known(ctx, name)
		if err != nil {
			return nil, err
		}
		switch {
		case !known:
			names, err := s.skills.Names(ctx)
			if err != nil {
				return nil, err
			}
			v.Reject(field+".name", "unknown_skill", "unknown skill %q; known skills: %s", sk.Name, strings.Join(names, ", "))
		case seen[name]:
			v.Addf(field+".name", "skill %q is listed twice", name)
		}
		if sk.Level < skills.MinLevel || sk.Level > skills.MaxLevel {
			v.Reject(field+".level", "int_range", "must be between %d and %d", skills.MinLevel, skills.MaxLevel)
		}
		seen[name] = true
		rows = append(rows, memberSkill{Skill: name, Level: sk.Level})
	}
	return rows, nil
}

// freeHandle derives a handle from an e-mail address's local part, adding a
// number when it is taken: jean, jean2, jean3…
func freeHandle(tx *gorm.DB, email string) (string, error) {
	local, _, _ := strings.Cut(email, "@")
	var b strings.Builder
	for _, r := range strings.ToLower(local) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		}
	}
	base := strings.Trim(b.String(), "._-")
	if base == "" {
		base = "member"
	}
	if len(base) > 25 {
		base = base[:25]
	}
	for i := 1; i < 1000; i++ {
		h := base
		if i > 1 {
			h = fmt.Sprintf("%s%d", base, i)
		}
		var n int64
		if err := tx.Model(&Member{}).Where("handle = ?", h).Count(&n).Error; err != nil {
			return "", err
		}
		if n == 0 {
			return h, nil
		}
	}
	return "", apperr.New(apperr.Conflict, "no free handle for %q: give one explicitly", base)
}
