// Package node wires one regional node: its database, services, NATS
// connection, federation and HTTP server, from a Config. The coopnet
// command runs nodes; the test rig (cmd/coopnet/rig) runs a coop of them.
package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/coopnet/coopnet/federation"
	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui"
	"github.com/coopnet/coopnet/webui/pages"
)

// Node is one regional node, wired: database, services and HTTP server.
// Routing and Bus are nil when opened without NATS (Options.NoBus).
type Node struct {
	Cfg      Config
	Log      *slog.Logger
	DB       *storage.DB
	Skills   *skills.Catalog
	Members  *members.Service
	Clients  *clients.Service
	Tickets  *tickets.Service
	Planning *planning.Service
	Routing  *routing.Service
	Fed      *federation.Service
	Dir      *directory.Service
	Notify   *notify.Service
	Bus      *bus.Bus
	Server   *webui.Server
}

// Options tune a node beyond its Config (tests lower the password cost).
type Options struct {
	// Version is the build's, told to peers.
	Version    string
	BcryptCost int
	// NoBus opens the node without NATS: for the admin commands, which
	// need only the database.
	NoBus bool
	// GatherWindow and Tick override the routing defaults (tests).
	GatherWindow time.Duration
	Tick         time.Duration
	// Expect names the regions a search waits for (tests): see
	// routing.Config.Expect.
	Expect func() []string
	// OnOfferStored observes offers stored on this node (benchmarks).
	OnOfferStored func(*member.Offer)
	// NoFederation opens the node without its federation workers (the
	// admin commands).
	NoFederation bool
	// Federation overrides federation settings (tests: fast retries,
	// small keys).
	Federation func(*federation.Config)
	// Notify overrides the notifications' settings (tests: a mailer
	// trusting the test's certificate, fast retries).
	Notify func(*notify.Config)
}

