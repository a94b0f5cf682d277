package pages

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/webui/web"
)

// Staff's pages about the node's members: who is here, the skill levels
// waiting for confirmation, a member leaving the coop.

type membersView struct {
	Members   []*members.Member
	Proposals []members.Proposal
}

func (s *Pages) membersPage(c echo.Context) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	ms, err := s.Opt.Members.List(ctx, members.ListOptions{Limit: 500})
	if err != nil {
		return err
	}
	ps, err := s.Opt.Members.SkillProposals(ctx, by)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "members", s.newPage(c, "members.title", &membersView{Members: ms, Proposals: ps}))
}

// queuesPage shows staff the node's durable queues: what waits, what is
// being worked on, what was given up on and why.
func (s *Pages) queuesPage(c echo.Context) error {
	v, err := s.Queues(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "queues", s.newPage(c, "queues.title", v))
}

func (s *Pages) reviewSubmit(c echo.Context) error {
	decision := c.FormValue("decision")
	_, err := s.Opt.Members.ReviewSkill(c.Request().Context(), web.ActorOf(c), c.Param("id"), c.FormValue("skill"), decision == "confirm")
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
	Hidden                              [][2]string // what the first step's form said, sent again
}

func (s *Pages) deactivatePage(c echo.Context) error {
	return s.deactivatePageWith(c, http.StatusOK, nil)
}

// deactivatePageWith is the page that asks before a member's deactivation,
// with what is wrong in the form sent back (errs).
func (s *Pages) deactivatePageWith(c echo.Context, status int, errs map[string]string) error {
	m, err := s.Opt.Members.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	p := s.newPage(c, "members.deactivate", nil)
	p.Data = &confirmView{Heading: p.T("members.deactivate_heading", m.Name), Text: p.T("members.deactivate_text"),
		Action: "/app/staff/members/" + m.ID + "/deactivate", Submit: p.T("members.deactivate"), Back: "/app/staff/members", Name: m.Name}
	p.Errors = errs
	return s.render(c, status, "confirm", p)
}

func (s *Pages) deactivateSubmit(c echo.Context) error {
	if c.FormValue("confirm") != "on" {
		return s.deactivatePageWith(c, http.StatusUnprocessableEntity, map[string]string{"confirm": T(langOf(c), "field.confirm")})
	}
	a := web.ActorOf(c)
	_, err := s.Opt.Members.Deactivate(c.Request().Context(), &a, c.Param("id"))
	if err == nil {
		s.AfterLeaving(c)
	}
	return submitted(c, err, "/app/staff/members", "/app/staff/members", "members.deactivated")
}

func (s *Pages) eraseMemberPage(c echo.Context) error {
	return s.eraseMemberPageWith(c, http.StatusOK, nil)
}

func (s *Pages) eraseMemberPageWith(c echo.Context, status int, errs map[string]string) error {
	m, err := s.Opt.Members.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	p := s.newPage(c, "members.erase", nil)
	p.Data = &confirmView{Heading: p.T("members.erase_heading", m.Name), Text: p.T("members.erase_text"),
		Action: "/app/staff/members/" + m.ID + "/erase", Submit: p.T("members.erase"), Back: "/app/staff/members", Reason: true, Name: m.Name}
	p.Errors = errs
	return s.render(c, status, "confirm", p)
}

func (s *Pages) eraseMemberSubmit(c echo.Context) error {
	if c.FormValue("confirm") != "on" {
		return s.eraseMemberPageWith(c, http.StatusUnprocessableEntity, map[string]string{"confirm": T(langOf(c), "field.confirm")})
	}
	if err := s.NeedPrivacy(); err != nil {
		return err
	}
	err := s.Opt.Privacy.EraseMember(c.Request().Context(), web.ActorOf(c), c.Param("id"), c.FormValue("reason"))
	if fe := fieldErrors(langOf(c), err); fe != nil {
		return s.eraseMemberPageWith(c, http.StatusUnprocessableEntity, fe)
	}
	return submitted(c, err, "/app/staff/members", "/app/staff/members", "members.erased")
}
