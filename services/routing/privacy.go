package routing

import (
	"context"
	"fmt"

	"github.com/coopnet/coopnet/services/clients"
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
	if len(apIDs) > 0 {
		if err := tx.Exec("UPDATE offers SET title = ?, note = '', decline_reason = '' WHERE ticket_ap_id IN ?", ErasedText, apIDs).Error; err != nil {
			return fmt.Errorf("routing: erase offers: %w", err)
		}
	}
	return nil
}

// Scrub replaces in text what identifies client p, as an offer's title and
// note are scrubbed before they leave the node: for the copy of a job once
// it ended, whose title and description stay as its record.
func Scrub(text string, p clients.Private) string { return redactClient(text, p) }
