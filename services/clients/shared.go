package clients

import (
	"context"
	"fmt"
	"math"

	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// Shared is what a ticket's tracker tells the assignee's node of the
// client: what the job needs (name, kind, place, contact), nothing more.
type Shared struct {
	Name         string  `json:"name"`
	Kind         string  `json:"kind"`
	Postcode     string  `json:"postcode"`
	Commune      string  `json:"commune"`
	Departement  string  `json:"departement"`
	Lat          float64 `json:"lat"`
	Lon          float64 `json:"lon"`
	ContactName  string  `json:"contactName"`
	ContactEmail string  `json:"contactEmail"`
	ContactPhone string  `json:"contactPhone"`
}

// SharedOf is what of client c the assignee's node of one of its tickets
// receives.
func SharedOf(c *Client) Shared {
	return Shared{Name: c.Name, Kind: c.Kind, Postcode: c.Postcode, Commune: c.Commune, Departement: c.Departement,
		Lat: c.Lat, Lon: c.Lon, ContactName: c.ContactName, ContactEmail: c.ContactEmail, ContactPhone: c.ContactPhone}
}

// AfterJob is what of sh the assignee's node keeps once nobody works for
// the client on the ticket (closed or cancelled): no contact person (name,
// e-mail, phone), and the place to 0.1° (about 10 km) instead of the
// address's coordinates, which for a private person is their home.
func (sh Shared) AfterJob() Shared {
	sh.ContactName, sh.ContactEmail, sh.ContactPhone = "", "", ""
	sh.Lat, sh.Lon = math.Round(sh.Lat*10)/10, math.Round(sh.Lon*10)/10
	return sh
}

// ByID reads a client inside a transaction, whoever asks (federation acts
// for the node).
func (s *Service) ByID(ctx context.Context, id string) (*Client, error) {
	tx := s.db.Conn(ctx)
	var c Client
	if err := tx.WithContext(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return nil, fmt.Errorf("clients: get %s: %w", id, err)
	}
	return &c, nil
}

// check validates a client received from another node as strictly as one
// entered here (but for the postcode, which may be of any département).
func (sh *Shared) check() error {
	var v apperr.Validation
	sh.Name = validate.Text(&v, "client.name", sh.Name, 1, 200, false)
	sh.Kind = validate.OneOf(&v, "client.kind", sh.Kind, Kinds...)
	sh.Postcode = validate.Text(&v, "client.postcode", sh.Postcode, 0, 10, false)
	sh.Commune = validate.Text(&v, "client.commune", sh.Commune, 0, 100, false)
	sh.Departement = validate.Text(&v, "client.departement", sh.Departement, 0, 3, false)
	sh.ContactName = validate.Text(&v, "client.contactName", sh.ContactName, 0, 120, false)
	sh.ContactEmail = validate.Email(&v, "client.contactEmail", sh.ContactEmail, false)
	sh.ContactPhone = validate.Phone(&v, "client.contactPhone", sh.ContactPhone)
	if math.IsNaN(sh.Lat) || math.IsNaN(sh.Lon) || sh.Lat < -90 || sh.Lat > 90 || sh.Lon < -180 || sh.Lon > 180 {
		v.Add("client.lat", "coordinates out of range")
	}
	return v.Err()
}

// UpsertShared keeps, in the transaction ctx carries, the client of another region's ticket
// (identified by the ticket's ActivityPub id) as the tracker last sent it,
// in the charge of the member who works on it, and returns its local id.
func (s *Service) UpsertShared(ctx context.Context, ticketAPID, technicianID string, sh Shared) (string, error) {
	tx := s.db.Conn(ctx)
	if err := sh.check(); err != nil {
		return "", err
	}
	now := storage.Now()
	c := Client{ID: storage.NewID(), TechnicianID: technicianID, Name: sh.Name, Kind: sh.Kind, Postcode: sh.Postcode,
		Commune: sh.Commune, Departement: sh.Departement, Lat: sh.Lat, Lon: sh.Lon, LocationPrecise: true,
		ContactName: sh.ContactName, ContactEmail: sh.ContactEmail, ContactPhone: sh.ContactPhone,
		SearchText: geo.Fold(sh.Name + " " + sh.Commune), OriginAPID: &ticketAPID, Version: 1, CreatedAt: now, UpdatedAt: now}
	err := tx.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "origin_ap_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"technician_id", "name", "kind", "postcode", "commune", "departement",
			"lat", "lon", "contact_name", "contact_email", "contact_phone", "search_text", "updated_at"}),
	}).Create(&c).Error
	if err != nil {
		return "", fmt.Errorf("clients: keep shared client of %s: %w", ticketAPID, err)
	}
	var id string
	if err := tx.WithContext(ctx).Model(&Client{}).Select("id").Where("origin_ap_id = ?", ticketAPID).Scan(&id).Error; err != nil {
		return "", fmt.Errorf("clients: shared client of %s: %w", ticketAPID, err)
	}
	return id, nil
}

// CopiesWithContact lists the ids of the clients of other regions' tickets
// held on this node that still carry a contact person.
func (s *Service) CopiesWithContact(ctx context.Context) ([]string, error) {
	var ids []string
	if err := s.db.Conn(ctx).Model(&Client{}).Where("origin_ap_id IS NOT NULL AND (contact_name <> '' OR contact_email <> '' OR contact_phone <> '')").
		Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("clients: copies with a contact: %w", err)
	}
	return ids, nil
}

// Lock locks client id's row until the end of the transaction ctx
// carries (PostgreSQL; on SQLite the transaction holds the database).
func (s *Service) Lock(ctx context.Context, id string) error {
	return s.db.LockRow(ctx, "clients", id)
}
