package routing

import (
	"context"
	"fmt"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/redact"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/storage"
)

// ErasedText is what the erased title or note of a routing or an offer
// keeps.
const ErasedText = "[effacé]"

// EraseTickets erases, in the transaction ctx carries on db, the free
// texts the routing holds about
// tickets (a client's erasure): the forward notes of their routings on
// this node, and the titles, notes and decline reasons of the offers of
// them made to this node's members. Ids, figures and states stay.
// (A function of the package rather than of the service: a node without
// NATS runs no routing service, and still erases what it holds.)
func EraseTickets(ctx context.Context, db *storage.DB, ticketIDs, apIDs []string) error {
	tx := db.Conn(ctx)
	if len(ticketIDs) > 0 {
		if err := tx.Exec("UPDATE routings SET note = ? WHERE ticket_id IN ? AND note <> ''", ErasedText, ticketIDs).Error; err != nil {
			return fmt.Errorf("routing: erase notes: %w", err)
		}
	}
	return member.EraseOffers(ctx, db, apIDs, ErasedText)
}

// Scrub replaces in text what identifies client p, as an offer's title and
// note are scrubbed before they leave the node: for the copy of a job once
// it ended, whose title and description stay as its record.
func Scrub(text string, p clients.Private) string { return redact.Client(text, p) }

// EraseMemberName replaces, on db, the name of the member of full handle
// handle on the routings they asked for and the offers they forwarded.
func EraseMemberName(ctx context.Context, db *storage.DB, handle, name string) error {
	if err := db.Conn(ctx).Exec("UPDATE routings SET requested_by_name = ? WHERE requested_by = ?", name, handle).Error; err != nil {
		return fmt.Errorf("routing: erase the name of %s: %w", handle, err)
	}
	return member.EraseForwarderName(ctx, db, handle, name)
}

// The member's side of an offer, for federation, which applies the
// tracker's word on a job (functions of the package: a node without NATS
// runs no routing service, and still holds its members' offers).
