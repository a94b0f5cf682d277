package clients

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
)

// UpdateInput changes a client: its whole description (as a form sends
// it), based on Version.
type UpdateInput struct {
	Version int
	Description
}

// Update changes a client of this node the actor may see; a stale version
// is a conflict. The client of another region's ticket is its region's to
// change.
func (s *Service) Update(ctx context.Context, by members.Actor, id string, in UpdateInput) (*Client, error) {
	c, err := s.Get(ctx, by, id)
	if err != nil {
		return nil, err
	}
	if c.OriginAPID != nil {
		return nil, apperr.New(apperr.Forbidden, "this client belongs to another region's ticket: its region changes it")
	}
	var v apperr.Validation
	if in.Version <= 0 {
		v.Add("version", "is required: the version of the client you are changing")
	}
	var d Client
	describe(&v, &d, in.Description)
	if err := v.Err(); err != nil {
		return nil, err
	}
	u := map[string]any{"name": d.Name, "kind": d.Kind, "contact_name": d.ContactName, "contact_email": d.ContactEmail,
		"contact_phone": d.ContactPhone, "postcode": d.Postcode, "commune": d.Commune, "departement": d.Departement,
		"lat": d.Lat, "lon": d.Lon, "location_precise": d.LocationPrecise, "search_text": d.SearchText,
		"version": in.Version + 1, "updated_at": storage.Now()}
	stale := &apperr.Error{Code: apperr.Conflict,
		Message: fmt.Sprintf("the client was changed meanwhile (now version %d): reload it and apply your change again", c.Version),
		Fields:  map[string]string{"version": "is stale"}}
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		res := tx.Model(&Client{}).Where("id = ? AND version = ?", c.ID, in.Version).Updates(u)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return stale
		}
		cur, err := s.ByID(ctx, c.ID)
		if err != nil {
			return err
		}
		// The nodes of other regions working for this client get the
		// corrected contact with their tickets (federation).
		return storage.Publish(ctx, s.db, ClientChanged{Client: cur})
	})
	if errors.Is(err, stale) {
		return nil, stale
	}
	if err != nil {
		return nil, fmt.Errorf("clients: update %s: %w", id, err)
	}
	return s.Get(ctx, by, id)
}
