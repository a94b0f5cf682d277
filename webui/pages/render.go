package pages

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// Cookies of the web interface.
const (
	langCookie = "coopnet_lang"
	csrfCookie = "coopnet_csrf"
	csrfField  = "_csrf"
)

// madeKey holds, in a page's request, when it started (Unix ms): the
// page's data-made, from which its live stream takes up.
const madeKey = "coopnet.page_made"

// Langs are the languages of the interface, the default first.
var Langs = []string{"fr", "en"}

// staticNames maps an asset's name to its checksummed URL path, and back.
var staticNames, staticFiles = func() (map[string]string, map[string]string) {
	names, files := map[string]string{}, map[string]string{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:6]) + ext
		names[e.Name()] = "/static/" + hashed
		files[hashed] = e.Name()
	}
	return names, files
}()

// T translates a key into lang; a missing key shows as itself (a test
// keeps the catalogue whole).
func T(lang, key string, args ...any) string {
	m, ok := messages[lang][key]
	if !ok {
		m = key
	}
	if len(args) > 0 {
		return fmt.Sprintf(m, args...)
	}
	return m
}

// formatTime shows t in Paris time, as people read it in lang.
func formatTime(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(web.Paris)
	if lang == "fr" {
		return t.Format("02/01/2006 15:04")
	}
	return t.Format("2006-01-02 15:04")
}

// formatDay shows the day of t in Paris time.
func formatDay(lang string, t time.Time) string {
	t = t.In(web.Paris)
	if lang == "fr" {
		return t.Format("02/01/2006")
	}
	return t.Format("2006-01-02")
}

// formatNumber shows a number with up to two decimals: 1,5 in French.
func formatNumber(lang string, f float64) string {
	s := strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	if lang == "fr" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// formatEuros shows an amount in cents: 2 000,00 € in French (narrow
// no-break spaces between thousands), €2,000.00 in English.
func formatEuros(lang string, cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	units, rest := strconv.FormatInt(cents/100, 10), cents%100
	sep, dec := ",", "."
	if lang == "fr" {
		sep, dec = "\u202f", ","
	}
	var b strings.Builder
	for i, r := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	s := fmt.Sprintf("%s%s%02d", b.String(), dec, rest)
	if neg {
		s = "-" + s
	}
	if lang == "fr" {
		return s + "\u00a0€"
	}
	return "€" + s
}

// page is what every template gets.
type pageData struct {
	Lang      string
	Title     string
	Region    string
	Actor     *members.Actor
	CSRF      string
	Path      string
	Flash     string
	Errors    map[string]string // field → message, for a form sent back
	Data      any
	RequestID string
	// Unread and Offers are the header's counts (the member's unread
	// notifications, their offers waiting); Made is when the request for
	// the page started (Unix milliseconds), from which live.js follows
	// the changes.
	Unread, Offers int
	Made           int64
	MailDir        bool                                   // the node writes its mails to a folder: the header links to them
	skill          func(name string) (skills.Skill, bool) // the vocabulary, for Skill
}

// T translates in the page's language.
func (p *pageData) T(key string, args ...any) string { return T(p.Lang, key, args...) }

// Skill is a skill's label in the page's language (its name if the
// vocabulary does not know it).
func (p *pageData) Skill(name string) string {
	if p.skill != nil {
		if sk, ok := p.skill(name); ok {
			return sk.Label(p.Lang)
		}
	}
	return name
}

func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) string { return staticNames[name] },
		"time": func(lang string, t any) string {
			switch v := t.(type) {
			case time.Time:
				return formatTime(lang, v)
			case *time.Time:
				if v != nil {
					return formatTime(lang, *v)
				}
			}
			return ""
		},
		// invalid marks a form's field whose message is msg (none: nothing):
		// aria-invalid, and the message (whose id is the field's with
		// "-error") as its description.
		"invalid": func(id, msg string) template.HTMLAttr {
			if msg == "" {
				return ""
			}
			return template.HTMLAttr(` aria-invalid="true" aria-describedby="` + template.HTMLEscapeString(id) + `-error"`)
		},
		"add":  func(a, b int) int { return a + b },
		"list": func(s ...string) []string { return s },
		// action is the catalogue key of a history entry's action
		// ("unroutable:full" is an unroutable one).
		"action": func(a tickets.Action) string { return "action." + string(a.Base()) },
		"mul":    func(a, b int) int { return a * b },
		"float":  func(i int) float64 { return float64(i) },
		"day":    formatDay,
		"clock":  func(t time.Time) string { return t.In(web.Paris).Format("15:04") },
		"region": regionName,
		"weekday": func(lang string, t time.Time) string {
			return T(lang, "weekday."+strconv.Itoa(int(t.In(web.Paris).Weekday())))
		},
		"num": formatNumber,
		// size is a file's size as people read it (« 1,2 Mo », "1.2 MB").
		"size": formatSize,
		// duration is minutes as hours and minutes (« 1 h 30 »).
		"duration": formatDuration,
		"euros":    formatEuros,
		"hours":    func(lang string, minutes int) string { return formatNumber(lang, float64(minutes)/60) },
		"pct": func(part, whole float64) float64 {
			if whole <= 0 {
				return 0
			}
			return math.Min(100, math.Round(part/whole*1000)/10)
		},
		"isStaff": func(a *members.Actor) bool { return a != nil && a.Role.IsStaff() },
		// bars is what the "bars" chart template takes.
		"bars": func(p *pageData, bars any, label string) map[string]any {
			return map[string]any{"Page": p, "Bars": bars, "Label": label}
		},
	}
}