// Open opens the database, applies pending migrations and wires the
// services and the HTTP server.
func Open(ctx context.Context, cfg Config, log *slog.Logger, opt Options) (*Node, error) {
	log = log.With("region", cfg.Region)
	db, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "applied", applied)
	}
	catalog := skills.NewCatalog(db)
	ms := members.New(db, catalog, members.Config{Region: cfg.Region, Host: cfg.Host(), BcryptCost: opt.BcryptCost,
		TokenCacheTTL: 5 * time.Second}, log)
	cs := clients.New(db, ms)
	var store files.Store
	if cfg.Files != "" {
		if store, err = files.Open(ctx, cfg.Files); err != nil {
			db.Close()
			return nil, err
		}
		log.Info("attached files", "store", store.Name())
	}
	ts := tickets.New(db, catalog, cs, ledger.New(db, cfg.Region), tickets.Config{Region: cfg.Region, PublicURL: cfg.PublicURL,
		Files: store, MaxFileBytes: cfg.MaxFileBytes}, log)
	if n, err := ts.IndexSearch(ctx); err != nil {
		db.Close()
		return nil, err
	} else if n > 0 {
		log.Info("tickets indexed for search", "tickets", n)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewDBStatsCollector(db.SQL, "coopnet"), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dir := directory.New(db, ms, cfg.Region, cfg.Host())
	n := &Node{Cfg: cfg, Log: log, DB: db, Skills: catalog, Members: ms, Clients: cs, Tickets: ts, Dir: dir}
	ready := []webui.Check{{Name: "database", Func: db.Ping}}
	fcfg := federation.Config{Region: cfg.Region, PublicURL: cfg.PublicURL, Peers: cfg.Peers, Skew: cfg.SignatureSkew,
		Version: opt.Version, BodyRetention: cfg.ActivityBodies, RecordRetention: cfg.ActivityRecords}
	// The actors' private keys are stored encrypted, always: with the
	// secret given, or one this node makes on its first start beside its
	// data (back it up with the database; replicas sharing a database
	// need the same one, given by COOPNET_KEY_SECRET_FILE).
	secretFile := cfg.KeySecretFile
	if secretFile == "" {
		secretFile = defaultKeySecretFile(cfg)
		created, err := ensureSecretFile(secretFile)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("the secret of the federation's private keys: %w", err)
		}
		if created {
			log.Info("made a secret for the federation's private keys: back it up with the database, and give every replica "+
				"of this node the same one (COOPNET_KEY_SECRET_FILE)", "file", secretFile)
		}
	}
	secret, err := os.ReadFile(secretFile)
	if err == nil && len(bytes.TrimSpace(secret)) < 16 {
		err = errors.New("holds fewer than 16 characters")
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("--key-secret-file %s: %w", secretFile, err)
	}
	fcfg.KeySecret = bytes.TrimSpace(secret)
	ms.SetThrottleSecret(fcfg.KeySecret)
	fcfg.KeySecretFile = secretFile
	if opt.Federation != nil {
		opt.Federation(&fcfg)
	}
	metricsToken := ""
	if cfg.MetricsTokenFile != "" {
		b, err := os.ReadFile(cfg.MetricsTokenFile)
		if err == nil && len(bytes.TrimSpace(b)) < 16 {
			err = errors.New("holds fewer than 16 characters")
		}
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("--metrics-token-file %s: %w", cfg.MetricsTokenFile, err)
		}
		metricsToken = string(bytes.TrimSpace(b))
	}
	fed, err := federation.New(db, ms, dir, fcfg, log, reg)
	if err != nil {
		db.Close()
		return nil, err
	}
	n.Fed = fed
	storage.ListenThen(db, fed.MemberChanged, fed.Wake)
	ps := planning.New(db, ts, planning.Config{PublicURL: cfg.PublicURL})
	n.Planning = ps
	fed.Work(ts, cs, ps)
	ncfg := notify.Config{PublicURL: cfg.PublicURL, Host: cfg.Host(), Region: cfg.Region, From: cfg.MailFrom,
		Texts: pages.Texts}
	switch {
	case cfg.SMTPURL != "":
		m, err := notify.ParseSMTP(cfg.SMTPURL)
		if err != nil {
			db.Close()
			return nil, err
		}
		ncfg.Mailer = m
	case cfg.MailDir != "":
		ncfg.Mailer = notify.Dir{Path: cfg.MailDir}
	}
	if opt.Notify != nil {
		opt.Notify(&ncfg)
	}
	ns := notify.New(db, ms, ts, func(ctx context.Context, ids []string) (map[string]string, error) {
		return member.OfferTitles(ctx, db, ids)
	}, ncfg, log)
	ns.Listen()
	n.Notify = ns
	priv := privacy.New(db, cfg.Region, ms, cs, ts, ps, fed, ns)
	fed.SetEraser(priv.EraseCopy)
	if !opt.NoBus {
		if err := privateDir(filepath.Join(cfg.DataDir, "nats")); err != nil {
			db.Close()
			return nil, err
		}
		b, err := bus.Connect(ctx, bus.Config{URLs: cfg.NATSURL, Name: "coopnet-" + cfg.Region, CredsFile: cfg.NATSCreds,
			NKeySeedFile: cfg.NATSNKey, StoreDir: filepath.Join(cfg.DataDir, "nats"), Replicas: cfg.NATSReplicas,
			InboxPrefix: bus.InboxPrefix(cfg.Region)}, log)
		if err != nil {
			db.Close()
			return nil, err
		}
		n.Bus = b
		n.Routing = routing.New(db, b, ms, cs, ts, catalog, routing.Config{Region: cfg.Region, OfferTTL: cfg.OfferTTL, Weights: cfg.Weights, Skew: cfg.SignatureSkew,
			GatherWindow: opt.GatherWindow, Expect: opt.Expect, Tick: opt.Tick, OnOfferStored: opt.OnOfferStored}, log, reg)
		n.Routing.SetSigner(fed) // acceptances and releases signed with the node's key
		if err := n.Routing.Start(context.Background()); err != nil {
			b.Close()
			db.Close()
			return nil, err
		}
		ready = append(ready, webui.Check{Name: "nats", Func: b.Ping, Degrades: true})
	}
	if !opt.NoFederation {
		if err := fed.Start(ctx); err != nil {
			n.Close()
			return nil, err
		}
	}
	if !opt.NoFederation { // the admin commands send no mail either
		ns.Start()
	}
	queues := append(fed.Queues(), ns.Queue(), ts.FetchQueue())
	if n.Routing != nil {
		queues = append(n.Routing.Queues(), queues...)
	}
	reg.MustRegister(queue.Collector{Queues: queues})
	n.Server = webui.New(webui.Options{
		Region: cfg.Region, PublicURL: cfg.PublicURL, Members: ms, Clients: cs, Tickets: ts, Planning: ps, Routing: n.Routing, Privacy: priv,
		Skills: catalog, Directory: dir, Federation: fed, Queues: queues, Notify: ns, MailDir: cfg.MailDir, Logger: log, Registry: reg, Ready: ready,
		TrustedProxies: cfg.TrustedProxies, MetricsToken: metricsToken, Peers: fed.PeerNodes,
	})
	return n, nil
}

