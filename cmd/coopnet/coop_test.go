package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/federation"
	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

// coop is a test rig: three regional nodes on 127.0.0.1, each with its own
// database (Bourgogne-Franche-Comté on PostgreSQL, the others on SQLite),
// sharing one real NATS server with JetStream — the story of the README.
type coop struct {
	t        testing.TB
	natsDir  string
	natsPort int
	nats     *bus.Embedded
	offerTTL time.Duration
	nodes    map[string]*coopNode
	addrs    map[string]string // region → listen address, fixed for the test
	dirs     map[string]string // region → data directory, kept across restarts (the key secret is there)
	tokens   map[string]string // e-mail → API token
	tmu      sync.Mutex
	// natsUser is the user:password@ each region's node connects with,
	// and opsUser the test's own connections' ("" on the embedded server,
	// which asks none).
	natsUser map[string]string
	opsUser  string
}

type coopNode struct {
	region string
	cfg    Config
	n      *node
	url    string
	cancel context.CancelFunc
	done   chan error
}

// The story's people.
const (
	jeanEmail   = "jean@bfc.test"
	claireEmail = "claire@bfc.test"
	marieEmail  = "marie@bzh.test"
	gwenEmail   = "gwen@bzh.test"
	yannEmail   = "yann@bzh.test"
	paulEmail   = "paul@idf.test"
	zoeEmail    = "zoe@idf.test"
)

func newCoop(t testing.TB, offerTTL time.Duration) *coop {
	t.Helper()
	return newCoopOn(t, offerTTL, map[string]string{
		"bourgogne-franche-comte": storagetest.PostgresURL(t),
		"bretagne":                storagetest.SQLiteURL(t),
		"ile-de-france":           storagetest.SQLiteURL(t),
	})
}

// newCoopOn is newCoop with each region's database given.
func newCoopOn(t testing.TB, offerTTL time.Duration, dbs map[string]string) *coop {
	t.Helper()
	return newCoopWith(t, offerTTL, dbs, func(dir string) (*bus.Embedded, error) { return bus.StartEmbedded("127.0.0.1", 0, dir) }, nil, "")
}

// newCoopWith is newCoopOn on the NATS server startNATS starts (storing
// JetStream in the directory it is given), each region's node connecting
// as natsUser[region] and the test as opsUser ("user:password@").
func newCoopWith(t testing.TB, offerTTL time.Duration, dbs map[string]string, startNATS func(dir string) (*bus.Embedded, error),
	natsUser map[string]string, opsUser string) *coop {
	t.Helper()
	c := &coop{t: t, natsDir: filepath.Join(t.TempDir(), "nats"), offerTTL: offerTTL, nodes: map[string]*coopNode{},
		tokens: map[string]string{}, addrs: map[string]string{}, dirs: map[string]string{}, natsUser: natsUser, opsUser: opsUser}
	e, err := startNATS(c.natsDir)
	if err != nil {
		t.Fatal(err)
	}
	c.nats, c.natsPort = e, e.Server.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop()
		}
		if c.nats != nil {
			c.nats.Shutdown()
		}
	})
	// Every node knows its peers' URLs before any starts: take the ports first.
	lns := map[string]net.Listener{}
	for _, region := range coopRegions {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[region], c.addrs[region] = ln, ln.Addr().String()
	}
	for _, region := range coopRegions {
		c.serve(region, dbs[region], lns[region])
	}
	c.seed()
	return c
}

// testMetricsToken is the rig's nodes' metrics token (see coop.metrics).
const testMetricsToken = "rig-metrics-token-0123456789"

var coopRegions = []string{"bourgogne-franche-comte", "bretagne", "ile-de-france"}

// testFederation makes federation quick for tests: retries within a
// second, work looked for every 100 ms.
func testFederation(fc *federation.Config) {
	fc.Retry = federation.RetryPolicy{First: 50 * time.Millisecond, Max: 500 * time.Millisecond, GiveUpAfter: time.Hour,
		UnavailableAfter: time.Hour}
	fc.Poll = 100 * time.Millisecond
	fc.Lease = time.Second // renewed every third: a lease stranded by a lost connection holds its rows a second
}

// start opens and serves a region's node on its address.
func (c *coop) start(region, dbURL string) *coopNode {
	c.t.Helper()
	ln, err := net.Listen("tcp", c.addrs[region])
	if err != nil {
		c.t.Fatal(err)
	}
	return c.serve(region, dbURL, ln)
}

