package webui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	coop "github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui"
	"github.com/coopnet/coopnet/webui/pages"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

const testPassword = "correct horse battery"

// rig is one node under test: a real database, the real services and the
// real HTTP server on 127.0.0.1, with one member per role.
type rig struct {
	t       *testing.T
	db      *storage.DB
	srv     *httptest.Server
	server  *webui.Server
	members *members.Service
	tokens  map[string]string // role (and "other" technician) → token
	ids     map[string]string // same keys → member id
	logs    *bytes.Buffer
	opt     webui.Options
}

type rigOption func(*webui.Options)

func newRig(t *testing.T, db *storage.DB, opts ...rigOption) *rig {
	t.Helper()
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil))
	catalog := skills.NewCatalog(db)
	ms := members.New(db, catalog, members.Config{Region: "bourgogne-franche-comte", Host: "bfc.test", BcryptCost: bcrypt.MinCost}, log)
	cs := clients.New(db, ms)
	ts := tickets.New(db, catalog, cs, ledger.New(db, "bourgogne-franche-comte"), tickets.Config{Region: "bourgogne-franche-comte", PublicURL: "http://bfc.test",
		Files: files.Dir{Root: t.TempDir()}, MaxFileBytes: 2 << 20}, log)
	ns := notify.New(db, ms, ts, nil, notify.Config{PublicURL: "http://bfc.test", Host: "bfc.test", Region: "bourgogne-franche-comte",
		Texts: pages.Texts}, log)
	ns.Listen()
	o := webui.Options{Region: "bourgogne-franche-comte", PublicURL: "http://bfc.test", Members: ms, Clients: cs, Notify: ns,
		Tickets: ts, Skills: catalog, Directory: directory.New(db, ms, "bourgogne-franche-comte", "bfc.test"), Logger: log, Ready: []webui.Check{{Name: "database", Func: db.Ping}}}
	for _, f := range opts {
		f(&o)
	}
	server := webui.New(o)
	srv := httptest.NewServer(server.Handler())
	t.Cleanup(srv.Close)
	r := &rig{t: t, db: db, srv: srv, server: server, members: ms, tokens: map[string]string{}, ids: map[string]string{}, logs: logs, opt: o}
	ctx := context.Background()
	for _, p := range []struct{ key, role, email string }{
		{"technician", "technician", "jean@bfc.test"},
		{"other", "technician", "luc@bfc.test"},
		{"staff", "staff", "claire@bfc.test"},
		{"admin", "admin", "admin@bfc.test"},
	} {
		m, err := ms.Create(ctx, nil, members.CreateInput{Email: p.email, Name: strings.Split(p.email, "@")[0], Role: p.role,
			Password: testPassword, Postcode: "25150", Skills: []members.SkillLevel{{Name: "workstation", Level: 3}}})
		if err != nil {
			t.Fatalf("create %s: %v", p.key, err)
		}
		tok, err := ms.IssueToken(ctx, m.ID, members.APIToken)
		if err != nil {
			t.Fatal(err)
		}
		r.tokens[p.key], r.ids[p.key] = tok, m.ID
	}
	return r
}

// replica starts another server of the same node (the same database and
// services, a process state of its own), as a second replica behind a
// load balancer or the node after a restart.
func (r *rig) replica() *httptest.Server {
	srv := httptest.NewServer(webui.New(r.opt).Handler())
	r.t.Cleanup(srv.Close)
	return srv
}

// lockedWriter lets concurrent handlers log into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// do sends a request as the member with the given key ("" for anonymous).
// body may be a string (sent as is) or any value (sent as JSON).
func (r *rig) do(method, path, who string, body any) response {
	r.t.Helper()
	return r.doCT(method, path, who, body, "")
}

// doCT is do with an explicit Content-Type ("" means application/json).
func (r *rig) doCT(method, path, who string, body any, contentType string) response {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+r.tokens[who])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: out}
}

// must sends a request and fails the test unless the status is want.
func (r *rig) must(want int, method, path, who string, body any) map[string]any {
	r.t.Helper()
	res := r.do(method, path, who, body)
	if res.Status != want {
		r.t.Fatalf("%s %s as %q: status %d, want %d: %s", method, path, who, res.Status, want, res.Body)
	}
	if len(res.Body) == 0 {
		return nil
	}
	return res.json(r.t)
}

// count returns the number of rows of a table.
func (r *rig) count(table string) int64 {
	r.t.Helper()
	var n int64
	if err := r.db.Table(table).Count(&n).Error; err != nil {
		r.t.Fatal(err)
	}
	return n
}

// snapshot counts the rows of every table a bad request could touch.
func (r *rig) snapshot() map[string]int64 {
	out := map[string]int64{}
	for _, t := range []string{"members", "member_skills", "api_tokens", "clients", "sites", "assets", "tickets", "ticket_comments", "ticket_history"} {
		out[t] = r.count(t)
	}
	// Not only how many rows, but what the mutable ones say: every ticket's
	// and client's version.
	var versions []struct{ Version int64 }
	r.db.Raw("SELECT version FROM tickets UNION ALL SELECT version FROM clients").Scan(&versions)
	for _, v := range versions {
		out["sum of versions"] += v.Version
	}
	return out
}

// mustAs sends a request, fails the test unless the status is want, and
// decodes the answer strictly into the API's own type T.
func mustAs[T any](r *rig, want int, method, path, who string, body any) T {
	r.t.Helper()
	res := r.do(method, path, who, body)
	if res.Status != want {
		r.t.Fatalf("%s %s as %q: status %d, want %d: %s", method, path, who, res.Status, want, res.Body)
	}
	return coop.Decode[T](r.t, method+" "+path, res.Body)
}

func (r *rig) newClient(who string) string {
	r.t.Helper()
	return mustAs[clients.Client](r, 201, "POST", "/api/v1/clients", who, map[string]any{
		"name": "École primaire des Tilleuls", "kind": "school", "postcode": "25150", "commune": "Bourguignon",
		"contact_name": "Mme Martin", "contact_email": "ecole@example.org"}).ID
}

func (r *rig) newTicket(who, clientID string) tickets.View {
	r.t.Helper()
	return mustAs[tickets.View](r, 201, "POST", "/api/v1/tickets", who, map[string]any{
		"client_id": clientID, "title": "Site web de l'école", "description": "actualités et menus",
		"skill": "website", "priority": "normal", "on_site": false, "estimated_hours": 16})
}

// doHeader sends a request without a member's token, with the headers given.
func (r *rig) doHeader(method, path string, headers map[string]string) response {
	r.t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: out}
}
