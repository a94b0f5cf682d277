package tickets

import (
	"context"
	"fmt"
	"math"
	"strings"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// MaxEstimatedHours bounds an estimate: beyond it, split the job.
const MaxEstimatedHours = 1000

// CreateInput is a new request from a client.
type CreateInput struct {
	ClientID       string
	Title          string
	Description    string
	Skill          string
	Priority       string   // default "normal"
	OnSite         *bool    // required
	EstimatedHours *float64 // required, 0 to MaxEstimatedHours, rounded to the minute
}

func (s *Service) checkSkill(ctx context.Context, v *apperr.Validation, name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		v.Add("skill", "is required")
		return name, nil
	}
	ok, err := s.skills.Known(ctx, name)
	if err != nil {
		return "", err
	}
	if !ok {
		names, err := s.skills.Names(ctx)
		if err != nil {
			return "", err
		}
		v.Addf("skill", "unknown skill %q; known skills: %s", name, strings.Join(names, ", "))
	}
	return name, nil
}

func checkHours(v *apperr.Validation, h *float64, required bool) int {
	if h == nil {
		if required {
			v.Add("estimated_hours", "is required")
		}
		return 0
	}
	if math.IsNaN(*h) || *h < 0 || *h > MaxEstimatedHours {
		v.Addf("estimated_hours", "must be between 0 and %d", MaxEstimatedHours)
		return 0
	}
	return int(math.Round(*h * 60))
}

// Create records a new ticket for a client the actor may see. The ticket is
// in the charge of the client's technician and starts as "new".
func (s *Service) Create(ctx context.Context, by members.Actor, in CreateInput) (*Ticket, error) {
	var v apperr.Validation
	now := storage.Now()
	id := storage.NewID()
	t := &Ticket{
		ID:           id,
		Title:        validate.Text(&v, "title", in.Title, 1, 200, false),
		Description:  validate.Text(&v, "description", in.Description, 0, 20000, true),
		Priority:     "normal",
		Status:       StatusNew,
		OriginRegion: s.cfg.Region,
		APID:         s.cfg.PublicURL + "/tickets/" + id,
		Version:      1,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if in.Priority != "" {
		t.Priority = validate.OneOf(&v, "priority", in.Priority, Priorities...)
	}
	if in.OnSite == nil {
		v.Add("on_site", "is required: true for a visit, false for remote work")
	} else {
		t.OnSite = *in.OnSite
	}
	t.EstimatedMinutes = checkHours(&v, in.EstimatedHours, true)
	var err error
	if t.Skill, err = s.checkSkill(ctx, &v, in.Skill); err != nil {
		return nil, err
	}
	if in.ClientID == "" {
		v.Add("client_id", "is required")
	} else {
		c, err := s.clients.Get(ctx, by, in.ClientID)
		switch {
		case apperr.CodeOf(err) == apperr.NotFound:
			v.Add("client_id", "is not a client of yours on this node")
		case err != nil:
			return nil, err
		default:
			t.ClientID, t.TechnicianID = c.ID, c.TechnicianID
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(t).Error; err != nil {
			return err
		}
		return tx.Create(&Change{ID: storage.NewID(), TicketID: t.ID, Version: 1, ActorHandle: by.Handle,
			Action: "created", NewValue: string(StatusNew), CreatedAt: now}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("tickets: create: %w", err)
	}
	return t, nil
}
