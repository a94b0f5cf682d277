package webui_test

import (
	"fmt"

	"net/http"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/webui"
	"github.com/coopnet/coopnet/webui/web"
)

// TestOthersWritesAreNotFound: another technician can neither change nor
// comment on a ticket, nor add to a client, that is not theirs; nothing is
// written.
func TestOthersWritesAreNotFound(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		clientID := r.newClient("technician")
		tid := r.newTicket("technician", clientID).ID
		before := r.snapshot()
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"PATCH", "/api/v1/tickets/" + tid, map[string]any{"version": 1, "title": "pris"}},
			{"POST", "/api/v1/tickets/" + tid + "/comments", map[string]any{"body": "coucou"}},
			{"POST", "/api/v1/clients/" + clientID + "/sites", map[string]any{"name": "Annexe", "postcode": "25150"}},
			{"POST", "/api/v1/clients/" + clientID + "/assets", map[string]any{"kind": "printer"}},
			{"GET", "/api/v1/tickets/" + tid + "/history", nil},
		} {
			if res := r.do(tc.method, tc.path, "other", tc.body); res.Status != 404 {
				t.Errorf("%s %s by another technician: %d %s", tc.method, tc.path, res.Status, res.Body)
			}
		}
		assertSame(t, before, r.snapshot())
		if items := mustAs[web.Page[clients.Client]](r, 200, "GET", "/api/v1/clients", "other", nil).Items; len(items) != 0 {
			t.Errorf("another technician lists %d clients", len(items))
		}
	})
}

// TestSearchIgnoresAccents: "ecole" finds "École" on both databases.
func TestSearchIgnoresAccents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		r.newClient("technician") // École primaire des Tilleuls, Bourguignon
		r.must(201, "POST", "/api/v1/clients", "technician", map[string]any{"name": "Mairie", "kind": "town_hall", "postcode": "25150", "commune": "Écot"})
		for q, want := range map[string]int{"ecole": 1, "ÉCOLE": 1, "tilleuls": 1, "ecot": 1, "bourguignon": 1, "mairie": 1, "100%": 0, "_": 0} {
			items := mustAs[web.Page[clients.Client]](r, 200, "GET", "/api/v1/clients?q="+urlQuery(q), "technician", nil).Items
			if len(items) != want {
				t.Errorf("q=%q: %d clients, want %d", q, len(items), want)
			}
		}
		r.must(422, "GET", "/api/v1/clients?q=%00", "technician", nil)
	})
}

// TestNULBytes: text PostgreSQL cannot store is refused as bad input, not
// a server error.
func TestNULBytes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		before := r.snapshot()
		for _, tc := range []struct {
			path, body string
			status     int
		}{
			{"/api/v1/tickets", `{"client_id":"a\u0000b","title":"x","skill":"website","on_site":true,"estimated_hours":1}`, 422},
			{"/api/v1/clients", `{"name":"a\u0000b","kind":"school","postcode":"25150"}`, 422},
			{"/api/v1/auth/login", `{"email":"a\u0000@b.fr","password":"12345678"}`, 401},
		} {
			who := "technician"
			if strings.HasSuffix(tc.path, "login") {
				who = ""
			}
			if res := r.do("POST", tc.path, who, tc.body); res.Status != tc.status {
				t.Errorf("%s: %d %s", tc.path, res.Status, res.Body)
			}
		}
		assertSame(t, before, r.snapshot())
	})
}

// TestMemberViews: members see each other's public profile; staff and the
// member themself see everything.
func TestMemberViews(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	other := r.must(200, "GET", "/api/v1/members/"+r.ids["other"], "technician", nil)
	if _, ok := other["email"]; ok {
		t.Errorf("a technician sees another's e-mail: %v", other)
	}
	if _, ok := other["lat"]; ok {
		t.Errorf("a technician sees another's position: %v", other)
	}
	if other["full_handle"] != "luc@bfc.test" || other["skills"] == nil {
		t.Errorf("public profile: %v", other)
	}
	if self := r.must(200, "GET", "/api/v1/members/"+r.ids["technician"], "technician", nil); self["email"] != "jean@bfc.test" {
		t.Errorf("own profile: %v", self)
	}
	if staff := r.must(200, "GET", "/api/v1/members/"+r.ids["other"], "staff", nil); staff["email"] != "luc@bfc.test" {
		t.Errorf("staff view: %v", staff)
	}
	for _, it := range r.must(200, "GET", "/api/v1/members", "technician", nil)["items"].([]any) {
		m := it.(map[string]any)
		if _, ok := m["email"]; ok && m["id"] != r.ids["technician"] {
			t.Errorf("member list shows %v's e-mail to a technician", m["full_handle"])
		}
	}
}

// TestForwardedForIsNotTrusted: a client cannot dodge the login limit by
// inventing X-Forwarded-For, unless it comes through a trusted proxy.
func TestForwardedForIsNotTrusted(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	statuses := map[int]int{}
	for i := range members.AddressFreeFailures + 2 {
		req, _ := http.NewRequest("POST", r.srv.URL+"/api/v1/auth/login",
			strings.NewReader(fmt.Sprintf(`{"email":"nobody%d@bfc.test","password":"wrong password"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113."+string(rune('1'+i%9)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[429] == 0 {
		t.Errorf("forged X-Forwarded-For escaped the limit: %v", statuses)
	}
}

// TestSecureCookieBehindHTTPS: a node whose public URL is https sets Secure.
func TestSecureCookieBehindHTTPS(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"), func(o *webui.Options) { o.PublicURL = "https://bfc.test" })
	res := r.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "jean@bfc.test", "password": testPassword})
	if res.Status != 200 || !strings.Contains(res.Header.Get("Set-Cookie"), "Secure") {
		t.Errorf("login over https: %d, cookie %q", res.Status, res.Header.Get("Set-Cookie"))
	}
}
