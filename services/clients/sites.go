package clients

import (
	"context"
	"fmt"
	"time"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// SiteInput describes a site of a client.
type SiteInput struct {
	Name     string
	Address  string
	Postcode string
	Commune  string
	Lat, Lon *float64
}

// AddSite records a site of a client the actor may see.
func (s *Service) AddSite(ctx context.Context, by members.Actor, clientID string, in SiteInput) (*Site, error) {
	if err := s.mayEquip(ctx, by, clientID); err != nil {
		return nil, err
	}
	var v apperr.Validation
	site := &Site{
		ID:        storage.NewID(),
		ClientID:  clientID,
		Name:      validate.Text(&v, "name", in.Name, 1, 200, false),
		Address:   validate.Text(&v, "address", in.Address, 0, 300, false),
		CreatedAt: storage.Now(),
	}
	if loc, ok := validate.Location(&v, in.Postcode, in.Commune, in.Lat, in.Lon, true); ok {
		site.Postcode, site.Commune, site.Departement = loc.Postcode, loc.Commune, loc.Departement
		site.Lat, site.Lon = loc.Lat, loc.Lon
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.db.WithContext(ctx).Create(site).Error; err != nil {
		return nil, fmt.Errorf("clients: add site: %w", err)
	}
	return site, nil
}

// Sites lists the sites of a client the actor may see, oldest first, up to
// limit after the cursor.
func (s *Service) Sites(ctx context.Context, by members.Actor, clientID, after string, limit int) ([]*Site, error) {
	if _, err := s.Get(ctx, by, clientID); err != nil {
		return nil, err
	}
	var out []*Site
	if err := s.db.WithContext(ctx).Where("client_id = ? AND id > ?", clientID, after).Order("id").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("clients: sites: %w", err)
	}
	return out, nil
}

// AssetInput describes a piece of equipment.
type AssetInput struct {
	SiteID       string
	Kind         string
	Hostname     string
	OS           string
	PurchaseDate string // YYYY-MM-DD
	Notes        string
}

// AddAsset records equipment of a client the actor may see.
func (s *Service) AddAsset(ctx context.Context, by members.Actor, clientID string, in AssetInput) (*Asset, error) {
	if err := s.mayEquip(ctx, by, clientID); err != nil {
		return nil, err
	}
	var v apperr.Validation
	a := &Asset{
		ID:        storage.NewID(),
		ClientID:  clientID,
		Kind:      validate.OneOf(&v, "kind", in.Kind, AssetKinds...),
		Hostname:  validate.Text(&v, "hostname", in.Hostname, 0, 253, false),
		OS:        validate.Text(&v, "os", in.OS, 0, 120, false),
		Notes:     validate.Text(&v, "notes", in.Notes, 0, 2000, true),
		CreatedAt: storage.Now(),
	}
	if in.PurchaseDate != "" {
		d, err := time.Parse(time.DateOnly, in.PurchaseDate)
		switch {
		case err != nil:
			v.Reject("purchase_date", "date", "must be a date such as 2019-09-01")
		case d.After(time.Now().AddDate(0, 0, 1)) || d.Year() < 1980:
			v.Reject("purchase_date", "date_range", "must be between 1980 and today")
		default:
			a.PurchaseDate = in.PurchaseDate
		}
	}
	if in.SiteID != "" {
		var n int64
		if storage.ValidID(in.SiteID) {
			if err := s.db.WithContext(ctx).Model(&Site{}).Where("id = ? AND client_id = ?", in.SiteID, clientID).Count(&n).Error; err != nil {
				return nil, fmt.Errorf("clients: check site: %w", err)
			}
		}
		if n == 0 {
			v.Add("site_id", "is not a site of this client")
		}
		a.SiteID = &in.SiteID
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.db.WithContext(ctx).Create(a).Error; err != nil {
		return nil, fmt.Errorf("clients: add asset: %w", err)
	}
	return a, nil
}

// Assets lists the equipment of a client the actor may see, oldest first,
// up to limit after the cursor.
func (s *Service) Assets(ctx context.Context, by members.Actor, clientID, after string, limit int) ([]*Asset, error) {
	if _, err := s.Get(ctx, by, clientID); err != nil {
		return nil, err
	}
	var out []*Asset
	if err := s.db.WithContext(ctx).Where("client_id = ? AND id > ?", clientID, after).Order("id").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("clients: assets: %w", err)
	}
	return out, nil
}

// mayEquip checks that the actor may record sites and equipment of a
// client: one of this node's they see (another region's client is its
// region's to describe).
func (s *Service) mayEquip(ctx context.Context, by members.Actor, clientID string) error {
	c, err := s.Get(ctx, by, clientID)
	if err != nil {
		return err
	}
	if c.OriginAPID != nil {
		return apperr.New(apperr.Forbidden, "this client belongs to another region's ticket: its region describes it")
	}
	return nil
}
