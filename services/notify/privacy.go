package notify

import (
	"context"
	"fmt"
	"time"
)

// MemberData is what a member's export shows of their notifications.
type MemberData struct {
	Notifications []NotificationRef `json:"notifications"`
	Prefs         []Pref            `json:"preferences"`
	Settings      Settings          `json:"settings"`
	// Mails are the mails queued or sent to them (when, and whether sent).
	Mails []MailRef `json:"mails"`
}

// NotificationRef is a notification in an export: ids, no title.
type NotificationRef struct {
	ID        string     `json:"id"`
	Kind      Kind       `json:"kind"`
	TicketID  string     `json:"ticket_id,omitempty"`
	OfferID   string     `json:"offer_id,omitempty"`
	ActorName string     `json:"actor_name,omitempty"`
	ReadAt    *time.Time `json:"read_at"`
	CreatedAt time.Time  `json:"created_at"`
}

// MailRef is a mail of the queue in an export.
type MailRef struct {
	NotificationID string     `json:"notification_id"`
	DueAt          time.Time  `json:"due_at"`
	SentAt         *time.Time `json:"sent_at"`
	Attempts       int        `json:"attempts"`
}

// OfMember is what this node's notifications hold of member id.
func (s *Service) OfMember(ctx context.Context, id string) (MemberData, error) {
	out := MemberData{Notifications: []NotificationRef{}, Mails: []MailRef{}}
	db := s.db.Conn(ctx)
	if err := db.Raw("SELECT id, kind, ticket_id, offer_id, actor_name, read_at, created_at FROM notifications WHERE member_id = ? ORDER BY id",
		id).Scan(&out.Notifications).Error; err != nil {
		return out, fmt.Errorf("notify: export %s: %w", id, err)
	}
	if err := db.Raw("SELECT notification_id, due_at, sent_at, attempts FROM mail_outbox WHERE member_id = ? ORDER BY created_at",
		id).Scan(&out.Mails).Error; err != nil {
		return out, fmt.Errorf("notify: export %s: %w", id, err)
	}
	var err error
	if out.Prefs, err = s.Prefs(ctx, id); err != nil {
		return out, err
	}
	out.Settings, err = s.Settings(ctx, id)
	return out, err
}

// EraseMember deletes member id's notifications, mails, preferences and
// settings, in the transaction ctx carries.
func (s *Service) EraseMember(ctx context.Context, id string) error {
	db := s.db.Conn(ctx)
	for _, q := range []string{"DELETE FROM mail_outbox WHERE member_id = ?", "DELETE FROM notifications WHERE member_id = ?",
		"DELETE FROM notification_prefs WHERE member_id = ?", "DELETE FROM notification_settings WHERE member_id = ?"} {
		if err := db.Exec(q, id).Error; err != nil {
			return fmt.Errorf("notify: erase member %s: %w", id, err)
		}
	}
	return nil
}

// EraseActorName replaces the name of a member who was erased on the
// notifications that name them (as who did something).
func (s *Service) EraseActorName(ctx context.Context, name, erased string) error {
	if name == "" {
		return nil
	}
	if err := s.db.Conn(ctx).Exec("UPDATE notifications SET actor_name = ? WHERE actor_name = ?", erased, name).Error; err != nil {
		return fmt.Errorf("notify: erase a name: %w", err)
	}
	return nil
}
