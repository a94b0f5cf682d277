package avail_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coopnet/coopnet/services/holidays"
	"github.com/coopnet/coopnet/services/planning/avail"
)

var paris, _ = time.LoadLocation("Europe/Paris")

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
	if err != nil {
		panic(err)
	}
	return t
}

func h(from, to string) avail.Range {
	p := func(s string) time.Duration {
		t, _ := time.Parse("15:04", s)
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	return avail.Range{From: p(from), To: p(to)}
}

// marie works 09:00–12:00 and 13:30–17:30 on weekdays.
func marie() avail.Calendar {
	var w avail.Week
	for d := time.Monday; d <= time.Friday; d++ {
		w[d] = []avail.Range{h("09:00", "12:00"), h("13:30", "17:30")}
	}
	return avail.Calendar{Hours: w, Zone: holidays.Metropole, Loc: paris}
}

func booking(from, to string, before, after time.Duration) avail.Booking {
	return avail.Booking{Interval: avail.Interval{Start: at(from), End: at(to)}, Before: before, After: after}
}

func TestProblems(t *testing.T) {
	c := marie()
	c.Absences = []avail.Interval{{Start: at("2026-12-14 00:00"), End: at("2026-12-16 00:00")}} // two days' training
	morning := booking("2026-12-08 09:00", "2026-12-08 12:00", 0, 0)
	visit := booking("2026-12-09 10:00", "2026-12-09 12:00", 30*time.Minute, 30*time.Minute)
	for _, tc := range []struct {
		name string
		b    avail.Booking
		want []string
	}{
		{"free", booking("2026-12-10 09:00", "2026-12-10 11:00", 0, 0), nil},
		{"the same morning twice", booking("2026-12-08 10:00", "2026-12-08 11:00", 0, 0), []string{avail.Booked}},
		{"adjacent: 12:00 after 09:00–12:00 — but lunch", booking("2026-12-08 12:00", "2026-12-08 13:00", 0, 0), []string{avail.OutsideHours}},
		{"adjacent within the hours", booking("2026-12-10 11:00", "2026-12-10 12:00", 0, 0), nil},
		{"into a visit's travel", booking("2026-12-09 09:00", "2026-12-09 09:45", 0, 0), []string{avail.Booked}},
		{"right after a visit's travel", booking("2026-12-09 13:30", "2026-12-09 14:00", 0, 0), nil},
		{"Christmas", booking("2026-12-25 09:00", "2026-12-25 11:00", 0, 0), []string{avail.Holiday}},
		{"02:00 on a Sunday", booking("2026-12-13 02:00", "2026-12-13 03:00", 0, 0), []string{avail.OutsideHours}},
		{"during the training", booking("2026-12-15 09:00", "2026-12-15 10:00", 0, 0), []string{avail.Absent}},
		{"an evening over the hours", booking("2026-12-10 16:00", "2026-12-10 18:00", 0, 0), []string{avail.OutsideHours}},
	} {
		if got := c.Problems(tc.b, []avail.Booking{morning, visit}); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDaylightSaving: a working day is its hours on the days the clocks
// change (29 March and 25 October 2026), and a slot in local time stays in
// the hours.
func TestDaylightSaving(t *testing.T) {
	c := marie()
	c.Hours[time.Sunday] = []avail.Range{h("00:00", "06:00")} // a Sunday night shift, to cross the change
	for _, day := range []string{"2026-03-29", "2026-10-25"} {
		from, to := at(day+" 00:00"), at(day+" 00:00").AddDate(0, 0, 1)
		free := c.Free(from, to, nil)
		want := 5 * time.Hour // 00:00–06:00 with an hour gone at 02:00
		if day == "2026-10-25" {
			want = 7 * time.Hour // an hour twice
		}
		if free != want {
			t.Errorf("%s: %v free, want %v", day, free, want)
		}
	}
	// Monday 30 March, 09:00–12:00 Paris (07:00–10:00 UTC, summer time).
	b := avail.Booking{Interval: avail.Interval{Start: time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 30, 10, 0, 0, 0, time.UTC)}}
	if got := c.Problems(b, nil); got != nil {
		t.Errorf("09:00–12:00 the Monday after the change: %v", got)
	}
	b.Start, b.End = b.Start.Add(time.Hour), b.End.Add(time.Hour) // 10:00–13:00 Paris: into lunch
	if got := c.Problems(b, nil); !slices.Equal(got, []string{avail.OutsideHours}) {
		t.Errorf("10:00–13:00: %v", got)
	}
}

func TestFree(t *testing.T) {
	c := marie()
	// The week of 21 December 2026: four days of 7 h (Christmas is off):
	// 28 h; a half-day absence on the 23rd (13:30–17:30) takes 4 h; a 3 h
	// visit with 30 min of travel each way takes its 3 h (its travel falls
	// before 09:00 and in the lunch break, outside working time), an
	// overlapping booking nothing more.
	c.Absences = []avail.Interval{{Start: at("2026-12-23 13:00"), End: at("2026-12-23 18:00")}}
	from, to := at("2026-12-21 00:00"), at("2026-12-28 00:00")
	if got := c.Free(from, to, nil); got != 24*time.Hour {
		t.Errorf("free without bookings: %v, want 24h", got)
	}
	visit := booking("2026-12-22 09:00", "2026-12-22 12:00", 30*time.Minute, 30*time.Minute)
	overlap := booking("2026-12-22 10:00", "2026-12-22 11:00", 0, 0) // the same hours counted once
	if got := c.Free(from, to, []avail.Booking{visit, overlap}); got != 21*time.Hour {
		t.Errorf("free with the visit: %v, want 21h (its 30 min of travel before 09:00 are not working time)", got)
	}
}

func TestWeekCheck(t *testing.T) {
	var w avail.Week
	w[time.Monday] = []avail.Range{h("13:00", "17:00"), h("09:00", "13:30")}
	w[time.Tuesday] = []avail.Range{h("12:00", "09:00")}
	w[time.Wednesday] = []avail.Range{{From: -time.Hour, To: time.Hour}}
	err := w.Check()
	if err == nil {
		t.Fatal("bad hours accepted")
	}
	for _, want := range []string{"Monday: 13:00–17:00 overlaps 09:00–13:30", "Tuesday: 12:00–09:00 ends before it starts", "Wednesday"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if err := marie().Hours.Check(); err != nil {
		t.Errorf("Marie's hours: %v", err)
	}
}
