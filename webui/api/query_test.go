package api

import (
	"sort"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/webui/web"
	"github.com/labstack/echo/v4"
)

// TestQueryParamsDeclared: every API route says which query parameters it
// reads (the others are refused), and every declaration is of a route that
// exists, so that a new route cannot forget it.
func TestQueryParamsDeclared(t *testing.T) {
	e := echo.New()
	New(web.NewCore(web.Options{})).Routes(e)
	declared := queryParams
	registered := map[string]bool{}
	var missing []string
	for _, r := range e.Routes() {
		rt := r.Method + " " + r.Path
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		registered[rt] = true
		if _, ok := declared[rt]; !ok {
			missing = append(missing, rt)
		}
	}
	var extra []string
	for rt := range declared {
		if !registered[rt] {
			extra = append(extra, rt)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes without their query parameters declared (webui/api/query.go): %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("query parameters declared for routes that do not exist: %v", extra)
	}
}
