package tickets

import (
	"context"
	"fmt"
	"strconv"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// UpdateInput changes a ticket. Version is the version the change is based
// on; nil fields are left as they are.
type UpdateInput struct {
	Version        int
	Title          *string
	Description    *string
	Skill          *string
	Priority       *string
	OnSite         *bool
	EstimatedHours *float64
	Status         *Status
}

// Update applies a change to a ticket, provided in.Version is its current
// version: otherwise nothing is written and a conflict is returned with the
// current version, so that the caller can re-read and retry.
func (s *Service) Update(ctx context.Context, by members.Actor, id string, in UpdateInput) (*Ticket, error) {
	t, err := s.Get(ctx, by, id)
	if err != nil {
		return nil, err
	}
	var v apperr.Validation
	if in.Version <= 0 {
		v.Add("version", "is required: the version of the ticket you are changing")
	}
	type change struct{ field, old, new string }
	var changes []change
	updates := map[string]any{}
	set := func(field, column string, old, new string, value any) {
		if old != new {
			changes = append(changes, change{field, old, new})
			updates[column] = value
		}
	}
	if in.Title != nil {
		title := validate.Text(&v, "title", *in.Title, 1, 200, false)
		set("title", "title", t.Title, title, title)
	}
	if in.Description != nil {
		d := validate.Text(&v, "description", *in.Description, 0, 20000, true)
		set("description", "description", t.Description, d, d)
	}
	if in.Skill != nil && *in.Skill != t.Skill && t.OriginRegion != s.cfg.Region {
		v.Add("skill", "is set by the ticket's own region ("+t.OriginRegion+")")
	} else if in.Skill != nil {
		sk, err := s.checkSkill(ctx, &v, *in.Skill)
		if err != nil {
			return nil, err
		}
		set("skill", "skill", t.Skill, sk, sk)
	}
	if in.Priority != nil {
		p := validate.OneOf(&v, "priority", *in.Priority, Priorities...)
		set("priority", "priority", t.Priority, p, p)
	}
	if in.OnSite != nil {
		set("on_site", "on_site", strconv.FormatBool(t.OnSite), strconv.FormatBool(*in.OnSite), *in.OnSite)
	}
	if in.EstimatedHours != nil {
		m := checkHours(&v, in.EstimatedHours, true)
		set("estimated_hours", "estimated_minutes", hours(t.EstimatedMinutes), hours(m), m)
	}
	if in.Status != nil && *in.Status != t.Status {
		to := *in.Status
		validate.OneOf(&v, "status", string(to), Statuses...)
		if !v.Has("status") && !CanMove(t.Status, to) {
			return nil, &apperr.Error{Code: apperr.Conflict,
				Message: fmt.Sprintf("a %s ticket cannot be moved to %s by hand", t.Status, to),
				Fields:  map[string]string{"status": "not allowed from " + string(t.Status)}}
		}
		set("status", "status", string(t.Status), string(to), string(to))
		// The technician in charge who starts work on an unassigned ticket
		// takes it; staff moving a ticket do not become its assignee.
		if (to == StatusScheduled || to == StatusInProgress) && t.AssigneeHandle == "" && by.ID == t.TechnicianID {
			updates["assignee_member_id"] = by.ID
			updates["assignee_handle"] = by.Handle
			updates["assignee_region"] = s.cfg.Region
			updates["assignee_name"] = by.Name
			changes = append(changes, change{"assignee", "", by.Handle})
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.Version != t.Version {
		return nil, staleVersion(t.Version)
	}
	if len(changes) == 0 {
		return t, nil
	}
	now := storage.Now()
	updates["version"] = t.Version + 1
	updates["updated_at"] = now
	searchable(updates, t.Title, t.Description)
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		res := tx.Model(&Ticket{}).Where("id = ? AND version = ?", t.ID, in.Version).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var cur int
			if err := tx.Model(&Ticket{}).Select("version").Where("id = ?", t.ID).Scan(&cur).Error; err != nil {
				return err
			}
			return staleVersion(cur)
		}
		rows := make([]Change, len(changes))
		fields := make(map[string]string, len(changes))
		for i, c := range changes {
			rows[i] = Change{ID: storage.NewID(), TicketID: t.ID, Version: t.Version + 1, ActorHandle: by.Handle,
				Action: ActUpdated, Field: c.field, OldValue: c.old, NewValue: c.new, CreatedAt: now}
			fields[c.field] = c.new
		}
		if err := tx.Create(&rows).Error; err != nil {
			return err
		}
		cur, err := s.ByID(ctx, t.ID)
		if err != nil {
			return err
		}
		return s.notify(ctx, &Changed{Ticket: cur, By: by.Handle, Fields: fields, OldStatus: t.Status})
	})
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil, err
		}
		return nil, fmt.Errorf("tickets: update %s: %w", id, err)
	}
	return s.Get(ctx, by, id)
}

func staleVersion(current int) error {
	return &apperr.Error{Code: apperr.Conflict,
		Message: fmt.Sprintf("the ticket was changed meanwhile (now version %d): reload it and apply your change again", current),
		Fields:  map[string]string{"version": fmt.Sprintf("is stale: current version is %d", current)}}
}

func hours(minutes int) string { return strconv.FormatFloat(float64(minutes)/60, 'f', -1, 64) }
