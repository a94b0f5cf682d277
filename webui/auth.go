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
// cookie's, else "".
func tokenOf(c echo.Context) string {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if ck, err := c.Cookie(SessionCookie); err == nil {
		return ck.Value
	}
	return ""
}

// authenticate requires a valid API token or session cookie and stores the
// actor in the context.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token := tokenOf(c)
		if token == "" {
			return apperr.New(apperr.Unauthorised, "log in first: send Authorization: Bearer <token>")
		}
		a, err := s.opt.Members.Authenticate(c.Request().Context(), token)
		if err != nil {
			return err
		}
		c.Set(actorKey, a)
		return next(c)
	}
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

func (s *Server) setSessionCookie(c echo.Context, token string, ttl time.Duration) {
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds()),
	})
}

// limiter counts failures per key in a sliding window: a failed login is
// allowed max times per window per client address.
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
