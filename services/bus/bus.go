// Package bus connects a node to NATS, the coop's routing plane: an embedded
// nats-server (with JetStream, stored in the data directory) by default, or
// a list of external servers (a cluster, or a leaf node per region) in
// production. It owns the connection, its reconnection policy, the durable
// job stream and the connection's health; the routing service says what
// travels on it.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Subjects are versioned: a breaking change of a message gets v2.
const (
	// SubjectPrefix starts every coopnet subject.
	SubjectPrefix = "coopnet.v1."
	// JobsStream is the durable stream of job messages between regions.
	JobsStream = "COOPNET_JOBS"
	// JobsSubjects are the subjects the stream holds: coopnet.v1.jobs.<region>.<kind>.
	JobsSubjects = SubjectPrefix + "jobs.>"
)

// Config says how to reach NATS.
type Config struct {
	// URLs: comma-separated servers; empty starts an embedded server.
	URLs string
	// Name identifies the connection in the server's monitoring.
	Name string
	// CredsFile is a NATS credentials file (JWT and nkey seed), for
	// decentralised auth; NKeySeedFile a file holding an nkey seed. User and
	// password, when used, go in the URL: nats://user:password@host:4222.
	CredsFile    string
	NKeySeedFile string
	// StoreDir is where an embedded server keeps JetStream data.
	StoreDir string
	// Replicas of the job stream: 1 for a single server, 3 in a cluster.
	Replicas int
	// InboxPrefix, when set, is the prefix of the connection's inboxes
	// (see InboxPrefix).
	InboxPrefix string
}

// Bus is a live connection to NATS with JetStream.
type Bus struct {
	Conn     *nats.Conn
	JS       jetstream.JetStream
	embedded *server.Server
	log      *slog.Logger
}

// Embedded is an in-process nats-server with JetStream.
type Embedded struct {
	Server *server.Server
}

// StartEmbedded starts a nats-server in this process, listening on
// host:port (port 0 picks a free port), with JetStream stored in storeDir.
func StartEmbedded(host string, port int, storeDir string) (*Embedded, error) {
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: create %s: %w", storeDir, err)
	}
	if port == 0 {
		p, err := freePort(host)
		if err != nil {
			return nil, err
		}
		port = p
	}
	opts := &server.Options{
		ServerName: "coopnet-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 1 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("bus: embedded NATS server did not start")
	}
	return &Embedded{Server: ns}, nil
}

// URL is the embedded server's client URL.
func (e *Embedded) URL() string { return e.Server.ClientURL() }

// Shutdown stops the embedded server.
func (e *Embedded) Shutdown() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("bus: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Connect connects to NATS (starting an embedded server when cfg.URLs is
// empty), and makes sure the job stream exists.
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	b := &Bus{log: log}
	urls := cfg.URLs
	if urls == "" {
		e, err := StartEmbedded("127.0.0.1", 0, filepath.Join(cfg.StoreDir))
		if err != nil {
			return nil, err
		}
		b.embedded = e.Server
		urls = e.URL()
		log.Info("embedded NATS server started", "url", urls, "store", cfg.StoreDir)
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1), // never give up: the routing plane comes back
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.ReconnectBufSize(8 << 20), // publishes made while reconnecting are kept
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // our own Close or Drain: the node is stopping
				log.Info("NATS connection closed")
				return
			}
			log.Warn("NATS disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn("NATS error", "subject", subj, "err", err)
		}),
	}
	if cfg.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(cfg.InboxPrefix))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeedFile)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("bus: nkey seed %s: %w", cfg.NKeySeedFile, err)
		}
		opts = append(opts, o)
	}
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: connect to %s: %w", redact(urls), err)
	}
	b.Conn = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	b.JS = js
	if err := b.ensureStream(ctx, cfg.Replicas); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// StreamConfig is the job stream's configuration, with replicas.
func StreamConfig(replicas int) jetstream.StreamConfig {
	if replicas <= 0 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:        JobsStream,
		Description: "coopnet job offers and answers between regions",
		Subjects:    []string{JobsSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Replicas:    replicas,
		MaxAge:      14 * 24 * time.Hour,
		Duplicates:  10 * time.Minute,
		MaxMsgSize:  1 << 20,
	}
}

