// Package privacy is what the coop does for the people whose data it holds
// (RGPD articles 15, 17, 20 and 30): the record of processing (record.go),
// the export of everything this node holds about a client or a member, and
// their erasure, propagated to the nodes the data was shared with. It
// composes the domains that own the tables; each anonymises its own.
package privacy

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/services/validate"
)

// Delivery is one activity this node sent another about a client's
// tickets: which node received what, and when.
type Delivery struct {
	Node     string     `json:"node"` // the receiving node's host
	Type     string     `json:"type"` // Offer (the job given), Update, Create (a comment), Invite, Delete (an erasure)…
	Object   string     `json:"object"`
	Context  string     `json:"context,omitempty"`
	State    string     `json:"state"` // pending, delivered, failed, gone
	QueuedAt time.Time  `json:"queued_at"`
	DoneAt   *time.Time `json:"done_at"`
	BodyKept bool       `json:"body_kept"` // the activity itself is still held (within the audit window)
	Attempts int        `json:"attempts"`
}

// Sharing is what the federation does for privacy: say who received what,
// and carry an erasure to them.
type Sharing interface {
	Recipients(ctx context.Context, ids []string) ([]Delivery, error)
	ClientErased(ctx context.Context, tickets, ids []string) error
	Wake()
}

// Service exports and erases personal data on one node.
type Service struct {
	db       *storage.DB
	region   string
	members  *members.Service
	clients  *clients.Service
	tickets  *tickets.Service
	planning *planning.Service
	sharing  Sharing // nil: a node that does not federate
	notify   *notify.Service
}

// New returns the privacy service of a node.
func New(db *storage.DB, region string, ms *members.Service, cs *clients.Service, ts *tickets.Service, ps *planning.Service,
	sharing Sharing, ns *notify.Service) *Service {
	return &Service{db: db, region: region, members: ms, clients: cs, tickets: ts, planning: ps, sharing: sharing, notify: ns}
}

// LegalHold is data kept although its subject asked for erasure, because
// the law requires it, with why and until when.
type LegalHold struct {
	What  string `json:"what"`
	Why   string `json:"why"`
	Until string `json:"until"`
}

// ClientExport is everything this node holds about one of its clients.
type ClientExport struct {
	GeneratedAt   time.Time         `json:"generated_at"`
	Region        string            `json:"region"`
	Client        *clients.Client   `json:"client"`
	Sites         []*clients.Site   `json:"sites"`
	Assets        []*clients.Asset  `json:"assets"`
	Tickets       []tickets.Record  `json:"tickets"`
	Interventions []*planning.Event `json:"interventions"`
	// SharedWith is what other nodes received of the client's tickets,
	// when, from the records of the federation (kept 400 days by
	// default; the activities themselves a week).
	SharedWith []Delivery `json:"shared_with"`
	// KeptByLaw is what an erasure would keep, and why.
	KeptByLaw []LegalHold `json:"kept_by_law"`
	Erasures  []Erasure   `json:"erasures"`
	Notes     []string    `json:"notes"`
}

