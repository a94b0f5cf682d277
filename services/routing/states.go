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

// A move of a routing from one state to another (an offer's: see
// member.OfferMoves).
type move struct{ From, To RoutingState }

// RoutingMoves are the moves a routing makes.
var RoutingMoves = []move{
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

// Moves reports whether a routing may go from one state to another.
func (from RoutingState) Moves(to RoutingState) bool {
	return slices.Contains(RoutingMoves, move{from, to})
}
