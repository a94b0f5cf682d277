package clients

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// UpdateInput changes a client: the whole description (as a form sends
// it), based on Version.
type UpdateInput struct {
	Version      int
	Name         string
	Kind         string
	Postcode     string
	Commune      string
	Lat, Lon     *float64
	ContactName  string
	ContactEmail string
	ContactPhone string
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
	u := map[string]any{
		"name":          validate.Text(&v, "name", in.Name, 1, 200, false),
		"kind":          validate.OneOf(&v, "kind", in.Kind, Kinds...),
		"contact_name":  validate.Text(&v, "contact_name", in.ContactName, 0, 120, false),
		"contact_email": validate.Email(&v, "contact_email", in.ContactEmail, false),
		"contact_phone": validate.Phone(&v, "contact_phone", in.ContactPhone),
	}
	if loc, ok := validate.Location(&v, in.Postcode, in.Commune, in.Lat, in.Lon, true); ok {
		u["postcode"], u["commune"], u["departement"] = loc.Postcode, loc.Commune, loc.Departement
		u["lat"], u["lon"], u["location_precise"] = loc.Lat, loc.Lon, loc.Precise
		u["search_text"] = geo.Fold(in.Name + " " + loc.Commune)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	u["version"], u["updated_at"] = in.Version+1, storage.Now()
	stale := &apperr.Error{Code: apperr.Conflict,
		Message: fmt.Sprintf("the client was changed meanwhile (now version %d): reload it and apply your change again", c.Version),
		Fields:  map[string]string{"version": "is stale"}}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Client{}).Where("id = ? AND version = ?", c.ID, in.Version).Updates(u)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return stale
		}
		cur, err := s.GetTx(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		// The nodes of other regions working for this client get the
		// corrected contact with their tickets (federation).
		return s.hooks.Within(ctx, tx, cur)
	})
	if errors.Is(err, stale) {
		return nil, stale
	}
	if err != nil {
		return nil, fmt.Errorf("clients: update %s: %w", id, err)
	}
	s.hooks.After()
	return s.Get(ctx, by, id)
}
