package privacy

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/services/validate"
)

// MemberWork is what a member did, as their export shows it: the
// requests they took in or worked on, their comments and time, by id and
// date (the clients' data stays with the clients' records).
type MemberWork struct {
	TicketsTakenIn []TicketRef     `json:"tickets_taken_in"`
	TicketsDone    []TicketRef     `json:"tickets_assigned"`
	Comments       []CommentRef    `json:"comments"`
	Time           []TimeRef       `json:"time"`
	Offers         []OfferRef      `json:"offers"`
	Interventions  []InterventionR `json:"interventions"`
}

// The references of a member's export, as their owners read them.
type (
	TicketRef     = tickets.WorkRef
	CommentRef    = tickets.CommentRef
	TimeRef       = tickets.TimeRef
	OfferRef      = member.OfferRef
	InterventionR = planning.Attendance
)

// MemberExport is everything this node holds about one of its members.
type MemberExport struct {
	GeneratedAt  time.Time             `json:"generated_at"`
	Region       string                `json:"region"`
	Member       *members.Member       `json:"member"`
	SkillHistory []members.SkillChange `json:"skill_history"`
	Tokens       []members.TokenInfo   `json:"tokens"`
	Work         MemberWork            `json:"work"`
	Notify       notify.MemberData     `json:"notifications"`
	Erasures     []Erasure             `json:"erasures"`
	Notes        []string              `json:"notes"`
}

// mayExportMember: the member themselves, or an admin of their node.
func mayExportMember(by members.Actor, id string) error {
	if by.ID != id && by.Role != members.Admin {
		return apperr.New(apperr.Forbidden, "a member exports their own data; an administrator any member's")
	}
	return nil
}

// ExportMember returns what this node holds about a member: their
// profile, skills and their history, tokens (not the tokens themselves)
// and their work (RGPD articles 15 and 20).
func (s *Service) ExportMember(ctx context.Context, by members.Actor, id string) (*MemberExport, error) {
	if err := mayExportMember(by, id); err != nil {
		return nil, err
	}
	m, err := s.members.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &MemberExport{GeneratedAt: storage.Now(), Region: s.region, Member: m, Erasures: []Erasure{},
		Notes: []string{"Other regions' nodes hold your public profile (name, region, commune, skills) while you are a member, " +
			"and the comments you wrote on their tickets, under your name, as the record of the work."}}
	if out.SkillHistory, err = s.members.SkillHistory(ctx, id); err != nil {
		return nil, err
	}
	if out.Tokens, err = s.members.Tokens(ctx, members.Actor{ID: id}, ""); err != nil {
		return nil, err
	}
	work, err := s.tickets.WorkOf(ctx, id)
	if err != nil {
		return nil, err
	}
	w := &out.Work
	w.TicketsTakenIn, w.TicketsDone, w.Comments, w.Time = work.TakenIn, work.Assigned, work.Comments, work.Time
	if w.Offers, err = member.OffersOf(ctx, s.db, id); err != nil {
		return nil, err
	}
	if w.Interventions, err = s.planning.AttendedBy(ctx, id); err != nil {
		return nil, err
	}
	if out.Notify, err = s.notify.OfMember(ctx, id); err != nil {
		return nil, err
	}
	if err := s.db.WithContext(ctx).Where("subject = 'member' AND subject_id = ?", id).Order("created_at").Find(&out.Erasures).Error; err != nil {
		return nil, fmt.Errorf("privacy: export member %s: %w", id, err)
	}
	// An empty list, never null, in the export.
	w.TicketsTakenIn, w.TicketsDone, w.Comments, w.Time = nonNil(w.TicketsTakenIn), nonNil(w.TicketsDone), nonNil(w.Comments), nonNil(w.Time)
	w.Offers, w.Interventions, out.Erasures = nonNil(w.Offers), nonNil(w.Interventions), nonNil(out.Erasures)
	return out, nil
}

// EraseMember erases what this node holds of a member who left the coop
// (deactivated), for an administrator: their profile, skills and tokens,
// and their name on the records of their work (comments, tickets they
// did), which keep their pseudonymous handle for the coop's figures.
func (s *Service) EraseMember(ctx context.Context, by members.Actor, id, reason string) error {
	if by.Role != members.Admin {
		return apperr.New(apperr.Forbidden, "only an administrator erases a member's data")
	}
	var v apperr.Validation
	reason = validate.Text(&v, "reason", reason, 0, 500, true)
	if err := v.Err(); err != nil {
		return err
	}
	if !storage.ValidID(id) {
		return apperr.NotFoundf("no member %q on this node", id)
	}
	m, err := s.members.Get(ctx, id)
	if err != nil {
		return err
	}
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if err := s.members.Erase(ctx, id); err != nil {
			return err
		}
		if err := s.tickets.EraseMemberName(ctx, id, members.ErasedName); err != nil {
			return err
		}
		if err := routing.EraseMemberName(ctx, s.db, m.FullHandle, members.ErasedName); err != nil {
			return err
		}
		if err := s.notify.EraseMember(ctx, id); err != nil {
			return err
		}
		if err := s.notify.EraseActorName(ctx, m.Name, members.ErasedName); err != nil {
			return err
		}
		return s.record(ctx, tx, "member", id, by.Handle, reason)
	})
	if err != nil {
		if apperr.CodeOf(err) != apperr.Internal {
			return err
		}
		return fmt.Errorf("privacy: erase member %s: %w", id, err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
