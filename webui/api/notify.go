package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/webui/web"
)

// notificationsPage is a page of the member's notifications with their
// unread count.
type notificationsPage struct {
	web.Page[*notify.Notification]
	Unread int `json:"unread"`
}

// listNotifications answers the member's notifications, newest first
// (?unread=true: the unread ones only).
func (s *API) listNotifications(c echo.Context) error {
	limit, before, err := web.PageParams(c)
	if err != nil {
		return err
	}
	var v apperr.Validation
	unread := false
	switch c.QueryParam("unread") {
	case "", "false":
	case "true":
		unread = true
	default:
		v.Add("unread", "must be true or false")
	}
	if err := v.Err(); err != nil {
		return err
	}
	ctx, by := c.Request().Context(), web.ActorOf(c)
	ns, err := s.Opt.Notify.List(ctx, by, notify.ListOptions{Unread: unread, Before: before, Limit: limit + 1})
	if err != nil {
		return err
	}
	n, err := s.Opt.Notify.Unread(ctx, by.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, notificationsPage{Page: web.NewPage(ns, limit, func(n *notify.Notification) string { return n.ID }), Unread: n})
}

type markReadRequest struct {
	IDs []string `json:"ids"`
}

// markRead marks notifications read: those of ids, or all of them.
func (s *API) markRead(c echo.Context) error {
	var req markReadRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	ctx, by := c.Request().Context(), web.ActorOf(c)
	marked, err := s.Opt.Notify.MarkRead(ctx, by, req.IDs)
	if err != nil {
		return err
	}
	n, err := s.Opt.Notify.Unread(ctx, by.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"marked": marked, "unread": n})
}

func (s *API) notificationChoices(c echo.Context) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	prefs, err := s.Opt.Notify.Prefs(ctx, by.ID)
	if err != nil {
		return err
	}
	st, err := s.Opt.Notify.Settings(ctx, by.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, notify.Choices{Prefs: prefs, Settings: st})
}

func (s *API) setNotificationChoices(c echo.Context) error {
	var req notify.Choices
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := s.Opt.Notify.SetChoices(c.Request().Context(), web.ActorOf(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
