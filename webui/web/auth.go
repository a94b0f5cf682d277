package web

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
)

// SessionCookie is the name of the web session cookie.
const SessionCookie = "coopnet_session"

const actorKey = "actor"

// TokenOf returns the request's token: the bearer token, else the session
// cookie's (cookie set), else "".
func TokenOf(c echo.Context) (token string, cookie bool) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), false
	}
	if ck, err := c.Cookie(SessionCookie); err == nil {
		return ck.Value, true
	}
	return "", false
}

// Authenticate requires a valid API token or session cookie and stores the
// actor in the context. A change (any method but GET, HEAD and OPTIONS)
// made with the cookie must come from this node's own pages: SameSite=Lax
// keeps other sites' forms out, not the pages of another host of the same
// site (another regional node), so the browser's Sec-Fetch-Site or Origin
// must say so. API clients send the bearer token.
func (s *Core) Authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, cookie := TokenOf(c)
		if token == "" {
			return apperr.New(apperr.Unauthorised, "log in first: send Authorization: Bearer <token>")
		}
		if cookie && !safeMethod(c.Request().Method) && !s.SameOrigin(c.Request()) {
			return apperr.New(apperr.Forbidden, "a change made with the session cookie must come from this node's pages; "+
				"API clients send Authorization: Bearer <token>")
		}
		a, err := s.Opt.Members.Authenticate(c.Request().Context(), token)
		if err != nil {
			return err
		}
		c.Set(actorKey, a)
		return next(c)
	}
}

// safeMethod: GET, HEAD and OPTIONS change nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// SameOrigin reports whether the browser says r comes from this node's own
// pages.
func (s *Core) SameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	o := r.Header.Get("Origin")
	return o != "" && o != "null" && strings.EqualFold(o, s.Origin)
}

// ActorOf is who makes the request: the zero Actor before authentication.
func ActorOf(c echo.Context) members.Actor {
	a, _ := c.Get(actorKey).(members.Actor)
	return a
}

// Authenticated is who makes the request, and whether anyone is.
func Authenticated(c echo.Context) (members.Actor, bool) {
	a, ok := c.Get(actorKey).(members.Actor)
	return a, ok
}

// SetActor records who makes the request.
func SetActor(c echo.Context, a members.Actor) { c.Set(actorKey, a) }

// RequireRole lets through only members with one of the roles.
func RequireRole(roles ...members.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			a := ActorOf(c)
			for _, r := range roles {
				if a.Role == r {
					return next(c)
				}
			}
			return apperr.New(apperr.Forbidden, "your role (%s) may not do this", a.Role)
		}
	}
}

// ClearSessionCookie tells the browser to drop the session cookie.
func (s *Core) ClearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1,
	})
}

// SetSessionCookie gives the browser its session for ttl.
func (s *Core) SetSessionCookie(c echo.Context, token string, ttl time.Duration) {
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds()),
	})
}

// LoginAttempt counts a login attempt from c for email and reports how
// long it must still wait first (see members.LoginAttempt); the answer
// carries it as Retry-After.
func (s *Core) LoginAttempt(c echo.Context, email string) (time.Duration, error) {
	wait, err := s.Opt.Members.LoginAttempt(c.Request().Context(), c.RealIP(), email, s.Opt.Now())
	if err == nil && wait > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	}
	return wait, err
}

// LoginSucceeded takes the attempt back and forgets the account's failures
// at this address.
func (s *Core) LoginSucceeded(c echo.Context, email string) error {
	return s.Opt.Members.LoginSucceeded(c.Request().Context(), c.RealIP(), email, s.Opt.Now())
}
