// Package rig runs a coop for tests: three regional nodes on 127.0.0.1,
// each with its own database (Bourgogne-Franche-Comté on PostgreSQL, the
// others on SQLite), sharing one real NATS server with JetStream, talking
// real HTTP to each other — the seed story of the README, with its people
// (Jean, Claire, Marie, Gwen, Yann, Paul, Zoé) and a typed API client.
// Any package's tests may import it:
//
//	c := rig.New(t, time.Minute)
//	jean := c.As(rig.Jean)
//	cl := rig.Must[clients.Client](jean.Post("/api/v1/clients", body), 201)
package rig

import (
	"net/http/httptest"
	"strings"

	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"github.com/coopnet/coopnet/federation"
	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/notify/notifytest"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// The rig's regions, in the order their nodes start.
const (
	BFC = "bourgogne-franche-comte"
	BZH = "bretagne"
	IDF = "ile-de-france"
)

// Regions are the rig's three regions.
var Regions = []string{BFC, BZH, IDF}

// MetricsToken is the rig's nodes' metrics token.
const MetricsToken = "rig-metrics-token-0123456789"

// Coop is a running coop of three regional nodes.
type Coop struct {
	T        testing.TB
	NATSDir  string
	NATSPort int
	NATS     *bus.Embedded
	OfferTTL time.Duration
	Nodes    map[string]*Node
	Addrs    map[string]string // region → listen address, fixed for the test
	Dirs     map[string]string // region → data directory, kept across restarts (the key secret is there)
	Tokens   map[string]string // e-mail → API token
	TokensMu sync.Mutex
	// NATSUser is the user:password@ each region's node connects with,
	// and OpsUser the test's own connections' ("" on the embedded server,
	// which asks none).
	NATSUser map[string]string
	OpsUser  string
	// SMTP is the mail server every node sends its notifications through
	// (STARTTLS, a password): a real one, in the test's process.
	SMTP *notifytest.Server
	// S3 is the bucket Bretagne keeps its attached files in (an
	// S3-protocol server in the test's process, over HTTP); the other
	// regions keep theirs in a folder.
	S3 string

	// up is the regions whose node runs and natsDown whether the test
	// stopped NATS: a search waits for the answers of the regions up (see
	// expect), read by the nodes' search workers while the test starts
	// and stops nodes.
	upMu     sync.Mutex
	up       map[string]bool
	natsDown bool
}

// Node is one of the rig's regional nodes, served on its address.
type Node struct {
	Region string
	Cfg    node.Config
	N      *node.Node
	URL    string
	cancel context.CancelFunc
	done   chan error
	coop   *Coop
}

// New starts the coop with offers that live offerTTL, Bourgogne-Franche-
// Comté on PostgreSQL and the other regions on SQLite, and seeds the
// story's people.
func New(t testing.TB, offerTTL time.Duration) *Coop {
	t.Helper()
	return NewOn(t, offerTTL, map[string]string{
		BFC: storagetest.PostgresURL(t),
		BZH: storagetest.SQLiteURL(t),
		IDF: storagetest.SQLiteURL(t),
	})
}

// NewOn is New with each region's database given.
func NewOn(t testing.TB, offerTTL time.Duration, dbs map[string]string) *Coop {
	t.Helper()
	return NewWith(t, offerTTL, dbs, func(dir string) (*bus.Embedded, error) { return bus.StartEmbedded("127.0.0.1", 0, dir) }, nil, "")
}

// NewWith is NewOn on the NATS server startNATS starts (storing JetStream
// in the directory it is given), each region's node connecting as
// natsUser[region] and the test as opsUser ("user:password@").
func NewWith(t testing.TB, offerTTL time.Duration, dbs map[string]string, startNATS func(dir string) (*bus.Embedded, error),
	natsUser map[string]string, opsUser string) *Coop {
	t.Helper()
	c := &Coop{T: t, NATSDir: filepath.Join(t.TempDir(), "nats"), OfferTTL: offerTTL, Nodes: map[string]*Node{},
		Tokens: map[string]string{}, Addrs: map[string]string{}, Dirs: map[string]string{}, NATSUser: natsUser, OpsUser: opsUser,
		SMTP: notifytest.Start(t)}
	e, err := startNATS(c.NATSDir)
	if err != nil {
		t.Fatal(err)
	}
	c.NATS, c.NATSPort = e, e.Server.Addr().(*net.TCPAddr).Port
	s3 := s3mem.New()
	if err := s3.CreateBucket("coopnet"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(s3).Server())
	t.Cleanup(s3srv.Close) // after the nodes stop
	c.S3 = "s3://coopnet:s3-secret@" + strings.TrimPrefix(s3srv.URL, "http://") + "/coopnet/" + BZH + "?tls=none"
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			n.Stop()
		}
		if c.NATS != nil {
			c.NATS.Shutdown()
		}
	})
	// Every node knows its peers' URLs before any starts: take the ports first.
	lns := map[string]net.Listener{}
	for _, region := range Regions {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[region], c.Addrs[region] = ln, ln.Addr().String()
	}
	for _, region := range Regions {
		c.Serve(region, dbs[region], lns[region])
	}
	c.Seed()
	return c
}

// Federation makes federation quick for tests: retries within a second,
// work looked for every 100 ms.
func Federation(fc *federation.Config) {
	fc.Retry = federation.RetryPolicy{First: 50 * time.Millisecond, Max: 500 * time.Millisecond, GiveUpAfter: time.Hour,
		UnavailableAfter: time.Hour}
	fc.Poll = 100 * time.Millisecond
	fc.Lease = time.Second // renewed every third: a lease stranded by a lost connection holds its rows a second
}

