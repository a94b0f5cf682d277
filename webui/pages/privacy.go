package pages

import (
	"net/http"

	"github.com/coopnet/coopnet/webui/web"
	"github.com/labstack/echo/v4"
)

// A client's data: its printable export and its erasure, for the staff of
// its region.

func (s *Pages) clientExportPage(c echo.Context) error {
	if err := s.NeedPrivacy(); err != nil {
		return err
	}
	e, err := s.Opt.Privacy.ExportClient(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "client_export", s.newPage(c, "privacy.export_title", e))
}

func (s *Pages) eraseClientPage(c echo.Context) error {
	return s.eraseClientPageWith(c, http.StatusOK, nil)
}

func (s *Pages) eraseClientPageWith(c echo.Context, status int, errs map[string]string) error {
	cl, err := s.Opt.Clients.Get(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	p := s.newPage(c, "privacy.erase", nil)
	p.Data = &confirmView{Heading: p.T("privacy.erase_heading", cl.Name), Text: p.T("privacy.erase_text"),
		Action: "/app/clients/" + cl.ID + "/erase", Submit: p.T("privacy.erase"), Back: "/app/clients/" + cl.ID, Reason: true, Name: cl.Name}
	p.Errors = errs
	return s.render(c, status, "confirm", p)
}

func (s *Pages) eraseClientSubmit(c echo.Context) error {
	if c.FormValue("confirm") != "on" {
		return s.eraseClientPageWith(c, http.StatusUnprocessableEntity, map[string]string{"confirm": T(langOf(c), "field.confirm")})
	}
	if err := s.NeedPrivacy(); err != nil {
		return err
	}
	err := s.Opt.Privacy.EraseClient(c.Request().Context(), web.ActorOf(c), c.Param("id"), c.FormValue("reason"))
	if fe := fieldErrors(langOf(c), err); fe != nil {
		return s.eraseClientPageWith(c, http.StatusUnprocessableEntity, fe)
	}
	return submitted(c, err, "/app/clients/"+c.Param("id"), "/app/clients/"+c.Param("id"), "privacy.erased")
}
