package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/webui/web"
)

type forwardRequest struct {
	Skill    string `json:"skill"`
	MinLevel int    `json:"min_level"`
	Note     string `json:"note"`
}

func (s *API) forwardTicket(c echo.Context) error {
	var req forwardRequest
	// The body is optional: an empty one forwards with the ticket's skill.
	if c.Request().ContentLength != 0 {
		if err := web.DecodeJSON(c, &req); err != nil {
			return err
		}
	}
	t, err := s.Opt.Routing.Forward(c.Request().Context(), web.ActorOf(c), c.Param("id"), routing.ForwardInput{
		Skill: req.Skill, MinLevel: req.MinLevel, Note: req.Note})
	if err != nil {
		return err
	}
	return ticketJSON(c, http.StatusAccepted, t)
}

func (s *API) ticketRouting(c echo.Context) error {
	r, err := s.Opt.Routing.RoutingOf(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *API) listOffers(c echo.Context) error {
	os, err := s.Opt.Routing.Member().PendingOffers(c.Request().Context(), web.ActorOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.Page[*member.Offer]{Items: nonNil(os)})
}

func (s *API) acceptOffer(c echo.Context) error {
	t, err := s.Opt.Routing.Member().Accept(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, t)
}

type declineRequest struct {
	Reason string `json:"reason"`
}

func (s *API) declineOffer(c echo.Context) error {
	var req declineRequest
	if c.Request().ContentLength != 0 {
		if err := web.DecodeJSON(c, &req); err != nil {
			return err
		}
	}
	if err := s.Opt.Routing.Member().Decline(c.Request().Context(), web.ActorOf(c), c.Param("id"), req.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type releaseRequest struct {
	Reason string `json:"reason"`
}

// releaseTicket gives back a job the member accepted.
func (s *API) releaseTicket(c echo.Context) error {
	var req releaseRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.Opt.Routing.Member().Release(c.Request().Context(), web.ActorOf(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return ticketJSON(c, http.StatusOK, t)
}

func (s *API) listUnroutable(c echo.Context) error {
	us, err := s.Opt.Routing.UnroutableTickets(c.Request().Context(), web.ActorOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.Page[routing.Unroutable]{Items: nonNil(us)})
}
