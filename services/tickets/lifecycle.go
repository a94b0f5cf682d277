package tickets

import (
	"fmt"
	"slices"
	"strings"
)

// The ticket's lifecycle: one table of the moves a ticket may make, each
// with the way it is made, which every path goes through — a member's
// edit (Update, and the assignee's edits on the tracker: ApplyPatch), the
// routing (PlanMove, Move) and a copy following its tracker (Withdraw).
// The README shows it as a diagram (Mermaid), checked against the table.

// Path is the way a ticket moves.
type Path string

// The paths.
const (
	// ByHand: a member who works on the ticket, on its node, or on the
	// assignee's node and applied on the tracker.
	ByHand Path = "hand"
	// ByRouting: the routing flow on the ticket's own node.
	ByRouting Path = "routing"
	// ByTracker: a copy on the assignee's node, as its tracker says (the
	// tracker checked the move on its side; a copy adopts its tracker's
	// state whatever it is, and Withdraw cancels it).
	ByTracker Path = "tracker"
)

// Action is what a line of a ticket's history records. Its text is the
// message catalogue's key ("action." + the action).
type Action string

// The actions of the history.
const (
	ActCreated             Action = "created"
	ActUpdated             Action = "updated"
	ActCommented           Action = "commented"
	ActCommentedInternally Action = "commented_internally"
	ActLoggedTime          Action = "logged_time"
	ActForwarded           Action = "forwarded"
	ActOffered             Action = "offered"
	ActOfferedTo           Action = "offered_to" // a note of ActOffered: to whom (a handle)
	ActSearchedAgain       Action = "searched_again"
	ActUnroutable          Action = "unroutable" // with its reason: ActUnroutable.With(reason)
	ActAccepted            Action = "accepted"
	ActReleased            Action = "released" // the assignee gave the job back; as a note, the offer it was under
	ActTakenBack           Action = "taken_back"
	ActTakenFrom           Action = "taken_from"     // a note of ActTakenBack: from whom
	ActReleaseReason       Action = "release_reason" // a note: why
	ActShared              Action = "shared"         // a copy received from the tracker
	ActSynced              Action = "synced"         // a copy updated by its tracker
	ActRefused             Action = "refused"        // a change from the other node this one could not take
	ActSuperseded          Action = "superseded"     // a change from the copy a later one had replaced
	ActClientUpdated       Action = "client_updated"
	ActOfferDeclined       Action = "offer_declined"   // a note: the offer (its id) its member declined
	ActOfferExpired        Action = "offer_expired"    // a note: the offer that went unanswered
	ActOfferSuperseded     Action = "offer_superseded" // a note: the offer another job took the place of
	ActCopyHeld            Action = "copy_held"        // a note: the assignee's node holds its copy
	ActPlanned             Action = "planned"          // a note: an intervention planned, when
)

// PlanningAnswer is the note of an attendee's answer to an intervention:
// planning_accepted, planning_tentative, planning_rejected.
func PlanningAnswer(state string) Action { return Action("planning_" + state) }

// With is the action with a detail (the reason a ticket is unroutable):
// "unroutable:no_skill". Its key in the catalogue is the action alone.
func (a Action) With(detail string) Action { return a + ":" + Action(detail) }

// Base is the action without its detail.
func (a Action) Base() Action {
	b, _, _ := strings.Cut(string(a), ":")
	return Action(b)
}

// Transition is one move the lifecycle allows.
type Transition struct {
	From, To Status
	By       Path
	Action   Action // what the history records of it
}

