// Package holidays computes the French public holidays (jours fériés) of
// a year for a place: the metropolitan list, Alsace-Moselle's two more
// days (Good Friday and 26 December, local law of 1892 kept by the Code du
// travail, art. L3134-13), and each overseas département's day of the
// abolition of slavery (loi n° 83-550, décret n° 83-1003) with, in
// Guadeloupe and Martinique, Victor Schœlcher's day. Easter is found by
// the Gregorian computus; every movable feast follows it.
//
// A holiday is a civil date, not an instant: it is the same day wherever
// the member is, and compared with an intervention's date in Europe/Paris
// (or the overseas département's own time) by the caller.
package holidays

import (
	"sort"
	"strings"
	"time"
)

// Zone is a set of places with the same public holidays.
type Zone string

// The zones.
const (
	Metropole     Zone = "metropole"
	AlsaceMoselle Zone = "alsace-moselle" // Bas-Rhin (67), Haut-Rhin (68), Moselle (57)
	Guadeloupe    Zone = "guadeloupe"     // 971
	Martinique    Zone = "martinique"     // 972
	Guyane        Zone = "guyane"         // 973
	Reunion       Zone = "reunion"        // 974
	Mayotte       Zone = "mayotte"        // 976
)

// Zones lists every zone.
var Zones = []Zone{Metropole, AlsaceMoselle, Guadeloupe, Martinique, Guyane, Reunion, Mayotte}

// ZoneOf is the zone of a département by its INSEE code ("57", "2A",
// "974"): Alsace-Moselle's three, the five overseas, the metropole for
// every other.
func ZoneOf(departement string) Zone {
	switch strings.ToUpper(strings.TrimSpace(departement)) {
	case "57", "67", "68":
		return AlsaceMoselle
	case "971":
		return Guadeloupe
	case "972":
		return Martinique
	case "973":
		return Guyane
	case "974":
		return Reunion
	case "976":
		return Mayotte
	}
	return Metropole
}

// Date is a civil date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is t's civil date in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// String is the date as ISO 8601 writes it.
func (d Date) String() string { return d.Time(time.UTC).Format(time.DateOnly) }

// Time is the date's midnight in loc.
func (d Date) Time(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// add is the date n days later.
func (d Date) add(n int) Date { return DateOf(d.Time(time.UTC).AddDate(0, 0, n), time.UTC) }

// Holiday is one public holiday: its date and its name.
type Holiday struct {
	Date   Date
	Key    string // a stable name, for the message catalogue: "easter_monday", "armistice"…
	NameFR string
	NameEN string
}

// Easter is Easter Sunday of a Gregorian year (the anonymous Gregorian
// algorithm, "Meeus/Jones/Butcher"), for years 1583 and after.
func Easter(year int) Date {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return Date{year, time.Month(month), day}
}

// Of lists the public holidays of a year in a zone, in date order.
func Of(year int, z Zone) []Holiday {
	easter := Easter(year)
	fixed := func(m time.Month, d int, key, fr, en string) Holiday {
		return Holiday{Date{year, m, d}, key, fr, en}
	}
	out := []Holiday{
		fixed(time.January, 1, "new_year", "Jour de l'an", "New Year's Day"),
		{easter.add(1), "easter_monday", "Lundi de Pâques", "Easter Monday"},
		fixed(time.May, 1, "labour_day", "Fête du Travail", "Labour Day"),
		fixed(time.May, 8, "victory_1945", "Victoire 1945", "Victory in Europe Day"),
		{easter.add(39), "ascension", "Ascension", "Ascension Day"},
		{easter.add(50), "whit_monday", "Lundi de Pentecôte", "Whit Monday"},
		fixed(time.July, 14, "national_day", "Fête nationale", "Bastille Day"),
		fixed(time.August, 15, "assumption", "Assomption", "Assumption Day"),
		fixed(time.November, 1, "all_saints", "Toussaint", "All Saints' Day"),
		fixed(time.November, 11, "armistice", "Armistice 1918", "Armistice Day"),
		fixed(time.December, 25, "christmas", "Noël", "Christmas Day"),
	}
	abolition := func(m time.Month, d int) Holiday {
		return fixed(m, d, "abolition", "Abolition de l'esclavage", "Abolition of slavery")
	}
	schoelcher := fixed(time.July, 21, "schoelcher", "Fête de Victor Schœlcher", "Victor Schœlcher Day")
	switch z {
	case AlsaceMoselle:
		out = append(out, Holiday{easter.add(-2), "good_friday", "Vendredi saint", "Good Friday"},
			fixed(time.December, 26, "saint_stephen", "Saint-Étienne", "St Stephen's Day"))
	case Guadeloupe:
		out = append(out, abolition(time.May, 27), schoelcher)
	case Martinique:
		out = append(out, abolition(time.May, 22), schoelcher)
	case Guyane:
		out = append(out, abolition(time.June, 10))
	case Reunion:
		out = append(out, abolition(time.December, 20))
	case Mayotte:
		out = append(out, abolition(time.April, 27))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date.String() < out[j].Date.String() })
	return out
}

// On reports the public holiday of a date in a zone, if it is one.
func On(d Date, z Zone) (Holiday, bool) {
	for _, h := range Of(d.Year, z) {
		if h.Date == d {
			return h, true
		}
	}
	return Holiday{}, false
}
