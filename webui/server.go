// Package webui is a regional node's HTTP face. It puts together the JSON
// API under /api/v1 (webui/api), the web interface under /app/
// (webui/pages), the ActivityPub endpoints, and the operations endpoints
// (/healthz, /readyz, /metrics); what the API and the pages share is in
// webui/web. It parses, authorises and renders; the rules live in
// services/.
package webui

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/webui/api"
	"github.com/coopnet/coopnet/webui/pages"
	"github.com/coopnet/coopnet/webui/web"
)

// Options wire a server to its services.
type Options = web.Options

// Check is a readiness check (see web.Check).
type Check = web.Check

// Server is the HTTP server of one node.
type Server struct {
	*web.Core
	echo    *echo.Echo
	metrics *httpMetrics
	pages   *pages.Pages
}

// New builds the server and its routes.
func New(opt Options) *Server {
	core := web.NewCore(opt)
	s := &Server{Core: core, echo: echo.New(), metrics: newHTTPMetrics(core.Opt.Registry), pages: pages.New(core)}
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
	var uploads map[string]int64
	if opt.Tickets != nil {
		uploads = web.UploadRoutes(opt.Tickets.MaxFileBytes(), "/app/tickets/:id/comments", "/api/v1/tickets/:id/attachments")
	}
	e.Use(securityHeaders, web.BodyLimits(uploads))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler(), web.NoStore)
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/app/") })
	s.pages.Routes(e)
	if opt.Federation != nil {
		opt.Federation.Routes(e)
	}
	api.New(core).Routes(e)
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

// errorHandler is the one place where an error becomes an answer: a page
// under /app/, problem+json everywhere else.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/app/") {
		if perr := s.pages.Error(c, err); perr != nil {
			s.Log.Error("error page", "err", perr)
		}
		return
	}
	p := web.ToProblem(err, s.Log, c)
	switch p.Status {
	case http.StatusUnauthorized:
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="coopnet"`)
	case http.StatusServiceUnavailable:
		c.Response().Header().Set("Retry-After", web.RetryAfter)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	_ = web.JSONEncode(c.Response(), p)
}

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "+
			"frame-ancestors 'none'; base-uri 'none'")
		return next(c)
	}
}
