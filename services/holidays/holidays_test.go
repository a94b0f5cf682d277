package holidays_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coopnet/coopnet/services/holidays"
)

func dates(hs []holidays.Holiday) string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Date.String())
	}
	return strings.Join(out, " ")
}

func TestHolidays2026(t *testing.T) {
	for _, c := range []struct {
		zone holidays.Zone
		want string
	}{
		{holidays.Metropole, "2026-01-01 2026-04-06 2026-05-01 2026-05-08 2026-05-14 2026-05-25 2026-07-14 2026-08-15 2026-11-01 2026-11-11 2026-12-25"},
		{holidays.AlsaceMoselle, "2026-01-01 2026-04-03 2026-04-06 2026-05-01 2026-05-08 2026-05-14 2026-05-25 2026-07-14 2026-08-15 2026-11-01 2026-11-11 2026-12-25 2026-12-26"},
		{holidays.Guadeloupe, "2026-01-01 2026-04-06 2026-05-01 2026-05-08 2026-05-14 2026-05-25 2026-05-27 2026-07-14 2026-07-21 2026-08-15 2026-11-01 2026-11-11 2026-12-25"},
		{holidays.Martinique, "2026-01-01 2026-04-06 2026-05-01 2026-05-08 2026-05-14 2026-05-22 2026-05-25 2026-07-14 2026-07-21 2026-08-15 2026-11-01 2026-11-11 2026-12-25"},
		{holidays.Guyane, "2026-01-01 2026-04-06 2026-05-01 2026-05-08 2026-05-14 2026-05-25 2026-06-10 2026-07-14 2026-08-15 2026-11-01 2026-11-11 2026-12-25"},
		{holidays.Reunion, "2026-01-01 2026-04-06 2026-05-01 2026-05-08 2026-05-14 2026-05-25 2026-07-14 2026-08-15 2026-11-01 2026-11-11 2026-12-20 2026-12-25"},
		{holidays.Mayotte, "2026-01-01 2026-04-06 2026-04-27 2026-05-01 2026-05-08 2026-05-14 2026-05-25 2026-07-14 2026-08-15 2026-11-01 2026-11-11 2026-12-25"},
	} {
		if got := dates(holidays.Of(2026, c.zone)); got != c.want {
			t.Errorf("%s 2026:\n got %s\nwant %s", c.zone, got, c.want)
		}
	}
}

func TestEaster(t *testing.T) {
	// Easter Sundays from the Gregorian tables: the computus's edge years
	// included (its earliest, 22 March, in 2285; its latest, 25 April, in
	// 2038; 2019's 21 April).
	for year, want := range map[int]string{2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05", 2027: "2027-03-28",
		2028: "2028-04-16", 2019: "2019-04-21", 2038: "2038-04-25", 2285: "2285-03-22", 2000: "2000-04-23", 1961: "1961-04-02"} {
		if got := holidays.Easter(year).String(); got != want {
			t.Errorf("Easter %d: %s, want %s", year, got, want)
		}
	}
	// Every Easter is a Sunday between 22 March and 25 April.
	for y := 1583; y <= 4099; y++ {
		e := holidays.Easter(y)
		tm := e.Time(time.UTC)
		if tm.Weekday() != time.Sunday || tm.Before(time.Date(y, 3, 22, 0, 0, 0, 0, time.UTC)) || tm.After(time.Date(y, 4, 25, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("Easter %d: %s, a %s", y, e, tm.Weekday())
		}
	}
}

func TestZoneOf(t *testing.T) {
	for dep, want := range map[string]holidays.Zone{"57": holidays.AlsaceMoselle, "67": holidays.AlsaceMoselle, "68": holidays.AlsaceMoselle,
		"25": holidays.Metropole, "2a": holidays.Metropole, "971": holidays.Guadeloupe, "972": holidays.Martinique, "973": holidays.Guyane,
		"974": holidays.Reunion, "976": holidays.Mayotte, " 54 ": holidays.Metropole} {
		if got := holidays.ZoneOf(dep); got != want {
			t.Errorf("ZoneOf(%q) = %s, want %s", dep, got, want)
		}
	}
}

func TestOn(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	// 25 December 2026, 09:00 in Paris: Christmas; 26 December is only
	// Alsace-Moselle's; a Sunday is no holiday by itself.
	xmas := holidays.DateOf(time.Date(2026, 12, 25, 8, 0, 0, 0, time.UTC), paris)
	if h, ok := holidays.On(xmas, holidays.Metropole); !ok || h.Key != "christmas" || h.NameFR != "Noël" {
		t.Errorf("25 December: %+v %v", h, ok)
	}
	boxing := holidays.Date{Year: 2026, Month: time.December, Day: 26}
	if _, ok := holidays.On(boxing, holidays.Metropole); ok {
		t.Error("26 December is a holiday in the metropole")
	}
	if h, ok := holidays.On(boxing, holidays.AlsaceMoselle); !ok || h.Key != "saint_stephen" {
		t.Errorf("26 December in Moselle: %+v %v", h, ok)
	}
	// 31 December 2026, 23:30 UTC is already 1 January 2027 in Paris.
	if h, ok := holidays.On(holidays.DateOf(time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC), paris), holidays.Metropole); !ok || h.Key != "new_year" {
		t.Errorf("New Year in Paris time: %+v %v", h, ok)
	}
	for _, z := range holidays.Zones {
		hs := holidays.Of(2027, z)
		for i := 1; i < len(hs); i++ {
			if hs[i].Date.String() <= hs[i-1].Date.String() {
				t.Errorf("%s 2027: %s after %s", z, hs[i].Date, hs[i-1].Date)
			}
		}
	}
}
