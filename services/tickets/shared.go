package tickets

// This file is what a ticket shared between two regions needs: the hooks
// through which federation hears of every change, the assignee's node
// keeping its copy as the tracker sends it, and the tracker applying the
// changes the assignee's node made to its copy.
//
// The tracker (the ticket's origin) is the authority, and its version is
// the ticket's logical clock. The assignee's node applies a change to its
// copy at once (version+1) and sends it; the tracker applies it to its own
// ticket in the order changes reach it, field by field (the last change of
// a field wins), always takes a new version for it, even when it refuses
// part of it, and sends its whole state back. A copy adopts any state whose
// version is at least its own. Each change the copy made takes exactly one
// version on each side, so the tracker's last state always has the highest
// version: both nodes converge on it.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/validate"
)

// Changed is what the hooks hear of a change to a ticket, inside the
// transaction that made it.
type Changed struct {
	Ticket    *Ticket           // as it now is
	By        string            // full handle of who changed it
	Fields    map[string]string // field (as the API names it) → new value
	OldStatus Status
	Comment   *Comment // a new comment
	Assigned  bool     // the ticket was just given to its assignee
	// Unassigned is the assignee the ticket was just taken from (a job
	// given back), if any.
	Unassigned *Assignee
	// Remote is set when the change came from the other node of a shared
	// ticket (federation).
	Remote bool
}

// TicketCreated is published when a ticket is taken in on this node.
type TicketCreated struct {
	Ticket *Ticket
	By     string // full handle of who took it in
}

// TicketMoved is published when a ticket's status changes, by whatever
// path (a member, the routing, the other node of a shared ticket).
type TicketMoved struct {
	Ticket   *Ticket // as it now is
	From, To Status
	By       string
	Remote   bool // the change came from the other node
}

// CommentAdded is published when a comment is added to a ticket, here or
// by the other node of a shared ticket.
type CommentAdded struct {
	Ticket  *Ticket
	Comment *Comment
	Remote  bool
}

// notify publishes a change, and the typed events it makes, inside the
// transaction ctx carries.
func (s *Service) notify(ctx context.Context, c *Changed) error {
	if err := storage.Publish(ctx, s.db, c); err != nil {
		return err
	}
	if c.Comment != nil {
		if err := storage.Publish(ctx, s.db, CommentAdded{Ticket: c.Ticket, Comment: c.Comment, Remote: c.Remote}); err != nil {
			return err
		}
	}
	if c.OldStatus != c.Ticket.Status {
		return storage.Publish(ctx, s.db, TicketMoved{Ticket: c.Ticket, From: c.OldStatus, To: c.Ticket.Status, By: c.By, Remote: c.Remote})
	}
	return nil
}

// CommentAPID is the ActivityPub id of a comment made on this node.
func (s *Service) CommentAPID(id string) string { return s.cfg.PublicURL + "/comments/" + id }

// GetByAPID reads a ticket by its ActivityPub id in the transaction ctx carries: this node's own
// ticket or its copy of another region's.
func (s *Service) GetByAPID(ctx context.Context, apID string) (*Ticket, error) {
	tx := s.db.Conn(ctx)
	return s.getRow(ctx, tx, apID, ticketSelect+" WHERE ap_id = ?", apID)
}

