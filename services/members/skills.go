package members

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
)

// Skill levels are believed by the routing as the member's region's staff
// confirmed them. A member may lower their levels or drop a skill at once,
// but a new skill, or a level above the confirmed one, is a proposal that
// staff of their region confirm or refuse; the history keeps each step.

// Limits a member sets on their own capacity without staff: above them,
// staff change the profile (the routing would believe anything).
const (
	SelfMaxWeeklyHours = 48 // the legal average ceiling of a working week in France
	SelfMaxRadiusKm    = 200
)

type skillProposal struct {
	MemberID   string
	Skill      string
	Level      int
	ProposedAt time.Time
}

func (skillProposal) TableName() string { return "skill_proposals" }

type skillChange struct {
	ID          string
	MemberID    string
	Skill       string
	Action      string
	OldLevel    int
	NewLevel    int
	ActorHandle string
	CreatedAt   time.Time
}

func (skillChange) TableName() string { return "member_skill_history" }

// SkillChange is one step of a member's skills' history.
type SkillChange struct {
	Skill     string    `json:"skill"`
	Action    string    `json:"action"` // proposed, confirmed, refused, set, lowered, removed
	OldLevel  int       `json:"old_level"`
	NewLevel  int       `json:"new_level"`
	By        string    `json:"by"`
	CreatedAt time.Time `json:"created_at"`
}

// Proposal is a skill level a member proposed, waiting for staff.
type Proposal struct {
	MemberID   string    `json:"member_id"`
	Name       string    `json:"name"`
	Handle     string    `json:"handle"`
	Skill      string    `json:"skill"`
	Level      int       `json:"level"`
	Current    int       `json:"current"` // the confirmed level, 0 for a new skill
	ProposedAt time.Time `json:"proposed_at"`
}

// applySkills writes, inside tx, the skills a member's profile change asks
// for: set as they are by staff, or by the member themselves for levels
// at most those confirmed (the rest become proposals). It records the
// history and reports whether the confirmed skills changed.
func (s *Service) applySkills(ctx context.Context, tx *gorm.DB, by Actor, id string, want []memberSkill) (bool, error) {
	var cur []memberSkill
	if err := tx.WithContext(ctx).Where("member_id = ?", id).Find(&cur).Error; err != nil {
		return false, err
	}
	confirmed := map[string]int{}
	for _, c := range cur {
		confirmed[c.Skill] = c.Level
	}
	staff := by.Role.IsStaff()
	now := storage.Now()
	var history []skillChange
	note := func(skill, action string, old, new int) {
		history = append(history, skillChange{ID: storage.NewID(), MemberID: id, Skill: skill, Action: action, OldLevel: old,
			NewLevel: new, ActorHandle: by.Handle, CreatedAt: now})
	}
	keep := make([]memberSkill, 0, len(want))
	wanted := map[string]bool{}
	changed := false
	for _, w := range want {
		wanted[w.Skill] = true
		old, had := confirmed[w.Skill]
		switch {
		case staff:
			keep = append(keep, memberSkill{MemberID: id, Skill: w.Skill, Level: w.Level})
			if old != w.Level {
				note(w.Skill, "set", old, w.Level)
				changed = true
			}
			if err := tx.WithContext(ctx).Where("member_id = ? AND skill = ?", id, w.Skill).Delete(&skillProposal{}).Error; err != nil {
				return false, err
			}
		case had && w.Level <= old:
			keep = append(keep, memberSkill{MemberID: id, Skill: w.Skill, Level: w.Level})
			if w.Level < old {
				note(w.Skill, "lowered", old, w.Level)
				changed = true
			}
			if err := tx.WithContext(ctx).Where("member_id = ? AND skill = ?", id, w.Skill).Delete(&skillProposal{}).Error; err != nil {
				return false, err
			}
		default:
			// Above what staff confirmed: the confirmed level stays (if any)
			// and the new one waits for them.
			if had {
				keep = append(keep, memberSkill{MemberID: id, Skill: w.Skill, Level: old})
			}
			p := skillProposal{MemberID: id, Skill: w.Skill, Level: w.Level, ProposedAt: now}
			if err := tx.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "member_id"}, {Name: "skill"}},
				DoUpdates: clause.AssignmentColumns([]string{"level", "proposed_at"})}).Create(&p).Error; err != nil {
				return false, err
			}
			note(w.Skill, "proposed", old, w.Level)
		}
	}
	for _, c := range cur {
		if !wanted[c.Skill] {
			note(c.Skill, "removed", c.Level, 0)
			changed = true
		}
	}
	// A proposal for a skill no longer listed goes with it.
	if err := tx.WithContext(ctx).Where("member_id = ? AND skill NOT IN ?", id, append(keysOf(wanted), "")).
		Delete(&skillProposal{}).Error; err != nil {
		return false, err
	}
	if err := tx.WithContext(ctx).Where("member_id = ?", id).Delete(&memberSkill{}).Error; err != nil {
		return false, err
	}
	if len(keep) > 0 {
		if err := tx.WithContext(ctx).Create(&keep).Error; err != nil {
			return false, err
		}
	}
	if len(history) > 0 {
		if err := tx.WithContext(ctx).Create(&history).Error; err != nil {
			return false, err
		}
	}
	return changed, nil
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// SkillProposals lists the proposals of this node's members waiting for
// staff, oldest first.
func (s *Service) SkillProposals(ctx context.Context, by Actor) ([]Proposal, error) {
	if !by.Role.IsStaff() {
		return nil, apperr.New(apperr.Forbidden, "only staff review skill proposals")
	}
	var rows []Proposal
	err := s.db.WithContext(ctx).Raw(`SELECT p.member_id, m.name, m.handle, p.skill, p.level,
		COALESCE(ms.level, 0) AS current, p.proposed_at
		FROM skill_proposals p JOIN members m ON m.id = p.member_id
		LEFT JOIN member_skills ms ON ms.member_id = p.member_id AND ms.skill = p.skill
		WHERE m.active ORDER BY p.proposed_at, p.member_id, p.skill`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("members: skill proposals: %w", err)
	}
	for i := range rows {
		rows[i].Handle = s.FullHandle(rows[i].Handle)
		rows[i].ProposedAt = rows[i].ProposedAt.UTC()
	}
	return rows, nil
}

