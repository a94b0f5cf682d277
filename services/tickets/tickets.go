// Package tickets holds the requests of clients: their life from intake to
// closure, comments (public and internal) and a full history of every
// change. Updates use optimistic locking: each ticket carries a version and
// a stale update is refused with a conflict, never applied over a newer one.
package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
)

// Status is where a ticket is in its life.
type Status string

// The statuses, as in the public contract.
const (
	StatusNew        Status = "new"
	StatusRouting    Status = "routing"
	StatusOffered    Status = "offered"
	StatusAccepted   Status = "accepted"
	StatusScheduled  Status = "scheduled"
	StatusInProgress Status = "in_progress"
	StatusResolved   Status = "resolved"
	StatusClosed     Status = "closed"
	StatusCancelled  Status = "cancelled"
	StatusUnroutable Status = "unroutable"
)

// Statuses lists every status.
var Statuses = []string{"new", "routing", "offered", "accepted", "scheduled", "in_progress",
	"resolved", "closed", "cancelled", "unroutable"}

// Priorities lists the priorities, lowest first.
var Priorities = []string{"low", "normal", "high", "urgent"}

// Ticket is a client's request.
type Ticket struct {
	ID               string
	ClientID         string
	TechnicianID     string // the local member in charge (the client's technician)
	Title            string
	Description      string
	Skill            string
	Priority         string
	OnSite           bool
	EstimatedMinutes int
	Status           Status
	OriginRegion     string
	AssigneeMemberID *string // set when the assignee is a member of this node
	AssigneeHandle   string
	AssigneeRegion   string
	AssigneeName     string
	APID             string `gorm:"column:ap_id"`
	CreatedBy        string // full handle of the member who took the request in
	// TimeSpentMinutes is the time logged on this node (or kept by it);
	// RemoteTimeMinutes the time the other node of a shared ticket
	// reported: the ledger's totals, read with the ticket.
	TimeSpentMinutes  int `gorm:"-"`
	RemoteTimeMinutes int `gorm:"-"`
	Version           int
	CreatedAt         time.Time
	UpdatedAt         time.Time
	// SearchText is what a search matches (searchText): written, never
	// read.
	SearchText string `gorm:"->:false;<-" json:"-"`
}

// Shared reports whether the ticket is shared with another region's node:
// its assignee works there, or it is this node's copy of another region's
// ticket.
func (t *Ticket) Shared(region string) bool {
	return t.OriginRegion != region || (t.AssigneeHandle != "" && t.AssigneeRegion != region)
}

// TableName maps Ticket to its table.
func (Ticket) TableName() string { return "tickets" }

// Assignee is who does the work, possibly on another node.
type Assignee struct {
	Handle string `json:"handle"`
	Region string `json:"region"`
	Name   string `json:"name"`
}

