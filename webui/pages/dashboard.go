package pages

import (
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

// loadBar is one bar of a load chart: the time booked over the routing's
// horizon (work under way, offers waiting for an answer) against the
// capacity over the same days.
type loadBar struct {
	Name            string
	BookedMinutes   int
	CapacityMinutes int
	// Text says the bar in words (« 3 h sur 28 h »), OverText its
	// overload (« surcharge de 2 h »), in the page's language: written
	// once here rather than by the template, for a region of hundreds.
	Text, OverText string
}

// newBar is a bar for weekly hours of capacity over horizon days, its
// texts in lang.
func newBar(lang, name string, booked, weeklyHours, horizon int) loadBar {
	b := loadBar{Name: name, BookedMinutes: booked, CapacityMinutes: weeklyHours * 60 * horizon / 7}
	b.Text = T(lang, "dashboard.of", formatDuration(lang, b.BookedMinutes), formatDuration(lang, b.CapacityMinutes))
	if over := b.Over(); over > 0 {
		b.OverText = T(lang, "dashboard.over", formatDuration(lang, over))
	}
	return b
}

// Max is the meter's maximum (1 minute for no capacity: a meter needs one).
func (b loadBar) Max() int { return max(1, b.CapacityMinutes) }

// High is where the meter warns: 90 % of the capacity.
func (b loadBar) High() int { return b.Max() * 9 / 10 }

// Over is the time booked beyond the capacity (0 when within).
func (b loadBar) Over() int { return max(0, b.BookedMinutes-b.CapacityMinutes) }

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
			bars = append(bars, newBar(langOf(c), m.Name, m.BookedMinutes, m.WeeklyHours, s.horizon()))
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
		"RegionBars": s.regionBars(langOf(c), loads), "Horizon": s.horizon()}))
}

func (s *Pages) horizon() int {
	if s.Opt.Routing == nil {
		return routing.DefaultHorizonDays
	}
	return s.Opt.Routing.HorizonDays()
}

func (s *Pages) regionBars(lang string, loads []routing.RegionLoad) []loadBar {
	out := make([]loadBar, len(loads))
	for i, l := range loads {
		out[i] = newBar(lang, regionName(l.Region), l.BookedMinutes, l.CapacityHours, s.horizon())
	}
	return out
}