// serve opens a region's node and serves it on ln; its peers are the other
// regions of the rig.
func (c *coop) serve(region, dbURL string, ln net.Listener) *coopNode {
	c.t.Helper()
	var peers []string
	for _, r := range coopRegions {
		if r != region {
			peers = append(peers, "http://"+c.addrs[r])
		}
	}
	dataDir := c.dirs[region]
	if dataDir == "" {
		dataDir = c.t.TempDir()
		c.dirs[region] = dataDir
	}
	tokenFile := filepath.Join(dataDir, "metrics-token")
	if err := os.WriteFile(tokenFile, []byte(testMetricsToken+"\n"), 0o600); err != nil {
		c.t.Fatal(err)
	}
	cfg := Config{Region: region, Listen: ln.Addr().String(), DatabaseURL: dbURL, DataDir: dataDir, MetricsTokenFile: tokenFile,
		NATSURL: fmt.Sprintf("nats://%s127.0.0.1:%d", c.natsUser[region], c.natsPort), OfferTTL: c.offerTTL, LogFormat: "json", LogLevel: "warn",
		Peers: peers, SignatureSkew: time.Hour}
	if err := cfg.finish(true); err != nil {
		c.t.Fatal(err)
	}
	var logTo io.Writer = io.Discard
	if os.Getenv("COOPNET_TEST_LOGS") != "" { // to see the nodes' warnings and errors
		logTo = os.Stderr
	}
	log := slog.New(slog.NewJSONHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := openNode(context.Background(), cfg, log, nodeOptions{BcryptCost: bcrypt.MinCost,
		GatherWindow: time.Second, Tick: 50 * time.Millisecond, Federation: testFederation}) // a loaded CI machine (race detector) answers slower than production's 300 ms; only a region that is down costs the whole window
	if err != nil {
		ln.Close()
		c.t.Fatalf("open %s: %v", region, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cn := &coopNode{region: region, cfg: cfg, n: n, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { cn.done <- n.serve(ctx, ln, 5*time.Second) }()
	c.nodes[region] = cn
	return cn
}

// stop shuts a node down (its data stays).
func (cn *coopNode) stop() {
	if cn.cancel == nil {
		return
	}
	cn.cancel()
	<-cn.done
	cn.n.Close()
	cn.cancel = nil
}

// restart brings a stopped node back on the same database.
func (c *coop) restart(region string) *coopNode {
	c.t.Helper()
	old := c.nodes[region]
	old.stop()
	return c.start(region, old.cfg.DatabaseURL) // same address: same handles
}

// stopNATS and startNATS stop and restart the NATS server on the same port
// and store: JetStream keeps its messages.
func (c *coop) stopNATS() {
	c.nats.Shutdown()
	c.nats = nil
}

func (c *coop) startNATS() {
	c.t.Helper()
	e, err := bus.StartEmbedded("127.0.0.1", c.natsPort, c.natsDir)
	if err != nil {
		c.t.Fatal(err)
	}
	c.nats = e
}

func (c *coop) node(region string) *coopNode { return c.nodes[region] }

func ptrTo[T any](v T) *T { return &v }

// seed registers the story's members and gives Zoé a full fortnight.
func (c *coop) seed() {
	c.t.Helper()
	ctx := context.Background()
	add := func(region string, in members.CreateInput) members.Actor {
		in.Password = "mot de passe"
		n := c.node(region).n
		m, err := n.members.Create(ctx, nil, in)
		if err != nil {
			c.t.Fatalf("seed %s: %v", in.Email, err)
		}
		tok, err := n.members.IssueToken(ctx, m.ID, members.APIToken)
		if err != nil {
			c.t.Fatal(err)
		}
		c.tokens[in.Email] = tok
		return members.Actor{ID: m.ID, Handle: m.FullHandle, Name: m.Name, Role: m.Role}
	}
	add("bourgogne-franche-comte", members.CreateInput{Email: jeanEmail, Name: "Jean Dugnouf", Role: "technician",
		Postcode: "25150", Commune: "Bourguignon", RadiusKm: ptrTo(40), Skills: []members.SkillLevel{{Name: "workstation", Level: 4}}})
	add("bourgogne-franche-comte", members.CreateInput{Email: claireEmail, Name: "Claire Vernier", Role: "staff", Postcode: "25000"})
	add("bretagne", members.CreateInput{Email: marieEmail, Name: "Marie Le Gall", Role: "technician", Postcode: "35000",
		RemoteOK: true, WeeklyHours: ptrTo(32), Skills: []members.SkillLevel{{Name: "website", Level: 4}}})
	add("bretagne", members.CreateInput{Email: gwenEmail, Name: "Gwen Tanguy", Role: "technician", Postcode: "29000",
		RemoteOK: true, WeeklyHours: ptrTo(30), Skills: []members.SkillLevel{{Name: "website", Level: 3}}})
	add("bretagne", members.CreateInput{Email: yannEmail, Name: "Yann Kerjean", Role: "staff", Postcode: "35000"})
	add("ile-de-france", members.CreateInput{Email: paulEmail, Name: "Paul Moreau", Role: "technician", Postcode: "93100",
		RemoteOK: true, WeeklyHours: ptrTo(35), Skills: []members.SkillLevel{{Name: "website", Level: 2}}})
	zoe := add("ile-de-france", members.CreateInput{Email: zoeEmail, Name: "Zoé Bernard", Role: "technician", Postcode: "75011",
		RemoteOK: true, WeeklyHours: ptrTo(10), Skills: []members.SkillLevel{{Name: "website", Level: 5}}})
	// Zoé: 10 h a week, 20 h of work under way: fully booked this fortnight.
	idf := c.node("ile-de-france").n
	cl, err := idf.clients.Create(ctx, zoe, clients.CreateInput{Description: clients.Description{Name: "Médiathèque", Kind: "town_hall", Postcode: "93100"}})
	if err != nil {
		c.t.Fatal(err)
	}
	tk, err := idf.tickets.Create(ctx, zoe, tickets.CreateInput{ClientID: cl.ID, Title: "Refonte du site", Skill: "website",
		OnSite: ptrTo(false), EstimatedHours: ptrTo(20.0)})
	if err != nil {
		c.t.Fatal(err)
	}
	st := tickets.StatusInProgress
	if _, err := idf.tickets.Update(ctx, zoe, tk.ID, tickets.UpdateInput{Version: 1, Status: &st}); err != nil {
		c.t.Fatal(err)
	}
}

// api calls a node's API as the member with that e-mail ("" for nobody).
func (c *coop) api(region, method, path, email string, body any, want int) map[string]any {
	c.t.Helper()
	return apiCall(c.t, method, c.node(region).url+path, c.tokens[email], body, want)
}

// schoolTicket makes Jean's client (the school near Bourguignon) and a
// ticket for it.
func (c *coop) schoolTicket(title, skill string, onSite bool, hours float64) string {
	c.t.Helper()
	cl := c.api("bourgogne-franche-comte", "POST", "/api/v1/clients", jeanEmail, map[string]any{
		"name": "École primaire des Tilleuls", "kind": "school", "postcode": "25150", "commune": "Bourguignon",
		"contact_name": "Mme Martin", "contact_email": "ecole.tilleuls@example.org"}, 201)
	tk := c.api("bourgogne-franche-comte", "POST", "/api/v1/tickets", jeanEmail, map[string]any{
		"client_id": cl["id"], "title": title, "description": "Demande de l'école", "skill": skill,
		"on_site": onSite, "estimated_hours": hours}, 201)
	return tk["id"].(string)
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 15*time.Second, what, cond)
}

// waitWithin polls cond until it holds or d passes.
func waitWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// offerFor waits for an offer of the ticket in the member's inbox.
func (c *coop) offerFor(region, email, ticketID string) map[string]any {
	c.t.Helper()
	var offer map[string]any
	waitFor(c.t, email+"'s offer for "+ticketID, func() bool {
		for _, it := range c.api(region, "GET", "/api/v1/offers", email, nil, 200)["items"].([]any) {
			if o := it.(map[string]any); o["ticket_id"] == ticketID {
				offer = o
				return true
			}
		}
		return false
	})
	return offer
}

func (c *coop) hasOffer(region, email, ticketID string) bool {
	for _, it := range c.api(region, "GET", "/api/v1/offers", email, nil, 200)["items"].([]any) {
		if it.(map[string]any)["ticket_id"] == ticketID {
			return true
		}
	}
	return false
}

func (c *coop) ticket(id string) map[string]any {
	return c.api("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+id, jeanEmail, nil, 200)
}

func (c *coop) history(id string) []string {
	var out []string
	for _, it := range c.api("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+id+"/history?limit=200", jeanEmail, nil, 200)["items"].([]any) {
		e := it.(map[string]any)
		out = append(out, fmt.Sprint(e["action"], " ", e["field"], " ", e["new"]))
	}
	return out
}

func count(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func (c *coop) handle(email string) string {
	region := map[string]string{marieEmail: "bretagne", gwenEmail: "bretagne", paulEmail: "ile-de-france", zoeEmail: "ile-de-france"}[email]
	local, _, _ := strings.Cut(email, "@")
	return local + "@" + strings.TrimPrefix(c.node(region).url, "http://")
}