// LogTime records, in the ledger, time the actor spent on a ticket they
// work on; onSite says whether on the client's site (nil: as the ticket
// asks).
func (s *Service) LogTime(ctx context.Context, by members.Actor, ticketID string, minutes int, onSite *bool, note string) (*Ticket, error) {
	t, err := s.Get(ctx, by, ticketID)
	if err != nil {
		return nil, err
	}
	site := t.OnSite
	if onSite != nil {
		site = *onSite
	}
	var out *Ticket
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		// The ticket's row first, then the ledger's, as every change of a
		// ticket takes them (a change from the other node: the ticket,
		// then its time): in the other order, one applied at the same
		// moment deadlocked with this one on PostgreSQL, and the member's
		// time was refused with a 500.
		now := storage.Now()
		if err := tx.Exec(`UPDATE tickets SET version = version + 1, updated_at = ? WHERE id = ?`, now, t.ID).Error; err != nil {
			return err
		}
		if _, err := s.ledger.Log(ctx, ledger.LogInput{TicketID: t.ID, MemberID: by.ID, MemberHandle: by.Handle,
			Minutes: minutes, OnSite: site, Note: note}); err != nil {
			return err
		}
		cur, err := s.ByID(ctx, t.ID)
		if err != nil {
			return err
		}
		total := strconv.Itoa(cur.TimeSpentMinutes)
		if err := tx.Create(&Change{ID: storage.NewID(), TicketID: t.ID, Version: cur.Version, ActorHandle: by.Handle,
			Action: ActLoggedTime, Field: "time_spent_minutes", OldValue: strconv.Itoa(t.TimeSpentMinutes), NewValue: total,
			CreatedAt: now}).Error; err != nil {
			return err
		}
		out = cur
		return s.notify(ctx, &Changed{Ticket: cur, By: by.Handle, Fields: map[string]string{"time_spent_minutes": total},
			OldStatus: cur.Status})
	})
	if err != nil {
		if apperr.CodeOf(err) == apperr.Invalid {
			return nil, err
		}
		return nil, fmt.Errorf("tickets: log time on %s: %w", ticketID, err)
	}
	return out, nil
}

// State is a shared ticket as its tracker sends it to the assignee's node.
type State struct {
	APID             string
	OriginRegion     string
	Title            string
	Description      string
	Skill            string
	Priority         string
	OnSite           bool
	EstimatedMinutes int
	Status           Status
	Assignee         Assignee
	CreatedBy        string
	CreatedAt        time.Time
	TrackerMinutes   int // time logged on the tracker's node
	Version          int
	Client           *clients.Shared // what the job needs of the client
}

func (st *State) check() error {
	var v apperr.Validation
	st.Title = validate.Text(&v, "title", st.Title, 1, 200, false)
	st.Description = validate.Text(&v, "description", st.Description, 0, 20000, true)
	st.Skill = validate.Text(&v, "skill", st.Skill, 2, 32, false)
	validate.OneOf(&v, "priority", st.Priority, Priorities...)
	validate.OneOf(&v, "status", string(st.Status), Statuses...)
	st.OriginRegion = validate.Text(&v, "originRegion", st.OriginRegion, 1, 64, false)
	st.CreatedBy = validate.Text(&v, "createdBy", st.CreatedBy, 1, 320, false)
	st.Assignee.Name = validate.Text(&v, "assignee.name", st.Assignee.Name, 0, 200, false)
	if st.EstimatedMinutes < 0 || st.EstimatedMinutes > MaxEstimatedHours*60 {
		v.Add("estimatedMinutes", "out of range")
	}
	if st.TrackerMinutes < 0 || st.TrackerMinutes > 1<<30 {
		v.Add("trackerMinutes", "out of range")
	}
	if st.Version < 1 {
		v.Add("version", "must be at least 1")
	}
	return v.Err()
}

