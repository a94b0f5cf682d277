package webui_test

import (
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

// TestTicketSearchFiltersSort: the tickets list searches without regard to
// case and accents (in the title, the description and the client's name),
// filters, and walks every order page by page with its cursor: each ticket
// once, in the order the order's rule gives, on both databases.
func TestTicketSearchFiltersSort(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		rnd := rand.New(rand.NewSource(17))
		school := r.newClient("technician")
		hall := mustAs[clients.Client](r, 201, "POST", "/api/v1/clients", "technician", map[string]any{
			"name": "Mairie de Pont-de-Roide", "kind": "town_hall", "postcode": "25150", "commune": "Pont-de-Roide-Vermondans"}).ID
		titles := []string{"Imprimante en panne", "Réseau Wi-Fi lent", "Écran noir au démarrage", "Sauvegarde des élèves", "Mise à jour"}
		var all []tickets.View
		for i := 0; i < 23; i++ {
			client := school
			if i%3 == 0 {
				client = hall
			}
			skill := []string{"website", "workstation"}[rnd.Intn(2)]
			v := mustAs[tickets.View](r, 201, "POST", "/api/v1/tickets", "technician", map[string]any{
				"client_id": client, "title": fmt.Sprintf("%s n°%d", titles[i%len(titles)], i), "description": "demande " + strings.Repeat("x", i),
				"skill": skill, "priority": tickets.Priorities[rnd.Intn(len(tickets.Priorities))], "on_site": i%2 == 0, "estimated_hours": 1})
			all = append(all, v)
		}
		// Change some, so that the last change is not the creation order.
		for _, i := range []int{3, 0, 17, 8} {
			all[i] = mustAs[tickets.View](r, 200, "PATCH", "/api/v1/tickets/"+all[i].ID, "technician",
				map[string]any{"version": all[i].Version, "title": all[i].Title + " (relancé)"})
		}
		list := func(query string) []tickets.View {
			t.Helper()
			var out []tickets.View
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("the list does not end")
				}
				p := mustAs[web.Page[tickets.View]](r, 200, "GET", "/api/v1/tickets?limit=4&"+query+"&cursor="+cursor, "technician", nil)
				out = append(out, p.Items...)
				if p.NextCursor == "" {
					return out
				}
				cursor = p.NextCursor
			}
		}
		ids := func(vs []tickets.View) []string {
			out := make([]string, len(vs))
			for i, v := range vs {
				out[i] = v.ID
			}
			return out
		}
		rankOf := func(p string) int { return slices.Index(tickets.Priorities, p) }
		orders := map[string]func(a, b tickets.View) int{
			"newest": func(a, b tickets.View) int { return strings.Compare(b.ID, a.ID) },
			"oldest": func(a, b tickets.View) int { return strings.Compare(a.ID, b.ID) },
			"updated": func(a, b tickets.View) int {
				if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
					return c
				}
				return strings.Compare(b.ID, a.ID)
			},
			"priority": func(a, b tickets.View) int {
				if c := rankOf(b.Priority) - rankOf(a.Priority); c != 0 {
					return c
				}
				return strings.Compare(b.ID, a.ID)
			},
		}
		for name, cmp := range orders {
			want := slices.Clone(all)
			slices.SortFunc(want, cmp)
			if got := ids(list("sort=" + name)); !slices.Equal(got, ids(want)) {
				t.Errorf("sort=%s: got\n%v\nwant\n%v", name, got, ids(want))
			}
		}
		match := func(keep func(tickets.View) bool) []string {
			var out []string
			for i := len(all) - 1; i >= 0; i-- { // newest first
				if keep(all[i]) {
					out = append(out, all[i].ID)
				}
			}
			slices.SortFunc(out, func(a, b string) int { return strings.Compare(b, a) })
			return out
		}
		for _, c := range []struct {
			query string
			keep  func(tickets.View) bool
		}{
			{"q=" + url.QueryEscape("ECRAN"), func(v tickets.View) bool { return strings.HasPrefix(v.Title, "Écran") }},
			{"q=" + url.QueryEscape("reseau wi-fi"), func(v tickets.View) bool { return strings.HasPrefix(v.Title, "Réseau") }},
			{"q=relance", func(v tickets.View) bool { return strings.Contains(v.Title, "relancé") }},
			{"q=" + url.QueryEscape("pont de"), func(tickets.View) bool { return false }}, // "Pont-de-Roide": the hyphen counts
			{"q=" + url.QueryEscape("pont-de-roide"), func(v tickets.View) bool { return v.ClientID == hall }},
			{"q=xxxxxxxxxxxxxxxxxxxx", func(v tickets.View) bool { return strings.Count(v.Description, "x") >= 20 }},
			{"q=100%25", func(tickets.View) bool { return false }}, // a % is a character, not a wildcard
			{"priority=urgent", func(v tickets.View) bool { return v.Priority == "urgent" }},
			{"skill=WEBSITE", func(v tickets.View) bool { return v.Skill == "website" }},
			{"client_id=" + hall + "&skill=workstation", func(v tickets.View) bool { return v.ClientID == hall && v.Skill == "workstation" }},
			{"assignee=none", func(tickets.View) bool { return true }},
			{"assignee=me", func(tickets.View) bool { return false }},
			{"region=bourgogne-franche-comte", func(tickets.View) bool { return true }},
			{"region=bretagne", func(tickets.View) bool { return false }},
			{"status=new&priority=low", func(v tickets.View) bool { return v.Priority == "low" }},
		} {
			want := match(c.keep)
			if got := ids(list(c.query)); !slices.Equal(got, want) {
				t.Errorf("%s: got %d tickets %v, want %d %v", c.query, len(got), got, len(want), want)
			}
		}
		// Another technician sees none of them, whatever the search.
		if p := mustAs[web.Page[tickets.View]](r, 200, "GET", "/api/v1/tickets?q=ecran", "other", nil); len(p.Items) != 0 {
			t.Errorf("another technician's search found %d tickets", len(p.Items))
		}
		// Bad filters are refused, each named.
		for query, field := range map[string]string{
			"sort=title": "sort", "priority=asap": "priority", "skill=plumbing": "skill", "region=atlantis": "region",
			"client_id=42": "client_id", "assignee=marie": "assignee", "q=" + strings.Repeat("a", 101): "q",
			"status=lost": "status", "foo=bar": "foo",
		} {
			res := r.do("GET", "/api/v1/tickets?"+query, "technician", nil)
			if res.Status != 422 || !strings.Contains(string(res.Body), `"`+field+`"`) {
				t.Errorf("%s: %d %s, want 422 naming %s", query, res.Status, res.Body, field)
			}
		}
		// A cursor belongs to its order.
		p := mustAs[web.Page[tickets.View]](r, 200, "GET", "/api/v1/tickets?limit=2&sort=priority", "technician", nil)
		if res := r.do("GET", "/api/v1/tickets?sort=updated&cursor="+p.NextCursor, "technician", nil); res.Status != 422 {
			t.Errorf("a priority cursor on the updated order: %d %s", res.Status, res.Body)
		}
		if res := r.do("GET", "/api/v1/tickets?sort=newest&cursor="+p.NextCursor, "technician", nil); res.Status != 422 {
			t.Errorf("a priority cursor on the newest order: %d %s", res.Status, res.Body)
		}
	})
}

