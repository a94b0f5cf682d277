package pages

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/webui/web"
)

// The member's own account: password, sessions and tokens, skills to
// propose, their data to export.

type accountView struct {
	Member   *members.Member
	Tokens   []members.TokenInfo
	Skills   []skills.Skill
	NewToken string // a token just made, shown once
	Form     string // which form was sent back with errors
	Values   map[string]string
}

func (s *Pages) accountPage(c echo.Context) error {
	return s.renderAccount(c, http.StatusOK, nil, "", "", nil)
}

func (s *Pages) renderAccount(c echo.Context, status int, errs map[string]string, form, newToken string, values map[string]string) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	m, err := s.Opt.Members.Get(ctx, by.ID)
	if err != nil {
		return err
	}
	token, _ := web.TokenOf(c)
	ts, err := s.Opt.Members.Tokens(ctx, by, token)
	if err != nil {
		return err
	}
	sk, err := s.Opt.Skills.List(ctx)
	if err != nil {
		return err
	}
	p := s.newPage(c, "account.title", &accountView{Member: m, Tokens: ts, Skills: sk, NewToken: newToken, Form: form, Values: values})
	p.Errors = errs
	if newToken != "" {
		p.Flash = p.T("account.token_made")
	}
	return s.render(c, status, "account", p)
}

// accountFormDone answers a form of the account page: the page again with
// the form's errors, the error page, or on to the page with a message.
func (s *Pages) accountFormDone(c echo.Context, err error, form, flash string) error {
	if fe := fieldErrors(langOf(c), err); fe != nil {
		return s.renderAccount(c, http.StatusUnprocessableEntity, fe, form, "", map[string]string{"label": c.FormValue("label")})
	}
	if err != nil {
		return err
	}
	return redirect(c, "/app/account", flash)
}

func (s *Pages) passwordSubmit(c echo.Context) error {
	token, _ := web.TokenOf(c)
	err := s.Opt.Members.ChangePassword(c.Request().Context(), web.ActorOf(c), c.FormValue("current_password"),
		c.FormValue("new_password"), token)
	if err == nil && c.FormValue("new_password") != c.FormValue("confirm_password") {
		// Checked after: a wrong current password is said first.
		return s.renderAccount(c, http.StatusUnprocessableEntity, map[string]string{"confirm_password": T(langOf(c), "field.confirm_password")},
			"password", "", nil)
	}
	return s.accountFormDone(c, err, "password", "account.password_changed")
}

func (s *Pages) tokenSubmit(c echo.Context) error {
	days, _ := strconv.Atoi(c.FormValue("expires_in_days"))
	tok, _, err := s.Opt.Members.CreateToken(c.Request().Context(), web.ActorOf(c), members.NewTokenInput{Label: c.FormValue("label"),
		ExpiresInDays: days})
	if err != nil {
		return s.accountFormDone(c, err, "token", "")
	}
	// Shown once, on this page's answer (never in a redirect's URL).
	return s.renderAccount(c, http.StatusCreated, nil, "", tok, nil)
}

func (s *Pages) revokeSubmit(c echo.Context) error {
	err := s.Opt.Members.RevokeToken(c.Request().Context(), web.ActorOf(c), c.Param("id"))
	return s.accountFormDone(c, err, "", "account.token_revoked")
}

// skillSubmit is the member proposing a level for one skill (or lowering
// it, or dropping it with level 0): their whole list with that change.
func (s *Pages) skillSubmit(c echo.Context) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	m, err := s.Opt.Members.Get(ctx, by.ID)
	if err != nil {
		return err
	}
	skill, level := c.FormValue("skill"), c.FormValue("level")
	n, convErr := strconv.Atoi(level)
	if convErr != nil || n < 0 || n > 5 {
		return s.renderAccount(c, http.StatusUnprocessableEntity, map[string]string{"level": T(langOf(c), "field.level")}, "skill", "", nil)
	}
	want := []members.SkillLevel{}
	found := false
	for _, sk := range m.Skills {
		if sk.Name == skill {
			found = true
			if n > 0 {
				want = append(want, members.SkillLevel{Name: skill, Level: n})
			}
			continue
		}
		want = append(want, sk)
	}
	for _, sk := range m.ProposedSkills {
		if sk.Name != skill && !containsSkill(want, sk.Name) {
			want = append(want, sk) // proposals stay proposed
		}
	}
	if !found && n > 0 {
		want = append(want, members.SkillLevel{Name: skill, Level: n})
	}
	_, err = s.Opt.Members.Update(ctx, by, by.ID, members.UpdateInput{Version: m.Version, Skills: &want})
	return s.accountFormDone(c, err, "skill", "account.skill_saved")
}

func containsSkill(list []members.SkillLevel, name string) bool {
	for _, s := range list {
		if s.Name == name {
			return true
		}
	}
	return false
}