// ApplyState keeps, in the transaction ctx carries, this node's copy of another region's ticket
// as its tracker sent it, for memberID, the local member it is assigned
// to. A state older than the copy is ignored (applied is false); the first
// state creates the copy and must carry the client.
func (s *Service) ApplyState(ctx context.Context, st State, memberID, byHandle string) (applied bool, err error) {
	tx := s.db.Conn(ctx)
	if err := st.check(); err != nil {
		return false, err
	}
	if st.OriginRegion == s.cfg.Region {
		return false, apperr.New(apperr.Invalid, "a ticket of region %s is this node's own, not a copy", st.OriginRegion)
	}
	// The skill vocabulary is the coop's: a skill another node has and
	// this one does not yet is added rather than refused.
	if err := s.skills.Add(ctx, st.Skill); err != nil {
		return false, err
	}
	cur, err := s.GetByAPID(ctx, st.APID)
	if err != nil && apperr.CodeOf(err) != apperr.NotFound {
		return false, err
	}
	now := storage.Now()
	// A state that hands the copy to another member of this node (who
	// accepted the job: the caller checked) applies whatever the copy's
	// version: the copy may be ahead of the tracker with edits of the
	// member who gave the job back, which the tracker no longer takes.
	handover := cur != nil && (cur.AssigneeMemberID == nil || *cur.AssigneeMemberID != memberID)
	if cur != nil && st.Version < cur.Version && !handover {
		return false, nil
	}
	var clientID string
	if st.Client != nil {
		if clientID, err = s.clients.UpsertShared(ctx, st.APID, memberID, *st.Client); err != nil {
			return false, err
		}
	}
	if cur == nil {
		if st.Client == nil {
			return false, apperr.New(apperr.Invalid, "the first state of a shared ticket must carry its client")
		}
		t := &Ticket{ID: storage.NewID(), ClientID: clientID, TechnicianID: memberID, Title: st.Title,
			Description: st.Description, Skill: st.Skill, Priority: st.Priority, OnSite: st.OnSite,
			EstimatedMinutes: st.EstimatedMinutes, Status: st.Status, OriginRegion: st.OriginRegion,
			AssigneeMemberID: &memberID, AssigneeHandle: st.Assignee.Handle, AssigneeRegion: st.Assignee.Region,
			AssigneeName: st.Assignee.Name, APID: st.APID, CreatedBy: st.CreatedBy,
			Version: st.Version, CreatedAt: st.CreatedAt.UTC(), UpdatedAt: now, SearchText: searchText(st.Title, st.Description)}
		if err := tx.WithContext(ctx).Create(t).Error; err != nil {
			return false, fmt.Errorf("tickets: create the copy of %s: %w", st.APID, err)
		}
		if _, _, err := s.ledger.Report(ctx, t.ID, st.OriginRegion, "", st.TrackerMinutes); err != nil {
			return false, err
		}
		t.RemoteTimeMinutes = st.TrackerMinutes
		if err := tx.WithContext(ctx).Create(&Change{ID: storage.NewID(), TicketID: t.ID, Version: t.Version,
			ActorHandle: byHandle, Action: ActShared, NewValue: st.OriginRegion, CreatedAt: now}).Error; err != nil {
			return false, err
		}
		return true, s.notify(ctx, &Changed{Ticket: t, By: byHandle, OldStatus: t.Status, Assigned: true, Remote: true})
	}
	fields := map[string]string{}
	var rows []Change
	updates := map[string]any{"version": st.Version, "updated_at": now}
	set := func(field, column, old, new string, value any) {
		if old != new {
			fields[field] = new
			updates[column] = value
			rows = append(rows, Change{ID: storage.NewID(), TicketID: cur.ID, Version: st.Version, ActorHandle: byHandle,
				Action: ActSynced, Field: field, OldValue: old, NewValue: new, CreatedAt: now})
		}
	}
	set("title", "title", cur.Title, st.Title, st.Title)
	set("description", "description", cur.Description, st.Description, st.Description)
	set("skill", "skill", cur.Skill, st.Skill, st.Skill)
	set("priority", "priority", cur.Priority, st.Priority, st.Priority)
	set("on_site", "on_site", strconv.FormatBool(cur.OnSite), strconv.FormatBool(st.OnSite), st.OnSite)
	set("estimated_hours", "estimated_minutes", hours(cur.EstimatedMinutes), hours(st.EstimatedMinutes), st.EstimatedMinutes)
	set("status", "status", string(cur.Status), string(st.Status), string(st.Status))
	set("assignee_name", "assignee_name", cur.AssigneeName, st.Assignee.Name, st.Assignee.Name)
	if cur.AssigneeHandle != st.Assignee.Handle {
		// Given back by one member of this node and taken by another: the
		// copy (and its client) is the new assignee's now.
		set("assignee", "assignee_handle", cur.AssigneeHandle, st.Assignee.Handle, st.Assignee.Handle)
		updates["assignee_region"], updates["assignee_member_id"], updates["technician_id"] = st.Assignee.Region, memberID, memberID
	}
	searchable(updates, cur.Title, cur.Description)
	res := tx.WithContext(ctx).Model(&Ticket{}).Where("id = ? AND version = ?", cur.ID, cur.Version).Updates(updates)
	if res.Error != nil {
		return false, fmt.Errorf("tickets: update the copy of %s: %w", st.APID, res.Error)
	}
	if res.RowsAffected == 0 {
		return false, staleVersion(cur.Version) // a member changed the copy meanwhile: tried again
	}
	if handover {
		// The time of the member who gave the job back is on the tracker's
		// side now (it kept it when it took the job back): this node counts
		// the new member's from nothing.
		if _, err := s.ledger.HandOver(ctx, cur.ID, cur.AssigneeHandle); err != nil {
			return false, err
		}
	}
	if _, _, err := s.ledger.Report(ctx, cur.ID, st.OriginRegion, "", st.TrackerMinutes); err != nil {
		return false, err
	}
	if len(rows) > 0 {
		if err := tx.WithContext(ctx).Create(&rows).Error; err != nil {
			return false, err
		}
	}
	t, err := s.ByID(ctx, cur.ID)
	if err != nil {
		return false, err
	}
	return true, s.notify(ctx, &Changed{Ticket: t, By: byHandle, Fields: fields, OldStatus: cur.Status, Remote: true})
}