// Close stops the routing workers, closes NATS and the database.
func (n *Node) Close() error {
	if n.Notify != nil {
		n.Notify.Stop()
	}
	if n.Fed != nil {
		n.Fed.Stop()
	}
	if n.Routing != nil {
		n.Routing.Stop()
	}
	if n.Bus != nil {
		n.Bus.Close()
	}
	return n.DB.Close()
}

// Serve answers HTTP on ln until ctx is cancelled, then shuts down
// gracefully: it stops accepting, lets in-flight requests finish (up to
// grace) and closes idle connections.
func (n *Node) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	fresh := freshConns{conns: map[net.Conn]struct{}{}}
	hs := &http.Server{
		Handler:           n.Server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(n.Log.Handler(), slog.LevelWarn),
		ConnState:         fresh.track,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if n.Cfg.MetricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", n.Server.MetricsHandler())
		ms := &http.Server{Addr: n.Cfg.MetricsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		mln, err := net.Listen("tcp", n.Cfg.MetricsListen)
		if err != nil {
			hs.Close()
			return fmt.Errorf("listen for metrics on %s: %w", n.Cfg.MetricsListen, err)
		}
		go func() { _ = ms.Serve(mln) }()
		defer ms.Close()
		n.Log.Info("metrics listening", "listen", mln.Addr().String())
	}
	n.Log.Info("node listening", "listen", ln.Addr().String(), "public_url", n.Cfg.PublicURL)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	n.Log.Info("shutting down: finishing in-flight requests")
	n.Notify.EndLive() // the live pages' streams would hold the shutdown
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- hs.Shutdown(sctx) }()
	// Shutdown waits up to five seconds for a connection on which no request
	// has started, as if one might; an HTTP client that dialled ahead (a
	// peer's transport does) would hold every stop that long. Once the
	// listener is closed, such connections are closed at once.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			n.Log.Info("stopped")
			return nil
		case <-tick.C:
			fresh.closeAll()
		}
	}
}

// freshConns are the server's connections on which no request has started.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, s http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s == http.StateNew {
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
		delete(f.conns, c)
	}
}

// defaultKeySecretFile is where a node keeps the secret of its private
// keys when none is given: beside its data, one per region (the demo runs
// three regions in one data directory).
func defaultKeySecretFile(cfg Config) string {
	return filepath.Join(cfg.DataDir, cfg.Region+".key-secret")
}

// ensureSecretFile makes a random secret at path, readable by this user
// alone, unless the file exists; it reports whether it made it.
func ensureSecretFile(path string) (bool, error) {
	if err := privateDir(filepath.Dir(path)); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		f.Close()
		return false, err
	}
	if _, err := f.WriteString(base64.RawURLEncoding.EncodeToString(raw) + "\n"); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}

// privateDir makes dir (and its parents) readable by this user alone when
// it does not exist yet; one that exists keeps its rights.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
