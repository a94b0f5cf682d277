package webui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

// browser is a client with cookies, as a person's browser.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

var csrfRe = regexp.MustCompile(`name="_csrf" value="([0-9a-f]{32})"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page")
	}
	return m[1]
}

// TestPagesWithoutJavaScript goes through the technician's core journey
// with plain HTTP forms, as a browser without JavaScript would: login
// (refused without the CSRF token, refused with a wrong password), a
// client, a request, a comment, the language switch, logout.
func TestPagesWithoutJavaScript(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	b := newBrowser(t, r.srv.URL)
	if code, _, h := b.get("/app/tickets"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/app/login") {
		t.Fatalf("anonymous: %d %v", code, h)
	}
	code, page, h := b.get("/app/login")
	if code != 200 || !strings.Contains(page, "Connexion") || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("login page: %d %v", code, h)
	}
	tok := csrfOf(t, page)
	if code, page, _ := b.post("/app/login", url.Values{"email": {"jean@bfc.test"}, "password": {testPassword}}); code != http.StatusForbidden ||
		!strings.Contains(page, "Le formulaire a expiré") || strings.Contains(page, "goroutine") || strings.Contains(page, "%!") {
		t.Fatalf("login without CSRF token: %d %s", code, page)
	}
	if code, page, _ := b.post("/app/login", url.Values{"_csrf": {tok}, "email": {"jean@bfc.test"}, "password": {"faux"}}); code != http.StatusUnauthorized ||
		!strings.Contains(page, "E-mail ou mot de passe incorrect") {
		t.Fatalf("wrong password: %d", code)
	}
	if code, _, h := b.post("/app/login", url.Values{"_csrf": {tok}, "email": {"jean@bfc.test"}, "password": {testPassword},
		"next": {"/app/clients"}}); code != http.StatusSeeOther || h.Get("Location") != "/app/clients" {
		t.Fatalf("login: %d %v", code, h)
	}
	_, page, _ = b.get("/app/clients")
	// A form with mistakes: each field says what is wrong, in French.
	code, bad, _ := b.post("/app/clients", url.Values{"_csrf": {csrfOf(t, page)}, "name": {""}, "kind": {"school"},
		"postcode": {"99999"}, "contact_email": {"ecole@"}})
	for _, want := range []string{"Obligatoire.", "Code postal français inconnu", "Une adresse e-mail, par exemple"} {
		if code != http.StatusUnprocessableEntity || !strings.Contains(bad, want) || strings.Contains(bad, "must be") {
			t.Errorf("a client form with mistakes: %d, want %q in French:\n%s", code, want, bad)
		}
	}
	code, _, h = b.post("/app/clients", url.Values{"_csrf": {csrfOf(t, page)}, "name": {"École des Tilleuls"}, "kind": {"school"},
		"postcode": {"25150"}, "contact_email": {"ecole@example.org"}})
	if code != http.StatusSeeOther {
		t.Fatalf("new client: %d", code)
	}
	clientURL := h.Get("Location")
	// Edit it; the same stale form a second time is refused.
	_, page, _ = b.get(clientURL)
	edit := url.Values{"_csrf": {csrfOf(t, page)}, "version": {"1"}, "name": {"École des Tilleuls"}, "kind": {"school"},
		"postcode": {"25150"}, "contact_name": {"Mme Martin"}, "contact_email": {"ecole@example.org"}}
	if code, _, _ := b.post(clientURL, edit); code != http.StatusSeeOther {
		t.Fatalf("edit client: %d", code)
	}
	if _, page, _ = b.get(clientURL); !strings.Contains(page, "Client enregistré") || !strings.Contains(page, "Mme Martin") {
		t.Fatal("the edited client is not shown")
	}
	if code, page, _ := b.post(clientURL, edit); code != http.StatusConflict || !strings.Contains(page, "rechargez la page") {
		t.Fatalf("a stale edit: %d", code)
	}
	_, page, _ = b.get("/app/tickets/new")
	if !strings.Contains(page, "École des Tilleuls") {
		t.Fatal("the new request form does not offer the client")
	}
	clientID := strings.TrimPrefix(clientURL, "/app/clients/")
	// A bad request comes back with its errors and what was typed.
	code, page, _ = b.post("/app/tickets", url.Values{"_csrf": {csrfOf(t, page)}, "client_id": {clientID}, "title": {""},
		"skill": {""}, "priority": {"normal"}, "estimated_hours": {"16"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, "field-error") {
		t.Fatalf("invalid request: %d", code)
	}
	if strings.Count(page, "Obligatoire.") < 2 || strings.Contains(page, "Valeur non valide") {
		t.Errorf("the missing title and skill are not each said to be required, in French:\n%s", page)
	}
	code, _, h = b.post("/app/tickets", url.Values{"_csrf": {csrfOf(t, page)}, "client_id": {clientID}, "title": {"Site web de l'école"},
		"skill": {"website"}, "priority": {"normal"}, "estimated_hours": {"16,5"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/app/tickets/") {
		t.Fatalf("new request: %d", code)
	}
	ticketURL := h.Get("Location")
	_, page, _ = b.get(ticketURL)
	if !strings.Contains(page, "Site web de l&#39;école") || !strings.Contains(page, "16 h 30") || !strings.Contains(page, "nouvelle") {
		t.Fatalf("ticket page:\n%s", page)
	}
	// An empty comment: the page again, saying so in French, nothing written.
	if code, bad, _ := b.post(ticketURL+"/comments", url.Values{"_csrf": {csrfOf(t, page)}, "body": {"  "}}); code != http.StatusUnprocessableEntity ||
		!strings.Contains(bad, "Obligatoire.") || !strings.Contains(bad, "Site web de l&#39;école") || r.count("ticket_comments") != 0 {
		t.Errorf("an empty comment: %d\n%s", code, bad)
	}
	if code, _, _ := b.post(ticketURL+"/comments", url.Values{"_csrf": {csrfOf(t, page)}, "body": {"Rendez-vous mardi"}}); code != http.StatusSeeOther {
		t.Fatalf("comment: %d", code)
	}
	if _, page, _ = b.get(ticketURL); !strings.Contains(page, "Rendez-vous mardi") {
		t.Fatal("the comment is not shown")
	}
	// A form posted without its token changes nothing.
	before := r.count("ticket_comments")
	if code, _, _ := b.post(ticketURL+"/comments", url.Values{"body": {"forgé"}}); code != http.StatusForbidden {
		t.Fatalf("comment without CSRF token: %d", code)
	}
	if r.count("ticket_comments") != before {
		t.Fatal("a form without its CSRF token wrote")
	}
	// English.
	if code, _, h := b.get("/app/lang/en?next=" + url.QueryEscape(ticketURL)); code != http.StatusSeeOther || h.Get("Location") != ticketURL {
		t.Fatalf("language switch: %d %v", code, h)
	}
	if _, page, _ = b.get(ticketURL); !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, "My requests") {
		t.Fatal("the page is not in English")
	}
	// Another technician does not see it; staff see the dashboard.
	if code, page, _ := b.get("/app/staff"); code != http.StatusForbidden || !strings.Contains(page, "Your role") {
		t.Fatalf("a technician on the dashboard: %d", code)
	}
	_, page, _ = b.get("/app/tickets")
	if code, _, h := b.post("/app/logout", url.Values{"_csrf": {csrfOf(t, page)}}); code != http.StatusSeeOther || h.Get("Location") != "/app/login" {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := b.get("/app/tickets"); code != http.StatusSeeOther {
		t.Fatalf("after logout: %d", code)
	}
}

// TestCancelAsksFirst: cancelling a request is a second step, without
// JavaScript: the form that chooses « annulée » gets a page that asks, in
// the page's language, and changes nothing; only the confirmed form of
// that page cancels it.
func TestCancelAsksFirst(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	tk := r.newTicket("technician", r.newClient("technician"))
	b := newBrowser(t, r.srv.URL)
	_, page, _ := b.get("/app/login")
	if code, _, _ := b.post("/app/login", url.Values{"_csrf": {csrfOf(t, page)}, "email": {"jean@bfc.test"}, "password": {testPassword}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	ticketURL := "/app/tickets/" + tk.ID
	_, page, _ = b.get(ticketURL)
	if !strings.Contains(page, `<option value="" selected disabled>— choisir —</option>`) {
		t.Errorf("the status select preselects a move:\n%s", page)
	}
	form := url.Values{"_csrf": {csrfOf(t, page)}, "version": {"1"}, "status": {"cancelled"}}
	code, ask, _ := b.post(ticketURL+"/status", form)
	if code != http.StatusOK || !strings.Contains(ask, `id="confirm-heading"`) || !strings.Contains(ask, "Annuler la demande « Site web de l&#39;école » ?") ||
		!strings.Contains(ask, `name="status" value="cancelled"`) || !strings.Contains(ask, `name="version" value="1"`) {
		t.Fatalf("cancelling without confirming: %d\n%s", code, ask)
	}
	if got := mustAs[tickets.View](r, 200, "GET", "/api/v1/tickets/"+tk.ID, "technician", nil); got.Status != "new" || got.Version != 1 {
		t.Fatalf("the first step changed the ticket: %+v", got)
	}
	form.Set("_csrf", csrfOf(t, ask))
	form.Set("confirm", "on")
	if code, _, h := b.post(ticketURL+"/status", form); code != http.StatusSeeOther || h.Get("Location") != ticketURL {
		t.Fatalf("the confirmed cancellation: %d %v", code, h)
	}
	if got := mustAs[tickets.View](r, 200, "GET", "/api/v1/tickets/"+tk.ID, "technician", nil); got.Status != "cancelled" {
		t.Fatalf("after confirming: %+v", got)
	}
}

// TestSkillsByLabel: pages name skills by their label in the page's
// language, not by their slug.
func TestSkillsByLabel(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	b := newBrowser(t, r.srv.URL)
	_, page, _ := b.get("/app/login")
	if code, _, _ := b.post("/app/login", url.Values{"_csrf": {csrfOf(t, page)}, "email": {"claire@bfc.test"}, "password": {testPassword}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	for _, lang := range []struct{ code, want, label string }{{"fr", "Postes de travail 3/5", "Postes de travail"}, {"en", "Workstations 3/5", "Workstations"}} {
		b.get("/app/lang/" + lang.code)
		_, page, _ := b.get("/app/staff/members")
		if !strings.Contains(page, lang.want) || strings.Contains(page, "workstation 3/5") {
			t.Errorf("%s: the members page does not name the skill %q:\n%s", lang.code, lang.want, page)
		}
		_, page, _ = b.get("/app/directory")
		if !strings.Contains(page, ">"+lang.label+" 3<") || strings.Contains(page, ">workstation 3<") {
			t.Errorf("%s: the directory does not name the skill %q", lang.code, lang.label)
		}
	}
}
