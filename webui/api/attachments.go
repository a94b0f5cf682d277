package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/webui/web"
)

// attachFiles adds a comment with files: a multipart form with one to
// five "file" parts, an optional "body" and "internal" (true or false).
func (s *API) attachFiles(c echo.Context) error {
	ctx, by, id := c.Request().Context(), web.ActorOf(c), c.Param("id")
	if _, err := s.Opt.Tickets.Get(ctx, by, id); err != nil {
		return err // not a byte kept for a ticket they may not see
	}
	kept, err := web.Uploads(c, s.Opt.Tickets, "file")
	if err != nil {
		return err
	}
	if len(kept) == 0 {
		var v apperr.Validation
		v.Reject("file", "file_required", "at least one file is required (multipart/form-data, field \"file\")")
		return v.Err()
	}
	var internal bool
	switch c.FormValue("internal") {
	case "", "false":
	case "true":
		internal = true
	default:
		s.Opt.Tickets.Discard(ctx, kept)
		var v apperr.Validation
		v.Add("internal", "is true or false")
		return v.Err()
	}
	cm, err := s.Opt.Tickets.CommentWithFiles(ctx, by, id, c.FormValue("body"), internal, kept)
	if err != nil {
		s.Opt.Tickets.Discard(ctx, kept)
		return err
	}
	return c.JSON(http.StatusCreated, cm)
}

func (s *API) listAttachments(c echo.Context) error {
	as, err := s.Opt.Tickets.Attachments(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": as})
}

func (s *API) getAttachment(c echo.Context) error {
	return web.ServeAttachment(c, s.Opt.Tickets, false)
}
func (s *API) getThumbnail(c echo.Context) error { return web.ServeAttachment(c, s.Opt.Tickets, true) }
