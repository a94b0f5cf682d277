package api

import (
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
)

// queryParams are the query parameters each API route reads ("METHOD
// path" as registered). A parameter a route does not read is refused
// (422), as the JSON decoder refuses unknown fields: ?limit=-5 on a list
// that is not paginated, or a misspelt filter, would otherwise be ignored
// in silence and the caller would believe it applied.
var queryParams = map[string][]string{
	"GET /api/v1/members":                                {"skill", "min_level", "limit", "cursor"},
	"GET /api/v1/directory":                              {"skill", "min_level", "limit", "cursor"},
	"GET /api/v1/clients":                                {"q", "limit", "cursor"},
	"GET /api/v1/clients/:id/sites":                      {"limit", "cursor"},
	"GET /api/v1/clients/:id/assets":                     {"limit", "cursor"},
	"GET /api/v1/tickets":                                {"q", "status", "skill", "priority", "client_id", "assignee", "region", "sort", "limit", "cursor"},
	"GET /api/v1/tickets/:id/comments":                   {"limit", "cursor"},
	"GET /api/v1/tickets/:id/history":                    {"limit", "cursor"},
	"GET /api/v1/calendar":                               {"from", "to"},
	"GET /api/v1/notifications":                          {"unread", "limit", "cursor"},
	"POST /api/v1/notifications/read":                    {},
	"GET /api/v1/notifications/settings":                 {},
	"PUT /api/v1/notifications/settings":                 {},
	"GET /api/v1/routing/unroutable":                     {},
	"GET /api/v1/queues":                                 {},
	"GET /api/v1/offers":                                 {},
	"GET /api/v1/tickets/:id/routing":                    {},
	"GET /api/v1/openapi.json":                           {},
	"POST /api/v1/tickets/:id/forward":                   {},
	"GET /api/v1/members/:id":                            {},
	"GET /api/v1/tickets/:id":                            {},
	"GET /api/v1/clients/:id":                            {},
	"GET /api/v1/me":                                     {},
	"GET /api/v1/clients/:id/export":                     {"download"},
	"POST /api/v1/clients/:id/erasure":                   {},
	"GET /api/v1/members/:id/export":                     {"download"},
	"POST /api/v1/members/:id/erasure":                   {},
	"GET /api/v1/privacy/record":                         {},
	"POST /api/v1/me/password":                           {},
	"GET /api/v1/me/tokens":                              {},
	"POST /api/v1/me/tokens":                             {},
	"DELETE /api/v1/me/tokens/:id":                       {},
	"POST /api/v1/members/:id/deactivate":                {},
	"GET /api/v1/members/skill-proposals":                {},
	"POST /api/v1/members/:id/skills/review":             {},
	"GET /api/v1/skills":                                 {},
	"POST /api/v1/auth/login":                            {},
	"POST /api/v1/auth/logout":                           {},
	"POST /api/v1/offers/:id/accept":                     {},
	"POST /api/v1/offers/:id/decline":                    {},
	"POST /api/v1/tickets/:id/release":                   {},
	"POST /api/v1/events/:id/answer":                     {},
	"POST /api/v1/tickets/:id/events":                    {},
	"POST /api/v1/tickets/:id/time":                      {},
	"POST /api/v1/tickets/:id/comments":                  {},
	"POST /api/v1/tickets/:id/attachments":               {},
	"GET /api/v1/tickets/:id/attachments":                {},
	"GET /api/v1/tickets/:id/attachments/:aid":           {},
	"GET /api/v1/tickets/:id/attachments/:aid/thumbnail": {},
	"POST /api/v1/tickets":                               {},
	"PATCH /api/v1/tickets/:id":                          {},
	"POST /api/v1/clients":                               {},
	"PATCH /api/v1/clients/:id":                          {},
	"POST /api/v1/clients/:id/sites":                     {},
	"POST /api/v1/clients/:id/assets":                    {},
	"POST /api/v1/members":                               {},
	"PATCH /api/v1/members/:id":                          {},
}

// strictQuery refuses query parameters the route does not read.
func strictQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := c.Request().URL.Query()
		if len(q) == 0 {
			return next(c)
		}
		allowed := queryParams[c.Request().Method+" "+c.Path()]
		var unknown []string
		for name := range q {
			known := false
			for _, a := range allowed {
				known = known || a == name
			}
			if !known {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) == 0 {
			return next(c)
		}
		sort.Strings(unknown)
		fields := map[string]string{}
		for _, u := range unknown {
			msg := "is not a parameter of this request"
			if len(allowed) > 0 {
				msg += "; it takes " + strings.Join(allowed, ", ")
			}
			fields[u] = msg
		}
		return &apperr.Error{Code: apperr.Invalid, Message: "unknown query parameter " + strings.Join(unknown, ", "), Fields: fields}
	}
}
