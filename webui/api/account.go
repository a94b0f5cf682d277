package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/webui/web"
)

type passwordRequest struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

// changePassword changes the member's own password; their other sessions
// end (the one the change is made from stays).
func (s *API) changePassword(c echo.Context) error {
	var req passwordRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	token, _ := web.TokenOf(c)
	if err := s.Opt.Members.ChangePassword(c.Request().Context(), web.ActorOf(c), req.Current, req.New, token); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *API) listTokens(c echo.Context) error {
	token, _ := web.TokenOf(c)
	ts, err := s.Opt.Members.Tokens(c.Request().Context(), web.ActorOf(c), token)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.Page[members.TokenInfo]{Items: nonNil(ts)})
}

type tokenRequest struct {
	Label         string `json:"label"`
	ExpiresInDays int    `json:"expires_in_days"`
}

type tokenResponse struct {
	Token string `json:"token"`
	members.TokenInfo
}

func (s *API) createToken(c echo.Context) error {
	var req tokenRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	tok, info, err := s.Opt.Members.CreateToken(c.Request().Context(), web.ActorOf(c), members.NewTokenInput{Label: req.Label,
		ExpiresInDays: req.ExpiresInDays})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, tokenResponse{Token: tok, TokenInfo: info})
}

func (s *API) revokeToken(c echo.Context) error {
	if err := s.Opt.Members.RevokeToken(c.Request().Context(), web.ActorOf(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// deactivateMember records that a member left the coop (admins): their
// sessions and tokens stop, their offers and jobs go back to the routing,
// every peer drops them from its directory.
func (s *API) deactivateMember(c echo.Context) error {
	ctx := c.Request().Context()
	a := web.ActorOf(c)
	m, err := s.Opt.Members.Deactivate(ctx, &a, c.Param("id"))
	if err != nil {
		return err
	}
	s.AfterLeaving(c)
	return c.JSON(http.StatusOK, m)
}

func (s *API) skillProposals(c echo.Context) error {
	ps, err := s.Opt.Members.SkillProposals(c.Request().Context(), web.ActorOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.Page[members.Proposal]{Items: nonNil(ps)})
}

type reviewRequest struct {
	Skill    string `json:"skill"`
	Decision string `json:"decision"` // confirm or refuse
}

func (s *API) reviewSkill(c echo.Context) error {
	var req reviewRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Decision != "confirm" && req.Decision != "refuse" {
		return &apperr.Error{Code: apperr.Invalid, Message: "decision must be confirm or refuse",
			Fields: map[string]string{"decision": "must be confirm or refuse"}}
	}
	m, err := s.Opt.Members.ReviewSkill(c.Request().Context(), web.ActorOf(c), c.Param("id"), req.Skill, req.Decision == "confirm")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}
