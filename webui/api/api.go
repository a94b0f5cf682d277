// Package api is a regional node's JSON API under /api/v1: it parses a
// request, asks the services and answers JSON, or problem+json on an
// error. The rules live in services/; what the pages share with it
// (authentication, decoding, paging) in webui/web. The routes are listed
// in Routes and described in openapi.json.
package api

import (
	"context"
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/webui/web"
)

//go:embed openapi.json
var assets embed.FS

// API serves the JSON API.
type API struct{ *web.Core }

// New is the API of a node.
func New(core *web.Core) *API { return &API{core} }

// Routes registers the API's routes on e. Route-level middleware only:
// echo's group middleware registers catch-all routes that would turn 405
// into 404.
func (s *API) Routes(e *echo.Echo) {
	api := e.Group("/api/v1")
	api.GET("/openapi.json", s.openapi, strictQuery)
	api.POST("/auth/login", s.login, web.NoStore, strictQuery)

	auth := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		api.Add(method, path, h, append([]echo.MiddlewareFunc{web.NoStore, strictQuery, s.Authenticate}, mw...)...)
	}
	staff := web.RequireRole(members.Staff, members.Admin)
	admin := web.RequireRole(members.Admin)
	auth("POST", "/auth/logout", s.logout)
	auth("GET", "/me", s.me)
	auth("POST", "/me/password", s.changePassword)
	auth("GET", "/me/tokens", s.listTokens)
	auth("POST", "/me/tokens", s.createToken)
	auth("DELETE", "/me/tokens/:id", s.revokeToken)
	auth("GET", "/skills", s.listSkills)
	auth("GET", "/members", s.listMembers)
	auth("POST", "/members", s.createMember, staff)
	auth("GET", "/members/:id", s.getMember)
	auth("PATCH", "/members/:id", s.updateMember)
	auth("POST", "/members/:id/deactivate", s.deactivateMember, admin)
	auth("GET", "/members/skill-proposals", s.skillProposals, staff)
	auth("POST", "/members/:id/skills/review", s.reviewSkill, staff)
	auth("GET", "/directory", s.directory)

	auth("GET", "/clients", s.listClients)
	auth("POST", "/clients", s.createClient)
	auth("GET", "/clients/:id", s.getClient)
	auth("PATCH", "/clients/:id", s.updateClient)
	auth("GET", "/clients/:id/sites", s.listSites)
	auth("POST", "/clients/:id/sites", s.addSite)
	auth("GET", "/clients/:id/assets", s.listAssets)
	auth("GET", "/clients/:id/export", s.exportClient, staff)
	auth("POST", "/clients/:id/erasure", s.eraseClient, staff)
	auth("GET", "/members/:id/export", s.exportMember)
	auth("POST", "/members/:id/erasure", s.eraseMember, admin)
	auth("GET", "/privacy/record", s.privacyRecord)
	auth("POST", "/clients/:id/assets", s.addAsset)

	auth("GET", "/tickets", s.listTickets)
	auth("POST", "/tickets", s.createTicket)
	auth("GET", "/tickets/:id", s.getTicket)
	auth("PATCH", "/tickets/:id", s.updateTicket)
	auth("GET", "/tickets/:id/comments", s.listComments)
	auth("POST", "/tickets/:id/comments", s.addComment)
	auth("POST", "/tickets/:id/attachments", s.attachFiles)
	auth("GET", "/tickets/:id/attachments", s.listAttachments)
	auth("GET", "/tickets/:id/attachments/:aid", s.getAttachment)
	auth("GET", "/tickets/:id/attachments/:aid/thumbnail", s.getThumbnail)
	auth("GET", "/tickets/:id/history", s.ticketHistory)
	auth("POST", "/tickets/:id/time", s.logTime)
	auth("POST", "/tickets/:id/events", s.scheduleEvent)
	auth("GET", "/calendar", s.calendar)
	auth("POST", "/events/:id/answer", s.answerEvent)

	auth("POST", "/tickets/:id/forward", s.forwardTicket)
	auth("POST", "/tickets/:id/release", s.releaseTicket)
	auth("GET", "/tickets/:id/routing", s.ticketRouting)
	auth("GET", "/offers", s.listOffers)
	auth("POST", "/offers/:id/accept", s.acceptOffer)
	auth("POST", "/offers/:id/decline", s.declineOffer)
	auth("GET", "/routing/unroutable", s.listUnroutable, staff)
	auth("GET", "/queues", s.listQueues, staff)

	auth("GET", "/notifications", s.listNotifications)
	auth("POST", "/notifications/read", s.markRead)
	auth("GET", "/notifications/settings", s.notificationChoices)
	auth("PUT", "/notifications/settings", s.setNotificationChoices)
}

func (s *API) openapi(c echo.Context) error {
	b, err := assets.ReadFile("openapi.json")
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/json", b)
}

// listUnder answers a page of what list finds under the resource of the
// path's :id (a client's sites, a ticket's comments …), as the member sees
// it; id is an item's cursor.
func listUnder[T any](c echo.Context, list func(ctx context.Context, by members.Actor, parentID, after string, limit int) ([]T, error),
	id func(T) string) error {
	limit, after, err := web.PageParams(c)
	if err != nil {
		return err
	}
	items, err := list(c.Request().Context(), web.ActorOf(c), c.Param("id"), after, limit+1)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.NewPage(items, limit, id))
}
