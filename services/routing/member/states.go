package member

import "slices"

// OfferState is where a job offered to a member is, on the member's node.
type OfferState string

// The states of an offer.
const (
	OfferPending    OfferState = "pending"    // waits for its member's answer
	OfferAccepted   OfferState = "accepted"   // the origin gave the member the job
	OfferDeclined   OfferState = "declined"   // by its member, or at once for want of room
	OfferExpired    OfferState = "expired"    // unanswered in time
	OfferWithdrawn  OfferState = "withdrawn"  // the job was given back, or its origin withdrew the offer
	OfferLost       OfferState = "lost"       // another took the job first, or it moved on
	OfferSuperseded OfferState = "superseded" // another job's offer took its place
)

// AllOfferStates lists every state of an offer (the schema's CHECK).
var AllOfferStates = []OfferState{OfferPending, OfferAccepted, OfferDeclined, OfferExpired, OfferWithdrawn, OfferLost, OfferSuperseded}

// A move of an offer from one state to another.
type move struct{ From, To OfferState }

// OfferMoves are the moves an offer makes.
var OfferMoves = []move{
	{OfferPending, OfferAccepted}, {OfferPending, OfferDeclined}, {OfferPending, OfferExpired},
	{OfferPending, OfferWithdrawn}, {OfferPending, OfferLost}, {OfferPending, OfferSuperseded},
	{OfferDeclined, OfferAccepted},   // the origin gave the job before it heard the decline
	{OfferSuperseded, OfferAccepted}, // likewise
	{OfferAccepted, OfferWithdrawn},  // the job given back
}

// Moves reports whether an offer may go from one state to another.
func (from OfferState) Moves(to OfferState) bool {
	return slices.Contains(OfferMoves, move{from, to})
}