// Lifecycle is every move a ticket may make. A status not listed as a
// From is final (closed, cancelled), but for a copy following its tracker.
var Lifecycle = []Transition{
	{StatusNew, StatusScheduled, ByHand, ActUpdated},
	{StatusNew, StatusInProgress, ByHand, ActUpdated},
	{StatusNew, StatusResolved, ByHand, ActUpdated},
	{StatusNew, StatusCancelled, ByHand, ActUpdated},
	{StatusAccepted, StatusScheduled, ByHand, ActUpdated},
	{StatusAccepted, StatusInProgress, ByHand, ActUpdated},
	{StatusAccepted, StatusResolved, ByHand, ActUpdated},
	{StatusAccepted, StatusCancelled, ByHand, ActUpdated},
	{StatusScheduled, StatusInProgress, ByHand, ActUpdated},
	{StatusScheduled, StatusResolved, ByHand, ActUpdated},
	{StatusScheduled, StatusCancelled, ByHand, ActUpdated},
	{StatusInProgress, StatusScheduled, ByHand, ActUpdated},
	{StatusInProgress, StatusResolved, ByHand, ActUpdated},
	{StatusInProgress, StatusCancelled, ByHand, ActUpdated},
	{StatusResolved, StatusClosed, ByHand, ActUpdated},
	{StatusResolved, StatusInProgress, ByHand, ActUpdated},
	{StatusUnroutable, StatusNew, ByHand, ActUpdated},
	{StatusUnroutable, StatusCancelled, ByHand, ActUpdated},
	{StatusRouting, StatusCancelled, ByHand, ActUpdated},
	{StatusOffered, StatusCancelled, ByHand, ActUpdated},

	{StatusNew, StatusRouting, ByRouting, ActForwarded},
	{StatusUnroutable, StatusRouting, ByRouting, ActForwarded},
	{StatusRouting, StatusOffered, ByRouting, ActOffered},
	{StatusOffered, StatusRouting, ByRouting, ActSearchedAgain},
	{StatusRouting, StatusUnroutable, ByRouting, ActUnroutable},
	{StatusOffered, StatusUnroutable, ByRouting, ActUnroutable},
	{StatusOffered, StatusAccepted, ByRouting, ActAccepted},
	{StatusAccepted, StatusRouting, ByRouting, ActReleased},
	{StatusScheduled, StatusRouting, ByRouting, ActReleased},
	{StatusInProgress, StatusRouting, ByRouting, ActReleased},
	{StatusAccepted, StatusRouting, ByRouting, ActTakenBack},
	{StatusScheduled, StatusRouting, ByRouting, ActTakenBack},
	{StatusInProgress, StatusRouting, ByRouting, ActTakenBack},

	// A copy whose job was given back (by its member, or taken back by the
	// tracker's staff) is cancelled on the assignee's node.
	{StatusNew, StatusCancelled, ByTracker, ActReleased},
	{StatusRouting, StatusCancelled, ByTracker, ActReleased},
	{StatusOffered, StatusCancelled, ByTracker, ActReleased},
	{StatusAccepted, StatusCancelled, ByTracker, ActReleased},
	{StatusScheduled, StatusCancelled, ByTracker, ActReleased},
	{StatusInProgress, StatusCancelled, ByTracker, ActReleased},
	{StatusResolved, StatusCancelled, ByTracker, ActReleased},
	{StatusUnroutable, StatusCancelled, ByTracker, ActReleased},
}

// Allowed reports whether the lifecycle lets a ticket go from one status
// to another by that path (with action, when not empty).
func Allowed(from, to Status, by Path, action Action) bool {
	return slices.ContainsFunc(Lifecycle, func(t Transition) bool {
		return t.From == from && t.To == to && t.By == by && (action == "" || t.Action == action.Base())
	})
}

// CanMove reports whether a member may move a ticket from one status to
// another by hand.
func CanMove(from, to Status) bool { return Allowed(from, to, ByHand, "") }

// Froms lists the statuses from which the lifecycle lets a ticket go to
// to by that path with action.
func Froms(to Status, by Path, action Action) []Status {
	var out []Status
	for _, t := range Lifecycle {
		if t.To == to && t.By == by && t.Action == action.Base() && !slices.Contains(out, t.From) {
			out = append(out, t.From)
		}
	}
	return out
}

// Mermaid draws the lifecycle as a Mermaid state diagram: one arrow per
// move, labelled with its paths and actions (the README shows it; a test
// holds the two equal).
func Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n    [*] --> new: created\n")
	type edge struct{ from, to Status }
	labels := map[edge][]string{}
	var order []edge
	for _, t := range Lifecycle {
		if t.By == ByTracker {
			continue // a copy's own moves: the note below
		}
		e := edge{t.From, t.To}
		if _, ok := labels[e]; !ok {
			order = append(order, e)
		}
		l := "by hand"
		if t.By == ByRouting {
			l = "routing, " + string(t.Action)
		}
		labels[e] = append(labels[e], l)
	}
	for _, e := range order {
		fmt.Fprintf(&b, "    %s --> %s: %s\n", e.from, e.to, strings.Join(labels[e], " / "))
	}
	b.WriteString("    closed --> [*]\n    cancelled --> [*]\n")
	b.WriteString("    note right of cancelled\n        a copy on the assignee's node is cancelled\n" +
		"        from any other status when its job is given back\n    end note\n")
	return b.String()
}