// Logger is the nodes' logger: warnings and errors on standard error when
// COOPNET_TEST_LOGS is set, else nothing.
func Logger() *slog.Logger {
	var to io.Writer = io.Discard
	if os.Getenv("COOPNET_TEST_LOGS") != "" {
		to = os.Stderr
	}
	return slog.New(slog.NewJSONHandler(to, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Start opens and serves a region's node on its address.
func (c *Coop) Start(region, dbURL string) *Node {
	c.T.Helper()
	ln, err := net.Listen("tcp", c.Addrs[region])
	if err != nil {
		c.T.Fatal(err)
	}
	return c.Serve(region, dbURL, ln)
}

// Serve opens a region's node and serves it on ln; its peers are the other
// regions of the rig.
func (c *Coop) Serve(region, dbURL string, ln net.Listener) *Node {
	c.T.Helper()
	var peers []string
	for _, r := range Regions {
		if r != region {
			peers = append(peers, "http://"+c.Addrs[r])
		}
	}
	dataDir := c.Dirs[region]
	if dataDir == "" {
		dataDir = c.T.TempDir()
		c.Dirs[region] = dataDir
	}
	tokenFile := filepath.Join(dataDir, "metrics-token")
	if err := os.WriteFile(tokenFile, []byte(MetricsToken+"\n"), 0o600); err != nil {
		c.T.Fatal(err)
	}
	cfg := node.Config{Region: region, Listen: ln.Addr().String(), DatabaseURL: dbURL, DataDir: dataDir, MetricsTokenFile: tokenFile,
		NATSURL: fmt.Sprintf("nats://%s127.0.0.1:%d", c.NATSUser[region], c.NATSPort), OfferTTL: c.OfferTTL, LogFormat: "json", LogLevel: "warn",
		Peers: peers, SignatureSkew: time.Hour, SMTPURL: c.SMTP.URL()}
	if region == BZH {
		cfg.Files = c.S3
	}
	if err := cfg.Finish(true); err != nil {
		c.T.Fatal(err)
	}
	// A loaded machine (the race detector, a second test run beside this
	// one) answers far slower than production's 300 ms gather window: a
	// region's answer came after 1 s, then after 3 s, and its member
	// missed the job. So a search waits for the regions the test has up
	// (expect), however long they take, and the window is only how long
	// it waits for one that is up but does not answer.
	n, err := node.Open(context.Background(), cfg, Logger(), node.Options{Version: "rig", BcryptCost: bcrypt.MinCost,
		GatherWindow: 20 * time.Second, Expect: c.expect, Tick: 50 * time.Millisecond, Federation: Federation,
		Notify: func(nc *notify.Config) {
			if m, ok := nc.Mailer.(*notify.SMTP); ok {
				m.TLS = c.SMTP.Client // the test server's certificate
			}
		}})
	if err != nil {
		ln.Close()
		c.T.Fatalf("open %s: %v", region, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cn := &Node{Region: region, Cfg: cfg, N: n, URL: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1), coop: c}
	go func() { cn.done <- n.Serve(ctx, ln, 5*time.Second) }()
	c.Nodes[region] = cn
	c.setUp(region, true)
	return cn
}

// expect names the regions a search waits for: those whose node runs,
// or none (the routing's own reckoning, bounded by the window) while NATS
// is stopped.
func (c *Coop) expect() []string {
	c.upMu.Lock()
	defer c.upMu.Unlock()
	if c.natsDown {
		return nil
	}
	var names []string
	for _, r := range Regions {
		if c.up[r] {
			names = append(names, r)
		}
	}
	return names
}

func (c *Coop) setUp(region string, up bool) {
	c.upMu.Lock()
	defer c.upMu.Unlock()
	if c.up == nil {
		c.up = map[string]bool{}
	}
	c.up[region] = up
}

// Stop shuts a node down (its data stays).
func (cn *Node) Stop() {
	if cn.cancel == nil {
		return
	}
	if cn.coop != nil {
		cn.coop.setUp(cn.Region, false)
	}
	cn.cancel()
	<-cn.done
	cn.N.Close()
	cn.cancel = nil
}

// Restart brings a stopped node back on the same database and address
// (the same handles).
func (c *Coop) Restart(region string) *Node {
	c.T.Helper()
	old := c.Nodes[region]
	old.Stop()
	return c.Start(region, old.Cfg.DatabaseURL)
}

// StopNATS and StartNATS stop and restart the NATS server on the same
// port and store: JetStream keeps its messages.
func (c *Coop) StopNATS() {
	c.upMu.Lock()
	c.natsDown = true
	c.upMu.Unlock()
	c.NATS.Shutdown()
	c.NATS = nil
}

// StartNATS: see StopNATS.
func (c *Coop) StartNATS() {
	c.T.Helper()
	e, err := bus.StartEmbedded("127.0.0.1", c.NATSPort, c.NATSDir)
	if err != nil {
		c.T.Fatal(err)
	}
	c.NATS = e
	c.upMu.Lock()
	c.natsDown = false
	c.upMu.Unlock()
}

// Node is the region's node.
func (c *Coop) Node(region string) *Node { return c.Nodes[region] }

// WaitFor polls cond until it holds. It waits for a state, not for a
// duration: the minute is only how long a test that went wrong takes to
// say so, and a loaded machine never comes near it.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitWithin(t, time.Minute, what, cond)
}

// WaitWithin polls cond until it holds or d passes.
func WaitWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
