package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/api"
)

// freePortRun finds n consecutive free ports on 127.0.0.1.
func freePortRun(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := first.Addr().(*net.TCPAddr).Port
		first.Close()
		ok := base+n < 65535
		for i := 1; i < n && ok; i++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports")
	return 0
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDemo runs "coopnet demo" in the test process until the test ends.
func startDemo(t *testing.T, dataDir string, port int) (*syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	codec := make(chan int, 1)
	go func() {
		codec <- run(ctx, []string{"demo", "--data-dir", dataDir, "--port", strconv.Itoa(port)}, nil, stdout, stderr, envOf(nil))
	}()
	// A wait, not a speed check: under -race on a busy 2-core machine the
	// three nodes (migrations, seeding, password hashing) once took over 30 s.
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(stdout.String(), "Every sample password") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("demo did not start:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop := func() int {
		cancel()
		select {
		case code := <-codec:
			if code != 0 {
				t.Logf("demo exited %d; its output:\n%s\n%s", code, stdout.String(), stderr.String())
			}
			return code
		case <-time.After(15 * time.Second):
			t.Fatal("demo did not stop")
			return -1
		}
	}
	return stdout, stop
}

// TestDemo is the quick start as a new user tries it: start the demo, log in
// as Jean, see his tickets, create a client and a ticket, list them; stop
// and start again on the same data: nothing is seeded twice.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	port := freePortRun(t, len(demoCoop))
	out, stop := startDemo(t, dir, port)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for _, want := range []string{base, "jean@bfc.coopnet.example", "marie@bzh.coopnet.example", "bretagne", DemoPassword} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	login := func(node, email string) string {
		return rig.Typed[api.LoginResponse](t, "POST", node+"/api/v1/auth/login", "", map[string]any{"email": email, "password": DemoPassword}, 200).Token
	}
	list := func(node, path, token string) []tickets.View {
		return rig.Typed[rig.Page[tickets.View]](t, "GET", node+path, token, nil, 200).Items
	}
	token := login(base, "jean@bfc.coopnet.example")
	mine := list(base, "/api/v1/tickets", token)
	if len(mine) != 4 {
		t.Fatalf("Jean has %d tickets, want 4", len(mine))
	}
	// The printer's request carries its photo; a search finds the school's
	// requests without the accent.
	for _, tk := range mine {
		if !strings.HasPrefix(tk.Title, "Imprimante") {
			continue
		}
		atts := rig.Typed[struct {
			Items []tickets.Attachment `json:"items"`
		}](t, "GET", base+"/api/v1/tickets/"+tk.ID+"/attachments", token, nil, 200).Items
		if len(atts) != 1 || atts[0].Name != "bourrage-cm2.png" || atts[0].FetchState != tickets.FileStored || atts[0].ContentType != "image/png" {
			t.Errorf("the printer's attachments: %+v", atts)
		}
	}
	if found := list(base, "/api/v1/tickets?q=ecole", token); len(found) != 2 {
		t.Errorf("searching « ecole » finds %d of Jean's requests, want the school's 2", len(found))
	}
	c := rig.Typed[clients.Client](t, "POST", base+"/api/v1/clients", token, map[string]any{"name": "Mairie de Bourguignon", "kind": "town_hall",
		"postcode": "25150", "commune": "Bourguignon"}, 201)
	rig.Call(t, "POST", base+"/api/v1/tickets", token, map[string]any{"client_id": c.ID, "title": "Poste de l'accueil très lent",
		"skill": "workstation", "priority": "normal", "on_site": true, "estimated_hours": 2}, 201)
	if n := len(list(base, "/api/v1/tickets", token)); n != 5 {
		t.Errorf("after creating one, Jean has %d tickets, want 5", n)
	}
	// The story: Jean forwards the school's website request to the network…
	var website string
	for _, tk := range mine {
		if tk.Skill == "website" {
			website = tk.ID
		}
	}
	fwd := rig.Typed[tickets.View](t, "POST", base+"/api/v1/tickets/"+website+"/forward", token, map[string]any{"note": "Petit site pour l'école"}, 202)
	if fwd.Status != "routing" {
		t.Fatalf("forwarded ticket: %+v", fwd)
	}
	// … Marie, in Bretagne, gets the offer and accepts it …
	bzh := "http://127.0.0.1:" + strconv.Itoa(port+1)
	marie := login(bzh, "marie@bzh.coopnet.example")
	var offer *member.Offer
	deadline := time.Now().Add(30 * time.Second)
	for offer == nil {
		if items := rig.Typed[rig.Page[member.Offer]](t, "GET", bzh+"/api/v1/offers", marie, nil, 200).Items; len(items) > 0 {
			offer = &items[0]
		} else if time.Now().After(deadline) {
			var r map[string]any
			rig.Status(t, "GET", base+"/api/v1/tickets/"+website+"/routing", token, nil, &r)
			t.Fatalf("no offer reached Marie; the job's routing: %v", r)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if offer.Commune != "Bourguignon" || offer.ForwardedBy != "jean@127.0.0.1:"+strconv.Itoa(port) || offer.EstimatedHours != 16 {
		t.Errorf("offer: %+v", offer)
	}
	if raw := fmt.Sprintf("%+v", *offer); strings.Contains(raw, "Tilleuls") || strings.Contains(raw, "ecole.tilleuls") {
		t.Errorf("the offer leaks the client's name or contact before acceptance: %v", raw)
	}
	acc := rig.Typed[tickets.View](t, "POST", bzh+"/api/v1/offers/"+offer.ID+"/accept", marie, nil, 200)
	want := "marie@127.0.0.1:" + strconv.Itoa(port+1)
	if acc.Status != "accepted" || acc.Assignee == nil || acc.Assignee.Handle != want {
		t.Fatalf("accepted: %+v", acc)
	}
	// … and Jean sees it on his side.
	got := rig.Typed[tickets.View](t, "GET", base+"/api/v1/tickets/"+website, token, nil, 200)
	if got.Status != "accepted" || got.Assignee == nil || got.Assignee.Handle != want || got.Assignee.Region != "bretagne" {
		t.Fatalf("Jean's ticket: %+v", got)
	}
	// Marie's node holds the ticket now, with the school's contact for her.
	deadline = time.Now().Add(20 * time.Second)
	for {
		var shared *tickets.View
		for _, tk := range list(bzh, "/api/v1/tickets", marie) {
			if tk.APID == got.APID {
				shared = &tk
			}
		}
		if shared != nil {
			cl := rig.Typed[clients.Client](t, "GET", bzh+"/api/v1/clients/"+shared.ClientID, marie, nil, 200)
			if shared.Status != "accepted" || !strings.Contains(cl.Name, "Tilleuls") {
				t.Errorf("Marie's copy %+v of a ticket for %+v", shared, cl)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the accepted ticket did not reach Marie's node")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The coop-wide directory: Jean's node lists the members of the three
	// regions, the others' received over ActivityPub.
	directoryOf := func(query string) []directory.Entry {
		return rig.Typed[rig.Page[directory.Entry]](t, "GET", base+"/api/v1/directory"+query, token, nil, 200).Items
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		regions := map[string]int{}
		for _, e := range directoryOf("?limit=200") {
			regions[e.Region]++
		}
		if regions["bretagne"] > 0 && regions["ile-de-france"] > 0 && regions["bourgogne-franche-comte"] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the directory did not federate: %v", regions)
		}
		time.Sleep(100 * time.Millisecond)
	}
	web := directoryOf("?skill=website&min_level=4")
	if raw := fmt.Sprintf("%+v", web); len(web) == 0 || !strings.Contains(raw, want) || strings.Contains(raw, "@bzh.coopnet.example") {
		t.Errorf("website specialists of the coop (with Marie, without e-mail addresses): %v", raw)
	}
	// The web interface: the printed login page, Jean's requests in French.
	if !strings.Contains(out.String(), base+"/app/login") {
		t.Errorf("the demo does not print where to log in:\n%s", out.String())
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(base + "/app/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindSubmatch(page)
	if resp.StatusCode != 200 || csrf == nil {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	resp, err = browser.PostForm(base+"/app/login", url.Values{"_csrf": {string(csrf[1])}, "email": {"jean@bfc.coopnet.example"},
		"password": {DemoPassword}, "next": {"/app/tickets"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Mes demandes") || !strings.Contains(string(page), "Site web") {
		t.Fatalf("Jean's requests in the browser: %d\n%s", resp.StatusCode, page)
	}
	// People's data: Claire (staff) exports Jeanne Dupont's data; Sophie
	// (staff, Île-de-France) sees the level Paul proposed; Bretagne's
	// admin deactivates Erwan, who leaves.
	claire := login(base, "claire@bfc.coopnet.example")
	var jeanne string
	for _, cl := range rig.Typed[rig.Page[clients.Client]](t, "GET", base+"/api/v1/clients?q=dupont", claire, nil, 200).Items {
		jeanne = cl.ID
	}
	if exp := rig.Typed[privacy.ClientExport](t, "GET", base+"/api/v1/clients/"+jeanne+"/export", claire, nil, 200); len(exp.Tickets) != 1 {
		t.Errorf("Jeanne's export: %+v", exp)
	}
	idf := "http://127.0.0.1:" + strconv.Itoa(port+2)
	sophie := login(idf, "staff@idf.coopnet.example")
	if props := rig.Typed[rig.Page[members.Proposal]](t, "GET", idf+"/api/v1/members/skill-proposals", sophie, nil, 200).Items; len(props) != 1 ||
		props[0].Skill != "training" {
		t.Errorf("the proposals waiting in Île-de-France: %+v", props)
	}
	admin := login(bzh, "admin@bzh.coopnet.example")
	var erwan string
	for _, m := range rig.Typed[rig.Page[members.Member]](t, "GET", bzh+"/api/v1/members", admin, nil, 200).Items {
		if m.Handle == "erwan" {
			erwan = m.ID
		}
	}
	if m := rig.Typed[members.Member](t, "POST", bzh+"/api/v1/members/"+erwan+"/deactivate", admin, nil, 200); m.Active || m.DeactivatedAt == nil {
		t.Errorf("Erwan deactivated: %+v", m)
	}
	// A connection that never sends a request (an HTTP client dialling
	// ahead does that) does not hold the stop: net/http would wait five
	// seconds for it, the whole of the demo's grace.
	idle, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if code := stop(); code != 0 {
		t.Fatalf("demo exited %d", code)
	}

	_, stop = startDemo(t, dir, port)
	defer stop()
	if n := len(list(base, "/api/v1/tickets", login(base, "jean@bfc.coopnet.example"))); n != 5 {
		t.Errorf("after a restart Jean has %d tickets, want 5 (kept, not seeded twice)", n)
	}
}
