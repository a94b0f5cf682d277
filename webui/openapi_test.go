package webui_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestOpenAPIMatchesRoutes keeps the OpenAPI document true: every registered
// route is documented and every documented route exists.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	res := r.must(200, "GET", "/api/v1/openapi.json", "", nil)
	if v, _ := res["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi version %q", v)
	}
	documented := map[string]bool{}
	for path, ops := range res["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			switch method {
			case "get", "post", "put", "patch", "delete", "head", "options":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	registered := map[string]bool{}
	for _, rt := range r.server.Routes() {
		// The web interface's pages and assets are HTML for people, not
		// the API: the document covers the rest.
		if _, path, _ := strings.Cut(rt, " "); strings.HasPrefix(path, "/app/") || strings.HasPrefix(path, "/static/") {
			continue
		}
		registered[param.ReplaceAllString(rt, "{$1}")] = true
	}
	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes not in openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes that do not exist: %v", extra)
	}
	// Every $ref points at a component that exists.
	raw, _ := json.Marshal(res)
	comps := res["components"].(map[string]any)
	for _, m := range regexp.MustCompile(`"\$ref":"#/components/([a-zA-Z]+)/([A-Za-z0-9_]+)"`).FindAllStringSubmatch(string(raw), -1) {
		group, _ := comps[m[1]].(map[string]any)
		if _, ok := group[m[2]]; !ok {
			t.Errorf("dangling $ref #/components/%s/%s", m[1], m[2])
		}
	}
}
