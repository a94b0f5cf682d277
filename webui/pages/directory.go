package pages

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/directory"
)

func (s *Pages) directoryPage(c echo.Context) error {
	skill, q := c.QueryParam("skill"), strings.ToLower(strings.TrimSpace(c.QueryParam("q")))
	es, err := s.Opt.Directory.List(c.Request().Context(), directory.ListOptions{Skill: skill, Limit: 500})
	if apperr.CodeOf(err) == apperr.Invalid {
		skill, es, err = "", nil, nil
	}
	if err != nil {
		return err
	}
	if q != "" {
		kept := es[:0]
		for _, e := range es {
			if strings.Contains(strings.ToLower(e.Name+" "+e.Commune+" "+e.Handle), q) {
				kept = append(kept, e)
			}
		}
		es = kept
	}
	sk, err := s.Opt.Skills.List(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "directory", s.newPage(c, "directory.title", map[string]any{"Entries": es, "Skills": sk,
		"Skill": skill, "Q": c.QueryParam("q")}))
}
