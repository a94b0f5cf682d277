package webui

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/members"
)

// Staff's pages about the node's members: who is here, the skill levels
// waiting for confirmation, a member leaving the coop.

type membersView struct {
	Members   []*members.Member
	Proposals []members.Proposal
}

func (s *Server) membersPage(c echo.Context) error {
	ctx, by := c.Request().Context(), actorOf(c)
	ms, err := s.opt.Members.List(ctx, members.ListOptions{Limit: 500})
	if err != nil {
		return err
	}
	ps, err := s.opt.Members.SkillProposals(ctx, by)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "members", s.newPage(c, "members.title", &membersView{Members: ms, Proposals: ps}))
}

// queuesPage shows staff the node's durable queues: what waits, what is
// being worked on, what was given up on and why.
func (s *Server) queuesPage(c echo.Context) error {
	v, err := s.queuesView(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "queues", s.newPage(c, "queues.title", v))
}

func (s *Server) reviewSubmit(c echo.Context) error {
	decision := c.FormValue("decision")
	_, err := s.opt.Members.ReviewSkill(c.Request().Context(), actorOf(c), c.Param("id"), c.FormValue("skill"), decision == "confirm")
	flash := "members.refused"
	if decision == "confirm" {
		flash = "members.confirmed"
	}
	return submitted(c, err, "/app/staff/members", "/app/staff/members", flash)
}

// confirmView is a page that asks before an action that cannot be undone.
type confirmView struct {
	Heading, Text, Action, Submit, Back string
	Reason                              bool // ask for a reason
	Name                                string
}

func (s *Server) deactivatePage(c echo.Context) error {
	return s.deactivatePageWith(c, http.StatusOK, nil)
}

// deactivatePageWith is the page that asks before a member's deactivation,
// with what is wrong in the form sent back (errs).
func (s *Server) deactivatePageWith(c echo.Context, status int, errs map[string]string) error {
	m, err := s.opt.Members.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	p := s.newPage(c, "members.deactivate", nil)
	p.Data = &confirmView{Heading: p.T("members.deactivate_heading", m.Name), Text: p.T("members.deactivate_text"),
		Action: "/app/staff/members/" + m.ID + "/deactivate", Submit: p.T("members.deactivate"), Back: "/app/staff/members", Name: m.Name}
	p.Errors = errs
	return s.render(c, status, "confirm", p)
}

func (s *Server) deactivateSubmit(c echo.Context) error {
	if c.FormValue("confirm") != "on" {
		return s.deactivatePageWith(c, http.StatusUnprocessableEntity, map[string]string{"confirm": T(langOf(c), "field.confirm")})
	}
	a := actorOf(c)
	_, err := s.opt.Members.Deactivate(c.Request().Context(), &a, c.Param("id"))
	if err == nil {
		s.afterLeaving(c)
	}
	return submitted(c, err, "/app/staff/members", "/app/staff/members", "members.deactivated")
}

func (s *Server) eraseMemberPage(c echo.Context) error {
	return s.eraseMemberPageWith(c, http.StatusOK, nil)
}

func (s *Server) eraseMemberPageWith(c echo.Context, status int, errs map[string]string) error {
	m, err := s.opt.Members.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	p := s.newPage(c, "members.erase", nil)
	p.Data = &confirmView{Heading: p.T("members.erase_heading", m.Name), Text: p.T("members.erase_text"),
		Action: "/app/staff/members/" + m.ID + "/erase", Submit: p.T("members.erase"), Back: "/app/staff/members", Reason: true, Name: m.Name}
	p.Errors = errs
	return s.render(c, status, "confirm", p)
}

func (s *Server) eraseMemberSubmit(c echo.Context) error {
	if c.FormValue("confirm") != "on" {
		return s.eraseMemberPageWith(c, http.StatusUnprocessableEntity, map[string]string{"confirm": T(langOf(c), "field.confirm")})
	}
	if err := s.needPrivacy(); err != nil {
		return err
	}
	err := s.opt.Privacy.EraseMember(c.Request().Context(), actorOf(c), c.Param("id"), c.FormValue("reason"))
	if fe := fieldErrors(langOf(c), err); fe != nil {
		return s.eraseMemberPageWith(c, http.StatusUnprocessableEntity, fe)
	}
	return submitted(c, err, "/app/staff/members", "/app/staff/members", "members.erased")
}