// pages are the parsed templates, one set per page (the layout and the
// page's own blocks).
var pages = func() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(templateFuncs()).ParseFS(templateFS, "templates/layout.html"))
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, e := range entries {
		if e.Name() == "layout.html" {
			continue
		}
		t := template.Must(template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+e.Name()))
		out[strings.TrimSuffix(e.Name(), ".html")] = t
	}
	return out
}()

// langOf is the language of the request: the cookie's, else French.
func langOf(c echo.Context) string {
	if ck, err := c.Cookie(langCookie); err == nil {
		for _, l := range Langs {
			if ck.Value == l {
				return l
			}
		}
	}
	return Langs[0]
}

// sessionCSRF is the CSRF token of a session: derived from its secret
// token, which only the member's browser holds (an HttpOnly cookie). A
// cookie planted by a neighbouring site would have to carry a valid
// session of the victim to get the victim's forms through; it can at most
// log the victim in as someone else (login CSRF), as with any
// double-submit token.
func sessionCSRF(c echo.Context) string {
	ck, err := c.Cookie(web.SessionCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("coopnet-csrf\x00" + ck.Value))
	return hex.EncodeToString(sum[:16])
}

// csrfToken returns the token forms carry: the session's, or before login
// a random one also set as a cookie (double submit).
func (s *Pages) csrfToken(c echo.Context) string {
	if tok := sessionCSRF(c); tok != "" {
		return tok
	}
	if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) == 32 {
		return ck.Value
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: tok, Path: "/app/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteStrictMode})
	// The page rendered now must carry this token, not a missing cookie's.
	c.Request().AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
	return tok
}

var errCSRF = errors.New("csrf")

// checkCSRF refuses a form whose token is not the session's (or, before
// login, the cookie's).
func checkCSRF(c echo.Context) error {
	want := sessionCSRF(c)
	if want == "" {
		ck, err := c.Cookie(csrfCookie)
		if err != nil || len(ck.Value) != 32 {
			return errCSRF
		}
		want = ck.Value
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.FormValue(csrfField))) != 1 {
		return errCSRF
	}
	return nil
}

