package routing

import (
	"context"
	"fmt"
	"time"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/redact"
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
func Scrub(text string, p clients.Private) string { return redact.Client(text, p) }

// OfferRef is a job offered to a member, and their answer (a member's
// export).
type OfferRef struct {
	ID            string    `json:"id"`
	OriginRegion  string    `json:"origin_region"`
	State         string    `json:"state"`
	DeclineReason string    `json:"decline_reason"`
	CreatedAt     time.Time `json:"created_at"`
}

// OffersOf lists the offers made to member id on db, by date.
func OffersOf(ctx context.Context, db *storage.DB, id string) ([]OfferRef, error) {
	out := []OfferRef{}
	if err := db.Conn(ctx).Raw("SELECT id, origin_region, state, decline_reason, created_at FROM offers WHERE member_id = ? ORDER BY created_at",
		id).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("routing: offers of %s: %w", id, err)
	}
	return out, nil
}

// EraseMemberName replaces, on db, the name of the member of full handle
// handle on the routings they asked for and the offers they forwarded.
func EraseMemberName(ctx context.Context, db *storage.DB, handle, name string) error {
	for _, q := range []string{
		"UPDATE routings SET requested_by_name = ? WHERE requested_by = ?",
		"UPDATE offers SET forwarded_by_name = ? WHERE forwarded_by = ?",
	} {
		if err := db.Conn(ctx).Exec(q, name, handle).Error; err != nil {
			return fmt.Errorf("routing: erase the name of %s: %w", handle, err)
		}
	}
	return nil
}

// The member's side of an offer, for federation, which applies the
// tracker's word on a job (functions of the package: a node without NATS
// runs no routing service, and still holds its members' offers).

// WithdrawAccepted ends, on db in ctx's transaction, the accepted offer id
// (of ticket apID when apID is not ""), and reports whether it did.
func WithdrawAccepted(ctx context.Context, db *storage.DB, id, apID string) (bool, error) {
	q := db.Conn(ctx).Model(&Offer{}).Where("id = ? AND state = 'accepted'", id)
	if apID != "" {
		q = q.Where("ticket_ap_id = ?", apID)
	}
	res := q.Update("state", OfferWithdrawn)
	if res.Error != nil {
		return false, fmt.Errorf("routing: withdraw offer %s: %w", id, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// LatestAccepted is the id of the member's latest offer of ticket apID
// that was accepted (and perhaps withdrawn since), or "".
func LatestAccepted(ctx context.Context, db *storage.DB, apID, memberID string) (string, error) {
	var ids []string
	if err := db.Conn(ctx).Model(&Offer{}).Where("ticket_ap_id = ? AND member_id = ? AND state IN ('accepted', 'withdrawn')", apID, memberID).
		Order("created_at DESC, id DESC").Limit(1).Pluck("id", &ids).Error; err != nil {
		return "", fmt.Errorf("routing: offers of %s: %w", apID, err)
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

// OfferStates lists the states of the member's offers of ticket apID.
func OfferStates(ctx context.Context, db *storage.DB, apID, memberID string) ([]string, error) {
	var states []string
	if err := db.Conn(ctx).Model(&Offer{}).Where("ticket_ap_id = ? AND member_id = ?", apID, memberID).Pluck("state", &states).Error; err != nil {
		return nil, fmt.Errorf("routing: offers of %s: %w", apID, err)
	}
	return states, nil
}
