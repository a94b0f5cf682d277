package pages

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/webui/web"
)

// offersView is the offers page: the offers to answer, and those that
// ended lately without the member's answer.
type offersView struct {
	Pending, Ended []*member.Offer
}

func (s *Pages) offersPage(c echo.Context) error {
	var v offersView
	if s.Opt.Routing != nil {
		var err error
		ctx, by := c.Request().Context(), web.ActorOf(c)
		if err := s.Opt.Notify.MarkReadOf(ctx, by.ID, ""); err != nil {
			return err
		}
		if v.Pending, err = s.Opt.Routing.Member().PendingOffers(ctx, by); err != nil {
			return err
		}
		if v.Ended, err = s.Opt.Routing.Member().EndedOffers(ctx, by); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, "offers", s.newPage(c, "offers.title", v))
}

func (s *Pages) acceptSubmit(c echo.Context) error {
	if _, err := s.Opt.Routing.Member().Accept(c.Request().Context(), web.ActorOf(c), c.Param("id")); err != nil {
		return err
	}
	return redirect(c, "/app/tickets", "offers.accepted")
}

func (s *Pages) declineSubmit(c echo.Context) error {
	if err := s.Opt.Routing.Member().Decline(c.Request().Context(), web.ActorOf(c), c.Param("id"), c.FormValue("reason")); err != nil {
		return err
	}
	return redirect(c, "/app/offers", "")
}

// --- calendar ---
