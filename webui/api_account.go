package webui

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
)

type passwordRequest struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

// changePassword changes the member's own password; their other sessions
// end (the one the change is made from stays).
func (s *Server) changePassword(c echo.Context) error {
	var req passwordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	token, _ := tokenOf(c)
	if err := s.opt.Members.ChangePassword(c.Request().Context(), actorOf(c), req.Current, req.New, token); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listTokens(c echo.Context) error {
	token, _ := tokenOf(c)
	ts, err := s.opt.Members.Tokens(c.Request().Context(), actorOf(c), token)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Page[members.TokenInfo]{Items: nonNil(ts)})
}

type tokenRequest struct {
	Label         string `json:"label"`
	ExpiresInDays int    `json:"expires_in_days"`
}

type tokenResponse struct {
	Token string `json:"token"`
	members.TokenInfo
}

func (s *Server) createToken(c echo.Context) error {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	tok, info, err := s.opt.Members.CreateToken(c.Request().Context(), actorOf(c), members.NewTokenInput{Label: req.Label,
		ExpiresInDays: req.ExpiresInDays})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, tokenResponse{Token: tok, TokenInfo: info})
}

func (s *Server) revokeToken(c echo.Context) error {
	if err := s.opt.Members.RevokeToken(c.Request().Context(), actorOf(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// deactivateMember records that a member left the coop (admins): their
// sessions and tokens stop, their offers and jobs go back to the routing,
// every peer drops them from its directory.
func (s *Server) deactivateMember(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	m, err := s.opt.Members.Deactivate(ctx, &a, c.Param("id"))
	if err != nil {
		return err
	}
	s.afterLeaving(c)
	return c.JSON(http.StatusOK, m)
}

// afterLeaving ends at once what members who left still hold, when the
// routing runs on this node (it also does so every minute: what fails now,
// the node of a job not answering, is done then).
func (s *Server) afterLeaving(c echo.Context) {
	if s.opt.Routing == nil {
		return
	}
	if _, _, err := s.opt.Routing.Member().SweepLeavers(c.Request().Context()); err != nil {
		s.requestLog(c).Warn("the offers and jobs of a member who left; the routing retries", "err", err)
	}
}

func (s *Server) skillProposals(c echo.Context) error {
	ps, err := s.opt.Members.SkillProposals(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Page[members.Proposal]{Items: nonNil(ps)})
}

type reviewRequest struct {
	Skill    string `json:"skill"`
	Decision string `json:"decision"` // confirm or refuse
}

func (s *Server) reviewSkill(c echo.Context) error {
	var req reviewRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Decision != "confirm" && req.Decision != "refuse" {
		return &apperr.Error{Code: apperr.Invalid, Message: "decision must be confirm or refuse",
			Fields: map[string]string{"decision": "must be confirm or refuse"}}
	}
	m, err := s.opt.Members.ReviewSkill(c.Request().Context(), actorOf(c), c.Param("id"), req.Skill, req.Decision == "confirm")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}
