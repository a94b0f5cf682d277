package webui_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

// TestRoleMatrix checks every endpoint against every role: allowed → 2xx,
// not allowed → 403, anonymous → 401.
func TestRoleMatrix(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		clientID := r.newClient("technician")
		tid := r.newTicket("technician", clientID).ID
		n := 0
		uniq := func() string { n++; return fmt.Sprint(n) }
		type endpoint struct {
			method, path string
			body         func() any
			allowed      []string
		}
		all := []string{"technician", "staff", "admin"}
		eps := []endpoint{
			{"GET", "/api/v1/me", nil, all},
			{"GET", "/api/v1/skills", nil, all},
			{"GET", "/api/v1/members", nil, all},
			{"POST", "/api/v1/members", func() any {
				return map[string]any{"email": "new" + uniq() + "@bfc.test", "name": "Nouveau", "role": "technician",
					"password": testPassword, "skills": []map[string]any{{"name": "website", "level": 2}}}
			}, []string{"staff", "admin"}},
			{"GET", "/api/v1/members/" + r.ids["technician"], nil, all},
			{"GET", "/api/v1/directory?skill=workstation&min_level=2", nil, all},
			{"GET", "/api/v1/clients", nil, all},
			{"POST", "/api/v1/clients", func() any {
				return map[string]any{"name": "Mairie " + uniq(), "kind": "town_hall", "postcode": "25150"}
			}, all},
			{"GET", "/api/v1/clients/" + clientID, nil, all},
			{"GET", "/api/v1/clients/" + clientID + "/sites", nil, all},
			{"POST", "/api/v1/clients/" + clientID + "/sites", func() any {
				return map[string]any{"name": "Bâtiment " + uniq(), "postcode": "25150"}
			}, all},
			{"GET", "/api/v1/clients/" + clientID + "/assets", nil, all},
			{"POST", "/api/v1/clients/" + clientID + "/assets", func() any {
				return map[string]any{"kind": "workstation", "hostname": "poste-" + uniq(), "os": "Debian 12"}
			}, all},
			{"GET", "/api/v1/tickets", nil, all},
			{"POST", "/api/v1/tickets", func() any {
				return map[string]any{"client_id": clientID, "title": "Demande " + uniq(), "skill": "network",
					"on_site": true, "estimated_hours": 2}
			}, all},
			{"GET", "/api/v1/tickets/" + tid, nil, all},
			{"PATCH", "/api/v1/tickets/" + tid, func() any {
				var cur struct{ Version int }
				res := r.do("GET", "/api/v1/tickets/"+tid, "staff", nil)
				_ = jsonUnmarshal(res.Body, &cur)
				return map[string]any{"version": cur.Version, "title": "Site web " + uniq()}
			}, all},
			{"GET", "/api/v1/tickets/" + tid + "/comments", nil, all},
			{"POST", "/api/v1/tickets/" + tid + "/comments", func() any {
				return map[string]any{"body": "Bonjour " + uniq()}
			}, all},
			{"GET", "/api/v1/tickets/" + tid + "/history", nil, all},
		}
		for _, ep := range eps {
			for _, who := range []string{"", "technician", "staff", "admin"} {
				var body any
				if ep.body != nil {
					body = ep.body()
				}
				res := r.do(ep.method, ep.path, who, body)
				want := "403"
				switch {
				case who == "":
					want = "401"
				case contains(ep.allowed, who):
					want = "2xx"
				}
				got := fmt.Sprint(res.Status)
				if res.Status/100 == 2 {
					got = "2xx"
				}
				if got != want {
					t.Errorf("%s %s as %q: got %d, want %s: %s", ep.method, ep.path, who, res.Status, want, res.Body)
				}
				if res.Status >= 400 && !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
					t.Errorf("%s %s as %q: error with Content-Type %q", ep.method, ep.path, who, res.Header.Get("Content-Type"))
				}
			}
		}
		// Login and the OpenAPI document are open to anyone.
		r.must(200, "GET", "/api/v1/openapi.json", "", nil)
		r.must(200, "POST", "/api/v1/auth/login", "", map[string]any{"email": "jean@bfc.test", "password": testPassword})
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestVisibility: a technician sees only their own clients and tickets (and
// those assigned to them); others' are "not found", never leaked; staff see all.
func TestVisibility(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		clientID := r.newClient("technician")
		tid := r.newTicket("technician", clientID).ID

		for _, path := range []string{"/api/v1/clients/" + clientID, "/api/v1/tickets/" + tid,
			"/api/v1/tickets/" + tid + "/comments", "/api/v1/clients/" + clientID + "/sites"} {
			r.must(404, "GET", path, "other", nil)
			r.must(200, "GET", path, "staff", nil)
			r.must(200, "GET", path, "technician", nil)
		}
		if items := mustAs[web.Page[tickets.View]](r, 200, "GET", "/api/v1/tickets", "other", nil).Items; len(items) != 0 {
			t.Errorf("another technician sees %d tickets, want 0", len(items))
		}
		// Another technician cannot file a ticket for a client not theirs.
		res := r.do("POST", "/api/v1/tickets", "other", map[string]any{"client_id": clientID, "title": "x",
			"skill": "website", "on_site": true, "estimated_hours": 1})
		if res.Status != 422 || !strings.Contains(string(res.Body), "client_id") {
			t.Errorf("ticket for someone else's client: %d %s", res.Status, res.Body)
		}
		// Once staff assign the work by moving it, the technician in charge keeps it.
		if n := len(mustAs[web.Page[tickets.View]](r, 200, "GET", "/api/v1/tickets?status=new", "staff", nil).Items); n != 1 {
			t.Errorf("staff see %d new tickets, want 1", n)
		}
	})
}

