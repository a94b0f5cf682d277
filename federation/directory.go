package federation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/sign"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
)

// profileOf is a member's public profile.
func (s *Service) profileOf(m *members.Member) doc.Profile {
	p := doc.Profile{ID: s.MemberActor(m.Handle), Username: m.Handle, Name: m.Name, Region: s.cfg.Region,
		Commune: m.Commune, Departement: m.Departement, RemoteOK: m.RemoteOK, Updated: m.UpdatedAt.UTC()}
	for _, sk := range m.Skills {
		p.Skills = append(p.Skills, doc.Skill{Name: sk.Name, Level: sk.Level})
	}
	return p
}

// MemberChanged queues Update{Person} of m to every peer, inside the
// transaction that changed m (a listener of members.MemberChanged).
func (s *Service) MemberChanged(ctx context.Context, e members.MemberChanged) error {
	tx, m := s.db.Conn(ctx), e.Member
	if len(s.peers) == 0 {
		return nil
	}
	if !m.Active {
		// They left the coop: every peer removes them from its directory,
		// as durably as any delivery.
		act, err := doc.ActivityOf("Delete", s.newActivityID(), s.NodeActor(), s.MemberActor(m.Handle), s.peerActors(), "", time.Now())
		if err != nil {
			return err
		}
		return s.transport.Enqueue(ctx, tx, act, s.transport.PeerInboxes())
	}
	act, err := s.personUpdate(m)
	if err != nil {
		return err
	}
	return s.transport.Enqueue(ctx, tx, act, s.transport.PeerInboxes())
}

// personUpdate is the Update{Person} of a member's current profile. The
// Person's own key is not embedded: peers fetch it from the actor if they
// need it.
func (s *Service) personUpdate(m *members.Member) (map[string]any, error) {
	p := s.profileOf(m)
	obj, err := doc.Person(p, "", s.NodeActor()+"/inbox")
	if err != nil {
		return nil, err
	}
	id := s.NodeActor() + "/activities/" + uuid.Must(uuid.NewV7()).String()
	return doc.Update(id, s.NodeActor(), obj, s.peerActors(), time.Now())
}

// peerActors are the actors of every peer node.
func (s *Service) peerActors() []string {
	to := make([]string, 0, len(s.peers))
	for _, base := range s.peers {
		to = append(to, base+"/actor")
	}
	return to
}

// applyPersonDelete removes from the directory a member who left their
// region's node. Only that node may say so.
func (s *Service) applyPersonDelete(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	if h, _ := sign.KeyHost(a.ObjectID); h != hostOf(a.Actor) || !strings.Contains(a.ObjectID, "/members/") {
		return doc.Malformed("the Person %s is not a member of the sending node", a.ObjectID)
	}
	// From now on: no profile of theirs made before they left, delivered
	// late, brings the copy back (a member's actor id is never reused: their
	// handle stays taken on their node).
	_, err := s.directory.Remove(ctx, a.ObjectID, time.Now())
	return err
}

// announceDirectory queues the profile of every member to each peer that
// has not had this node's directory yet (a new peer, or a new node): the
// directory converges without waiting for each member to change.
func (s *Service) announceDirectory(ctx context.Context) error {
	pending, err := s.transport.WithoutDirectory(ctx)
	if err != nil {
		return err
	}
	for _, host := range pending {
		base, ok := s.peers[host]
		if !ok {
			continue // a peer no longer configured
		}
		err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			after := ""
			for {
				ms, err := s.members.List(ctx, members.ListOptions{After: after, Limit: 200})
				if err != nil {
					return err
				}
				for _, m := range ms {
					if !m.Active {
						continue
					}
					act, err := s.personUpdate(m)
					if err != nil {
						return err
					}
					if err := s.transport.Enqueue(ctx, tx, act, []string{base + "/actor/inbox"}); err != nil {
						return err
					}
				}
				if len(ms) < 200 {
					break
				}
				after = ms[len(ms)-1].ID
			}
			return s.transport.DirectorySent(ctx, host)
		})
		if err != nil {
			return fmt.Errorf("federation: announce the directory to %s: %w", host, err)
		}
	}
	return nil
}

// applyPersonUpdate stores a peer's member profile in the directory. The
// Person must be on the sending node and be a member actor there.
func (s *Service) applyPersonUpdate(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	p, err := doc.ProfileFrom(a.Object)
	if err != nil {
		return err
	}
	actorHost, _ := sign.KeyHost(a.Actor)
	h, err := sign.KeyHost(p.ID)
	if err != nil || h != actorHost {
		return doc.Malformed("the Person %s is not on the sending node %s", p.ID, actorHost)
	}
	if !strings.Contains(p.ID, "/members/") || p.Username == "" {
		return doc.Malformed("the Person %s is not a member actor", p.ID)
	}
	e := directory.Entry{APID: p.ID, Handle: p.Username + "@" + h, Name: p.Name, Region: p.Region,
		Commune: p.Commune, Departement: p.Departement, RemoteOK: p.RemoteOK, UpdatedAt: p.Updated}
	for _, sk := range p.Skills {
		e.Skills = append(e.Skills, members.SkillLevel{Name: sk.Name, Level: sk.Level})
	}
	_, err = s.directory.Apply(ctx, e)
	return err
}
