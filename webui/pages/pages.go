// Package pages is the web interface: server-rendered pages (html/template), French first,
// working without JavaScript, under /app/. Assets are embedded and served
// under checksummed names, cached for good. Every form carries a CSRF
// token (double submit: a random cookie, SameSite=Strict, and the same
// value in the form); pages authenticate with the session cookie.
// The rules live in services/; what the pages share with the JSON API
// (authentication, sessions, decoding) in webui/web.
package pages

import (
	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/webui/web"
)

// Pages serves the web interface.
type Pages struct{ *web.Core }

// New is the web interface of a node.
func New(core *web.Core) *Pages { return &Pages{core} }

// Routes registers the pages on e.
func (s *Pages) Routes(e *echo.Echo) {
	e.GET("/static/:name", s.serveStatic)
	e.GET("/app/login", s.loginPage)
	e.POST("/app/login", s.loginSubmit, csrfProtect)
	e.GET("/app/lang/:lang", s.switchLang)
	page := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		e.Add(method, "/app"+path, h, append([]echo.MiddlewareFunc{s.pageAuth, csrfProtect}, mw...)...)
	}
	staff := web.RequireRole(members.Staff, members.Admin)
	// Pages that act through routing or planning need them on this node.
	needs := func(ok bool, what string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				if !ok {
					return apperr.New(apperr.Unavailable, "%s is not available on this node", what)
				}
				return next(c)
			}
		}
	}
	routed, planned := needs(s.Opt.Routing != nil, "routing"), needs(s.Opt.Planning != nil, "planning")
	page("POST", "/logout", s.logoutSubmit)
	page("GET", "/", s.appHome)
	page("GET", "/tickets", s.ticketsPage)
	page("GET", "/tickets/new", s.newTicketPage)
	page("POST", "/tickets", s.createTicketSubmit)
	page("GET", "/tickets/:id", s.ticketPage)
	page("POST", "/tickets/:id/comments", s.commentSubmit)
	page("GET", "/tickets/:id/attachments/:aid", s.attachmentFile)
	page("GET", "/tickets/:id/attachments/:aid/thumb", s.attachmentThumb)
	page("POST", "/tickets/:id/forward", s.forwardSubmit, routed)
	page("POST", "/tickets/:id/release", s.releaseSubmit, routed)
	page("POST", "/tickets/:id/status", s.statusSubmit)
	page("POST", "/tickets/:id/events", s.eventSubmit, planned)
	page("GET", "/clients", s.clientsPage)
	page("POST", "/clients", s.createClientSubmit)
	page("GET", "/clients/:id", s.clientPage)
	page("POST", "/clients/:id", s.updateClientSubmit)
	page("POST", "/clients/:id/sites", s.siteSubmit)
	page("POST", "/clients/:id/assets", s.assetSubmit)
	page("GET", "/offers", s.offersPage)
	page("POST", "/offers/:id/accept", s.acceptSubmit, routed)
	page("POST", "/offers/:id/decline", s.declineSubmit, routed)
	page("GET", "/calendar", s.calendarPage)
	page("POST", "/events/:id/answer", s.answerSubmit, planned)
	page("GET", "/directory", s.directoryPage)
	page("GET", "/staff", s.dashboardPage, staff)
	page("GET", "/account", s.accountPage)
	page("POST", "/account/password", s.passwordSubmit)
	page("POST", "/account/tokens", s.tokenSubmit)
	page("POST", "/account/tokens/:id/revoke", s.revokeSubmit)
	page("POST", "/account/skills", s.skillSubmit)
	page("GET", "/staff/members", s.membersPage, staff)
	page("GET", "/staff/queues", s.queuesPage, staff)
	page("POST", "/staff/members/:id/skills", s.reviewSubmit, staff)
	admin := web.RequireRole(members.Admin)
	page("GET", "/staff/members/:id/deactivate", s.deactivatePage, admin)
	page("POST", "/staff/members/:id/deactivate", s.deactivateSubmit, admin)
	page("GET", "/staff/members/:id/erase", s.eraseMemberPage, admin)
	page("POST", "/staff/members/:id/erase", s.eraseMemberSubmit, admin)
	page("GET", "/notifications", s.notificationsPage)
	page("POST", "/notifications/read", s.readSubmit)
	page("GET", "/notifications/settings", s.prefsPage)
	page("POST", "/notifications/settings", s.prefsSubmit)
	page("GET", "/live", s.live)
	if s.Opt.MailDir != "" {
		page("GET", "/mails", s.mailsPage)
	}
	page("GET", "/clients/:id/export", s.clientExportPage, staff)
	page("GET", "/clients/:id/erase", s.eraseClientPage, staff)
	page("POST", "/clients/:id/erase", s.eraseClientSubmit, staff)
}