// TestTicketLifecycle: create, change with the right version, refuse a stale
// version, keep the history, comments public and internal.
func TestTicketLifecycle(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		clientID := r.newClient("technician")
		tk := r.newTicket("technician", clientID)
		tid := tk.ID
		if tk.Status != "new" || tk.Version != 1 || tk.Assignee != nil ||
			tk.OriginRegion != "bourgogne-franche-comte" || tk.APID != "http://bfc.test/tickets/"+tid {
			t.Fatalf("new ticket: %+v", tk)
		}
		up := mustAs[tickets.View](r, 200, "PATCH", "/api/v1/tickets/"+tid, "technician", map[string]any{"version": 1, "status": "in_progress", "priority": "high"})
		if up.Version != 2 || up.Status != "in_progress" {
			t.Fatalf("after update: %+v", up)
		}
		if a := up.Assignee; a == nil || a.Handle != "jean@bfc.test" || a.Region != "bourgogne-franche-comte" {
			t.Errorf("assignee after starting work: %+v", a)
		}
		// A second writer still at version 1 loses, and nothing of it is written.
		before := r.snapshot()
		res := r.do("PATCH", "/api/v1/tickets/"+tid, "staff", map[string]any{"version": 1, "title": "Autre titre"})
		if res.Status != 409 || !strings.Contains(string(res.Body), "version") {
			t.Fatalf("stale update: %d %s", res.Status, res.Body)
		}
		assertSame(t, before, r.snapshot())
		got := mustAs[tickets.View](r, 200, "GET", "/api/v1/tickets/"+tid, "staff", nil)
		if got.Title != "Site web de l'école" || got.Version != 2 {
			t.Errorf("stale update changed the ticket: %+v", got)
		}
		// If-Match works too.
		req := r.do("GET", "/api/v1/tickets/"+tid, "staff", nil)
		if req.Header.Get("ETag") != `"2"` {
			t.Errorf("ETag = %q", req.Header.Get("ETag"))
		}
		// A move the workflow does not allow.
		res = r.do("PATCH", "/api/v1/tickets/"+tid, "technician", map[string]any{"version": 2, "status": "offered"})
		if res.Status != 409 {
			t.Errorf("in_progress → offered by hand: %d %s", res.Status, res.Body)
		}
		r.must(201, "POST", "/api/v1/tickets/"+tid+"/comments", "technician", map[string]any{"body": "Maquette envoyée à l'école."})
		r.must(201, "POST", "/api/v1/tickets/"+tid+"/comments", "staff", map[string]any{"body": "Client à relancer pour le devis.", "internal": true})
		cs := mustAs[web.Page[tickets.Comment]](r, 200, "GET", "/api/v1/tickets/"+tid+"/comments", "technician", nil).Items
		if len(cs) != 2 || !cs[1].Internal || cs[0].AuthorHandle != "jean@bfc.test" {
			t.Errorf("comments: %+v", cs)
		}
		h := mustAs[web.Page[tickets.Change]](r, 200, "GET", "/api/v1/tickets/"+tid+"/history", "technician", nil).Items
		var fields []string
		for _, e := range h {
			fields = append(fields, fmt.Sprint(e.Action, ":", e.Field, ":", e.ActorHandle))
		}
		want := []string{"created::jean@bfc.test", "updated:priority:jean@bfc.test", "updated:status:jean@bfc.test",
			"updated:assignee:jean@bfc.test", "commented::jean@bfc.test", "commented_internally::claire@bfc.test"}
		if strings.Join(sorted(fields[1:4]), ",") != strings.Join(sorted(want[1:4]), ",") || fields[0] != want[0] || len(fields) != len(want) {
			t.Errorf("history = %v, want %v", fields, want)
		}
	})
}

