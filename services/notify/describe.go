package notify

import "time"

// Texts are the message catalogue notify writes with: the web
// interface's one (French and English), handed in by the wiring.
type Texts struct {
	// T translates key into lang with its arguments.
	T func(lang, key string, args ...any) string
	// Time shows an instant in Europe/Paris as people read it in lang.
	Time func(lang string, t time.Time) string
}

// Sentence is what a notification says, in lang: "Marie Dupont a accepté
// « Site web de l'école »".
func (tx Texts) Sentence(lang string, n *Notification) string {
	actor := n.ActorName
	if actor == "" {
		actor = tx.T(lang, "notify.someone")
	}
	return tx.T(lang, "notify."+string(n.Kind), actor, tx.title(lang, n), tx.detail(lang, n))
}

// title is the notification's title, or says it has none (erased).
func (tx Texts) title(lang string, n *Notification) string {
	if n.Title == "" {
		return tx.T(lang, "notify.untitled")
	}
	return n.Title
}

// Subject is a mail's subject for one notification.
func (tx Texts) Subject(lang string, n *Notification) string {
	return tx.T(lang, "notify.subject."+string(n.Kind), tx.title(lang, n))
}

// detail is the notification's detail in lang: a status's label, an
// answer's, an intervention's start.
func (tx Texts) detail(lang string, n *Notification) string {
	switch n.Kind {
	case Status:
		return tx.T(lang, "status."+n.Detail)
	case Answered:
		return tx.T(lang, "event."+n.Detail)
	case Planned:
		if t, err := time.Parse(time.RFC3339, n.Detail); err == nil {
			return tx.Time(lang, t)
		}
	}
	return n.Detail
}

// Link is the page of the web interface a notification leads to.
func Link(n *Notification) string {
	switch {
	case n.TicketID != "":
		return "/app/tickets/" + n.TicketID
	case n.OfferID != "":
		return "/app/offers"
	}
	return "/app/notifications"
}
