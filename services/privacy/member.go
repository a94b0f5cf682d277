package privacy

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
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

// TicketRef names a ticket without its content.
type TicketRef struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// CommentRef is one of the member's comments: their own words.
type CommentRef struct {
	TicketID  string    `json:"ticket_id"`
	Body      string    `json:"body"`
	Internal  bool      `json:"internal"`
	CreatedAt time.Time `json:"created_at"`
}

// TimeRef is time the member logged.
type TimeRef struct {
	TicketID  string    `json:"ticket_id"`
	Minutes   int       `json:"minutes"`
	CreatedAt time.Time `json:"created_at"`
}

// OfferRef is a job offered to the member, and their answer.
type OfferRef struct {
	ID            string    `json:"id"`
	OriginRegion  string    `json:"origin_region"`
	State         string    `json:"state"`
	DeclineReason string    `json:"decline_reason"`
	CreatedAt     time.Time `json:"created_at"`
}

// InterventionR is an intervention the member attended.
type InterventionR struct {
	TicketID string    `json:"ticket_id"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	State    string    `json:"state"`
}

// MemberExport is everything this node holds about one of its members.
type MemberExport struct {
	GeneratedAt  time.Time             `json:"generated_at"`
	Region       string                `json:"region"`
	Member       *members.Member       `json:"member"`
	SkillHistory []members.SkillChange `json:"skill_history"`
	Tokens       []members.TokenInfo   `json:"tokens"`
	Work         MemberWork            `json:"work"`
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
	db := s.db.WithContext(ctx)
	w := &out.Work
	steps := []struct {
		dst  any
		q    string
		args []any
	}{
		{&w.TicketsTakenIn, "SELECT id, status, created_at FROM tickets WHERE technician_id = ? ORDER BY created_at", []any{id}},
		{&w.TicketsDone, "SELECT id, status, created_at FROM tickets WHERE assignee_member_id = ? ORDER BY created_at", []any{id}},
		{&w.Comments, "SELECT ticket_id, body, internal, created_at FROM ticket_comments WHERE author_id = ? ORDER BY created_at", []any{id}},
		{&w.Time, "SELECT ticket_id, minutes, created_at FROM ticket_time WHERE member_id = ? ORDER BY created_at", []any{id}},
		{&w.Offers, "SELECT id, origin_region, state, decline_reason, created_at FROM offers WHERE member_id = ? ORDER BY created_at", []any{id}},
		{&w.Interventions, `SELECT ticket_id, start_at AS start, end_at AS "end", state FROM ticket_events WHERE attendee_member_id = ? ORDER BY start_at`, []any{id}},
		{&out.Erasures, "SELECT * FROM erasures WHERE subject = 'member' AND subject_id = ? ORDER BY created_at", []any{id}},
	}
	for _, st := range steps {
		if err := db.Raw(st.q, st.args...).Scan(st.dst).Error; err != nil {
			return nil, fmt.Errorf("privacy: export member %s: %w", id, err)
		}
	}
	for _, p := range []any{&w.TicketsTakenIn, &w.TicketsDone} {
		if *p.(*[]TicketRef) == nil {
			*p.(*[]TicketRef) = []TicketRef{}
		}
	}
	if w.Comments == nil {
		w.Comments = []CommentRef{}
	}
	if w.Time == nil {
		w.Time = []TimeRef{}
	}
	if w.Offers == nil {
		w.Offers = []OfferRef{}
	}
	if w.Interventions == nil {
		w.Interventions = []InterventionR{}
	}
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
		for _, st := range []struct {
			q   string
			arg string
		}{
			{"UPDATE ticket_comments SET author_name = ? WHERE author_id = ?", id},
			{"UPDATE tickets SET assignee_name = ? WHERE assignee_member_id = ?", id},
			{"UPDATE routings SET requested_by_name = ? WHERE requested_by = ?", m.FullHandle},
			{"UPDATE offers SET forwarded_by_name = ? WHERE forwarded_by = ?", m.FullHandle},
		} {
			if err := tx.Exec(st.q, members.ErasedName, st.arg).Error; err != nil {
				return err
			}
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
