package routing

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/clients"
)

// ErasedText is what the erased title or note of a routing or an offer
// keeps.
const ErasedText = "[effacé]"

// EraseTicketsTx erases, inside tx, the free texts the routing holds about
// tickets (a client's erasure): the forward notes of their routings on
// this node, and the titles, notes and decline reasons of the offers of
// them made to this node's members. Ids, figures and states stay.
func EraseTicketsTx(ctx context.Context, tx *gorm.DB, ticketIDs, apIDs []string) error {
	tx = tx.WithContext(ctx)
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
