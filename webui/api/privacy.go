package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/webui/web"
)

// erasureRequest confirms an erasure, which cannot be undone.
type erasureRequest struct {
	Confirm bool   `json:"confirm"`
	Reason  string `json:"reason"`
}

func readErasure(c echo.Context) (erasureRequest, error) {
	var req erasureRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return req, err
	}
	if !req.Confirm {
		return req, &apperr.Error{Code: apperr.Invalid, Message: "an erasure cannot be undone: send confirm: true",
			Fields: map[string]string{"confirm": "must be true"}, Reasons: map[string]apperr.Reason{"confirm": {Code: "confirm"}}}
	}
	return req, nil
}

// exportClient is everything this node holds about one of its clients, as
// JSON (a download with ?download=1 is the same document).
func (s *API) exportClient(c echo.Context) error {
	if err := s.NeedPrivacy(); err != nil {
		return err
	}
	e, err := s.Opt.Privacy.ExportClient(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="coopnet-client-`+e.Client.ID+`.json"`)
	return c.JSON(http.StatusOK, e)
}

func (s *API) eraseClient(c echo.Context) error {
	if err := s.NeedPrivacy(); err != nil {
		return err
	}
	req, err := readErasure(c)
	if err != nil {
		return err
	}
	if err := s.Opt.Privacy.EraseClient(c.Request().Context(), web.ActorOf(c), c.Param("id"), req.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *API) exportMember(c echo.Context) error {
	if err := s.NeedPrivacy(); err != nil {
		return err
	}
	e, err := s.Opt.Privacy.ExportMember(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="coopnet-member-`+e.Member.ID+`.json"`)
	return c.JSON(http.StatusOK, e)
}

func (s *API) eraseMember(c echo.Context) error {
	if err := s.NeedPrivacy(); err != nil {
		return err
	}
	req, err := readErasure(c)
	if err != nil {
		return err
	}
	if err := s.Opt.Privacy.EraseMember(c.Request().Context(), web.ActorOf(c), c.Param("id"), req.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// privacyRecord is the node's record of processing.
func (s *API) privacyRecord(c echo.Context) error {
	return c.JSON(http.StatusOK, web.Page[privacy.Entry]{Items: privacy.Record})
}
