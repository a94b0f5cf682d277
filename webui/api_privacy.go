package webui

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/privacy"
)

// erasureRequest confirms an erasure, which cannot be undone.
type erasureRequest struct {
	Confirm bool   `json:"confirm"`
	Reason  string `json:"reason"`
}

func (s *Server) needPrivacy() error {
	if s.opt.Privacy == nil {
		return apperr.New(apperr.Unavailable, "privacy is not available on this node")
	}
	return nil
}

func readErasure(c echo.Context) (erasureRequest, error) {
	var req erasureRequest
	if err := decodeJSON(c, &req); err != nil {
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
func (s *Server) exportClient(c echo.Context) error {
	if err := s.needPrivacy(); err != nil {
		return err
	}
	e, err := s.opt.Privacy.ExportClient(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="coopnet-client-`+e.Client.ID+`.json"`)
	return c.JSON(http.StatusOK, e)
}

func (s *Server) eraseClient(c echo.Context) error {
	if err := s.needPrivacy(); err != nil {
		return err
	}
	req, err := readErasure(c)
	if err != nil {
		return err
	}
	if err := s.opt.Privacy.EraseClient(c.Request().Context(), actorOf(c), c.Param("id"), req.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) exportMember(c echo.Context) error {
	if err := s.needPrivacy(); err != nil {
		return err
	}
	e, err := s.opt.Privacy.ExportMember(c.Request().Context(), actorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="coopnet-member-`+e.Member.ID+`.json"`)
	return c.JSON(http.StatusOK, e)
}

func (s *Server) eraseMember(c echo.Context) error {
	if err := s.needPrivacy(); err != nil {
		return err
	}
	req, err := readErasure(c)
	if err != nil {
		return err
	}
	if err := s.opt.Privacy.EraseMember(c.Request().Context(), actorOf(c), c.Param("id"), req.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// privacyRecord is the node's record of processing.
func (s *Server) privacyRecord(c echo.Context) error {
	return c.JSON(http.StatusOK, Page[privacy.Entry]{Items: privacy.Record})
}