// Withdraw ends, in the transaction ctx carries, this node's copy of another region's ticket
// that its assignee no longer does (they gave it back, or the tracker gave
// it to someone else): the copy is cancelled, with the reason in its
// history, and takes the tracker's version when it is given (0 when not:
// the member's own request), so that an older state of the tracker's,
// arriving late, cannot bring it back; a newer one (the job offered to
// another member of this node) still applies. The hooks hear it as a
// remote change: nothing is sent back. It reports whether the copy was
// withdrawn now.
func (s *Service) Withdraw(ctx context.Context, t *Ticket, byHandle, reason string, trackerVersion int) (bool, error) {
	tx := s.db.Conn(ctx)
	if t.OriginRegion == s.cfg.Region {
		return false, apperr.New(apperr.Invalid, "ticket %s is this node's own, not a copy", t.ID)
	}
	version := max(t.Version, trackerVersion)
	now := storage.Now()
	switch t.Status {
	case StatusCancelled, StatusClosed:
		if version > t.Version {
			if err := tx.WithContext(ctx).Model(&Ticket{}).Where("id = ? AND version = ?", t.ID, t.Version).
				Updates(map[string]any{"version": version, "updated_at": now}).Error; err != nil {
				return false, fmt.Errorf("tickets: withdraw %s: %w", t.ID, err)
			}
		}
		return false, nil
	}
	if !Allowed(t.Status, StatusCancelled, ByTracker, ActReleased) {
		return false, fmt.Errorf("tickets: the lifecycle has no withdrawal of a copy from %s", t.Status)
	}
	res := tx.WithContext(ctx).Model(&Ticket{}).Where("id = ? AND version = ? AND status = ?", t.ID, t.Version, t.Status).
		Updates(map[string]any{"status": string(StatusCancelled), "version": version, "updated_at": now})
	if res.Error != nil {
		return false, fmt.Errorf("tickets: withdraw %s: %w", t.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return false, staleVersion(t.Version)
	}
	rows := []Change{{ID: storage.NewID(), TicketID: t.ID, Version: version, ActorHandle: byHandle, Action: ActReleased,
		Field: "status", OldValue: string(t.Status), NewValue: string(StatusCancelled), CreatedAt: now}}
	if reason != "" {
		rows = append(rows, Change{ID: storage.NewID(), TicketID: t.ID, Version: version, ActorHandle: byHandle,
			Action: ActReleaseReason, NewValue: reason, CreatedAt: now})
	}
	if err := tx.WithContext(ctx).Create(&rows).Error; err != nil {
		return false, fmt.Errorf("tickets: history of %s: %w", t.ID, err)
	}
	cp := *t
	cp.Status, cp.Version, cp.UpdatedAt = StatusCancelled, version, now
	return true, s.notify(ctx, &Changed{Ticket: &cp, By: byHandle, Fields: map[string]string{"status": string(StatusCancelled)},
		OldStatus: t.Status, Remote: true})
}

// Patch is a change the assignee's node made to its copy of a ticket: nil
// fields are unchanged.
type Patch struct {
	Title            *string
	Description      *string
	Priority         *string
	OnSite           *bool
	EstimatedMinutes *int
	Status           *Status
	AssigneeMinutes  *int // the time logged on the assignee's node, in all
	// Seq is the copy's version after the change: of two changes of a
	// field from the copy, the later one wins, whichever arrives last.
	Seq int
}

// ApplyPatch applies, on the tracker in the transaction ctx carries, a change the assignee's
// node made to its copy of t. Fields are applied one by one; one that is
// not valid here (a status the ticket can no longer take) is refused and
// the refusal recorded. The ticket takes a new version in every case, and
// the hooks hear of it, so that the whole state goes back to the copy.
func (s *Service) ApplyPatch(ctx context.Context, t *Ticket, p Patch, byHandle string) (*Ticket, error) {
	tx := s.db.Conn(ctx)
	now := storage.Now()
	version := t.Version + 1
	fields := map[string]string{}
	updates := map[string]any{"version": version, "updated_at": now}
	var rows []Change
	record := func(action Action, field, old, new string) {
		rows = append(rows, Change{ID: storage.NewID(), TicketID: t.ID, Version: version, ActorHandle: byHandle,
			Action: action, Field: field, OldValue: old, NewValue: new, CreatedAt: now})
	}
	var seqs map[string]int
	var rawSeqs string
	if err := tx.WithContext(ctx).Raw("SELECT copy_field_seq FROM tickets WHERE id = ?", t.ID).Row().Scan(&rawSeqs); err != nil {
		return nil, fmt.Errorf("tickets: %s: %w", t.ID, err)
	}
	if json.Unmarshal([]byte(rawSeqs), &seqs) != nil || seqs == nil {
		seqs = map[string]int{}
	}
	set := func(field, column, old, new string, value any) {
		if p.Seq > 0 {
			if p.Seq < seqs[field] {
				record(ActSuperseded, field, old, new) // a later change of the copy was applied
				return
			}
			seqs[field] = p.Seq
		}
		if old != new {
			fields[field] = new
			if column != "" {
				updates[column] = value
			}
			record(ActUpdated, field, old, new)
		}
	}
	text := func(field, column, old string, in *string, min, max int, multiline bool) {
		if in == nil {
			return
		}
		var v apperr.Validation
		val := validate.Text(&v, field, *in, min, max, multiline)
		if v.Err() != nil {
			record(ActRefused, field, old, "")
			return
		}
		set(field, column, old, val, val)
	}
	text("title", "title", t.Title, p.Title, 1, 200, false)
	text("description", "description", t.Description, p.Description, 0, 20000, true)
	if p.Priority != nil {
		var v apperr.Validation
		if pr := validate.OneOf(&v, "priority", *p.Priority, Priorities...); v.Err() == nil {
			set("priority", "priority", t.Priority, pr, pr)
		} else {
			record(ActRefused, "priority", t.Priority, "")
		}
	}
	if p.OnSite != nil {
		set("on_site", "on_site", strconv.FormatBool(t.OnSite), strconv.FormatBool(*p.OnSite), *p.OnSite)
	}
	if m := p.EstimatedMinutes; m != nil {
		if *m >= 0 && *m <= MaxEstimatedHours*60 {
			set("estimated_hours", "estimated_minutes", hours(t.EstimatedMinutes), hours(*m), *m)
		} else {
			record(ActRefused, "estimated_hours", hours(t.EstimatedMinutes), "")
		}
	}
	if to := p.Status; to != nil && *to == t.Status && p.Seq > seqs["status"] {
		seqs["status"] = p.Seq // already so; a change of the copy older than this one must not undo it
	} else if to != nil && *to != t.Status {
		superseded := p.Seq > 0 && p.Seq < seqs["status"]
		if superseded || CanMove(t.Status, *to) {
			set("status", "status", string(t.Status), string(*to), string(*to)) // records a superseded change as such
		} else {
			record(ActRefused, "status", string(t.Status), string(*to))
		}
	}
	if m := p.AssigneeMinutes; m != nil && *m >= 0 && *m <= 1<<30 {
		set("time_spent_minutes", "", strconv.Itoa(t.RemoteTimeMinutes), strconv.Itoa(*m), *m) // in the ledger, below
	}
	if len(rows) == 0 {
		record(ActSynced, "", "", "") // nothing new: the version moves on all the same
	}
	if p.Seq > 0 {
		b, _ := json.Marshal(seqs)
		updates["copy_field_seq"] = string(b)
	}
	searchable(updates, t.Title, t.Description)
	res := tx.WithContext(ctx).Model(&Ticket{}).Where("id = ? AND version = ?", t.ID, t.Version).Updates(updates)
	if res.Error != nil {
		return nil, fmt.Errorf("tickets: apply a change to %s: %w", t.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, staleVersion(t.Version) // read in this transaction: only a concurrent writer gets here
	}
	if err := tx.WithContext(ctx).Create(&rows).Error; err != nil {
		return nil, err
	}
	if _, ok := fields["time_spent_minutes"]; ok {
		if _, _, err := s.ledger.Report(ctx, t.ID, t.AssigneeRegion, t.AssigneeHandle, *p.AssigneeMinutes); err != nil {
			return nil, err
		}
	}
	out, err := s.ByID(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	return out, s.notify(ctx, &Changed{Ticket: out, By: byHandle, Fields: fields, OldStatus: t.Status, Remote: true})
}

// AddRemoteComment stores, in the transaction ctx carries, a public comment the other node of
// a shared ticket sent: once, however often it arrives.
func (s *Service) AddRemoteComment(ctx context.Context, t *Ticket, apID, authorHandle, authorName, body string,
	at time.Time, fs ...RemoteFile) (stored bool, err error) {
	tx := s.db.Conn(ctx)
	var v apperr.Validation
	least := 1
	if len(fs) > 0 {
		least = 0
	}
	body = validate.Text(&v, "content", body, least, 20000, true)
	if len(fs) > 100 {
		v.Add("attachment", "more than 100 files in one comment")
	}
	authorName = validate.Text(&v, "attributedTo.name", authorName, 0, 200, false)
	authorHandle = validate.Text(&v, "attributedTo", authorHandle, 1, 320, false)
	if err := v.Err(); err != nil {
		return false, err
	}
	c := &Comment{ID: storage.NewID(), TicketID: t.ID, AuthorHandle: authorHandle, AuthorName: authorName, Body: body,
		APID: &apID, CreatedAt: at.UTC()}
	res := tx.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "ap_id"}}, DoNothing: true}).Create(c)
	if res.Error != nil {
		return false, fmt.Errorf("tickets: store comment %s: %w", apID, res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	c.Attachments = []*Attachment{}
	if err := s.insertRemote(ctx, tx.WithContext(ctx), c, fs); err != nil {
		return false, fmt.Errorf("tickets: store the files of comment %s: %w", apID, err)
	}
	if err := tx.WithContext(ctx).Create(&Change{ID: storage.NewID(), TicketID: t.ID, Version: t.Version,
		ActorHandle: authorHandle, Action: ActCommented, NewValue: c.ID, CreatedAt: storage.Now()}).Error; err != nil {
		return false, err
	}
	return true, storage.Publish(ctx, s.db, CommentAdded{Ticket: t, Comment: c, Remote: true})
}

// ReleasedUnder is the offer under which ticket id's job was last given
// back ("" when it never was), from its history.
func (s *Service) ReleasedUnder(ctx context.Context, id string) (string, error) {
	var offers []string
	if err := s.db.Conn(ctx).Raw("SELECT new_value FROM ticket_history WHERE ticket_id = ? AND action = 'released' AND field = '' "+
		"ORDER BY created_at DESC, id DESC LIMIT 1", id).Scan(&offers).Error; err != nil {
		return "", fmt.Errorf("tickets: release of %s: %w", id, err)
	}
	if len(offers) == 0 {
		return "", nil
	}
	return offers[0], nil
}

// Brief is what another service shows of a ticket beside its own rows.
type Brief struct {
	ID, Title      string
	ClientID       string
	Status         Status
	AssigneeHandle string
}

// InStatus lists the ids of this node's tickets in status st, the most
// recently changed first, at most limit.
func (s *Service) InStatus(ctx context.Context, st Status, limit int) ([]string, error) {
	var ids []string
	if err := s.db.Conn(ctx).Model(&Ticket{}).Where("status = ?", st).Order("updated_at DESC").Limit(limit).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("tickets: in status %s: %w", st, err)
	}
	return ids, nil
}

