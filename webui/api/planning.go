package api

import (
	"net/http"
	"time"
	_ "time/tzdata" // Europe/Paris even on machines without a zoneinfo database

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/webui/web"
)

type timeRequest struct {
	Minutes int    `json:"minutes"`
	OnSite  *bool  `json:"on_site"`
	Note    string `json:"note"`
}

// logTime records time spent on a ticket; the ticket comes back with its
// new total.
func (s *API) logTime(c echo.Context) error {
	var req timeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.Opt.Tickets.LogTime(c.Request().Context(), web.ActorOf(c), c.Param("id"), req.Minutes, req.OnSite, req.Note)
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

func (s *API) scheduleEvent(c echo.Context) error {
	var req eventRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	e, err := s.Opt.Planning.Schedule(c.Request().Context(), web.ActorOf(c), c.Param("id"),
		planning.ScheduleInput{Start: req.Start, End: req.End, Location: req.Location})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, e)
}

type answerRequest struct {
	Answer string `json:"answer"`
}

func (s *API) answerEvent(c echo.Context) error {
	var req answerRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	e, err := s.Opt.Planning.Answer(c.Request().Context(), web.ActorOf(c), c.Param("id"), req.Answer)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e)
}

// parseWhen reads a calendar bound: an RFC 3339 time, or a day (the start
// of that day in Paris).
func parseWhen(v *apperr.Validation, field, s string) time.Time {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, web.Paris); err == nil {
		return t
	}
	v.Add(field, "must be a day (2026-12-07) or an RFC 3339 time")
	return time.Time{}
}

// calendar lists the actor's interventions from every region, this week
// (Monday to Monday, Paris time) unless from/to say otherwise.
func (s *API) calendar(c echo.Context) error {
	from := web.MondayOf(time.Now())
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
	es, err := s.Opt.Planning.Calendar(c.Request().Context(), web.ActorOf(c), from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Calendar{From: from.UTC(), To: to.UTC(), Items: nonNil(es)})
}

// Calendar is the answer of GET /calendar: the interventions the member
// attends or organises between From and To.
type Calendar struct {
	From  time.Time         `json:"from"`
	To    time.Time         `json:"to"`
	Items []*planning.Event `json:"items"`
}
