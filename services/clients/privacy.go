package clients

import (
	"context"
	"fmt"
	"math"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
)

// The names an erased client, site or asset keeps: the coop's figures
// count them, nothing identifies them.
const (
	ErasedClientName = "Client effacé"
	ErasedSiteName   = "Site effacé"
)

// Held is everything this node holds of one of its clients: the client,
// its sites and its equipment.
type Held struct {
	Client *Client  `json:"client"`
	Sites  []*Site  `json:"sites"`
	Assets []*Asset `json:"assets"`
}

// ForPrivacy returns, for the staff of this node, one of its own clients
// (not the copy of another region's) with its sites and assets: what its
// export shows and its erasure anonymises.
func (s *Service) ForPrivacy(ctx context.Context, by members.Actor, id string) (*Held, error) {
	if !by.Role.IsStaff() {
		return nil, apperr.New(apperr.Forbidden, "the staff of the client's region export or erase a client's data")
	}
	c, err := s.Get(ctx, by, id)
	if err != nil {
		return nil, err
	}
	if c.OriginAPID != nil {
		return nil, apperr.NotFoundf("no client %q of this region (a copy of another region's: ask its region)", id)
	}
	h := &Held{Client: c, Sites: []*Site{}, Assets: []*Asset{}}
	db := s.db.WithContext(ctx)
	if err := db.Where("client_id = ?", id).Order("id").Find(&h.Sites).Error; err != nil {
		return nil, fmt.Errorf("clients: sites of %s: %w", id, err)
	}
	if err := db.Where("client_id = ?", id).Order("id").Find(&h.Assets).Error; err != nil {
		return nil, fmt.Errorf("clients: assets of %s: %w", id, err)
	}
	return h, nil
}

// Erase anonymises, in the transaction ctx carries, a client with its sites and assets: the
// name, the contact, the addresses, the exact places (kept to 0.1°, about
// 10 km, with the département), the hostnames and notes. Kinds, dates and
// counts stay for the coop's figures. It applies to this node's clients
// and to the copy of another region's (by its id here).
func (s *Service) Erase(ctx context.Context, id string) error {
	tx := s.db.Conn(ctx)
	var c Client
	if err := tx.Where("id = ?", id).Take(&c).Error; err != nil {
		return fmt.Errorf("clients: erase %s: %w", id, err)
	}
	now := storage.Now()
	if err := tx.Model(&Client{}).Where("id = ?", id).Updates(map[string]any{
		"name": ErasedClientName, "postcode": "", "commune": "", "lat": coarse(c.Lat), "lon": coarse(c.Lon),
		"location_precise": false, "contact_name": "", "contact_email": "", "contact_phone": "", "search_text": "",
		"version": gorm.Expr("version + 1"), "updated_at": now}).Error; err != nil {
		return fmt.Errorf("clients: erase %s: %w", id, err)
	}
	var sites []Site
	if err := tx.Where("client_id = ?", id).Find(&sites).Error; err != nil {
		return err
	}
	for _, st := range sites {
		if err := tx.Model(&Site{}).Where("id = ?", st.ID).Updates(map[string]any{"name": ErasedSiteName, "address": "",
			"postcode": "", "commune": "", "lat": coarse(st.Lat), "lon": coarse(st.Lon)}).Error; err != nil {
			return fmt.Errorf("clients: erase the sites of %s: %w", id, err)
		}
	}
	if err := tx.Model(&Asset{}).Where("client_id = ?", id).Updates(map[string]any{"hostname": "", "notes": ""}).Error; err != nil {
		return fmt.Errorf("clients: erase the assets of %s: %w", id, err)
	}
	return nil
}

// SharedCopy is the local id of the client of another region's ticket
// (apID) held on this node, or "" when there is none.
func (s *Service) SharedCopy(ctx context.Context, apID string) (string, error) {
	tx := s.db.Conn(ctx)
	var ids []string
	if err := tx.WithContext(ctx).Model(&Client{}).Where("origin_ap_id = ?", apID).Pluck("id", &ids).Error; err != nil {
		return "", fmt.Errorf("clients: copy of %s: %w", apID, err)
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

func coarse(f float64) float64 { return math.Round(f*10) / 10 }
