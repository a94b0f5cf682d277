// Package notify tells the members of a node what happened that concerns
// them: a job offered, a job they forwarded accepted, a comment, an
// intervention planned… It listens to the domain events, inside the
// transaction that made them, and writes each member's notifications
// there (in the app's inbox, with an unread count) and the mails their
// preferences ask for into a durable queue, due once the member's quiet
// hours end: the right to disconnect. A notification holds ids, a kind and
// who did it, never a client's data; its title is read from the request
// or the offer when it is shown or mailed, so that an erasure erases it.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/services/validate"
)

// Kind is what a notification tells.
type Kind string

// The kinds of notification.
const (
	Offer     Kind = "offer"      // a job is offered to you
	OfferGone Kind = "offer_gone" // an offer of yours was taken by another, withdrawn or expired
	Accepted  Kind = "accepted"   // a job of your request was accepted
	Released  Kind = "released"   // a job was given back, or taken back
	Comment   Kind = "comment"    // a comment on a request you work on
	Planned   Kind = "planned"    // an intervention planned or moved
	Answered  Kind = "answered"   // an intervention accepted or declined
	Status    Kind = "status"     // a request changed status
)

// Kinds lists every kind, in the order the preferences show them.
var Kinds = []Kind{Offer, OfferGone, Accepted, Released, Comment, Planned, Answered, Status}

// Channel is where a kind of notification goes.
type Channel string

// The channels.
const (
	App   Channel = "app"
	Email Channel = "email"
	Both  Channel = "both"
	None  Channel = "none"
)

// Channels lists every channel.
var Channels = []string{string(App), string(Email), string(Both), string(None)}

func (c Channel) inApp() bool   { return c == App || c == Both }
func (c Channel) byEmail() bool { return c == Email || c == Both }

// defaultChannel is where a kind goes until the member chooses: by e-mail
// too what asks for an action or a change of plans.
func defaultChannel(k Kind) Channel {
	switch k {
	case Offer, Accepted, Released, Planned:
		return Both
	}
	return App
}

// Notification is one thing a member is told.
type Notification struct {
	ID        string     `json:"id" gorm:"primaryKey"`
	MemberID  string     `json:"-"`
	Kind      Kind       `json:"kind"`
	TicketID  string     `json:"ticket_id,omitempty"`
	OfferID   string     `json:"offer_id,omitempty"`
	ActorName string     `json:"actor_name,omitempty"`
	Detail    string     `json:"detail,omitempty"` // a status, an answer, an intervention's start (RFC 3339)
	Urgent    bool       `json:"urgent"`
	ReadAt    *time.Time `json:"read_at"`
	CreatedAt time.Time  `json:"created_at"`
	// Title is the request's or the offer's, read when shown; "" once
	// erased or gone.
	Title string `json:"title" gorm:"-"`
	// InApp: shown in the app's inbox (false: the member asked for this
	// kind by e-mail only, and the row is the mail's source).
	InApp bool `json:"-" gorm:"column:in_app"`
}

// TableName maps Notification to its table.
func (Notification) TableName() string { return "notifications" }

// Pref is a member's choice for one kind.
type Pref struct {
	Kind    Kind    `json:"kind"`
	Channel Channel `json:"channel"`
	// UrgentAnytime: an urgent request's notification of this kind is
	// mailed at once, even in quiet hours.
	UrgentAnytime bool `json:"urgent_anytime"`
}

type prefRow struct {
	MemberID      string `gorm:"primaryKey"`
	Kind          Kind   `gorm:"primaryKey"`
	Channel       Channel
	UrgentAnytime bool
}

func (prefRow) TableName() string { return "notification_prefs" }

// Settings are a member's quiet hours, digest and mail language.
type Settings struct {
	// QuietFrom and QuietTo bound the quiet hours, in minutes from
	// midnight in Europe/Paris (the same: none); QuietWeekends adds
	// Saturdays and Sundays.
	QuietFrom     int  `json:"quiet_from"`
	QuietTo       int  `json:"quiet_to"`
	QuietWeekends bool `json:"quiet_weekends"`
	// Digest: one mail a day, when the quiet hours end, instead of a mail
	// per notification.
	Digest bool   `json:"digest"`
	Lang   string `json:"lang"`
}

