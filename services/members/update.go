package members

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// UpdateInput changes a member's profile: nil fields are left as they are.
// Version is the version the change is based on.
type UpdateInput struct {
	Version     int
	Name        *string
	Skills      *[]SkillLevel // the whole list
	Postcode    *string
	Commune     string // with Postcode
	Lat, Lon    *float64
	RadiusKm    *int
	RemoteOK    *bool
	WeeklyHours *int
}

// Update changes a member's profile: their own, or any member's for staff.
// The change reaches every peer node's directory (a listener of MemberChanged: federation).
func (s *Service) Update(ctx context.Context, by Actor, id string, in UpdateInput) (*Member, error) {
	if id != by.ID && !by.Role.IsStaff() {
		return nil, apperr.New(apperr.Forbidden, "a member changes only their own profile; staff change any")
	}
	m, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !m.Active {
		return nil, apperr.New(apperr.Conflict, "this member left the coop: their profile no longer changes")
	}
	if m.Role == Admin && id != by.ID && by.Role != Admin {
		// As for creating them: admins manage admins.
		return nil, apperr.New(apperr.Forbidden, "only an admin changes another admin's profile")
	}
	var v apperr.Validation
	if in.Version <= 0 {
		v.Add("version", "is required: the version of the profile you are changing")
	}
	updates := map[string]any{}
	if in.Name != nil {
		updates["name"] = validate.Text(&v, "name", *in.Name, 1, 120, false)
	}
	if in.RadiusKm != nil {
		if *in.RadiusKm < 0 || *in.RadiusKm > MaxRadiusKm {
			v.Reject("radius_km", "int_range", "must be between %d and %d", 0, MaxRadiusKm)
		} else if !by.Role.IsStaff() && *in.RadiusKm > SelfMaxRadiusKm && *in.RadiusKm > m.RadiusKm {
			v.Reject("radius_km", "staff_above", "above %d km, ask your region's staff", SelfMaxRadiusKm)
		}
		updates["radius_km"] = *in.RadiusKm
	}
	if in.WeeklyHours != nil {
		if *in.WeeklyHours < 0 || *in.WeeklyHours > MaxWeeklyHours {
			v.Reject("weekly_hours", "int_range", "must be between %d and %d", 0, MaxWeeklyHours)
		} else if !by.Role.IsStaff() && *in.WeeklyHours > SelfMaxWeeklyHours && *in.WeeklyHours > m.WeeklyHours {
			v.Reject("weekly_hours", "staff_above", "above %d hours a week, ask your region's staff", SelfMaxWeeklyHours)
		}
		updates["weekly_hours"] = *in.WeeklyHours
	}
	if in.RemoteOK != nil {
		updates["remote_ok"] = *in.RemoteOK
	}
	if in.Postcode == nil && (in.Commune != "" || in.Lat != nil || in.Lon != nil) {
		v.Add("postcode", "is required with commune, lat or lon: send the whole place")
	}
	if in.Postcode != nil {
		if loc, ok := validate.Location(&v, *in.Postcode, in.Commune, in.Lat, in.Lon, true); ok {
			updates["postcode"], updates["commune"], updates["departement"] = loc.Postcode, loc.Commune, loc.Departement
			updates["lat"], updates["lon"], updates["location_precise"] = loc.Lat, loc.Lon, loc.Precise
		}
	}
	var skillRows []memberSkill
	if in.Skills != nil {
		if skillRows, err = s.checkSkills(ctx, &v, *in.Skills); err != nil {
			return nil, err
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.Version != m.Version {
		return nil, &apperr.Error{Code: apperr.Conflict,
			Message: fmt.Sprintf("the profile was changed meanwhile (now version %d): reload it and apply your change again", m.Version),
			Fields:  map[string]string{"version": fmt.Sprintf("is stale: current version is %d", m.Version)}}
	}
	updates["version"] = m.Version + 1
	updates["updated_at"] = storage.Now()
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		res := tx.Model(&Member{}).Where("id = ? AND version = ? AND active", id, in.Version).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.New(apperr.Conflict, "the profile was changed meanwhile: reload it and apply your change again")
		}
		if in.Skills != nil {
			// As staff set them, or as the member may: levels above those
			// confirmed wait for staff (see skills.go).
			if _, err := s.applySkills(ctx, tx, by, id, skillRows); err != nil {
				return err
			}
		}
		return s.changedWithin(ctx, tx, id)
	})
	if apperr.CodeOf(err) == apperr.Conflict {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("members: update %s: %w", id, err)
	}
	return s.Get(ctx, id)
}

// changedWithin runs, inside tx, the in-transaction hook on member id as
// the transaction leaves them (with their confirmed skills).
func (s *Service) changedWithin(ctx context.Context, tx *gorm.DB, id string) error {
	if !storage.Listening[MemberChanged](s.db) {
		return nil
	}
	var cur Member
	if err := tx.Where("id = ?", id).Take(&cur).Error; err != nil {
		return err
	}
	if err := s.loadSkills(ctx, tx, []*Member{&cur}); err != nil {
		return err
	}
	return storage.Publish(ctx, s.db, MemberChanged{Member: &cur})
}