// Briefs returns the tickets of ids this node holds, by id.
func (s *Service) Briefs(ctx context.Context, ids []string) (map[string]Brief, error) {
	out := make(map[string]Brief, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Brief
	if err := s.db.Conn(ctx).Raw("SELECT id, title, client_id, status, assignee_handle FROM tickets WHERE id IN ?", ids).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("tickets: briefs: %w", err)
	}
	for _, b := range rows {
		out[b.ID] = b
	}
	return out, nil
}

// ReleasedUnderOffer reports whether ticket id's job was given back under
// that offer, from its history.
func (s *Service) ReleasedUnderOffer(ctx context.Context, id, offerID string) (bool, error) {
	var n int64
	if err := s.db.Conn(ctx).Raw("SELECT COUNT(*) FROM ticket_history WHERE ticket_id = ? AND action = 'released' AND new_value = ?",
		id, offerID).Row().Scan(&n); err != nil {
		return false, fmt.Errorf("tickets: releases of %s: %w", id, err)
	}
	return n > 0, nil
}

// KeepRemoteTime counts as the ticket's own, in the ledger, the time its
// assignee logged on their node (another region's): the job is given back,
// and the next assignee's node will report only its own. t is updated.
func (s *Service) KeepRemoteTime(ctx context.Context, t *Ticket) error {
	kept, err := s.ledger.Keep(ctx, t.ID, t.AssigneeRegion, t.AssigneeHandle)
	if err != nil {
		return fmt.Errorf("tickets: keep the remote time of %s: %w", t.ID, err)
	}
	t.TimeSpentMinutes, t.RemoteTimeMinutes = t.TimeSpentMinutes+kept, t.RemoteTimeMinutes-kept
	return nil
}