// DefaultSettings: quiet from 19:00 to 08:00 and at weekends, a mail per
// notification, in French.
var DefaultSettings = Settings{QuietFrom: 19 * 60, QuietTo: 8 * 60, QuietWeekends: true, Lang: "fr"}

type settingsRow struct {
	MemberID string `gorm:"primaryKey"`
	Settings `gorm:"embedded"`
	Updated  time.Time `gorm:"column:updated_at"`
}

func (settingsRow) TableName() string { return "notification_settings" }

// Titles reads the titles of offers of this node by id (the routing's).
type Titles func(ctx context.Context, offerIDs []string) (map[string]string, error)

// Config is what notify needs of its node.
type Config struct {
	PublicURL string // the base of the links in mails
	Host      string // the node's public host (host[:port]): the right-hand side of the mails' Message-IDs
	Region    string
	// Mailer sends the mails; nil: e-mail is off (the preferences still
	// say what would go by e-mail).
	Mailer Mailer
	From   string // the sender of the mails: "coopnet <noreply@bretagne.example>"
	// Texts write the notifications and the mails (the web interface's
	// catalogue).
	Texts Texts
	// Backoff spaces the attempts of a mail that failed (tests shorten it);
	// Attempts is how many before it is given up (a dead letter).
	Backoff  queue.Backoff
	Attempts int
	// Now is the clock (tests move it).
	Now func() time.Time
}

// Service is the notifications of one node.
type Service struct {
	db      *storage.DB
	members *members.Service
	tickets *tickets.Service
	titles  Titles
	cfg     Config
	log     *slog.Logger
	mails   *queue.Queue
	wake    queue.Signal

	mu       sync.Mutex
	watchers map[string]map[chan struct{}]struct{}
	touched  map[string]time.Time // member → their last change, for TouchedSince
	closing  chan struct{}        // closed when the node shuts down (EndLive)
	worker   queue.Worker
}

// New returns the notifications service; Listen wires it to the events.
func New(db *storage.DB, ms *members.Service, ts *tickets.Service, titles Titles, cfg Config, log *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = storage.Now
	}
	if cfg.Backoff.First == 0 {
		cfg.Backoff = queue.Backoff{First: time.Minute, Max: 6 * time.Hour}
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 12
	}
	s := &Service{db: db, members: ms, tickets: ts, titles: titles, cfg: cfg, log: log, wake: queue.NewSignal(),
		watchers: map[string]map[chan struct{}]struct{}{}, touched: map[string]time.Time{},
		closing: make(chan struct{})}
	s.mails = queue.New(db, nil, queue.Spec{Topic: "mail_outbox", Table: "mail_outbox",
		Due: "sent_at IS NULL AND dead_at IS NULL AND due_at <= ?", Waiting: "sent_at IS NULL AND dead_at IS NULL AND due_at > ?",
		Leases: true, Dead: "dead_at IS NOT NULL", Order: "due_at, member_id, id",
		What: "CASE WHEN digest THEN 'digest' ELSE 'mail' END", Error: "last_error", At: "updated_at"})
	return s
}

// Queue is the mail queue, for /metrics and staff's page.
func (s *Service) Queue() *queue.Queue { return s.mails }

// EmailOn reports whether this node sends mails.
func (s *Service) EmailOn() bool { return s.cfg.Mailer != nil }

// event is what a domain event means to notify: who is told what.
type event struct {
	kind     Kind
	to       []string // member ids of this node (duplicates and blanks ignored)
	byHandle string   // who did it: never told of their own doing
	actor    string
	ticketID string
	offerID  string
	detail   string
	urgent   bool
}

// record writes the notifications of e to its recipients (recipients)
// inside the transaction ctx carries: write.
func (s *Service) record(ctx context.Context, e event) error {
	to, err := s.recipients(ctx, e)
	if err != nil {
		return err
	}
	return s.write(ctx, e, to)
}

