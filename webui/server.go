// Package webui is a regional node's HTTP face: the JSON API under /api/v1,
// authentication and authorisation, operations endpoints (/healthz, /readyz,
// /metrics) and, as they come, the HTML pages. It parses, authorises and
// renders; the rules live in services/.
package webui

import (
	"context"
	"embed"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/tickets"
)

//go:embed openapi.json
var assets embed.FS

// Check is a readiness check: nil when the dependency answers. A check
// that Degrades does not make the node unready when it fails, only
// "degraded": the node keeps serving its pages and API without it (NATS
// away: routing waits, the web works), so a load balancer must not take
// it out of service for that.
type Check struct {
	Name     string
	Func     func(ctx context.Context) error
	Degrades bool
}

// Options wire a server to its services.
type Options struct {
	Region    string
	PublicURL string // e.g. https://bretagne.coopnet.example
	Members   *members.Service
	Clients   *clients.Service
	Tickets   *tickets.Service
	Planning  *planning.Service
	Privacy   *privacy.Service
	Routing   *routing.Service
	Skills    *skills.Catalog
	// Directory is the coop-wide member directory.
	Directory *directory.Service
	// Federation registers the ActivityPub endpoints (actors, inboxes,
	// WebFinger, NodeInfo); nil serves none.
	Federation interface{ Routes(*echo.Echo) }
	// Queues are the node's durable queues, whose state and dead letters
	// staff see.
	Queues   []*queue.Queue
	Logger   *slog.Logger
	Registry *prometheus.Registry // metrics; a fresh one when nil
	Ready    []Check              // readiness checks (database, NATS …)
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For is believed; without any, the peer address is the
	// client's.
	TrustedProxies []*net.IPNet
	// MetricsToken, when set, lets /metrics answer a request that sends it
	// as a bearer token. Without it /metrics is refused on this server:
	// its figures (members' counts, routing, failures) are not for anyone
	// who can reach the node; cmd can serve them on a listen address of
	// their own instead (MetricsHandler).
	MetricsToken string
	// Now is the server's clock (failed logins' waits); time.Now when nil.
	Now func() time.Time
}

// Server is the HTTP server of one node.
type Server struct {
	opt     Options
	log     *slog.Logger
	echo    *echo.Echo
	metrics *httpMetrics
	secure  bool   // cookies only over https
	origin  string // scheme://host of the public URL
}

// New builds the server and its routes.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	u, _ := url.Parse(opt.PublicURL)
	s := &Server{
		opt:     opt,
		log:     opt.Logger,
		echo:    echo.New(),
		metrics: newHTTPMetrics(opt.Registry),
		secure:  u != nil && u.Scheme == "https",
		origin:  originOf(u),
	}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = echo.ExtractIPDirect()
	if len(opt.TrustedProxies) > 0 {
		trust := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range opt.TrustedProxies {
			trust = append(trust, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(trust...)
	}
	e.Use(s.observe) // request id, access log, metrics, recovery
	e.Use(securityHeaders, bodyLimit)
	s.routes()
	return s
}

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Routes lists "METHOD path" for every registered route, for the OpenAPI test.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler(), noStore)
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/app/") })
	s.uiRoutes()
	if s.opt.Federation != nil {
		s.opt.Federation.Routes(e)
	}

	// Route-level middleware only: echo's group middleware registers
	// catch-all routes that would turn 405 into 404.
	api := e.Group("/api/v1")
	api.GET("/openapi.json", s.openapi, strictQuery)
	api.POST("/auth/login", s.login, noStore, strictQuery)

	auth := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		api.Add(method, path, h, append([]echo.MiddlewareFunc{noStore, strictQuery, s.authenticate}, mw...)...)
	}
	auth("POST", "/auth/logout", s.logout)
	auth("GET", "/me", s.me)
	auth("POST", "/me/password", s.changePassword)
	auth("GET", "/me/tokens", s.listTokens)
	auth("POST", "/me/tokens", s.createToken)
	auth("DELETE", "/me/tokens/:id", s.revokeToken)
	auth("GET", "/skills", s.listSkills)
	auth("GET", "/members", s.listMembers)
	auth("POST", "/members", s.createMember, requireRole(members.Staff, members.Admin))
	auth("GET", "/members/:id", s.getMember)
	auth("PATCH", "/members/:id", s.updateMember)
	auth("POST", "/members/:id/deactivate", s.deactivateMember, requireRole(members.Admin))
	auth("GET", "/members/skill-proposals", s.skillProposals, requireRole(members.Staff, members.Admin))
	auth("POST", "/members/:id/skills/review", s.reviewSkill, requireRole(members.Staff, members.Admin))
	auth("GET", "/directory", s.directory)

	auth("GET", "/clients", s.listClients)
	auth("POST", "/clients", s.createClient)
	auth("GET", "/clients/:id", s.getClient)
	auth("PATCH", "/clients/:id", s.updateClient)
	auth("GET", "/clients/:id/sites", s.listSites)
	auth("POST", "/clients/:id/sites", s.addSite)
	auth("GET", "/clients/:id/assets", s.listAssets)
	auth("GET", "/clients/:id/export", s.exportClient, requireRole(members.Staff, members.Admin))
	auth("POST", "/clients/:id/erasure", s.eraseClient, requireRole(members.Staff, members.Admin))
	auth("GET", "/members/:id/export", s.exportMember)
	auth("POST", "/members/:id/erasure", s.eraseMember, requireRole(members.Admin))
	auth("GET", "/privacy/record", s.privacyRecord)
	auth("POST", "/clients/:id/assets", s.addAsset)

	auth("GET", "/tickets", s.listTickets)
	auth("POST", "/tickets", s.createTicket)
	auth("GET", "/tickets/:id", s.getTicket)
	auth("PATCH", "/tickets/:id", s.updateTicket)
	auth("GET", "/tickets/:id/comments", s.listComments)
	auth("POST", "/tickets/:id/comments", s.addComment)
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
	auth("GET", "/routing/unroutable", s.listUnroutable, requireRole(members.Staff, members.Admin))
	auth("GET", "/queues", s.listQueues, requireRole(members.Staff, members.Admin))
}

func (s *Server) openapi(c echo.Context) error {
	b, err := assets.ReadFile("openapi.json")
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/json", b)
}

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "+
			"frame-ancestors 'none'; base-uri 'none'")
		return next(c)
	}
}

// originOf is the origin (scheme://host) of u, "" if u is nil.
func originOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
