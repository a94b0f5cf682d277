package member

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// MemberLoad is one technician of this node with their booked minutes
// (work under way and offers waiting for an answer) and weekly capacity.
type MemberLoad struct {
	Name          string
	WeeklyHours   int
	BookedMinutes int
}

// MemberLoads lists this node's active technicians with their load, by
// name.
func (s *Service) MemberLoads(ctx context.Context) ([]MemberLoad, error) {
	rows, err := s.members.Technicians(ctx)
	if err != nil {
		return nil, fmt.Errorf("routing: member loads: %w", err)
	}
	minutes, err := s.loadBook(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MemberLoad, len(rows))
	for i, r := range rows {
		out[i] = MemberLoad{Name: r.Name, WeeklyHours: r.WeeklyHours, BookedMinutes: minutes[r.ID].booked}
	}
	// Sorted here: SQLite and PostgreSQL order accented names differently.
	slices.SortFunc(out, func(a, b MemberLoad) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
