package tickets

import "testing"

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
	for _, s := range Statuses {
		if _, ok := transitions[Status(s)]; !ok {
			t.Errorf("status %s has no transitions entry", s)
		}
	}
}
