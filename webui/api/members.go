package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/webui/web"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResponse is the answer of POST /auth/login: the token and who it is.
type LoginResponse struct {
	Token  string          `json:"token"`
	Member *members.Member `json:"member"`
}

func (s *API) login(c echo.Context) error {
	var req loginRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	var v apperr.Validation
	if strings.TrimSpace(req.Email) == "" {
		v.Add("email", "is required")
	}
	if req.Password == "" {
		v.Add("password", "is required")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if wait, err := s.LoginAttempt(c, req.Email); err != nil {
		return err
	} else if wait > 0 {
		return apperr.New(apperr.RateLimited, "too many failed logins from this address: try again in %s", wait.Round(time.Second))
	}
	token, m, err := s.Opt.Members.Login(c.Request().Context(), req.Email, req.Password)
	if err != nil {
		return err // counted as a failure by loginAttempt
	}
	if err := s.LoginSucceeded(c, req.Email); err != nil {
		return err
	}
	s.SetSessionCookie(c, token, s.Opt.Members.SessionTTL())
	return c.JSON(http.StatusOK, LoginResponse{Token: token, Member: m})
}

func (s *API) logout(c echo.Context) error {
	token, _ := web.TokenOf(c)
	if err := s.Opt.Members.Revoke(c.Request().Context(), token); err != nil {
		return err
	}
	s.ClearSessionCookie(c)
	return c.NoContent(http.StatusNoContent)
}

func (s *API) me(c echo.Context) error {
	m, err := s.Opt.Members.Get(c.Request().Context(), web.ActorOf(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *API) listSkills(c echo.Context) error {
	all, err := s.Opt.Skills.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, all)
}

type memberRequest struct {
	Email       string               `json:"email"`
	Name        string               `json:"name"`
	Role        string               `json:"role"`
	Password    string               `json:"password"`
	Handle      string               `json:"handle"`
	Skills      []members.SkillLevel `json:"skills"`
	Postcode    string               `json:"postcode"`
	Commune     string               `json:"commune"`
	Lat         *float64             `json:"lat"`
	Lon         *float64             `json:"lon"`
	RadiusKm    *int                 `json:"radius_km"`
	RemoteOK    bool                 `json:"remote_ok"`
	WeeklyHours *int                 `json:"weekly_hours"`
}

func (s *API) createMember(c echo.Context) error {
	var req memberRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	a := web.ActorOf(c)
	m, err := s.Opt.Members.Create(c.Request().Context(), &a, members.CreateInput{
		Email: req.Email, Name: req.Name, Role: req.Role, Password: req.Password, Handle: req.Handle,
		Skills: req.Skills, Postcode: req.Postcode, Commune: req.Commune, Lat: req.Lat, Lon: req.Lon,
		RadiusKm: req.RadiusKm, RemoteOK: req.RemoteOK, WeeklyHours: req.WeeklyHours,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/members/"+m.ID)
	return c.JSON(http.StatusCreated, m)
}

func (s *API) getMember(c echo.Context) error {
	m, err := s.Opt.Members.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, memberView(web.ActorOf(c), m))
}

// memberView shows staff and the member themself everything, others the
// public profile.
func memberView(by members.Actor, m *members.Member) any {
	if by.Role.IsStaff() || by.ID == m.ID {
		return m
	}
	return m.Public()
}

// skillFilter reads ?skill=&min_level=.
func (s *API) skillFilter(c echo.Context) (string, int, error) {
	var v apperr.Validation
	skill := strings.ToLower(strings.TrimSpace(c.QueryParam("skill")))
	if skill != "" {
		ok, err := s.Opt.Skills.Known(c.Request().Context(), skill)
		if err != nil {
			return "", 0, err
		}
		if !ok {
			v.Addf("skill", "unknown skill %q", skill)
		}
	}
	level := 1
	if l := c.QueryParam("min_level"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 5 {
			v.Add("min_level", "must be a whole number from 1 to 5")
		}
		level = n
	}
	return skill, level, v.Err()
}

// memberPage reads the paging and skill filter of a members list and
// returns one page of this node's members.
func (s *API) memberPage(c echo.Context) (web.Page[*members.Member], error) {
	limit, after, err := web.PageParams(c)
	if err != nil {
		return web.Page[*members.Member]{}, err
	}
	skill, level, err := s.skillFilter(c)
	if err != nil {
		return web.Page[*members.Member]{}, err
	}
	ms, err := s.Opt.Members.List(c.Request().Context(), members.ListOptions{Skill: skill, MinLevel: level, After: after, Limit: limit + 1})
	if err != nil {
		return web.Page[*members.Member]{}, err
	}
	return web.NewPage(ms, limit, func(m *members.Member) string { return m.ID }), nil
}

func (s *API) listMembers(c echo.Context) error {
	p, err := s.memberPage(c)
	if err != nil {
		return err
	}
	out := web.Page[any]{NextCursor: p.NextCursor, Items: make([]any, len(p.Items))}
	for i, m := range p.Items {
		out.Items[i] = memberView(web.ActorOf(c), m)
	}
	return c.JSON(http.StatusOK, out)
}

// directory lists the members of every region: this node's and the copies
// federation keeps of the other regions' members.
func (s *API) directory(c echo.Context) error {
	limit, after, err := web.PageParamsFor(c, func(h string) bool { return strings.Contains(h, "@") && len(h) <= 300 })
	if err != nil {
		return err
	}
	skill, level, err := s.skillFilter(c)
	if err != nil {
		return err
	}
	es, err := s.Opt.Directory.List(c.Request().Context(), directory.ListOptions{Skill: skill, MinLevel: level,
		After: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.NewPage(es, limit, func(e directory.Entry) string { return e.Handle }))
}

type memberPatch struct {
	Version     *int                  `json:"version"`
	Name        *string               `json:"name"`
	Skills      *[]members.SkillLevel `json:"skills"`
	Postcode    *string               `json:"postcode"`
	Commune     string                `json:"commune"`
	Lat         *float64              `json:"lat"`
	Lon         *float64              `json:"lon"`
	RadiusKm    *int                  `json:"radius_km"`
	RemoteOK    *bool                 `json:"remote_ok"`
	WeeklyHours *int                  `json:"weekly_hours"`
}

// updateMember changes a profile (one's own, or any for staff); the change
// reaches the directory of every region.
func (s *API) updateMember(c echo.Context) error {
	var req memberPatch
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	in := members.UpdateInput{Name: req.Name, Skills: req.Skills, Postcode: req.Postcode, Commune: req.Commune,
		Lat: req.Lat, Lon: req.Lon, RadiusKm: req.RadiusKm, RemoteOK: req.RemoteOK, WeeklyHours: req.WeeklyHours}
	if req.Version != nil {
		in.Version = *req.Version
	}
	m, err := s.Opt.Members.Update(c.Request().Context(), web.ActorOf(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}
