package webui

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
)

// SessionCookie is the name of the web session cookie.
const SessionCookie = "coopnet_session"

const actorKey = "actor"

// tokenOf returns the request's token: the bearer token, else the session
// cookie's (cookie set), else "".
func tokenOf(c echo.Context) (token string, cookie bool) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), false
	}
	if ck, err := c.Cookie(SessionCookie); err == nil {
		return ck.Value, true
	}
	return "", false
}

// authenticate requires a valid API token or session cookie and stores the
// actor in the context. A change (any method but GET, HEAD and OPTIONS)
// made with the cookie must come from this node's own pages: SameSite=Lax
// keeps other sites' forms out, not the pages of another host of the same
// site (another regional node), so the browser's Sec-Fetch-Site or Origin
// must say so. API clients send the bearer token.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, cookie := tokenOf(c)
		if token == "" {
			return apperr.New(apperr.Unauthorised, "log in first: send Authorization: Bearer <token>")
		}
		if cookie && !safeMethod(c.Request().Method) && !s.sameOrigin(c.Request()) {
			return apperr.New(apperr.Forbidden, "a change made with the session cookie must come from this node's pages; "+
				"API clients send Authorization: Bearer <token>")
		}
		a, err := s.opt.Members.Authenticate(c.Request().Context(), token)
		if err != nil {
			return err
		}
		c.Set(actorKey, a)
		return next(c)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether the browser says r comes from this node's own
// pages.
func (s *Server) sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	o := r.Header.Get("Origin")
	return o != "" && o != "null" && strings.EqualFold(o, s.origin)
}

func actorOf(c echo.Context) members.Actor {
	a, _ := c.Get(actorKey).(members.Actor)
	return a
}

// requireRole lets through only members with one of the roles.
func requireRole(roles ...members.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			a := actorOf(c)
			for _, r := range roles {
				if a.Role == r {
					return next(c)
				}
			}
			return apperr.New(apperr.Forbidden, "your role (%s) may not do this", a.Role)
		}
	}
}

// clearSessionCookie tells the browser to drop the session cookie.
func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1,
	})
}

func (s *Server) setSessionCookie(c echo.Context, token string, ttl time.Duration) {
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds()),
	})
}

// Failed logins are limited per client address (ten in a quarter of an
// hour), and per account (a hundred, from any addresses): enough to stop
// guessing from one address, or a slow guess of one account from many,
// while someone failing at will from one address cannot lock another
// member out of their account.
const (
	loginFailsPerAddress = 10
	loginFailsPerAccount = 100
	loginWindow          = 15 * time.Minute
)

// loginAllowed reports whether a login attempt from address ip for email
// may be tried.
func (s *Server) loginAllowed(ip, email string) bool {
	return s.logins.Allowed("ip:"+ip) && s.accountLogins.Allowed(strings.ToLower(strings.TrimSpace(email)))
}

// loginFailed counts a failed login.
func (s *Server) loginFailed(ip, email string) {
	s.logins.Fail("ip:" + ip)
	s.accountLogins.Fail(strings.ToLower(strings.TrimSpace(email)))
}

// loginSucceeded forgets the account's failures.
func (s *Server) loginSucceeded(email string) {
	s.accountLogins.Reset(strings.ToLower(strings.TrimSpace(email)))
}

// limiter counts failures per key in a sliding window: at most max per
// window.
type limiter struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	fails map[string][]time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, fails: map[string][]time.Time{}}
}

func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
	} else {
		l.fails[key] = ts
	}
	return ts
}

// Allowed reports whether key may try again now.
func (l *limiter) Allowed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, time.Now())) < l.max
}

// Fail records a failure for key.
func (l *limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.fails) > 100000 { // bounded memory under a flood of addresses
		l.fails = map[string][]time.Time{}
	}
	l.fails[key] = append(l.recent(key, now), now)
}

// Reset forgets key's failures (after a successful login).
func (l *limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}