// newPage is the page context of a request.
func (s *Pages) newPage(c echo.Context, titleKey string, data any) *pageData {
	p := &pageData{Lang: langOf(c), Region: s.Opt.Region, Path: c.Request().URL.Path, Data: data,
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
	p.Title = p.T(titleKey)
	if a, ok := web.Authenticated(c); ok {
		p.Actor = &a
		p.Made, _ = c.Get(madeKey).(int64)
		if s.Opt.Notify != nil {
			p.Unread, _ = s.Opt.Notify.Unread(c.Request().Context(), a.ID) // a count, not the page: shown without it
		}
		p.Offers = s.pendingOffers(c, a)
		p.MailDir = s.Opt.MailDir != ""
	}
	p.CSRF = s.csrfToken(c)
	if cat := s.Opt.Skills; cat != nil {
		p.skill = func(name string) (skills.Skill, bool) {
			sk, ok, err := cat.Get(c.Request().Context(), name) // cached; the name is shown without it
			return sk, ok && err == nil
		}
	}
	if f, err := c.Cookie("coopnet_flash"); err == nil {
		if v, err := url.QueryUnescape(f.Value); err == nil {
			p.Flash = p.T(v)
		}
		c.SetCookie(&http.Cookie{Name: "coopnet_flash", Path: "/app/", MaxAge: -1})
	}
	return p
}

// render writes a page with a status.
func (s *Pages) render(c echo.Context, status int, name string, p *pageData) error {
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("webui: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return fmt.Errorf("webui: render %s: %w", name, err)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", p.Lang)
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(buf.Bytes())
	return err
}

// redirect answers a form with 303 See Other, with a message for the next
// page (a catalogue key).
func redirect(c echo.Context, to, flashKey string) error {
	if flashKey != "" {
		c.SetCookie(&http.Cookie{Name: "coopnet_flash", Value: url.QueryEscape(flashKey), Path: "/app/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode, MaxAge: 60})
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// pageAuth requires the session cookie; without it, the login page.
func (s *Pages) pageAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// Before anything the page reads: a change committed while it
		// reads is after this, and the live stream tells it (TouchedSince).
		c.Set(madeKey, time.Now().UnixMilli())
		ck, err := c.Cookie(web.SessionCookie)
		if err == nil && ck.Value != "" {
			if a, err := s.Opt.Members.Authenticate(c.Request().Context(), ck.Value); err == nil {
				web.SetActor(c, a)
				return next(c)
			}
		}
		return c.Redirect(http.StatusSeeOther, "/app/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
	}
}

// csrfProtect refuses a form without the right CSRF token.
func csrfProtect(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodPost {
			if err := checkCSRF(c); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// Error renders an error as a page that says what to do, never a
// stack trace; validation errors go back to the form by their handler.
func (s *Pages) Error(c echo.Context, err error) error {
	p := s.newPage(c, "error.title", nil)
	status, key := http.StatusInternalServerError, "error.internal"
	var he *echo.HTTPError
	switch {
	case errors.Is(err, errCSRF):
		status, key = http.StatusForbidden, "error.csrf"
	case errors.As(err, &he):
		switch {
		case he.Code == http.StatusNotFound || he.Code == http.StatusMethodNotAllowed:
			status, key = he.Code, "error.not_found"
		case he.Code == http.StatusRequestEntityTooLarge:
			status, key = he.Code, "error.too_large"
		case he.Code < 500:
			status, key = he.Code, "error.bad_request"
		}
	default:
		code := apperr.CodeOf(err)
		if code == apperr.Internal && storage.IsUnavailable(err) {
			code = apperr.Unavailable
		}
		switch code {
		case apperr.NotFound:
			status, key = http.StatusNotFound, "error.not_found"
		case apperr.Forbidden:
			status, key = http.StatusForbidden, "error.forbidden"
		case apperr.Conflict:
			status, key = http.StatusConflict, "error.conflict"
		case apperr.Unavailable:
			status, key = http.StatusServiceUnavailable, "error.unavailable"
		case apperr.Invalid, apperr.BadRequest:
			status, key = http.StatusUnprocessableEntity, "error.bad_request"
		case apperr.TooLarge:
			status, key = http.StatusRequestEntityTooLarge, "error.too_large"
		case apperr.RateLimited:
			status, key = http.StatusTooManyRequests, "error.rate_limited"
		case apperr.Unauthorised:
			return c.Redirect(http.StatusSeeOther, "/app/login")
		}
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", web.RetryAfter)
	}
	if status == http.StatusInternalServerError {
		s.Log.Error("page", "path", c.Request().URL.Path, "request_id", p.RequestID, "err", err)
		p.Data = p.T(key, p.RequestID)
	} else {
		p.Data = p.T(key)
	}
	return s.render(c, status, "error", p)
}

// formErrors are the field messages of a validation error, or nil.
// fieldErrors is formErrors told in lang: from the catalogue when the
// service said why (a Reason), else a plain "not valid" (the service's
// English message in English).
func fieldErrors(lang string, err error) map[string]string {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid {
		return nil
	}
	if len(ae.Fields) == 0 {
		return map[string]string{"": T(lang, "form.errors")}
	}
	out := make(map[string]string, len(ae.Fields))
	for field, msg := range ae.Fields {
		r, ok := ae.Reasons[field]
		switch {
		case ok && messages[lang]["field."+r.Code] != "":
			out[field] = T(lang, "field."+r.Code, r.Args...)
		case lang == "en":
			out[field] = msg
		default:
			out[field] = T(lang, "field.invalid")
		}
	}
	return out
}

// submitted answers a form's POST after the service's err: back to the
// form (back) saying some fields are not valid, the error page for any
// other failure, else on to next with the flash message flash ("" for
// none).
func submitted(c echo.Context, err error, back, next, flash string) error {
	if formErrors(err) != nil {
		return redirect(c, back, "form.errors")
	}
	if err != nil {
		return err
	}
	return redirect(c, next, flash)
}

func formErrors(err error) map[string]string {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.Invalid {
		if len(ae.Fields) == 0 {
			return map[string]string{"": ae.Message}
		}
		return ae.Fields
	}
	return nil
}

func (s *Pages) serveStatic(c echo.Context) error {
	name, ok := staticFiles[c.Param("name")]
	if !ok {
		return echo.ErrNotFound
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		return err
	}
	ct := "text/css; charset=utf-8"
	switch {
	case strings.HasSuffix(name, ".svg"):
		ct = "image/svg+xml"
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	return c.Blob(http.StatusOK, ct, b)
}

// formatSize is a number of bytes in kB or MB, in lang.
func formatSize(lang string, n int64) string {
	units := map[string][2]string{"fr": {"ko", "Mo"}, "en": {"kB", "MB"}}[lang]
	if units[0] == "" {
		units = [2]string{"ko", "Mo"}
	}
	if n < 1000*1000 {
		return formatNumber(lang, math.Max(1, math.Round(float64(n)/1000))) + " " + units[0]
	}
	return formatNumber(lang, math.Round(float64(n)/100000)/10) + " " + units[1]
}

// regionName is a region's name as people write it (« Bourgogne-Franche-
// Comté »), or its slug for a region geo does not know.
func regionName(slug string) string {
	if name, ok := geo.RegionName(slug); ok {
		return name
	}
	return slug
}
