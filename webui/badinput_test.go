package webui_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/webui"
	"github.com/coopnet/coopnet/webui/web"
)

// TestBadInputWritesNothing sends every kind of bad request and checks the
// precise problem it gets and that the database is unchanged afterwards.
func TestBadInputWritesNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		clientID := r.newClient("technician")
		tid := r.newTicket("technician", clientID).ID

		// An object of another node: a ticket made on a second node with its own database.
		other := newRig(t, storagetest.Open(t, db.Dialect))
		foreignTicket := other.newTicket("technician", other.newClient("technician")).ID

		ticket := func(over map[string]any) map[string]any {
			b := map[string]any{"client_id": clientID, "title": "Imprimante", "skill": "printing", "on_site": true, "estimated_hours": 1}
			for k, v := range over {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			return b
		}
		member := func(over map[string]any) map[string]any {
			b := map[string]any{"email": "nouveau@bfc.test", "name": "Nouveau", "role": "technician", "password": testPassword}
			for k, v := range over {
				b[k] = v
			}
			return b
		}
		cases := []struct {
			name, method, path, who string
			body                    any
			contentType             string
			status                  int
			field                   string // a key expected in errors, if any
		}{
			{"malformed JSON", "POST", "/api/v1/clients", "technician", `{"name": "École",`, "", 400, ""},
			{"not JSON at all", "POST", "/api/v1/clients", "technician", `name=École`, "", 400, ""},
			{"wrong content type", "POST", "/api/v1/clients", "technician", `{"name":"École"}`, "text/plain", 400, ""},
			{"empty body", "POST", "/api/v1/clients", "technician", ` `, "", 400, ""},
			{"an array, not an object", "POST", "/api/v1/clients", "technician", `[1,2]`, "", 400, ""},
			{"trailing data", "POST", "/api/v1/clients", "technician", `{"name":"a","kind":"school","postcode":"25150"} {}`, "", 400, ""},
			{"wrong type", "POST", "/api/v1/clients", "technician", map[string]any{"name": 5, "kind": "school", "postcode": "25150"}, "", 422, "name"},
			{"unknown field", "POST", "/api/v1/clients", "technician", map[string]any{"nom": "École", "kind": "school", "postcode": "25150"}, "", 422, "nom"},
			{"missing required fields", "POST", "/api/v1/clients", "technician", map[string]any{}, "", 422, "kind"},
			{"unknown kind", "POST", "/api/v1/clients", "technician", map[string]any{"name": "X", "kind": "bank", "postcode": "25150"}, "", 422, "kind"},
			{"postcode that does not exist", "POST", "/api/v1/clients", "technician", map[string]any{"name": "X", "kind": "school", "postcode": "00000"}, "", 422, "postcode"},
			{"postcode of no département", "POST", "/api/v1/clients", "technician", map[string]any{"name": "X", "kind": "school", "postcode": "96100"}, "", 422, "postcode"},
			{"swapped coordinates", "POST", "/api/v1/clients", "technician", map[string]any{"name": "X", "kind": "school", "postcode": "25150", "lat": 6.78, "lon": 47.41}, "", 422, "lat"},
			{"bad contact e-mail", "POST", "/api/v1/clients", "technician", map[string]any{"name": "X", "kind": "school", "postcode": "25150", "contact_email": "pas une adresse"}, "", 422, "contact_email"},
			{"control characters", "POST", "/api/v1/clients", "technician", map[string]any{"name": "X\x00Y", "kind": "school", "postcode": "25150"}, "", 422, "name"},
			{"skill level 9", "POST", "/api/v1/members", "staff", member(map[string]any{"skills": []any{map[string]any{"name": "website", "level": 9}}}), "", 422, "skills[0].level"},
			{"unknown skill", "POST", "/api/v1/members", "staff", member(map[string]any{"skills": []any{map[string]any{"name": "cobol", "level": 3}}}), "", 422, "skills[0].name"},
			{"negative weekly hours", "POST", "/api/v1/members", "staff", member(map[string]any{"weekly_hours": -5}), "", 422, "weekly_hours"},
			{"short password", "POST", "/api/v1/members", "staff", member(map[string]any{"password": "abc"}), "", 422, "password"},
			{"e-mail already taken", "POST", "/api/v1/members", "staff", member(map[string]any{"email": "Jean@bfc.test"}), "", 409, "email"},
			{"staff creating an admin", "POST", "/api/v1/members", "staff", member(map[string]any{"role": "admin"}), "", 403, ""},
			{"bad role", "POST", "/api/v1/members", "admin", member(map[string]any{"role": "boss"}), "", 422, "role"},
			{"negative hours", "POST", "/api/v1/tickets", "technician", ticket(map[string]any{"estimated_hours": -2}), "", 422, "estimated_hours"},
			{"hours as text", "POST", "/api/v1/tickets", "technician", ticket(map[string]any{"estimated_hours": "deux"}), "", 422, "estimated_hours"},
			{"missing on_site", "POST", "/api/v1/tickets", "technician", ticket(map[string]any{"on_site": nil}), "", 422, "on_site"},
			{"unknown priority", "POST", "/api/v1/tickets", "technician", ticket(map[string]any{"priority": "asap"}), "", 422, "priority"},
			{"unknown client id", "POST", "/api/v1/tickets", "technician", ticket(map[string]any{"client_id": "01a201c8-0000-7000-8000-000000000000"}), "", 422, "client_id"},
			{"SQL in a skill", "POST", "/api/v1/tickets", "technician", ticket(map[string]any{"skill": "website'; DROP TABLE tickets;--"}), "", 422, "skill"},
			{"SQL in an id", "GET", "/api/v1/tickets/1%27%20OR%20%271%27%3D%271", "technician", nil, "", 404, ""},
			{"SQL in a filter", "GET", "/api/v1/tickets?status=new%27%20OR%201%3D1--", "technician", nil, "", 422, "status"},
			{"SQL in a cursor", "GET", "/api/v1/tickets?cursor=%27%20OR%201%3D1--", "technician", nil, "", 422, "cursor"},
			{"unknown ticket", "GET", "/api/v1/tickets/01a201c8-0000-7000-8000-000000000000", "technician", nil, "", 404, ""},
			{"ticket of another node", "GET", "/api/v1/tickets/" + foreignTicket, "staff", nil, "", 404, ""},
			{"comment on another node's ticket", "POST", "/api/v1/tickets/" + foreignTicket + "/comments", "staff", map[string]any{"body": "x"}, "", 404, ""},
			{"empty comment", "POST", "/api/v1/tickets/" + tid + "/comments", "technician", map[string]any{"body": "  "}, "", 422, "body"},
			{"update without version", "PATCH", "/api/v1/tickets/" + tid, "technician", map[string]any{"title": "x"}, "", 422, "version"},
			{"update with an unknown status", "PATCH", "/api/v1/tickets/" + tid, "technician", map[string]any{"version": 1, "status": "lost"}, "", 422, "status"},
			{"unknown route", "GET", "/api/v1/nothing-here", "technician", nil, "", 404, ""},
			{"wrong method", "DELETE", "/api/v1/tickets", "technician", nil, "", 405, ""},
			{"null body", "POST", "/api/v1/clients", "technician", `null`, "", 400, ""},
			{"null body to forward", "POST", "/api/v1/tickets/" + tid + "/forward", "technician", `null`, "", 400, ""},
			{"a bidirectional override in a name", "POST", "/api/v1/clients", "technician", map[string]any{"name": "Marie \u202eeiraM", "kind": "school", "postcode": "25150"}, "", 422, "name"},
			{"a bidirectional isolate in a member's name", "POST", "/api/v1/members", "staff", member(map[string]any{"name": "Admin\u2067 Bretagne"}), "", 422, "name"},
			{"negative limit", "GET", "/api/v1/tickets?limit=-5", "technician", nil, "", 422, "limit"},
			{"limit as text", "GET", "/api/v1/clients?limit=abc", "technician", nil, "", 422, "limit"},
			{"limit on a list that takes none", "GET", "/api/v1/offers?limit=-5", "technician", nil, "", 422, "limit"},
			{"limit as text on a list that takes none", "GET", "/api/v1/routing/unroutable?limit=abc", "staff", nil, "", 422, "limit"},
			{"a misspelt filter", "GET", "/api/v1/tickets?statut=new", "technician", nil, "", 422, "statut"},
			{"a query on a change", "POST", "/api/v1/clients?dry_run=1", "technician", map[string]any{"name": "X", "kind": "school", "postcode": "25150"}, "", 422, "dry_run"},
			{"oversized body", "POST", "/api/v1/clients", "technician", `{"name":"` + strings.Repeat("a", web.MaxBodyBytes+10) + `","kind":"school","postcode":"25150"}`, "", 413, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := r.snapshot()
				res := r.doCT(tc.method, tc.path, tc.who, tc.body, tc.contentType)
				if res.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
				}
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
					t.Errorf("Content-Type %q, want application/problem+json", ct)
				}
				var p web.Problem
				if err := json.Unmarshal(res.Body, &p); err != nil {
					t.Fatalf("not a problem: %v: %s", err, res.Body)
				}
				if p.Status != tc.status || p.Type == "" || p.Title == "" {
					t.Errorf("problem lacks status/type/title: %+v", p)
				}
				if _, ok := p.Errors[tc.field]; tc.field != "" && !ok {
					t.Errorf("errors %v lack field %q", p.Errors, tc.field)
				}
				assertSame(t, before, r.snapshot())
			})
		}
		// Text that looks like SQL is just text: stored and returned verbatim.
		name := "Robert'); DROP TABLE clients;--"
		c := mustAs[clients.Client](r, 201, "POST", "/api/v1/clients", "technician", map[string]any{"name": name, "kind": "association", "postcode": "25150"})
		if got := mustAs[clients.Client](r, 200, "GET", "/api/v1/clients/"+c.ID, "technician", nil); got.Name != name {
			t.Errorf("name = %q, want %q", got.Name, name)
		}
	})
}

