package tickets

import (
	"os"
	"strings"
	"testing"
)

func TestCanMove(t *testing.T) {
	tests := []struct {
		from, to Status
		ok       bool
	}{
		{StatusNew, StatusInProgress, true},
		{StatusNew, StatusCancelled, true},
		{StatusNew, StatusRouting, false}, // only by forwarding
		{StatusNew, StatusAccepted, false},
		{StatusAccepted, StatusScheduled, true},
		{StatusScheduled, StatusInProgress, true},
		{StatusInProgress, StatusResolved, true},
		{StatusResolved, StatusClosed, true},
		{StatusResolved, StatusInProgress, true}, // reopened
		{StatusClosed, StatusInProgress, false},
		{StatusCancelled, StatusNew, false},
		{StatusUnroutable, StatusNew, true},
		{StatusRouting, StatusResolved, false},
		{StatusOffered, StatusCancelled, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.from)+"→"+string(tc.to), func(t *testing.T) {
			if got := CanMove(tc.from, tc.to); got != tc.ok {
				t.Errorf("CanMove = %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestLifecycleIsWhole: every status is reached (but new, where a ticket
// starts) and left (but closed and cancelled, where it ends) by some move;
// the routing's moves are the routing's own (forward, offer, accept, give
// back); no move is listed twice.
func TestLifecycleIsWhole(t *testing.T) {
	reached, left := map[Status]bool{StatusNew: true}, map[Status]bool{StatusClosed: true, StatusCancelled: true}
	seen := map[Transition]bool{}
	for _, tr := range Lifecycle {
		if seen[tr] {
			t.Errorf("%+v is listed twice", tr)
		}
		seen[tr] = true
		reached[tr.To], left[tr.From] = true, true
		if tr.From == tr.To {
			t.Errorf("%+v goes nowhere", tr)
		}
	}
	for _, s := range Statuses {
		if !reached[Status(s)] || !left[Status(s)] {
			t.Errorf("status %s: reached %t, left %t", s, reached[Status(s)], left[Status(s)])
		}
	}
	if !Allowed(StatusNew, StatusRouting, ByRouting, ActForwarded) || Allowed(StatusNew, StatusRouting, ByHand, "") {
		t.Error("forwarding is the routing's, not an edit")
	}
	if !Allowed(StatusRouting, StatusUnroutable, ByRouting, ActUnroutable.With("no_skill")) {
		t.Error("an action's detail is not part of the move")
	}
	if got := Froms(StatusRouting, ByRouting, ActReleased); len(got) != 3 {
		t.Errorf("a job is given back from %v", got)
	}
}

// TestReadmeShowsTheLifecycle: the README's diagram is the table's.
func TestReadmeShowsTheLifecycle(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```mermaid\n"+Mermaid()+"```\n") {
		t.Errorf("the README's ticket lifecycle differs from tickets.Lifecycle: paste\n```mermaid\n%s```", Mermaid())
	}
}
