// Applying a comment received (Create of a Note).

package federation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/inbox"
	"github.com/coopnet/coopnet/services/apperr"
)

// applyNote stores a public comment on a ticket shared with the sender.
func (s *Service) applyNote(ctx context.Context, tx *gorm.DB, a *doc.Activity) error {
	o := a.Object
	sender := hostOf(a.Actor)
	ticketID := doc.IDOf(o["context"])
	if hostOf(a.ObjectID) != sender {
		return apperr.New(apperr.Forbidden, "a comment of %s sent by %s", a.ObjectID, sender)
	}
	t, err := s.tickets.GetByAPID(ctx, ticketID)
	if apperr.CodeOf(err) == apperr.NotFound && hostOf(ticketID) == sender {
		return inbox.NotYetFor(ticketID, err) // the ticket itself is on its way
	}
	if err != nil {
		return err
	}
	// Only the two nodes of a shared ticket talk about it.
	if !s.sharedWith(t, sender) {
		return apperr.New(apperr.Forbidden, "%s does not share %s", sender, ticketID)
	}
	body, _ := str(o, "content")
	fs, err := s.noteFiles(o, sender)
	if err != nil {
		return err
	}
	// The author is the activity's actor, a member of the sending node; the
	// name shown is what this node knows of them, never what the activity
	// says: on the tracker, only the ticket's assignee comments from their
	// node; on a copy, a member of the tracker's node in the directory.
	handle, err := s.noteAuthor(a, sender)
	if err != nil {
		return err
	}
	var name string
	if t.OriginRegion == s.cfg.Region {
		if !strings.EqualFold(handle, t.AssigneeHandle) {
			return apperr.New(apperr.Forbidden, "%s does not work on %s", handle, ticketID)
		}
		name = t.AssigneeName
	} else {
		e, err := s.directory.ByHandle(ctx, handle)
		if apperr.CodeOf(err) == apperr.NotFound {
			// Their profile may be on its way (a member who just joined):
			// wait for it, as for a ticket; one that never comes is set
			// aside after maxWait.
			return inbox.NotYet(fmt.Errorf("%s is not in the directory: %w", handle, errNoDirectoryEntry))
		}
		if err != nil {
			return err
		}
		name = e.Name
	}
	at := time.Now()
	if pub, _ := str(o, "published"); pub != "" {
		if p, err := time.Parse(time.RFC3339, pub); err == nil {
			at = p
		}
	}
	_, err = s.tickets.AddRemoteComment(ctx, t, a.ObjectID, handle, name, body, at, fs...)
	return err
}
