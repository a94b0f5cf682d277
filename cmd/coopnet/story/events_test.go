package story_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// heard is what a region's listeners heard, in order, once committed.
type heard struct {
	mu     sync.Mutex
	events []string
}

func (h *heard) add(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, s)
}

func (h *heard) has(s string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.events, s)
}

func (h *heard) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.events, "\n")
}

// listenAll adds, on a node's database, a listener of every typed event
// the services publish, each noting what it heard once the transaction
// committed, and checking that it heard it inside one.
func listenAll(t *testing.T, db *storage.DB) *heard {
	h := &heard{}
	in := func(ctx context.Context) error {
		if !db.InTx(ctx) {
			t.Error("an event is published outside a transaction")
		}
		return nil
	}
	storage.Listen(db, func(ctx context.Context, e tickets.TicketCreated) error { return in(ctx) },
		func(e tickets.TicketCreated) { h.add("TicketCreated " + e.Ticket.Title) })
	storage.Listen(db, func(ctx context.Context, e tickets.TicketMoved) error { return in(ctx) },
		func(e tickets.TicketMoved) {
			h.add(fmt.Sprintf("TicketMoved %s→%s remote=%t", e.From, e.To, e.Remote))
		})
	storage.Listen(db, func(ctx context.Context, e tickets.CommentAdded) error { return in(ctx) },
		func(e tickets.CommentAdded) {
			h.add(fmt.Sprintf("CommentAdded %s remote=%t", e.Comment.Body, e.Remote))
		})
	storage.Listen(db, func(ctx context.Context, e ledger.TimeLogged) error { return in(ctx) },
		func(e ledger.TimeLogged) {
			h.add(fmt.Sprintf("TimeLogged %s %s %d", e.Entry.Kind, e.Entry.Source, e.Entry.Minutes))
		})
	storage.Listen(db, func(ctx context.Context, e member.OfferMade) error { return in(ctx) },
		func(e member.OfferMade) { h.add("OfferMade " + e.Offer.Title) })
	storage.Listen(db, func(ctx context.Context, e member.OfferAnswered) error { return in(ctx) },
		func(e member.OfferAnswered) { h.add("OfferAnswered " + string(e.Offer.State)) })
	storage.Listen(db, func(ctx context.Context, e planning.EventPlanned) error { return in(ctx) },
		func(e planning.EventPlanned) {
			h.add(fmt.Sprintf("EventPlanned %s remote=%t", e.Event.Location, e.Remote))
		})
	storage.Listen(db, func(ctx context.Context, e clients.ClientChanged) error { return in(ctx) },
		func(e clients.ClientChanged) { h.add("ClientChanged " + e.Client.ContactName) })
	return h
}

// TestSeedStoryEvents follows the seed story (forward → offer → accept →
// shared ticket → comments, time, an intervention, a corrected contact)
// with a listener of every typed event on each node: each node hears, in
// transactions, what happened on it, and a listener added beside
// federation's takes nothing from it (the story goes through).
func TestSeedStoryEvents(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	bfc := listenAll(t, c.Node("bourgogne-franche-comte").N.DB)
	bzh := listenAll(t, c.Node("bretagne").N.DB)
	jeanID, marieID := c.SharedTicket("Site web de l'école")
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/comments", rig.Marie, map[string]any{"body": "Maquette envoyée."}, 201)
	c.API("bretagne", "POST", "/api/v1/tickets/"+marieID+"/time", rig.Marie, map[string]any{"minutes": 90}, 201)
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Hour)
	c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/events", rig.Jean, map[string]any{
		"start": start, "end": start.Add(2 * time.Hour), "location": "École, Bourguignon"}, 201)
	jc := c.ClientOn(rig.Jean, c.Ticket(jeanID).ClientID)
	c.API("bourgogne-franche-comte", "PATCH", "/api/v1/clients/"+jc.ID, rig.Jean, map[string]any{
		"version": jc.Version, "name": jc.Name, "kind": jc.Kind, "postcode": jc.Postcode, "commune": jc.Commune,
		"contact_name": "M. Durand"}, 200)

	for _, w := range []struct {
		h    *heard
		what []string
	}{
		{bfc, []string{"TicketCreated Site web de l'école", "TicketMoved new→routing remote=false", "TicketMoved offered→accepted remote=false",
			"CommentAdded Maquette envoyée. remote=true", "TimeLogged reported peer 90", "EventPlanned École, Bourguignon remote=false",
			"ClientChanged M. Durand"}},
		{bzh, []string{"OfferMade Site web de l'école", "OfferAnswered accepted", "CommentAdded Maquette envoyée. remote=false",
			"TimeLogged logged here 90", "EventPlanned École, Bourguignon remote=true"}},
	} {
		for _, e := range w.what {
			rig.WaitFor(t, e, func() bool { return w.h.has(e) })
		}
	}
	if bzh.has("TicketCreated Site web de l'école") || bfc.has("OfferMade Site web de l'école") {
		t.Errorf("a node heard what happened on another:\nBFC:\n%s\nBretagne:\n%s", bfc, bzh)
	}
	if got := c.Ticket(jeanID).TimeSpentHours; got != 1.5 {
		t.Errorf("Jean's ticket shows %v hours, want 1.5", got)
	}
}
