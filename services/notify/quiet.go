package notify

import (
	"time"
	_ "time/tzdata" // Europe/Paris even on machines without a zoneinfo database
)

// paris is the coop's time zone: quiet hours are the member's local time.
var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err) // time/tzdata is embedded
	}
	return l
}()

// Quiet reports whether t is in the member's quiet hours: no mail then.
func (st Settings) Quiet(t time.Time) bool {
	l := t.In(paris)
	if st.QuietWeekends && (l.Weekday() == time.Saturday || l.Weekday() == time.Sunday) {
		return true
	}
	if st.QuietFrom == st.QuietTo {
		return false
	}
	m := l.Hour()*60 + l.Minute()
	if st.QuietFrom < st.QuietTo {
		return m >= st.QuietFrom && m < st.QuietTo
	}
	return m >= st.QuietFrom || m < st.QuietTo
}

// NextOpen is the first instant from t on outside the member's quiet
// hours: when a mail written at t may go.
func (st Settings) NextOpen(t time.Time) time.Time {
	// Each step ends a weekend day or a quiet evening; a week has fewer
	// than 16 of them.
	for range 16 {
		if !st.Quiet(t) {
			return t.UTC()
		}
		l := t.In(paris)
		y, mo, d := l.Date()
		if st.QuietWeekends && (l.Weekday() == time.Saturday || l.Weekday() == time.Sunday) {
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, paris)
			continue
		}
		end := time.Date(y, mo, d, st.QuietTo/60, st.QuietTo%60, 0, 0, paris)
		if !end.After(t) {
			end = time.Date(y, mo, d+1, st.QuietTo/60, st.QuietTo%60, 0, 0, paris)
		}
		t = end
	}
	return t.UTC()
}

// NextDigest is when the daily digest that a notification of t joins
// goes: the next end of the quiet hours (08:00 when there are none) after
// t, on a day that is not quiet.
func (st Settings) NextDigest(t time.Time) time.Time {
	at := st.QuietTo
	if st.QuietFrom == st.QuietTo {
		at = 8 * 60
	}
	l := t.In(paris)
	y, mo, d := l.Date()
	next := time.Date(y, mo, d, at/60, at%60, 0, 0, paris)
	if !next.After(t) {
		next = time.Date(y, mo, d+1, at/60, at%60, 0, 0, paris)
	}
	return st.NextOpen(next)
}