// TestConcurrentUpdates: many writers at the same version, exactly one wins.
func TestConcurrentUpdates(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		tid := r.newTicket("technician", r.newClient("technician")).ID
		const writers = 8
		var wg sync.WaitGroup
		codes := make([]int, writers)
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = r.do("PATCH", "/api/v1/tickets/"+tid, "staff", map[string]any{"version": 1, "title": fmt.Sprintf("Titre %d", i)}).Status
			}()
		}
		wg.Wait()
		ok, conflict := 0, 0
		for _, c := range codes {
			switch c {
			case 200:
				ok++
			case 409:
				conflict++
			default:
				t.Errorf("unexpected status %d", c)
			}
		}
		if ok != 1 || conflict != writers-1 {
			t.Fatalf("%d succeeded and %d conflicted, want 1 and %d", ok, conflict, writers-1)
		}
		if got := mustAs[tickets.View](r, 200, "GET", "/api/v1/tickets/"+tid, "staff", nil); got.Version != 2 {
			t.Errorf("version = %v, want 2", got.Version)
		}
		if n := r.count("ticket_history"); n != 1 {
			t.Errorf("%d history rows, want 1 (one title change; creation is on the ticket)", n)
		}
		h := mustAs[web.Page[tickets.Change]](r, 200, "GET", "/api/v1/tickets/"+tid+"/history", "staff", nil).Items
		if len(h) != 2 || h[0].Action != "created" || h[1].Field != "title" {
			t.Errorf("history = %+v, want created then one title change", h)
		}
	})
}

// TestPagination walks a list with a cursor: every item once, in order.
func TestPagination(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		want := map[string]bool{}
		for i := 0; i < 7; i++ {
			want[r.newClient("technician")] = true
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			path := "/api/v1/clients?limit=3"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			p := mustAs[web.Page[clients.Client]](r, 200, "GET", path, "technician", nil)
			for _, it := range p.Items {
				id := it.ID
				if seen[id] {
					t.Fatalf("client %s on two pages", id)
				}
				seen[id] = true
			}
			next := p.NextCursor
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != len(want) {
			t.Fatalf("saw %d clients, want %d", len(seen), len(want))
		}
		r.must(422, "GET", "/api/v1/clients?cursor=nonsense", "technician", nil)
		r.must(422, "GET", "/api/v1/clients?limit=0", "technician", nil)
		r.must(422, "GET", "/api/v1/clients?limit=abc", "technician", nil)
		r.must(422, "GET", "/api/v1/tickets?status=lost", "technician", nil)
	})
}

// TestLoginAndSession: login gives a token and a safe cookie; the cookie
// authenticates; logout revokes; failed logins are rate-limited.
func TestLoginAndSession(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	r := newRig(t, db)
	res := r.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "Jean@BFC.test ", "password": testPassword})
	if res.Status != 200 {
		t.Fatalf("login: %d %s", res.Status, res.Body)
	}
	body := res.json(t)
	token := body["token"].(string)
	if m := body["member"].(map[string]any); m["email"] != "jean@bfc.test" || m["password_hash"] != nil {
		t.Errorf("member in login response: %v", m)
	}
	cookie := res.Header.Get("Set-Cookie")
	for _, want := range []string{"coopnet_session=" + token, "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %q", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("cookie %q is Secure on plain http", cookie)
	}
	req, _ := http.NewRequest("GET", r.srv.URL+"/api/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("me with cookie: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	// A change made with the cookie must come from this node's pages: not
	// from another host of the same site (another node), nor from a client
	// that does not say (API clients send the bearer token).
	cookiePost := func(origin, fetchSite string) *http.Response {
		req, _ := http.NewRequest("POST", r.srv.URL+"/api/v1/auth/logout", nil)
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if fetchSite != "" {
			req.Header.Set("Sec-Fetch-Site", fetchSite)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, h := range [][2]string{{"https://evil.coopnet.example", "same-site"}, {"", ""}, {"null", ""}} {
		if resp := cookiePost(h[0], h[1]); resp.StatusCode != 403 {
			t.Errorf("logout with the cookie from Origin %q, Sec-Fetch-Site %q: %d, want 403", h[0], h[1], resp.StatusCode)
		}
	}
	req, _ = http.NewRequest("GET", r.srv.URL+"/api/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the session was ended by a refused request: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	// From this node's pages, it ends the session and drops the cookie.
	resp = cookiePost("http://bfc.test", "")
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout from this node's page: %d, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	res = r.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "jean@bfc.test", "password": testPassword})
	token = res.json(t)["token"].(string)
	// The token is stored hashed, never as given.
	var n int64
	db.Table("api_tokens").Where("token_hash = ?", token).Count(&n)
	if n != 0 {
		t.Error("a token is stored in clear")
	}
	r.tokens["session"] = token
	r.must(204, "POST", "/api/v1/auth/logout", "session", nil)
	r.must(401, "GET", "/api/v1/me", "session", nil)
	// Failed logins: TestLoginThrottle.
}

func assertSame(t *testing.T, before, after map[string]int64) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("table %s: %d rows before, %d after: a refused request wrote something", k, v, after[k])
		}
	}
}