// TestTicketListPage: the tickets page searches and filters through a
// form that works without JavaScript, goes from page to page, and sends a
// bad filter back with its field marked, in the page's language.
func TestTicketListPage(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	school := r.newClient("technician")
	for i := 0; i < 55; i++ {
		title := fmt.Sprintf("Poste n°%02d", i)
		if i == 7 {
			title = "Écran noir en salle des maîtres"
		}
		mustAs[tickets.View](r, 201, "POST", "/api/v1/tickets", "technician", map[string]any{"client_id": school, "title": title,
			"skill": "workstation", "priority": map[bool]string{true: "urgent", false: "normal"}[i == 7], "on_site": true, "estimated_hours": 1})
	}
	b := newBrowser(t, r.srv.URL)
	_, page, _ := b.get("/app/login")
	if code, _, _ := b.post("/app/login", url.Values{"_csrf": {csrfOf(t, page)}, "email": {"jean@bfc.test"}, "password": {testPassword}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	code, page, _ := b.get("/app/tickets?q=ECRAN+noir")
	if code != 200 || strings.Count(page, `class="card"`) != 1 || !strings.Contains(page, "Écran noir en salle des maîtres") ||
		!strings.Contains(page, `value="ECRAN noir"`) || !strings.Contains(page, `id="f-reset"`) {
		t.Fatalf("search: %d\n%s", code, page)
	}
	_, page, _ = b.get("/app/tickets?priority=urgent&skill=workstation")
	if strings.Count(page, `class="card"`) != 1 || !strings.Contains(page, `<option value="urgent" selected>`) {
		t.Errorf("filters: the page shows %d tickets", strings.Count(page, `class="card"`))
	}
	// 55 tickets: a first page of 50, a link to the rest.
	_, page, _ = b.get("/app/tickets?sort=oldest")
	next := regexp.MustCompile(`id="page-next" rel="next"|href="([^"]+)" id="page-next"`).FindStringSubmatch(page)
	if strings.Count(page, `class="card"`) != 50 || next == nil || next[1] == "" {
		t.Fatalf("first page: %d tickets, next %v", strings.Count(page, `class="card"`), next)
	}
	_, page2, _ := b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if strings.Count(page2, `class="card"`) != 5 || strings.Contains(page2, `id="page-next"`) || !strings.Contains(page2, `id="page-first"`) ||
		!strings.Contains(page2, "Poste n°54") || strings.Contains(page2, "Poste n°00") {
		t.Errorf("second page:\n%s", page2)
	}
	// A bad filter: 422, the field marked and described, in French then in English.
	code, page, _ = b.get("/app/tickets?priority=asap")
	if code != 422 || !strings.Contains(page, `id="f-priority" name="priority" aria-invalid="true" aria-describedby="f-priority-error"`) ||
		!strings.Contains(page, `<p class="field-error" id="f-priority-error">`) || strings.Contains(page, `class="card"`) {
		t.Errorf("a bad filter: %d\n%s", code, page)
	}
	b.get("/app/lang/en")
	code, page, _ = b.get("/app/tickets?cursor=bm9wZQ")
	if code != 422 || !strings.Contains(page, "This page link is no longer valid.") {
		t.Errorf("a bad cursor: %d\n%s", code, page)
	}
	_, page, _ = b.get("/app/tickets?q=zzz")
	if !strings.Contains(page, "No request matches these criteria.") {
		t.Errorf("no match:\n%s", page)
	}
	// The client's page lists their tickets and links to all of them.
	_, page, _ = b.get("/app/clients/" + school)
	if strings.Count(page, `<li><a href="/app/tickets/0`) != 20 || !strings.Contains(page, `href="/app/tickets?client_id=`+school+`" id="client-all-tickets">All their requests`) {
		t.Errorf("client page:\n%s", page)
	}
	_, page, _ = b.get("/app/tickets?client_id=" + school)
	if !strings.Contains(page, "Requests of the client <strong>École primaire des Tilleuls</strong>") {
		t.Errorf("client filter:\n%s", page)
	}
	// Clients: searched the same way.
	_, page, _ = b.get("/app/clients?q=ecole+primaire")
	if !strings.Contains(page, "École primaire des Tilleuls") {
		t.Errorf("clients search:\n%s", page)
	}
	_, page, _ = b.get("/app/clients?q=mairie")
	if !strings.Contains(page, "No client matches this search.") {
		t.Errorf("clients search, no match:\n%s", page)
	}
}
