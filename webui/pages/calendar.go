package pages

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/webui/web"
)

type calendarDay struct {
	Day    time.Time
	Events []*planning.Event
}

func (s *Pages) calendarPage(c echo.Context) error {
	monday := web.MondayOf(time.Now())
	if d, err := time.ParseInLocation(time.DateOnly, c.QueryParam("week"), web.Paris); err == nil {
		monday = web.MondayOf(d)
	}
	var es []*planning.Event
	if s.Opt.Planning != nil {
		var err error
		if es, err = s.Opt.Planning.Calendar(c.Request().Context(), web.ActorOf(c), monday, monday.AddDate(0, 0, 7)); err != nil {
			return err
		}
	}
	days := make([]calendarDay, 7)
	for i := range days {
		days[i].Day = monday.AddDate(0, 0, i)
	}
	for _, e := range es {
		i := int(e.StartAt.In(web.Paris).Sub(monday).Hours() / 24)
		if i < 0 {
			i = 0
		}
		if i > 6 {
			i = 6
		}
		days[i].Events = append(days[i].Events, e)
	}
	return s.render(c, http.StatusOK, "calendar", s.newPage(c, "nav.calendar", map[string]any{"Days": days, "Monday": monday,
		"Prev": monday.AddDate(0, 0, -7).Format(time.DateOnly), "Next": monday.AddDate(0, 0, 7).Format(time.DateOnly),
		"Empty": len(es) == 0, "Me": web.ActorOf(c).Handle}))
}

func (s *Pages) answerSubmit(c echo.Context) error {
	if _, err := s.Opt.Planning.Answer(c.Request().Context(), web.ActorOf(c), c.Param("id"), c.FormValue("answer")); err != nil {
		return err
	}
	back := "/app/calendar"
	if w := c.FormValue("week"); w != "" {
		back += "?week=" + url.QueryEscape(w)
	}
	return redirect(c, back, "")
}

// --- directory and dashboard ---
