package webui

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
)

type forwardRequest struct {
	Skill    string `json:"skill"`
	MinLevel int    `json:"min_level"`
	Note     string `json:"note"`
}

func (s *Server) forwardTicket(c echo.Context) error {
	var req forwardRequest
	// The body is optional: an empty one forwards with the ticket's skill.
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	t, err := s.opt.Routing.Forward(c.Request().Context(), actorOf(c), c.Param("id"), routing.ForwardInput{
		Skill: req.Skill, MinLevel: req.MinLevel, Note: req.Note})
	if err != nil {
		return err
	}
	return ticketJSON(c, http.StatusAccepted, t)
}

func (s *Server) ticketRouting(c echo.Context) error {
	r, err := s.opt.Routing.RoutingOf(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Server) listOffers(c echo.Context) error {
	os, err := s.opt.Routing.Member().PendingOffers(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Page[*member.Offer]{Items: nonNil(os)})
}

func (s *Server) acceptOffer(c echo.Context) error {
	t, err := s.opt.Routing.Member().Accept(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, t)
}

type declineRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) declineOffer(c echo.Context) error {
	var req declineRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	if err := s.opt.Routing.Member().Decline(c.Request().Context(), actorOf(c), c.Param("id"), req.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type releaseRequest struct {
	Reason string `json:"reason"`
}

// releaseTicket gives back a job the member accepted.
func (s *Server) releaseTicket(c echo.Context) error {
	var req releaseRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.opt.Routing.Member().Release(c.Request().Context(), actorOf(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return ticketJSON(c, http.StatusOK, t)
}

func (s *Server) listUnroutable(c echo.Context) error {
	us, err := s.opt.Routing.UnroutableTickets(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Page[routing.Unroutable]{Items: nonNil(us)})
}