// View is the public shape of a ticket in the API.
type View struct {
	ID             string    `json:"id"`
	ClientID       string    `json:"client_id"`
	TechnicianID   string    `json:"technician_id"`
	Title          string    `json:"title"`
	Description    string    `json:"description"`
	Skill          string    `json:"skill"`
	Priority       string    `json:"priority"`
	OnSite         bool      `json:"on_site"`
	EstimatedHours float64   `json:"estimated_hours"`
	Status         Status    `json:"status"`
	OriginRegion   string    `json:"origin_region"`
	Assignee       *Assignee `json:"assignee"`
	APID           string    `json:"ap_id"`
	CreatedBy      string    `json:"created_by"`
	TimeSpentHours float64   `json:"time_spent_hours"`
	Version        int       `json:"version"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// View returns the ticket as the API documents it. (A plain struct rather
// than a MarshalJSON method: encoding/json re-validates what MarshalJSON
// returns, which doubles the cost on hot paths.)
func (t *Ticket) View() View {
	j := View{
		ID: t.ID, ClientID: t.ClientID, TechnicianID: t.TechnicianID, Title: t.Title, Description: t.Description,
		Skill: t.Skill, Priority: t.Priority, OnSite: t.OnSite, EstimatedHours: float64(t.EstimatedMinutes) / 60,
		Status: t.Status, OriginRegion: t.OriginRegion, APID: t.APID, CreatedBy: t.CreatedBy, Version: t.Version,
		TimeSpentHours: float64(t.TimeSpentMinutes+t.RemoteTimeMinutes) / 60,
		CreatedAt:      t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
	}
	if t.AssigneeHandle != "" {
		j.Assignee = &Assignee{Handle: t.AssigneeHandle, Region: t.AssigneeRegion, Name: t.AssigneeName}
	}
	return j
}

// Comment is a message on a ticket. Internal comments never leave the node
// and are not shown to the client.
type Comment struct {
	ID           string    `json:"id" gorm:"primaryKey"`
	TicketID     string    `json:"ticket_id"`
	AuthorID     *string   `json:"-"`
	AuthorHandle string    `json:"author_handle"`
	AuthorName   string    `json:"author_name"`
	Body         string    `json:"body"`
	Internal     bool      `json:"internal"`
	APID         *string   `json:"-" gorm:"column:ap_id"`
	CreatedAt    time.Time `json:"created_at"`
	// Attachments are the files that came with the comment.
	Attachments []*Attachment `json:"attachments" gorm:"-"`
}

// TableName maps Comment to its table.
func (Comment) TableName() string { return "ticket_comments" }

// Change is one entry of a ticket's history: who changed what, when.
type Change struct {
	ID          string    `json:"id" gorm:"primaryKey"`
	TicketID    string    `json:"ticket_id"`
	Version     int       `json:"version"`
	ActorHandle string    `json:"actor"`
	Action      Action    `json:"action"`
	Field       string    `json:"field,omitempty"`
	OldValue    string    `json:"old,omitempty"`
	NewValue    string    `json:"new,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// TableName maps Change to its table.
func (Change) TableName() string { return "ticket_history" }

// Config is what the tickets service needs to know about its node.
type Config struct {
	Region    string // this node's region slug
	PublicURL string // base of ActivityPub ids, without trailing slash
	// Files is where attached files are kept (nil: no attachments on this
	// node); MaxFileBytes the largest (0: files.DefaultMaxBytes).
	Files        files.Store
	MaxFileBytes int64
}

// Service is the tickets domain.
type Service struct {
	db      *storage.DB
	skills  *skills.Catalog
	clients *clients.Service
	ledger  *ledger.Service
	cfg     Config
	log     *slog.Logger

	// The reads of one ticket by id, in the database's placeholders (see
	// visible): by staff (id, the node's region, the actor's id twice), and
	// by a technician (id, the actor's id twice).
	getAny, getMine string
	// The insert of a ticket (insert).
	insertTicket string

	// The fetching of the files of another node's comments (attachments.go).
	fetchQ  *queue.Queue
	fetch   Fetch
	wake    queue.Signal
	fetcher queue.Worker
	sweeper queue.Worker
}

// New returns the tickets service.
func New(db *storage.DB, catalog *skills.Catalog, cl *clients.Service, lg *ledger.Service, cfg Config, log *slog.Logger) *Service {
	get := ticketSelect + " WHERE id = ?"
	s := &Service{db: db, skills: catalog, clients: cl, ledger: lg, cfg: cfg, log: log,
		getAny:  db.Bind(get + " AND (origin_region = ? OR technician_id = ? OR assignee_member_id = ?)"),
		getMine: db.Bind(get + " AND (technician_id = ? OR assignee_member_id = ?)"),
		insertTicket: db.Bind(`INSERT INTO tickets (id, client_id, technician_id, title, description, skill, priority, on_site,
			estimated_minutes, status, origin_region, ap_id, created_by, version, created_at, updated_at, search_text)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)}
	if s.cfg.MaxFileBytes <= 0 {
		s.cfg.MaxFileBytes = files.DefaultMaxBytes
	}
	s.wake = queue.NewSignal()
	s.fetchQ = queue.New(db, nil, fetchSpec)
	// A technician sees the clients of the tickets assigned to them: the
	// clients service asks these tickets.
	cl.SetAssignments(s)
	return s
}

func notFound(id string) error { return apperr.NotFoundf("no ticket %q", id) }

// visible restricts a query on tickets to those the actor may see: staff see
// every ticket of their node's region, not the copies of other regions'
// tickets held here for the member who works on them (their client is not
// the node's); a technician sees those of their clients and those assigned
// to them. Whoever may see a ticket works on it, and may change it and
// comment on it.
func (s *Service) visible(q *gorm.DB, by members.Actor) *gorm.DB {
	if by.Role.IsStaff() {
		return q.Where("(origin_region = ? OR technician_id = ? OR assignee_member_id = ?)", s.cfg.Region, by.ID, by.ID)
	}
	return q.Where("(technician_id = ? OR assignee_member_id = ?)", by.ID, by.ID)
}

// ticketSelect reads tickets with their time, the totals the ledger
// publishes, in the order scanTicket reads them.
const ticketSelect = `SELECT id, client_id, technician_id, title, description, skill, priority, on_site,
	estimated_minutes, status, origin_region, assignee_member_id, assignee_handle, assignee_region,
	assignee_name, ap_id, created_by, version, created_at, updated_at,
	COALESCE(here_minutes, 0), COALESCE(peer_minutes, 0)
	FROM tickets LEFT JOIN ticket_time_totals ON ticket_id = id`

func scanTicket(row interface{ Scan(...any) error }, t *Ticket) error {
	return row.Scan(&t.ID, &t.ClientID, &t.TechnicianID, &t.Title, &t.Description, &t.Skill, &t.Priority, &t.OnSite,
		&t.EstimatedMinutes, &t.Status, &t.OriginRegion, &t.AssigneeMemberID, &t.AssigneeHandle, &t.AssigneeRegion,
		&t.AssigneeName, &t.APID, &t.CreatedBy, &t.Version, &t.CreatedAt, &t.UpdatedAt, &t.TimeSpentMinutes, &t.RemoteTimeMinutes)
}

// Get returns a ticket the actor may see; others are reported as not found.
// It is the hottest read of the API, so it goes to SQL with a query built
// once and scans the columns itself, rather than through gorm's statement
// builder and reflection.
func (s *Service) Get(ctx context.Context, by members.Actor, id string) (*Ticket, error) {
	if !storage.ValidID(id) {
		return nil, notFound(id)
	}
	var row *sql.Row
	if by.Role.IsStaff() {
		row = s.db.SQL.QueryRowContext(ctx, s.getAny, id, s.cfg.Region, by.ID, by.ID)
	} else {
		row = s.db.SQL.QueryRowContext(ctx, s.getMine, id, by.ID, by.ID)
	}
	return scanOne(row, id)
}

// getRow reads one ticket with a query over ticketSelect.
func (s *Service) getRow(ctx context.Context, db *gorm.DB, id, q string, args ...any) (*Ticket, error) {
	return scanOne(db.WithContext(ctx).Raw(q, args...).Row(), id)
}

// timedAll fills in the time of tickets just read from the ledger.
func (s *Service) timedAll(ctx context.Context, ts []*Ticket) error {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	all, err := s.ledger.OfMany(ctx, ids)
	if err != nil {
		return fmt.Errorf("tickets: time: %w", err)
	}
	for _, t := range ts {
		t.TimeSpentMinutes, t.RemoteTimeMinutes = all[t.ID].Here, all[t.ID].Peer
	}
	return nil
}

// scanOne reads the ticket of a row over ticketSelect; no row is not found.
func scanOne(row *sql.Row, id string) (*Ticket, error) {
	var t Ticket
	err := scanTicket(row, &t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("tickets: get %s: %w", id, err)
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return &t, nil
}

// AssignedTo lists the ids of this node's tickets in one of the statuses
// assigned to the member, oldest id first.
func (s *Service) AssignedTo(ctx context.Context, memberID string, statuses []Status) ([]string, error) {
	var ids []string
	if err := s.db.Conn(ctx).Raw("SELECT id FROM tickets WHERE assignee_member_id = ? AND status IN ? ORDER BY id", memberID, statuses).
		Scan(&ids).Error; err != nil {
		return nil, fmt.Errorf("tickets: assigned to %s: %w", memberID, err)
	}
	return ids, nil
}
