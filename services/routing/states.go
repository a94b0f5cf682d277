package routing

import "slices"

// RoutingState is where the search for a member to do a ticket is, on the
// ticket's node.
type RoutingState string

// The states of a routing.
const (
	RoutingPending    RoutingState = "pending"    // to search (again)
	RoutingOffering   RoutingState = "offering"   // an offer waits for its member's answer
	RoutingAccepted   RoutingState = "accepted"   // a member took the job
	RoutingUnroutable RoutingState = "unroutable" // nobody could take it
	RoutingCancelled  RoutingState = "cancelled"  // the ticket was cancelled or moved on meanwhile
)

// AllRoutingStates lists every state of a routing (the schema's CHECK).
var AllRoutingStates = []RoutingState{RoutingPending, RoutingOffering, RoutingAccepted, RoutingUnroutable, RoutingCancelled}

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

// A move of a routing or an offer from one state to another.
type move[S ~string] struct{ From, To S }

// RoutingMoves are the moves a routing makes.
var RoutingMoves = []move[RoutingState]{
	{RoutingPending, RoutingOffering},    // a candidate found: offered
	{RoutingPending, RoutingUnroutable},  // no candidate
	{RoutingPending, RoutingCancelled},   // the ticket moved on
	{RoutingOffering, RoutingPending},    // the offer superseded: searched again
	{RoutingOffering, RoutingOffering},   // declined or expired: the next candidate
	{RoutingOffering, RoutingAccepted},   // the member took it
	{RoutingOffering, RoutingUnroutable}, // no candidate left
	{RoutingOffering, RoutingCancelled},  // the ticket moved on
	{RoutingAccepted, RoutingOffering},   // given back: offered to the next candidate
	{RoutingAccepted, RoutingUnroutable}, // given back, no candidate left
}

// OfferMoves are the moves an offer makes.
var OfferMoves = []move[OfferState]{
	{OfferPending, OfferAccepted}, {OfferPending, OfferDeclined}, {OfferPending, OfferExpired},
	{OfferPending, OfferWithdrawn}, {OfferPending, OfferLost}, {OfferPending, OfferSuperseded},
	{OfferDeclined, OfferAccepted},   // the origin gave the job before it heard the decline
	{OfferSuperseded, OfferAccepted}, // likewise
	{OfferAccepted, OfferWithdrawn},  // the job given back
}

// Moves reports whether a routing may go from one state to another.
func (from RoutingState) Moves(to RoutingState) bool {
	return slices.Contains(RoutingMoves, move[RoutingState]{from, to})
}

// Moves reports whether an offer may go from one state to another.
func (from OfferState) Moves(to OfferState) bool {
	return slices.Contains(OfferMoves, move[OfferState]{from, to})
}