// TestPanicIsAProblem: a crash inside a handler is a 500 problem without
// details, logged with the request id and the stack; the node keeps serving.
func TestPanicIsAProblem(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	// A server wired without its clients service: any clients route panics
	// on a nil pointer, as a real bug would.
	r := newRig(t, db, func(o *webui.Options) { o.Clients = nil })
	res := r.do("GET", "/api/v1/clients", "technician", nil)
	if res.Status != 500 {
		t.Fatalf("status %d: %s", res.Status, res.Body)
	}
	p := res.json(t)
	reqID, _ := p["request_id"].(string)
	if reqID == "" || res.Header.Get("X-Request-Id") != reqID {
		t.Errorf("problem request_id %q, header %q", reqID, res.Header.Get("X-Request-Id"))
	}
	for _, leak := range []string{"nil pointer", "goroutine", ".go:"} {
		if strings.Contains(string(res.Body), leak) {
			t.Errorf("500 response leaks %q: %s", leak, res.Body)
		}
	}
	if logs := r.logs.String(); !strings.Contains(logs, "panic in handler") || !strings.Contains(logs, reqID) {
		t.Errorf("panic not logged with the request id %s:\n%s", reqID, logs)
	}
	r.must(200, "GET", "/healthz", "", nil)
	r.must(200, "GET", "/api/v1/me", "technician", nil)
}