// ReviewSkill confirms or refuses a member's proposed level for skill: a
// staff member of their node decides (not for themselves). A confirmed
// level is what the routing believes from then on, and goes to every
// peer's directory.
func (s *Service) ReviewSkill(ctx context.Context, by Actor, memberID, skill string, confirm bool) (*Member, error) {
	if !by.Role.IsStaff() {
		return nil, apperr.New(apperr.Forbidden, "only staff review skill proposals")
	}
	if by.ID == memberID {
		return nil, apperr.New(apperr.Forbidden, "another staff member reviews your own proposals")
	}
	m, err := s.Get(ctx, memberID)
	if err != nil {
		return nil, err
	}
	skill = strings.ToLower(strings.TrimSpace(skill))
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var p skillProposal
		if err := tx.Where("member_id = ? AND skill = ?", memberID, skill).Take(&p).Error; err != nil {
			return apperr.NotFoundf("%s has no proposal for %q", m.Name, skill)
		}
		old := 0
		for _, sk := range m.Skills {
			if sk.Name == skill {
				old = sk.Level
			}
		}
		action := "refused"
		if confirm {
			action = "confirmed"
			if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "member_id"}, {Name: "skill"}},
				DoUpdates: clause.AssignmentColumns([]string{"level"})}).
				Create(&memberSkill{MemberID: memberID, Skill: skill, Level: p.Level}).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("member_id = ? AND skill = ?", memberID, skill).Delete(&skillProposal{}).Error; err != nil {
			return err
		}
		now := storage.Now()
		if err := tx.Create(&skillChange{ID: storage.NewID(), MemberID: memberID, Skill: skill, Action: action, OldLevel: old,
			NewLevel: p.Level, ActorHandle: by.Handle, CreatedAt: now}).Error; err != nil {
			return err
		}
		if !confirm {
			return nil
		}
		if err := tx.Model(&Member{}).Where("id = ?", memberID).
			Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": now}).Error; err != nil {
			return err
		}
		return s.changedWithin(ctx, tx, memberID)
	})
	if err != nil {
		if apperr.CodeOf(err) != apperr.Internal {
			return nil, err
		}
		return nil, fmt.Errorf("members: review %s of %s: %w", skill, memberID, err)
	}
	return s.Get(ctx, memberID)
}

// SkillHistory is every step of a member's skills, oldest first.
func (s *Service) SkillHistory(ctx context.Context, memberID string) ([]SkillChange, error) {
	var rows []skillChange
	if err := s.db.WithContext(ctx).Where("member_id = ?", memberID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("members: skill history: %w", err)
	}
	out := make([]SkillChange, len(rows))
	for i, r := range rows {
		out[i] = SkillChange{Skill: r.Skill, Action: r.Action, OldLevel: r.OldLevel, NewLevel: r.NewLevel, By: r.ActorHandle,
			CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// loadProposals fills in the members' proposed levels.
func (s *Service) loadProposals(ctx context.Context, db *gorm.DB, ms []*Member) error {
	if len(ms) == 0 {
		return nil
	}
	ids := make([]string, len(ms))
	byID := make(map[string]*Member, len(ms))
	for i, m := range ms {
		ids[i], byID[m.ID] = m.ID, m
		m.ProposedSkills = []SkillLevel{}
	}
	var rows []skillProposal
	if err := db.WithContext(ctx).Where("member_id IN ?", ids).Order("skill").Find(&rows).Error; err != nil {
		return fmt.Errorf("members: load proposals: %w", err)
	}
	for _, r := range rows {
		m := byID[r.MemberID]
		m.ProposedSkills = append(m.ProposedSkills, SkillLevel{Name: r.Skill, Level: r.Level})
	}
	return nil
}
