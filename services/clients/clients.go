// Package clients holds the coop's clients on this node — schools, town
// halls, associations, small companies, people — with their sites and
// assets. A client's personal data (name, contact) is shown only to the
// members who work for them: the technician in charge, members assigned to
// one of their tickets, and the node's staff.
package clients

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// Kinds of client.
var Kinds = []string{"school", "town_hall", "association", "company", "person"}

// AssetKinds are the kinds of equipment recorded for a client.
var AssetKinds = []string{"workstation", "laptop", "server", "printer", "network", "other"}

// Client is an organisation or person the coop works for.
type Client struct {
	ID              string  `json:"id" gorm:"primaryKey"`
	TechnicianID    string  `json:"technician_id"`
	Name            string  `json:"name"`
	Kind            string  `json:"kind"`
	Postcode        string  `json:"postcode"`
	Commune         string  `json:"commune"`
	Departement     string  `json:"departement"`
	Lat             float64 `json:"lat"`
	Lon             float64 `json:"lon"`
	LocationPrecise bool    `json:"location_precise"`
	ContactName     string  `json:"contact_name"`
	ContactEmail    string  `json:"contact_email"`
	ContactPhone    string  `json:"contact_phone"`
	SearchText      string  `json:"-"`
	// OriginAPID is set on the client of another region's ticket shared
	// with this node (the ticket's ActivityPub id): not a client of this
	// node, only what its job needs.
	OriginAPID *string   `json:"origin,omitempty" gorm:"column:origin_ap_id"`
	Version    int       `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// TableName maps Client to its table.
func (Client) TableName() string { return "clients" }

// Site is a place where a client has equipment: a school building, a town hall.
type Site struct {
	ID          string    `json:"id" gorm:"primaryKey"`
	ClientID    string    `json:"client_id"`
	Name        string    `json:"name"`
	Address     string    `json:"address"`
	Postcode    string    `json:"postcode"`
	Commune     string    `json:"commune"`
	Departement string    `json:"departement"`
	Lat         float64   `json:"lat"`
	Lon         float64   `json:"lon"`
	CreatedAt   time.Time `json:"created_at"`
}

// TableName maps Site to its table.
func (Site) TableName() string { return "sites" }

// Asset is a piece of equipment: a workstation, a printer, a server.
type Asset struct {
	ID           string    `json:"id" gorm:"primaryKey"`
	ClientID     string    `json:"client_id"`
	SiteID       *string   `json:"site_id"`
	Kind         string    `json:"kind"`
	Hostname     string    `json:"hostname"`
	OS           string    `json:"os" gorm:"column:os"`
	PurchaseDate string    `json:"purchase_date"` // YYYY-MM-DD or empty
	Notes        string    `json:"notes"`
	CreatedAt    time.Time `json:"created_at"`
}

// TableName maps Asset to its table.
func (Asset) TableName() string { return "assets" }

// Service is the clients domain.
type Service struct {
	db           *storage.DB
	members      *members.Service
	assigned     Assignments
	forNewTicket string // ForNewTicket's statement, in the database's placeholders
}

// ClientChanged is published when a client of this node is changed, with
// the client as the transaction leaves it.
type ClientChanged struct{ Client *Client }

// New returns the clients service, whose technicians are ms's members.
func New(db *storage.DB, ms *members.Service) *Service {
	return &Service{db: db, members: ms,
		forNewTicket: db.Bind("SELECT technician_id FROM clients WHERE id = ? AND origin_ap_id IS NULL")}
}

// CreateInput is what it takes to record a client: its description and
// who is in charge.
type CreateInput struct {
	Description
	// TechnicianID is the member in charge; empty means the actor. Only
	// staff may put a client in another member's charge.
	TechnicianID string
}

// Description is what describes a client, as entered to create or change
// it.
type Description struct {
	Name         string
	Kind         string
	Postcode     string
	Commune      string
	Lat, Lon     *float64
	ContactName  string
	ContactEmail string
	ContactPhone string
}

// describe checks d into c's fields, reporting what is not valid in v.
func describe(v *apperr.Validation, c *Client, d Description) {
	c.Name = validate.Text(v, "name", d.Name, 1, 200, false)
	c.Kind = validate.OneOf(v, "kind", d.Kind, Kinds...)
	c.ContactName = validate.Text(v, "contact_name", d.ContactName, 0, 120, false)
	c.ContactEmail = validate.Email(v, "contact_email", d.ContactEmail, false)
	c.ContactPhone = validate.Phone(v, "contact_phone", d.ContactPhone)
	if loc, ok := validate.Location(v, d.Postcode, d.Commune, d.Lat, d.Lon, true); ok {
		c.Postcode, c.Commune, c.Departement = loc.Postcode, loc.Commune, loc.Departement
		c.Lat, c.Lon, c.LocationPrecise = loc.Lat, loc.Lon, loc.Precise
	}
	c.SearchText = geo.Fold(c.Name + " " + c.Commune)
}

// Create records a new client in the actor's charge.
func (s *Service) Create(ctx context.Context, by members.Actor, in CreateInput) (*Client, error) {
	var v apperr.Validation
	now := storage.Now()
	c := &Client{ID: storage.NewID(), TechnicianID: by.ID, Version: 1, CreatedAt: now, UpdatedAt: now}
	describe(&v, c, in.Description)
	if in.TechnicianID != "" && in.TechnicianID != by.ID {
		if !by.Role.IsStaff() {
			return nil, apperr.New(apperr.Forbidden, "only coop staff may put a client in another member's charge")
		}
		known := false
		if storage.ValidID(in.TechnicianID) {
			_, err := s.members.Get(ctx, in.TechnicianID)
			if err != nil && apperr.CodeOf(err) != apperr.NotFound {
				return nil, fmt.Errorf("clients: check technician: %w", err)
			}
			known = err == nil
		}
		if !known {
			v.Add("technician_id", "is not a member of this node")
		}
		c.TechnicianID = in.TechnicianID
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.db.WithContext(ctx).Create(c).Error; err != nil {
		return nil, fmt.Errorf("clients: create: %w", err)
	}
	return c, nil
}

// Assignments tell which of this node's clients a member works for
// through the tickets assigned to them: the tickets service, which owns
// them, set at wiring (SetAssignments).
type Assignments interface {
	ClientsAssignedTo(ctx context.Context, memberID string) ([]string, error)
}

// SetAssignments tells the service whose tickets make a client visible to
// the member they are assigned to. Without it, a technician sees only the
// clients in their charge.
func (s *Service) SetAssignments(a Assignments) { s.assigned = a }

// assignedTo lists the clients of the tickets assigned to a member (none
// without Assignments).
func (s *Service) assignedTo(ctx context.Context, memberID string) ([]string, error) {
	if s.assigned == nil {
		return nil, nil
	}
	ids, err := s.assigned.ClientsAssignedTo(ctx, memberID)
	if err != nil {
		return nil, fmt.Errorf("clients: assigned to %s: %w", memberID, err)
	}
	return ids, nil
}

// visible restricts a query on clients to those the actor may see: staff
// see all of the node's clients; a technician those in their charge and
// those of tickets assigned to them. The client of another region's
// ticket is seen only by the member who works on it, not by this node's
// staff: it is not their client.
func (s *Service) visible(ctx context.Context, q *gorm.DB, by members.Actor) (*gorm.DB, error) {
	if by.Role.IsStaff() {
		return q.Where("(clients.origin_ap_id IS NULL OR clients.technician_id = ?)", by.ID), nil
	}
	ids, err := s.assignedTo(ctx, by.ID)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return q.Where("clients.technician_id = ?", by.ID), nil
	}
	return q.Where("(clients.technician_id = ? OR clients.id IN ?)", by.ID, ids), nil
}

// ForNewTicket returns the technician in charge of a client of this node
// the actor may see, to whom a new ticket for the client goes; a client
// the actor may not see, or another region's, is not found. (One statement
// built once, straight to SQL: it is on the path of every new ticket, where
// gorm's rendering cost as much as the query.)
func (s *Service) ForNewTicket(ctx context.Context, by members.Actor, id string) (technicianID string, err error) {
	if !storage.ValidID(id) {
		return "", apperr.NotFoundf("no client %q", id)
	}
	err = s.db.Conn(ctx).Statement.ConnPool.QueryRowContext(ctx, s.forNewTicket, id).Scan(&technicianID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.NotFoundf("no client %q", id)
	}
	if err != nil {
		return "", fmt.Errorf("clients: %s for a new ticket: %w", id, err)
	}
	if by.Role.IsStaff() || technicianID == by.ID {
		return technicianID, nil
	}
	// A technician may also open one for a client they work for through a
	// ticket assigned to them.
	ids, err := s.assignedTo(ctx, by.ID)
	if err != nil {
		return "", err
	}
	if slices.Contains(ids, id) {
		return technicianID, nil
	}
	return "", apperr.NotFoundf("no client %q", id)
}

// Get returns a client the actor may see. Clients the actor may not see are
// reported as not found, so that their existence does not leak.
func (s *Service) Get(ctx context.Context, by members.Actor, id string) (*Client, error) {
	if !storage.ValidID(id) {
		return nil, apperr.NotFoundf("no client %q", id)
	}
	q, err := s.visible(ctx, s.db.WithContext(ctx).Where("clients.id = ?", id), by)
	if err != nil {
		return nil, err
	}
	var c Client
	err = q.Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFoundf("no client %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("clients: get %s: %w", id, err)
	}
	return &c, nil
}

// ListOptions filter and paginate List.
type ListOptions struct {
	Query string // a part of the name or commune, case-insensitive
	After string
	Limit int
}

// List returns the clients of this node the actor may see, newest first
// (not those of other regions' tickets shared with them).
func (s *Service) List(ctx context.Context, by members.Actor, opt ListOptions) ([]*Client, error) {
	var v apperr.Validation
	query := validate.Text(&v, "q", opt.Query, 0, 100, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	q, err := s.visible(ctx, s.db.WithContext(ctx).Model(&Client{}), by)
	if err != nil {
		return nil, err
	}
	q = q.Where("clients.origin_ap_id IS NULL").
		Order("clients.id DESC").Limit(opt.Limit)
	if opt.After != "" {
		q = q.Where("clients.id < ?", opt.After)
	}
	if query != "" {
		q = q.Where(`clients.search_text LIKE ? ESCAPE '\'`, Like(query))
	}
	var cs []*Client
	if err := q.Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("clients: list: %w", err)
	}
	return cs, nil
}