// HeldBy reports whether this node holds a copy of ticket apID, not
// cancelled, assigned to the member (a cancelled copy may be the job the
// member gave back).
func (s *Service) HeldBy(ctx context.Context, apID, memberID string) (bool, error) {
	var n int64
	if err := s.db.Conn(ctx).Raw("SELECT COUNT(*) FROM tickets WHERE ap_id = ? AND assignee_member_id = ? AND status <> 'cancelled'",
		apID, memberID).Row().Scan(&n); err != nil {
		return false, fmt.Errorf("tickets: copy of %s: %w", apID, err)
	}
	return n > 0, nil
}

// OfferedTo lists the handles ticket id was offered to since a moment,
// from its history, at most limit of them.
func (s *Service) OfferedTo(ctx context.Context, id string, since time.Time, limit int) ([]string, error) {
	var out []string
	if err := s.db.Conn(ctx).Model(&Change{}).Where("ticket_id = ? AND action = ? AND created_at >= ?", id, ActOfferedTo, since).
		Limit(limit).Pluck("new_value", &out).Error; err != nil {
		return nil, fmt.Errorf("tickets: offered %s to: %w", id, err)
	}
	return out, nil
}

// CountOfClient counts a client's tickets in a status other than those
// given (its requests under way, when the given ones are the ended).
func (s *Service) CountOfClient(ctx context.Context, clientID string, except ...Status) (int64, error) {
	var n int64
	if err := s.db.Conn(ctx).Model(&Ticket{}).Where("client_id = ? AND status NOT IN ?", clientID, except).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("tickets: tickets of client %s: %w", clientID, err)
	}
	return n, nil
}