// write writes the notifications of e to the members to, with the mails
// they call for, and wakes the watchers and the mail worker once it
// commits. One query per table whatever the number of recipients: an
// event to a thousand members is one insert of each.
func (s *Service) write(ctx context.Context, e event, to []string) error {
	if len(to) == 0 {
		return nil
	}
	tx := s.db.Conn(ctx)
	var prefs []prefRow
	if err := tx.Where("kind = ? AND member_id IN ?", e.kind, to).Find(&prefs).Error; err != nil {
		return fmt.Errorf("notify: preferences: %w", err)
	}
	byMember := map[string]prefRow{}
	for _, p := range prefs {
		byMember[p.MemberID] = p
	}
	var sets []settingsRow
	if s.cfg.Mailer != nil {
		if err := tx.Where("member_id IN ?", to).Find(&sets).Error; err != nil {
			return fmt.Errorf("notify: settings: %w", err)
		}
	}
	setOf := map[string]Settings{}
	for _, r := range sets {
		setOf[r.MemberID] = r.Settings
	}
	now := s.cfg.Now().UTC()
	var rows []Notification
	var mails []mailRow
	for _, m := range to {
		p, ok := byMember[m]
		if !ok {
			p = prefRow{Channel: defaultChannel(e.kind)}
		}
		if p.Channel == None {
			continue
		}
		n := Notification{ID: storage.NewID(), MemberID: m, Kind: e.kind, TicketID: e.ticketID, OfferID: e.offerID,
			ActorName: e.actor, Detail: e.detail, Urgent: e.urgent, CreatedAt: now, InApp: p.Channel.inApp()}
		rows = append(rows, n)
		if p.Channel.byEmail() && s.cfg.Mailer != nil {
			st, ok := setOf[m]
			if !ok {
				st = DefaultSettings
			}
			// An urgent request's notice the member wants at any hour goes
			// now, on its own; the others when the quiet hours end, or with
			// the digest.
			anytime := e.urgent && p.UrgentAnytime
			digest := st.Digest && !anytime
			due := st.NextOpen(now)
			switch {
			case anytime:
				due = now
			case digest:
				due = st.NextDigest(now)
			}
			mails = append(mails, mailRow{ID: storage.NewID(), MemberID: m, NotificationID: n.ID, Digest: digest,
				DueAt: due, CreatedAt: now, UpdatedAt: now})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.CreateInBatches(rows, 200).Error; err != nil {
		return fmt.Errorf("notify: notifications: %w", err)
	}
	if len(mails) > 0 {
		if err := tx.CreateInBatches(mails, 200).Error; err != nil {
			return fmt.Errorf("notify: mails: %w", err)
		}
	}
	told := make([]string, 0, len(rows))
	for _, n := range rows {
		if n.InApp {
			told = append(told, n.MemberID)
		}
	}
	storage.AfterCommit(ctx, func() {
		s.Touch(told...)
		if len(mails) > 0 {
			s.wake.Poke()
		}
	})
	return nil
}

// recipients are e's members, once each, without whoever did it.
func (s *Service) recipients(ctx context.Context, e event) ([]string, error) {
	out := make([]string, 0, len(e.to))
	seen := make(map[string]bool, len(e.to))
	for _, id := range e.to {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	if e.byHandle == "" || len(out) == 0 {
		return out, nil
	}
	by, _, ok, err := s.members.Local(ctx, e.byHandle)
	if err != nil {
		return nil, err
	}
	if ok {
		out = slices.DeleteFunc(out, func(id string) bool { return id == by })
	}
	return out, nil
}

// ListOptions page a member's notifications: newest first, Before a
// notification's id.
type ListOptions struct {
	Unread bool
	Before string
	Limit  int
}

// List returns the member's notifications in the app, newest first, with
// their titles.
func (s *Service) List(ctx context.Context, by members.Actor, opt ListOptions) ([]*Notification, error) {
	var v apperr.Validation
	switch {
	case opt.Limit == 0:
		opt.Limit = 50
	case opt.Limit < 0 || opt.Limit > 200:
		v.Add("limit", "must be from 1 to 200")
	}
	if opt.Before != "" && !storage.ValidID(opt.Before) {
		v.Add("before", "must be the id of a notification")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := s.db.Conn(ctx).Where("member_id = ? AND in_app", by.ID)
	if opt.Unread {
		q = q.Where("read_at IS NULL")
	}
	if opt.Before != "" {
		q = q.Where("id < ?", opt.Before)
	}
	var out []*Notification
	if err := q.Order("id DESC").Limit(opt.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	return out, s.fillTitles(ctx, out)
}

// fillTitles reads the notifications' titles from their requests and
// offers.
func (s *Service) fillTitles(ctx context.Context, ns []*Notification) error {
	var tids, oids []string
	for _, n := range ns {
		n.CreatedAt = n.CreatedAt.UTC()
		if n.TicketID != "" {
			tids = append(tids, n.TicketID)
		} else if n.OfferID != "" {
			oids = append(oids, n.OfferID)
		}
	}
	briefs, err := s.tickets.Briefs(ctx, tids)
	if err != nil {
		return err
	}
	offers := map[string]string{}
	if len(oids) > 0 && s.titles != nil {
		if offers, err = s.titles(ctx, oids); err != nil {
			return err
		}
	}
	for _, n := range ns {
		if n.TicketID != "" {
			n.Title = briefs[n.TicketID].Title
		} else {
			n.Title = offers[n.OfferID]
		}
	}
	return nil
}

// Unread counts the member's unread notifications in the app.
func (s *Service) Unread(ctx context.Context, memberID string) (int, error) {
	var n int64
	if err := s.db.Conn(ctx).Model(&Notification{}).Where("member_id = ? AND in_app AND read_at IS NULL", memberID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("notify: unread: %w", err)
	}
	return int(n), nil
}

// MarkRead marks the member's notifications read: those of ids, or all of
// them when ids is empty. It returns how many were unread.
func (s *Service) MarkRead(ctx context.Context, by members.Actor, ids []string) (int, error) {
	var v apperr.Validation
	if len(ids) > 200 {
		v.Add("ids", "at most 200 at a time")
	}
	for _, id := range ids {
		if !storage.ValidID(id) {
			v.Add("ids", fmt.Sprintf("%q is not the id of a notification", id))
			break
		}
	}
	if err := v.Err(); err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		return s.markRead(ctx, by.ID, "id IN ?", ids)
	}
	return s.markRead(ctx, by.ID, "")
}

// markRead marks read the member's unread notifications that cond (with
// its args; "" for all) selects, and returns how many.
func (s *Service) markRead(ctx context.Context, memberID, cond string, args ...any) (int, error) {
	q := s.db.Conn(ctx).Model(&Notification{}).Where("member_id = ? AND read_at IS NULL", memberID)
	if cond != "" {
		q = q.Where(cond, args...)
	}
	res := q.Update("read_at", s.cfg.Now().UTC())
	if res.Error != nil {
		return 0, fmt.Errorf("notify: mark read: %w", res.Error)
	}
	return int(res.RowsAffected), nil
}

// Prefs returns the member's choice for every kind (the default where
// they made none).
func (s *Service) Prefs(ctx context.Context, memberID string) ([]Pref, error) {
	var rows []prefRow
	if err := s.db.Conn(ctx).Where("member_id = ?", memberID).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("notify: preferences: %w", err)
	}
	out := make([]Pref, len(Kinds))
	for i, k := range Kinds {
		out[i] = Pref{Kind: k, Channel: defaultChannel(k)}
		for _, r := range rows {
			if r.Kind == k {
				out[i].Channel, out[i].UrgentAnytime = r.Channel, r.UrgentAnytime
			}
		}
	}
	return out, nil
}

// Settings returns the member's settings (the defaults until they chose).
func (s *Service) Settings(ctx context.Context, memberID string) (Settings, error) {
	var rows []settingsRow
	if err := s.db.Conn(ctx).Where("member_id = ?", memberID).Limit(1).Find(&rows).Error; err != nil {
		return Settings{}, fmt.Errorf("notify: settings: %w", err)
	}
	if len(rows) == 0 {
		return DefaultSettings, nil
	}
	return rows[0].Settings, nil
}

// Choices are a member's preferences and settings, as the API and the
// page change them.
type Choices struct {
	Prefs    []Pref   `json:"prefs"`
	Settings Settings `json:"settings"`
}

// SetChoices validates and saves the member's preferences (for the kinds
// given; the others keep theirs) and settings.
func (s *Service) SetChoices(ctx context.Context, by members.Actor, in Choices) (Choices, error) {
	var v apperr.Validation
	seen := map[Kind]bool{}
	for i, p := range in.Prefs {
		field := fmt.Sprintf("prefs[%d]", i)
		if !slices.Contains(Kinds, p.Kind) {
			v.Add(field+".kind", fmt.Sprintf("%q is not a kind of notification", p.Kind))
		} else if seen[p.Kind] {
			v.Add(field+".kind", fmt.Sprintf("%q is given twice", p.Kind))
		}
		seen[p.Kind] = true
		validate.OneOf(&v, field+".channel", string(p.Channel), Channels...)
	}
	st := in.Settings
	if st.QuietFrom < 0 || st.QuietFrom >= 1440 {
		v.Add("settings.quiet_from", "must be minutes from midnight, 0 to 1439")
	}
	if st.QuietTo < 0 || st.QuietTo >= 1440 {
		v.Add("settings.quiet_to", "must be minutes from midnight, 0 to 1439")
	}
	validate.OneOf(&v, "settings.lang", st.Lang, "fr", "en")
	if err := v.Err(); err != nil {
		return Choices{}, err
	}
	err := s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		for _, p := range in.Prefs {
			r := prefRow{MemberID: by.ID, Kind: p.Kind, Channel: p.Channel, UrgentAnytime: p.UrgentAnytime}
			if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "member_id"}, {Name: "kind"}},
				DoUpdates: clause.AssignmentColumns([]string{"channel", "urgent_anytime"})}).Create(&r).Error; err != nil {
				return err
			}
		}
		return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "member_id"}}, UpdateAll: true}).
			Create(&settingsRow{MemberID: by.ID, Settings: st, Updated: s.cfg.Now().UTC()}).Error
	})
	if err != nil {
		return Choices{}, fmt.Errorf("notify: save choices: %w", err)
	}
	prefs, err := s.Prefs(ctx, by.ID)
	return Choices{Prefs: prefs, Settings: st}, err
}

