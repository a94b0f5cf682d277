package member

import (
	"context"
	"fmt"
	"time"

	"github.com/coopnet/coopnet/services/storage"
)

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

// EraseOffers replaces, in the transaction ctx carries on db, the titles of
// the offers of tickets apIDs with erased, and empties their notes and
// decline reasons (a client's erasure). Ids, figures and states stay.
func EraseOffers(ctx context.Context, db *storage.DB, apIDs []string, erased string) error {
	if len(apIDs) == 0 {
		return nil
	}
	if err := db.Conn(ctx).Exec("UPDATE offers SET title = ?, note = '', decline_reason = '' WHERE ticket_ap_id IN ?", erased, apIDs).Error; err != nil {
		return fmt.Errorf("routing: erase offers: %w", err)
	}
	return nil
}

// EraseForwarderName replaces, on db, the name of the member of full
// handle handle on the offers they forwarded.
func EraseForwarderName(ctx context.Context, db *storage.DB, handle, name string) error {
	if err := db.Conn(ctx).Exec("UPDATE offers SET forwarded_by_name = ? WHERE forwarded_by = ?", name, handle).Error; err != nil {
		return fmt.Errorf("routing: erase the name of %s: %w", handle, err)
	}
	return nil
}

// OfferTitles returns, on db, the titles of the offers of ids (scrubbed
// as they crossed the routing), by id: what a notification of an offer
// shows.
func OfferTitles(ctx context.Context, db *storage.DB, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct{ ID, Title string }
	if err := db.Conn(ctx).Raw("SELECT id, title FROM offers WHERE id IN ?", ids).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("routing: offer titles: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.Title
	}
	return out, nil
}