// AssigneesOf returns, for the tickets of this node with those
// ActivityPub ids that are assigned to a member of this node, whom to
// (ap_id → member id), in the transaction ctx carries.
func (s *Service) AssigneesOf(ctx context.Context, apIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(apIDs))
	if len(apIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		APID             string `gorm:"column:ap_id"`
		AssigneeMemberID string
	}
	if err := s.db.Conn(ctx).Raw("SELECT ap_id, assignee_member_id FROM tickets WHERE ap_id IN ? AND assignee_member_id IS NOT NULL",
		apIDs).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("tickets: assignees: %w", err)
	}
	for _, r := range rows {
		out[r.APID] = r.AssigneeMemberID
	}
	return out, nil
}

// SharedOfClient lists, in the transaction ctx carries, the open tickets of a client of this
// node assigned to a member of another region.
func (s *Service) SharedOfClient(ctx context.Context, clientID string) ([]string, error) {
	tx := s.db.Conn(ctx)
	var ids []string
	err := tx.WithContext(ctx).Model(&Ticket{}).Where("client_id = ? AND origin_region = ? AND assignee_handle <> '' AND assignee_region <> ?",
		clientID, s.cfg.Region, s.cfg.Region).Where("status NOT IN ?", []string{"closed", "cancelled"}).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("tickets: shared tickets of client %s: %w", clientID, err)
	}
	return ids, nil
}