// Watch returns a channel that receives (without blocking, folded) when
// something the member sees changes: a notification, a count; and the
// function that stops watching. The live pages listen to it.
func (s *Service) Watch(memberID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	if s.watchers[memberID] == nil {
		s.watchers[memberID] = map[chan struct{}]struct{}{}
	}
	s.watchers[memberID][ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.watchers[memberID], ch)
		if len(s.watchers[memberID]) == 0 {
			delete(s.watchers, memberID)
		}
		s.mu.Unlock()
	}
}

// Touch wakes the watchers of the members: something they see changed.
func (s *Service) Touch(memberIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, id := range memberIDs {
		if id == "" {
			continue
		}
		s.touched[id] = now
		for ch := range s.watchers[id] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// TouchedSince reports whether something the member sees changed after
// t (a page made at t is then out of date).
func (s *Service) TouchedSince(memberID string, t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touched[memberID].After(t)
}

// MarkReadOf marks read the member's notifications of a ticket, or of
// their offers (ticketID ""): what the page they open shows.
// The page being made shows the count: no live change (it would make the
// page again).
//
// A page view mostly finds nothing unread: it reads first, and writes
// only then (an update matching no row still takes SQLite's write lock).
func (s *Service) MarkReadOf(ctx context.Context, memberID, ticketID string) error {
	cond, args := "offer_id <> ''", []any(nil)
	if ticketID != "" {
		cond, args = "ticket_id = ?", []any{ticketID}
	}
	var unread []string
	if err := s.db.Conn(ctx).Model(&Notification{}).Where("member_id = ? AND read_at IS NULL", memberID).Where(cond, args...).
		Limit(1).Pluck("id", &unread).Error; err != nil {
		return fmt.Errorf("notify: unread of a page: %w", err)
	}
	if len(unread) == 0 {
		return nil
	}
	_, err := s.markRead(ctx, memberID, cond, args...)
	return err
}

// EndLive ends the live pages' streams: the node shuts down, and would
// otherwise wait for them.
func (s *Service) EndLive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
}

// Ending is closed when the live streams are to end.
func (s *Service) Ending() <-chan struct{} { return s.closing }