// ensureStream makes sure the job stream is there and coopnet's, waiting
// for the server (RetryOnFailedConnect lets Connect return before the
// first connection). A missing stream is created where this node may (the
// embedded server; the operators' user): under the coop's NATS
// permissions (deploy/nats) a region's node may neither create nor change
// it, so that no region sets it up to copy the others' jobs elsewhere. A
// stream that is not coopnet's, or that copies or takes messages from
// elsewhere, stops the node; one with other settings (replicas, age) is
// updated where this node may, else logged.
func (b *Bus) ensureStream(ctx context.Context, replicas int) error {
	want := StreamConfig(replicas)
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := b.JS.Stream(cctx, JobsStream)
		switch {
		case err == nil:
			err = b.checkStream(cctx, st.CachedInfo().Config, want)
			cancel()
			return err
		case errors.Is(err, jetstream.ErrStreamNotFound):
			_, err = b.JS.CreateStream(cctx, want)
			if err == nil {
				cancel()
				return nil
			}
			if permissionRefused(b.Conn) {
				cancel()
				return fmt.Errorf("bus: the job stream %s is missing and NATS does not let this node create it: "+
					"have the operators create it (coopnet admin nats-stream, as %s)", JobsStream, OpsUser)
			}
		}
		cancel()
		if last := b.Conn.LastError(); last != nil && strings.Contains(strings.ToLower(last.Error()), "authorization") {
			return fmt.Errorf("bus: NATS refused this node's credentials: %w", last)
		}
		if err != nil && permissionRefused(b.Conn) {
			return fmt.Errorf("bus: NATS does not let this node use the job stream (see the README's \"NATS in production\"): %w", b.Conn.LastError())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bus: the job stream %s: %w", JobsStream, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func permissionRefused(nc *nats.Conn) bool {
	last := nc.LastError()
	return last != nil && strings.Contains(strings.ToLower(last.Error()), "permissions violation")
}

// checkStream refuses a job stream that is not coopnet's or whose
// messages go or come elsewhere, and updates one with other settings
// where this node may.
func (b *Bus) checkStream(ctx context.Context, have, want jetstream.StreamConfig) error {
	if have.Retention != want.Retention || strings.Join(have.Subjects, ",") != JobsSubjects {
		return fmt.Errorf("bus: the stream %s on NATS is not coopnet's (subjects %v, retention %v)", JobsStream, have.Subjects, have.Retention)
	}
	if have.RePublish != nil || have.Mirror != nil || len(have.Sources) > 0 || have.SubjectTransform != nil ||
		have.AllowDirect || have.MirrorDirect {
		return fmt.Errorf("bus: the stream %s on NATS copies its messages elsewhere or takes them from elsewhere "+
			"(republish, mirror, sources, subject transform or direct get): have the operators remove that, the jobs are for their regions only", JobsStream)
	}
	if have.Replicas == want.Replicas && have.MaxAge == want.MaxAge && have.MaxMsgSize == want.MaxMsgSize &&
		have.Duplicates == want.Duplicates && have.Storage == want.Storage {
		return nil
	}
	uctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := b.JS.UpdateStream(uctx, want); err != nil {
		b.log.Warn("the job stream's settings differ from this version's and this node may not change them: have the operators update it (coopnet admin nats-stream)",
			"stream", JobsStream, "replicas", have.Replicas, "want_replicas", want.Replicas, "max_age", have.MaxAge, "want_max_age", want.MaxAge, "err", err)
	}
	return nil
}

// Ping checks that NATS is connected, for readiness.
func (b *Bus) Ping(ctx context.Context) error {
	if b.Conn == nil || !b.Conn.IsConnected() {
		return fmt.Errorf("bus: NATS not connected (%s)", b.Conn.Status())
	}
	return nil
}

// Connected reports whether the connection is up, for metrics.
func (b *Bus) Connected() bool { return b.Conn != nil && b.Conn.IsConnected() }

// Close drains the connection and stops an embedded server.
func (b *Bus) Close() {
	if b.Conn != nil {
		_ = b.Conn.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !b.Conn.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		b.Conn.Close()
	}
	if b.embedded != nil {
		b.embedded.Shutdown()
		b.embedded.WaitForShutdown()
	}
}

// redact hides passwords in a list of NATS URLs.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "xxxxx" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}
