package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/webui/api"

	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

// procCoop is three real "coopnet serve" processes on 127.0.0.1 and one
// NATS server, each node on its own database (Bourgogne-Franche-Comté on
// PostgreSQL): what a crash test needs, since kill -9 must kill a process.
type procCoop struct {
	t      *testing.T
	env    map[string][]string // region → environment
	addrs  map[string]string
	procs  map[string]*exec.Cmd
	tokens map[string]string
}

func newProcCoop(t *testing.T) *procCoop {
	t.Helper()
	nats, err := bus.StartEmbedded("127.0.0.1", 0, filepath.Join(t.TempDir(), "nats"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", nats.Server.Addr().(*net.TCPAddr).Port)
	pc := &procCoop{t: t, env: map[string][]string{}, addrs: map[string]string{}, procs: map[string]*exec.Cmd{},
		tokens: map[string]string{}}
	for _, r := range rig.Regions {
		pc.addrs[r] = freePort(t)
	}
	for _, r := range rig.Regions {
		var peers []string
		for _, o := range rig.Regions {
			if o != r {
				peers = append(peers, "http://"+pc.addrs[o])
			}
		}
		env := []string{"COOPNET_REGION=" + r, "COOPNET_DATA_DIR=" + t.TempDir(), "COOPNET_LISTEN=" + pc.addrs[r],
			"COOPNET_PEERS=" + strings.Join(peers, ","), "COOPNET_NATS_URL=" + natsURL, "COOPNET_LOG_FORMAT=json",
			"COOPNET_LOG_LEVEL=warn"}
		if r == "bourgogne-franche-comte" {
			env = append(env, "COOPNET_DATABASE_URL="+storagetest.PostgresURL(t))
		}
		// Private keys encrypted at rest, as in production.
		secret := filepath.Join(t.TempDir(), "key-secret")
		if err := os.WriteFile(secret, []byte("secret de la région "+r+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env = append(env, "COOPNET_KEY_SECRET_FILE="+secret)
		pc.env[r] = env
	}
	t.Cleanup(func() {
		for _, cmd := range pc.procs {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return pc
}

// admin runs "coopnet admin …" against a region's database.
func (pc *procCoop) admin(region string, args ...string) string {
	pc.t.Helper()
	out, stderr, err := runCLI(pc.t, pc.env[region], "", append([]string{"admin"}, args...)...)
	if err != nil {
		pc.t.Fatalf("admin %v: %v\n%s", args, err, stderr)
	}
	return strings.TrimSpace(out)
}

// member adds a member and keeps an API token for them.
func (pc *procCoop) member(region, email, name string, args ...string) {
	pc.t.Helper()
	pc.admin(region, append([]string{"member", "add", "--email", email, "--name", name, "--role", "technician",
		"--password", "mot de passe"}, args...)...)
	pc.tokens[email] = pc.admin(region, "token", "--email", email)
}

// start runs a region's node and waits until it is ready.
func (pc *procCoop) start(region string) {
	pc.t.Helper()
	cmd := exec.Command(coopnetBinary(pc.t), "serve")
	cmd.Env = append(os.Environ(), pc.env[region]...)
	logf, err := os.OpenFile(filepath.Join(pc.t.TempDir(), region+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		pc.t.Fatal(err)
	}
	pc.t.Cleanup(func() { logf.Close() })
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		pc.t.Fatal(err)
	}
	pc.procs[region] = cmd
	rig.WaitFor(pc.t, region+" ready", func() bool {
		resp, err := http.Get(pc.url(region) + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// kill kills a region's node with SIGKILL: no shutdown of any kind.
func (pc *procCoop) kill(region string) {
	pc.t.Helper()
	cmd := pc.procs[region]
	if err := cmd.Process.Kill(); err != nil {
		pc.t.Fatal(err)
	}
	_ = cmd.Wait()
	delete(pc.procs, region)
}

func (pc *procCoop) url(region string) string { return "http://" + pc.addrs[region] }

func (pc *procCoop) api(region, method, path, email string, body any, want int) map[string]any {
	pc.t.Helper()
	return rig.Call(pc.t, method, pc.url(region)+path, pc.tokens[email], body, want)
}

func (pc *procCoop) ticket(region, email, id string) tickets.View {
	pc.t.Helper()
	return rig.Typed[tickets.View](pc.t, "GET", pc.url(region)+"/api/v1/tickets/"+id, pc.tokens[email], nil, 200)
}

// items is a list on the region's node, as the member reads it.
func items[T any](pc *procCoop, region, path, email string) []T {
	pc.t.Helper()
	return rig.Typed[rig.Page[T]](pc.t, "GET", pc.url(region)+path, pc.tokens[email], nil, 200).Items
}

// TestKillNineCatchUp: three nodes as real processes; Bretagne is killed
// with SIGKILL while activities for it are arriving; the others go on
// changing what concerns it (Jean comments, edits and plans on the ticket
// Marie works on; Île-de-France gets a new member); Bretagne restarts on
// its database and catches up: nothing lost, nothing applied twice, all
// three converge.
func TestKillNineCatchUp(t *testing.T) {
	pc := newProcCoop(t)
	pc.member("bourgogne-franche-comte", rig.Jean, "Jean Dugnouf", "--postcode", "25150", "--skill", "workstation:4")
	pc.member("bretagne", rig.Marie, "Marie Le Gall", "--postcode", "35000", "--remote-ok", "--skill", "website:4")
	pc.member("ile-de-france", rig.Paul, "Paul Moreau", "--postcode", "93100", "--remote-ok", "--skill", "website:2")
	for _, r := range rig.Regions {
		pc.start(r)
	}
	const bfc, bzh, idf = "bourgogne-franche-comte", "bretagne", "ile-de-france"

	// The routed job: Jean's school website, accepted by Marie.
	cl := rig.Typed[clients.Client](t, "POST", pc.url(bfc)+"/api/v1/clients", pc.tokens[rig.Jean], map[string]any{"name": "École des Tilleuls",
		"kind": "school", "postcode": "25150", "contact_email": "ecole.tilleuls@example.org"}, 201)
	tk := rig.Typed[tickets.View](t, "POST", pc.url(bfc)+"/api/v1/tickets", pc.tokens[rig.Jean], map[string]any{"client_id": cl.ID,
		"title": "Site web", "skill": "website", "on_site": false, "estimated_hours": 8}, 201)
	jeanID, apID := tk.ID, tk.APID
	pc.api(bfc, "POST", "/api/v1/tickets/"+jeanID+"/forward", rig.Jean, map[string]any{}, 202)
	var offerID string
	rig.WaitFor(t, "Marie's offer", func() bool {
		for _, o := range items[member.Offer](pc, bzh, "/api/v1/offers", rig.Marie) {
			if o.TicketID == jeanID {
				offerID = o.ID
			}
		}
		return offerID != ""
	})
	pc.api(bzh, "POST", "/api/v1/offers/"+offerID+"/accept", rig.Marie, nil, 200)
	var marieID string
	copyOf := func() string {
		for _, tk := range items[tickets.View](pc, bzh, "/api/v1/tickets", rig.Marie) {
			if tk.APID == apID {
				return tk.ID
			}
		}
		return ""
	}
	rig.WaitFor(t, "Marie's copy", func() bool { marieID = copyOf(); return marieID != "" })
	comments := func() []tickets.Comment {
		return items[tickets.Comment](pc, bzh, "/api/v1/tickets/"+marieID+"/comments?limit=200", rig.Marie)
	}

	// A burst of comments; Bretagne is killed while they arrive.
	const total = 40
	for i := 0; i < total/2; i++ {
		pc.api(bfc, "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean, map[string]any{"body": fmt.Sprintf("message %02d", i)}, 201)
	}
	rig.WaitFor(t, "the first comments on Bretagne", func() bool { return len(comments()) >= 3 })
	pc.kill(bzh)

	// Meanwhile: more comments, an edit and an intervention for Marie; a
	// new member in Île-de-France.
	for i := total / 2; i < total; i++ {
		pc.api(bfc, "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean, map[string]any{"body": fmt.Sprintf("message %02d", i)}, 201)
	}
	v := pc.ticket(bfc, rig.Jean, jeanID).Version
	pc.api(bfc, "PATCH", "/api/v1/tickets/"+jeanID, rig.Jean, map[string]any{"version": v, "priority": "urgent",
		"description": "La mairie veut aussi un agenda."}, 200)
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	pc.api(bfc, "POST", "/api/v1/tickets/"+jeanID+"/events", rig.Jean, map[string]any{"start": start, "end": start.Add(3 * time.Hour)}, 201)
	pc.admin(idf, "member", "add", "--email", "lea@idf.test", "--name", "Léa Petit", "--role", "technician",
		"--password", "mot de passe", "--postcode", "75012", "--skill", "website:3")

	time.Sleep(500 * time.Millisecond) // let the others fail at delivering to Bretagne
	restarted := time.Now()
	pc.start(bzh)

	// Bretagne catches up.
	rig.WaitFor(t, "Bretagne to catch up", func() bool {
		j := pc.ticket(bfc, rig.Jean, jeanID)
		m := pc.ticket(bzh, rig.Marie, marieID)
		cal := rig.Typed[api.Calendar](t, "GET", pc.url(bzh)+"/api/v1/calendar?from="+start.Add(-24*time.Hour).Format(time.DateOnly),
			pc.tokens[rig.Marie], nil, 200).Items
		return len(comments()) == total && rig.SameState(j, m) && m.Priority == "urgent" && len(cal) == 1
	})
	t.Logf("Bretagne caught up %v after its restart", time.Since(restarted).Round(time.Millisecond))
	// Each comment exactly once, in order of writing.
	seen := map[string]int{}
	for _, c := range comments() {
		seen[c.Body]++
	}
	for i := 0; i < total; i++ {
		if n := seen[fmt.Sprintf("message %02d", i)]; n != 1 {
			t.Errorf("message %02d is on Bretagne %d times", i, n)
		}
	}
	// The directory converges on all three nodes, with Léa.
	handles := func(region, email string) string {
		var hs []string
		for _, e := range items[directory.Entry](pc, region, "/api/v1/directory?limit=100", email) {
			hs = append(hs, e.Handle)
		}
		return strings.Join(hs, ",")
	}
	rig.WaitFor(t, "the directories to converge", func() bool {
		a, b, c := handles(bfc, rig.Jean), handles(bzh, rig.Marie), handles(idf, rig.Paul)
		return strings.Contains(b, "lea@") && a == b && b == c
	})
	// Bretagne's history of the copy: each comment recorded once.
	n := 0
	for _, h := range items[tickets.Change](pc, bzh, "/api/v1/tickets/"+marieID+"/history?limit=200", rig.Marie) {
		if h.Action == "commented" {
			n++
		}
	}
	if n != total {
		t.Errorf("Bretagne's history records %d comments, want %d", n, total)
	}
}
