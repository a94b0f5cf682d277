package pages

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/webui/web"
)

// loginData is the login page's: where to go after, what was typed, and
// after a failure the other regions' nodes.
type loginData struct {
	Next, Email string
	Others      []otherNode
}

type otherNode struct{ Name, URL string }

func (s *Pages) loginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "login", s.newPage(c, "login.title", loginData{Next: safeNext(c.QueryParam("next"))}))
}

// safeNext keeps a redirect after login on this site's pages.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/app/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return "/app/"
}

func (s *Pages) loginSubmit(c echo.Context) error {
	email, password := strings.TrimSpace(c.FormValue("email")), c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	fail := func(status int, key string, args ...any) error {
		data := loginData{Next: next, Email: email}
		if key == "login.failed" && s.Opt.Peers != nil {
			// Each member logs in on their own region's node: say which
			// node this is and where the others are, to whoever failed
			// (whether the address is known here is not told).
			if peers, err := s.Opt.Peers(c.Request().Context()); err == nil {
				for _, pn := range peers {
					data.Others = append(data.Others, otherNode{Name: regionName(pn.Region), URL: pn.URL + "/app/login"})
				}
			}
		}
		p := s.newPage(c, "login.title", data)
		p.Errors = map[string]string{"": p.T(key, args...)}
		return s.render(c, status, "login", p)
	}
	if wait, err := s.LoginAttempt(c, email); err != nil {
		return err
	} else if wait > 0 {
		return fail(http.StatusTooManyRequests, "login.limited", waitText(wait))
	}
	token, _, err := s.Opt.Members.Login(c.Request().Context(), email, password)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Unauthorised || apperr.CodeOf(err) == apperr.Invalid {
			return fail(http.StatusUnauthorized, "login.failed")
		}
		return err
	}
	if err := s.LoginSucceeded(c, email); err != nil {
		return err
	}
	s.SetSessionCookie(c, token, s.Opt.Members.SessionTTL())
	return c.Redirect(http.StatusSeeOther, next)
}

func (s *Pages) logoutSubmit(c echo.Context) error {
	if ck, err := c.Cookie(web.SessionCookie); err == nil {
		if err := s.Opt.Members.Revoke(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	s.ClearSessionCookie(c)
	return c.Redirect(http.StatusSeeOther, "/app/login")
}

// switchLang sets the interface's language and goes back where the member
// was.
func (s *Pages) switchLang(c echo.Context) error {
	lang := c.Param("lang")
	ok := false
	for _, l := range Langs {
		ok = ok || l == lang
	}
	if !ok {
		return echo.ErrNotFound
	}
	c.SetCookie(&http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode,
		Secure: s.Secure})
	return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
}

func (s *Pages) appHome(c echo.Context) error {
	if web.ActorOf(c).Role.IsStaff() {
		return c.Redirect(http.StatusSeeOther, "/app/staff")
	}
	return c.Redirect(http.StatusSeeOther, "/app/tickets")
}

// --- tickets ---

// waitText says a wait as people read it, in either language: "45 s",
// "3 min".
func waitText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(math.Ceil(d.Seconds())))
	}
	return fmt.Sprintf("%d min", int(math.Ceil(d.Minutes())))
}
