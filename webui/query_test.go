package webui_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/webui"
)

// TestQueryParamsDeclared: every API route says which query parameters it
// reads (the others are refused), and every declaration is of a route that
// exists, so that a new route cannot forget it.
func TestQueryParamsDeclared(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	declared := webui.QueryRoutes()
	registered := map[string]bool{}
	var missing []string
	for _, rt := range r.server.Routes() {
		if _, path, _ := strings.Cut(rt, " "); !strings.HasPrefix(path, "/api/v1/") {
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
		t.Errorf("routes without their query parameters declared (webui/query.go): %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("query parameters declared for routes that do not exist: %v", extra)
	}
}