// Touch gives a ticket a new version in the transaction ctx carries without changing its
// fields, and records why in its history (its client changed, say): the
// state sent to the other node then supersedes the earlier ones.
func (s *Service) Touch(ctx context.Context, t *Ticket, byHandle string, action Action) (*Ticket, error) {
	tx := s.db.Conn(ctx)
	now := storage.Now()
	res := tx.WithContext(ctx).Model(&Ticket{}).Where("id = ? AND version = ?", t.ID, t.Version).
		Updates(map[string]any{"version": t.Version + 1, "updated_at": now})
	if res.Error != nil {
		return nil, fmt.Errorf("tickets: touch %s: %w", t.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, staleVersion(t.Version)
	}
	if err := tx.WithContext(ctx).Create(&Change{ID: storage.NewID(), TicketID: t.ID, Version: t.Version + 1,
		ActorHandle: byHandle, Action: action, CreatedAt: now}).Error; err != nil {
		return nil, err
	}
	return s.ByID(ctx, t.ID)
}

// ResolvedCopies lists, oldest change first and at most limit, the copies
// of other regions' tickets of the clients clientIDs (the ticket's client
// being its own copy) resolved and unchanged since before.
func (s *Service) ResolvedCopies(ctx context.Context, clientIDs []string, before time.Time, limit int) ([]Brief, error) {
	var out []Brief
	if len(clientIDs) == 0 {
		return out, nil
	}
	if err := s.db.Conn(ctx).Raw(`SELECT id, title, client_id, status, assignee_handle FROM tickets WHERE origin_region <> ? AND status = ?
		AND updated_at < ? AND client_id IN ? ORDER BY updated_at LIMIT ?`, s.cfg.Region, StatusResolved, before.UTC(), clientIDs, limit).
		Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("tickets: resolved copies: %w", err)
	}
	return out, nil
}

// Lock locks ticket id's row until the end of the transaction ctx
// carries (PostgreSQL; on SQLite the transaction holds the database).
func (s *Service) Lock(ctx context.Context, id string) error {
	return s.db.LockRow(ctx, "tickets", id)
}
