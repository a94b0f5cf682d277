package pages

import (
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

// loadBar is one bar of a load chart: hours booked against weekly capacity.
type loadBar struct {
	Name          string
	BookedMinutes int
	WeeklyHours   int
}

type regionCount struct {
	Region string
	Jobs   int
}

func (s *Pages) dashboardPage(c echo.Context) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	d, err := s.Opt.Tickets.Stats(ctx)
	if err != nil {
		return err
	}
	var unroutable []routing.Unroutable
	var routed []regionCount
	var loads []routing.RegionLoad
	if s.Opt.Routing != nil {
		if loads, err = s.Opt.Routing.RegionLoads(ctx); err != nil {
			return err
		}
		if unroutable, err = s.Opt.Routing.UnroutableTickets(ctx, by); err != nil {
			return err
		}
		byRegion, err := s.Opt.Routing.AcceptedByRegion(ctx)
		if err != nil {
			return err
		}
		for r, n := range byRegion {
			routed = append(routed, regionCount{r, n})
		}
		sort.Slice(routed, func(i, j int) bool {
			return routed[i].Jobs > routed[j].Jobs || routed[i].Jobs == routed[j].Jobs && routed[i].Region < routed[j].Region
		})
	}
	var bars []loadBar
	if s.Opt.Routing != nil {
		ml, err := s.Opt.Routing.Member().MemberLoads(ctx)
		if err != nil {
			return err
		}
		for _, m := range ml {
			bars = append(bars, loadBar{Name: m.Name, BookedMinutes: m.BookedMinutes, WeeklyHours: m.WeeklyHours})
		}
	}
	open := 0
	for st, n := range d {
		if st != string(tickets.StatusResolved) && st != string(tickets.StatusClosed) && st != string(tickets.StatusCancelled) {
			open += n
		}
	}
	return s.render(c, http.StatusOK, "dashboard", s.newPage(c, "dashboard.title", map[string]any{"Open": open,
		"ByStatus": d, "Statuses": tickets.Statuses, "Unroutable": unroutable, "Routed": routed, "Bars": bars, "Loads": loads,
		"RegionBars": regionBars(loads)}))
}

func regionBars(loads []routing.RegionLoad) []loadBar {
	out := make([]loadBar, len(loads))
	for i, l := range loads {
		out[i] = loadBar{Name: regionName(l.Region), BookedMinutes: l.BookedMinutes, WeeklyHours: l.CapacityHours}
	}
	return out
}