// TestOperations: health, readiness, metrics and request ids.
func TestOperations(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	r := newRig(t, db)
	r.must(200, "GET", "/healthz", "", nil)
	ready := r.must(200, "GET", "/readyz", "", nil)
	if ready["ready"] != true {
		t.Errorf("readyz: %v", ready)
	}
	me := r.do("GET", "/api/v1/me", "technician", nil)
	if cc := me.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("an API answer with personal data: Cache-Control %q, want no-store", cc)
	}
	// The metrics are not public: refused without the token, refused with
	// a wrong one, served with the right one.
	if res := r.do("GET", "/metrics", "", nil); res.Status != 403 {
		t.Errorf("/metrics without a token configured: %d, want 403", res.Status)
	}
	tr := newRig(t, storagetest.Open(t, "sqlite"), func(o *webui.Options) { o.MetricsToken = "metrics-secret-123" })
	if res := tr.doHeader("GET", "/metrics", map[string]string{"Authorization": "Bearer wrong"}); res.Status != 401 {
		t.Errorf("/metrics with a wrong token: %d, want 401", res.Status)
	}
	tr.must(200, "GET", "/api/v1/me", "technician", nil)
	res := tr.doHeader("GET", "/metrics", map[string]string{"Authorization": "Bearer metrics-secret-123"})
	for _, want := range []string{
		`coopnet_http_requests_total{method="GET",route="/api/v1/me",status="200"} 1`,
		`coopnet_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me",status="200"`,
	} {
		if !strings.Contains(string(res.Body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if res.Status != 200 {
		t.Errorf("/metrics with the token: %d", res.Status)
	}
	// A caller's request id is kept; a dangerous one is replaced.
	req, _ := http.NewRequest("GET", r.srv.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("request id %q, want abc-123", got)
	}
	// When the database is gone, the node is not ready.
	db.Close()
	res = r.do("GET", "/readyz", "", nil)
	if res.Status != 503 {
		t.Errorf("readyz with the database closed: %d %s", res.Status, res.Body)
	}
}