// Like is the LIKE pattern of a search for text: case and accents are
// folded in Go on both sides, the same way on PostgreSQL and SQLite (whose
// LOWER knows only ASCII), and LIKE's own characters are escaped (with \).
func Like(text string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(geo.Fold(text)) + "%"
}

// Matching is a subquery of the ids of the clients whose name or commune
// holds text (folded, as Like): for a search of their tickets, in one
// query.
func (s *Service) Matching(ctx context.Context, text string) *gorm.DB {
	return s.db.Conn(ctx).Table("clients").Select("id").Where(`search_text LIKE ? ESCAPE '\'`, Like(text))
}

// Place is where a client is, without anything personal: what may travel
// to other regions when their job is routed.
type Place struct {
	Commune     string
	Departement string
	Lat, Lon    float64
}

// Private is what identifies a client personally: what must not leave the
// node with an offer, before a member has accepted to work for them.
type Private struct {
	Name, Kind                              string
	ContactName, ContactEmail, ContactPhone string
	// Addresses are those of the client's sites that have one, each as
	// stored: the address, then the postcode and commune
	// ("12 rue des Écoles, 25150 Bourguignon").
	Addresses []string
}

// ForRouting returns where a client is, and what identifies them personally
// (name, contact and their sites' addresses) so that it can be scrubbed from
// any text about their job that leaves the node.
func (s *Service) ForRouting(ctx context.Context, id string) (Place, Private, error) {
	var c Client
	err := s.db.WithContext(ctx).Select("commune, departement, lat, lon, name, kind, contact_name, contact_email, contact_phone").
		Where("id = ?", id).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Place{}, Private{}, apperr.NotFoundf("no client %q", id)
	}
	if err != nil {
		return Place{}, Private{}, fmt.Errorf("clients: %s for routing: %w", id, err)
	}
	var sites []Site
	if err := s.db.WithContext(ctx).Select("address, postcode, commune").Where("client_id = ? AND address <> ''", id).
		Order("id").Find(&sites).Error; err != nil {
		return Place{}, Private{}, fmt.Errorf("clients: %s's sites for routing: %w", id, err)
	}
	p := Private{Name: c.Name, Kind: c.Kind, ContactName: c.ContactName, ContactEmail: c.ContactEmail, ContactPhone: c.ContactPhone}
	for _, site := range sites {
		a := site.Address
		if place := strings.TrimSpace(site.Postcode + " " + site.Commune); place != "" {
			a += ", " + place
		}
		p.Addresses = append(p.Addresses, a)
	}
	return Place{Commune: c.Commune, Departement: c.Departement, Lat: c.Lat, Lon: c.Lon}, p, nil
}

// Names returns the names of the clients of ids this node holds, by id:
// for a list of tickets, whose reader sees each ticket's client.
func (s *Service) Names(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct{ ID, Name string }
	if err := s.db.Conn(ctx).Raw("SELECT id, name FROM clients WHERE id IN ?", ids).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("clients: names: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}