// Erasure is one erasure of a subject's data on this node.
type Erasure struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"` // client, member, copy (of another region's client)
	SubjectID string    `json:"subject_id"`
	By        string    `json:"by" gorm:"column:by_handle"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// TableName maps Erasure to its table.
func (Erasure) TableName() string { return "erasures" }

// keptByLaw is what the law makes the coop keep: nothing yet, invoices
// when they come (ten years, Code de commerce L123-22).
var keptByLaw = []LegalHold{}

const invoiceNote = "No invoice exists on this node yet. Invoices, once coopnet issues them, are kept ten years as the law requires " +
	"(Code de commerce, article L123-22), erasure or not."

// ExportClient returns everything this node holds about one of its
// clients, for the staff of its region (RGPD articles 15 and 20).
func (s *Service) ExportClient(ctx context.Context, by members.Actor, clientID string) (*ClientExport, error) {
	held, err := s.clients.ForPrivacy(ctx, by, clientID)
	if err != nil {
		return nil, err
	}
	out := &ClientExport{GeneratedAt: storage.Now(), Region: s.region, Client: held.Client, Sites: held.Sites, Assets: held.Assets,
		KeptByLaw: keptByLaw, Notes: []string{invoiceNote}, Erasures: []Erasure{}}
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if out.Tickets, err = s.tickets.OfClient(ctx, clientID); err != nil {
			return err
		}
		ids, apIDs := make([]string, 0, len(out.Tickets)), make([]string, 0, len(out.Tickets))
		for _, r := range out.Tickets {
			ids, apIDs = append(ids, r.Ticket.ID), append(apIDs, r.APID)
		}
		if out.Interventions, err = s.planning.OfTickets(ctx, ids); err != nil {
			return err
		}
		out.SharedWith = []Delivery{}
		if s.sharing != nil {
			related := append(apIDs, s.relatedIDs(out)...)
			if out.SharedWith, err = s.sharing.Recipients(ctx, related); err != nil {
				return err
			}
		}
		return tx.Where("subject IN ('client') AND subject_id = ?", clientID).Order("created_at").Find(&out.Erasures).Error
	})
	if err != nil {
		return nil, fmt.Errorf("privacy: export client %s: %w", clientID, err)
	}
	return out, nil
}

// relatedIDs are the ActivityPub ids of the interventions and comments of
// an export's tickets.
func (s *Service) relatedIDs(e *ClientExport) []string {
	var ids []string
	for _, ev := range e.Interventions {
		ids = append(ids, ev.APID)
	}
	for _, r := range e.Tickets {
		for _, c := range r.Comments {
			if c.APID != nil {
				ids = append(ids, *c.APID)
			}
		}
	}
	return ids
}

// EraseClient erases a client's personal data on this node at its
// request (RGPD article 17), for the staff of its region: the client,
// its sites and equipment, the texts of its tickets, their comments and
// interventions' places, the routing's notes, what the federation holds;
// and tells the nodes its tickets were shared with to erase their copies,
// as durably as any delivery. Tickets, hours and counts stay, anonymous,
// for the coop's figures; what the law requires to keep is kept. A client
// with a job under way is refused: close or cancel it first.
func (s *Service) EraseClient(ctx context.Context, by members.Actor, clientID, reason string) error {
	var v apperr.Validation
	reason = validate.Text(&v, "reason", reason, 0, 500, true)
	if err := v.Err(); err != nil {
		return err
	}
	held, err := s.clients.ForPrivacy(ctx, by, clientID)
	if err != nil {
		return err
	}
	open, err := s.tickets.CountOfClient(ctx, clientID, tickets.StatusResolved, tickets.StatusClosed, tickets.StatusCancelled)
	if err != nil {
		return err
	}
	if open > 0 {
		return apperr.New(apperr.Conflict, "%s has %d request(s) under way: close or cancel them before erasing its data", held.Client.Name, open)
	}
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		recs, err := s.tickets.OfClient(ctx, clientID)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(recs))
		for _, r := range recs {
			ids = append(ids, r.Ticket.ID)
		}
		events, err := s.planning.OfTickets(ctx, ids)
		if err != nil {
			return err
		}
		related := s.relatedIDs(&ClientExport{Tickets: recs, Interventions: events})
		if err := s.clients.Erase(ctx, clientID); err != nil {
			return err
		}
		e, err := s.tickets.EraseClient(ctx, clientID)
		if err != nil {
			return err
		}
		if err := s.planning.EraseTickets(ctx, e.IDs); err != nil {
			return err
		}
		if err := routing.EraseTickets(ctx, s.db, e.IDs, e.APIDs); err != nil {
			return err
		}
		if s.sharing != nil {
			if err := s.sharing.ClientErased(ctx, e.APIDs, append(append([]string{}, e.APIDs...), related...)); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, "client", clientID, by.Handle, reason)
	})
	if err != nil {
		if apperr.CodeOf(err) != apperr.Internal {
			return err
		}
		return fmt.Errorf("privacy: erase client %s: %w", clientID, err)
	}
	if s.sharing != nil {
		s.sharing.Wake()
	}
	return nil
}

// EraseCopy erases, in the transaction ctx carries, this node's copy of another region's
// ticket (apID) and what it held of its client, when the ticket's node
// says the client's data was erased there.
func (s *Service) EraseCopy(ctx context.Context, apID string) error {
	tx := s.db.Conn(ctx)
	copyID, err := s.clients.SharedCopy(ctx, apID)
	if err != nil || copyID == "" {
		return err
	}
	if err := s.clients.Erase(ctx, copyID); err != nil {
		return err
	}
	e, err := s.tickets.EraseClient(ctx, copyID)
	if err != nil {
		return err
	}
	if err := s.planning.EraseTickets(ctx, e.IDs); err != nil {
		return err
	}
	if err := routing.EraseTickets(ctx, s.db, e.IDs, append(e.APIDs, apID)); err != nil {
		return err
	}
	return s.record(ctx, tx, "copy", copyID, "", "erased on "+apID)
}

// record keeps the trace of an erasure: ids, who, when and why.
func (s *Service) record(ctx context.Context, tx *gorm.DB, subject, id, by, reason string) error {
	return tx.WithContext(ctx).Create(&Erasure{ID: storage.NewID(), Subject: subject, SubjectID: id, By: by, Reason: reason,
		CreatedAt: storage.Now()}).Error
}
