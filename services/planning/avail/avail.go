// Package avail reckons a member's availability (issue 18's groundwork,
// not yet wired into planning or the routing): working hours by weekday in
// the member's own time zone, absences, public holidays, and bookings with
// their travel buffers, all as half-open intervals [start, end) in UTC.
// Working hours are read in local time day by day, so that a 09:00–17:00
// day is eight hours on the days the clocks change too.
package avail

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/coopnet/coopnet/services/holidays"
)

// Range is a span of a day in local time, [From, To) since midnight.
type Range struct{ From, To time.Duration }

// Week is the working hours of each weekday (time.Sunday first), several
// ranges a day allowed.
type Week [7][]Range

// Check reports ranges out of the day, empty or overlapping.
func (w Week) Check() error {
	var errs []error
	for day, rs := range w {
		rs = append([]Range(nil), rs...)
		sort.Slice(rs, func(i, j int) bool { return rs[i].From < rs[j].From })
		for i, r := range rs {
			switch {
			case r.From < 0 || r.To > 24*time.Hour:
				errs = append(errs, fmt.Errorf("%s: %s–%s is not within the day", time.Weekday(day), clock(r.From), clock(r.To)))
			case r.To <= r.From:
				errs = append(errs, fmt.Errorf("%s: %s–%s ends before it starts", time.Weekday(day), clock(r.From), clock(r.To)))
			case i > 0 && r.From < rs[i-1].To:
				errs = append(errs, fmt.Errorf("%s: %s–%s overlaps %s–%s", time.Weekday(day), clock(r.From), clock(r.To),
					clock(rs[i-1].From), clock(rs[i-1].To)))
			}
		}
	}
	return errors.Join(errs...)
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

// Interval is a half-open span of time [Start, End).
type Interval struct{ Start, End time.Time }

// Overlaps reports whether two intervals share an instant: adjacent ones
// (10–12, 12–14) do not.
func (a Interval) Overlaps(b Interval) bool { return a.Start.Before(b.End) && b.Start.Before(a.End) }

// Booking is an intervention of the member, with its travel before and
// after (an on-site visit's).
type Booking struct {
	Interval
	Before, After time.Duration
}

// Span is the time the booking takes, its travel included.
func (b Booking) Span() Interval {
	return Interval{b.Start.Add(-b.Before), b.End.Add(b.After)}
}

// Calendar is what a member's availability is made of.
type Calendar struct {
	Hours    Week
	Absences []Interval
	Zone     holidays.Zone
	Loc      *time.Location // the member's time zone (Europe/Paris, or an overseas one)
}

// Reasons a slot is not free.
const (
	OutsideHours = "outside_hours"
	Holiday      = "holiday"
	Absent       = "absence"
	Booked       = "booked"
)

// working is the member's working time in [from, to), day by day in local
// time, without the public holidays.
func (c Calendar) working(from, to time.Time) []Interval {
	var out []Interval
	y, m, d := from.In(c.Loc).Date()
	for day := time.Date(y, m, d, 0, 0, 0, 0, c.Loc); day.Before(to); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, c.Loc) {
		if _, off := holidays.On(holidays.DateOf(day, c.Loc), c.Zone); off {
			continue
		}
		for _, r := range c.Hours[day.Weekday()] {
			s := time.Date(day.Year(), day.Month(), day.Day(), int(r.From.Hours()), int(r.From.Minutes())%60, 0, 0, c.Loc)
			e := time.Date(day.Year(), day.Month(), day.Day(), int(r.To.Hours()), int(r.To.Minutes())%60, 0, 0, c.Loc)
			iv := Interval{maxTime(s, from), minTime(e, to)}
			if iv.Start.Before(iv.End) {
				out = append(out, Interval{iv.Start.UTC(), iv.End.UTC()})
			}
		}
	}
	return out
}

// Problems says why a booking cannot go where it is asked, among the
// others: every reason, none when it is free.
func (c Calendar) Problems(b Booking, others []Booking) []string {
	var out []string
	span := b.Span()
	// Within working time: the working intervals must cover the booking
	// itself (travel may run outside the hours).
	covered := time.Duration(0)
	for _, w := range c.working(b.Start, b.End) {
		covered += w.End.Sub(w.Start)
	}
	if covered < b.End.Sub(b.Start) {
		onHoliday := false
		for d := holidays.DateOf(b.Start, c.Loc); d.Time(c.Loc).Before(b.End); d = holidays.DateOf(d.Time(c.Loc).AddDate(0, 0, 1), c.Loc) {
			if _, ok := holidays.On(d, c.Zone); ok {
				onHoliday = true
			}
		}
		if onHoliday {
			out = append(out, Holiday)
		} else {
			out = append(out, OutsideHours)
		}
	}
	for _, a := range c.Absences {
		if a.Overlaps(b.Interval) {
			out = append(out, Absent)
			break
		}
	}
	for _, o := range others {
		if o.Span().Overlaps(span) {
			out = append(out, Booked)
			break
		}
	}
	return out
}

// Free is the member's free working time in [from, to): working hours
// without holidays, absences and the bookings' spans (travel included).
func (c Calendar) Free(from, to time.Time, bookings []Booking) time.Duration {
	busy := append([]Interval(nil), c.Absences...)
	for _, b := range bookings {
		busy = append(busy, b.Span())
	}
	total := time.Duration(0)
	for _, w := range c.working(from, to) {
		total += w.End.Sub(w.Start) - taken(w, busy)
	}
	return total
}

// taken is how much of w the busy intervals cover, each instant once.
func taken(w Interval, busy []Interval) time.Duration {
	var cut []Interval
	for _, b := range busy {
		if b.Overlaps(w) {
			cut = append(cut, Interval{maxTime(b.Start, w.Start), minTime(b.End, w.End)})
		}
	}
	sort.Slice(cut, func(i, j int) bool { return cut[i].Start.Before(cut[j].Start) })
	total := time.Duration(0)
	var end time.Time
	for _, c := range cut {
		if c.Start.Before(end) {
			c.Start = end
		}
		if c.End.After(c.Start) {
			total += c.End.Sub(c.Start)
			end = c.End
		}
	}
	return total
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
