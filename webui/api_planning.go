package webui

import (
	"net/http"
	"time"
	_ "time/tzdata" // Europe/Paris even on machines without a zoneinfo database

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/planning"
)

type timeRequest struct {
	Minutes int    `json:"minutes"`
	OnSite  *bool  `json:"on_site"`
	Note    string `json:"note"`
}

// logTime records time spent on a ticket; the ticket comes back with its
// new total.
func (s *Server) logTime(c echo.Context) error {
	var req timeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.opt.Tickets.LogTime(c.Request().Context(), actorOf(c), c.Param("id"), req.Minutes, req.OnSite, req.Note)
	if err != nil {
		return err
	}
	return ticketJSON(c, http.StatusCreated, t)
}

type eventRequest struct {
	Start    *time.Time `json:"start"`
	End      *time.Time `json:"end"`
	Location string     `json:"location"`
}

func (s *Server) scheduleEvent(c echo.Context) error {
	var req eventRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	e, err := s.opt.Planning.Schedule(c.Request().Context(), actorOf(c), c.Param("id"),
		planning.ScheduleInput{Start: req.Start, End: req.End, Location: req.Location})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, e)
}

type answerRequest struct {
	Answer string `json:"answer"`
}

func (s *Server) answerEvent(c echo.Context) error {
	var req answerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	e, err := s.opt.Planning.Answer(c.Request().Context(), actorOf(c), c.Param("id"), req.Answer)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e)
}

// paris is the coop's time zone: a calendar's days and weeks are French.
var paris = mustLoadLocation("Europe/Paris")

func mustLoadLocation(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is embedded
	}
	return l
}

// mondayOf is the start of t's week: Monday 00:00, Paris time.
func mondayOf(t time.Time) time.Time {
	t = t.In(paris)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, paris)
	return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
}

// parseWhen reads a calendar bound: an RFC 3339 time, or a day (the start
// of that day in Paris).
func parseWhen(v *apperr.Validation, field, s string) time.Time {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, paris); err == nil {
		return t
	}
	v.Add(field, "must be a day (2026-12-07) or an RFC 3339 time")
	return time.Time{}
}

// calendar lists the actor's interventions from every region, this week
// (Monday to Monday, Paris time) unless from/to say otherwise.
func (s *Server) calendar(c echo.Context) error {
	from := mondayOf(time.Now())
	to := from.AddDate(0, 0, 7)
	var v apperr.Validation
	if q := c.QueryParam("from"); q != "" {
		from = parseWhen(&v, "from", q)
		to = from.AddDate(0, 0, 7)
	}
	if q := c.QueryParam("to"); q != "" {
		to = parseWhen(&v, "to", q)
	}
	if err := v.Err(); err != nil {
		return err
	}
	es, err := s.opt.Planning.Calendar(c.Request().Context(), actorOf(c), from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"from": from.UTC(), "to": to.UTC(), "items": es})
}
