package bus_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/coopnet/coopnet/services/bus"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer runs a real nats-server with JetStream and the given auth.
func startServer(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.JetStream, opts.StoreDir, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, t.TempDir(), true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

func connect(url string, cfg bus.Config) (*bus.Bus, error) {
	cfg.URLs, cfg.Name = url, "test"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return bus.Connect(ctx, cfg, quiet)
}

func TestEmbeddedByDefault(t *testing.T) {
	b, err := bus.Connect(context.Background(), bus.Config{Name: "test", StoreDir: t.TempDir()}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Ping(context.Background()); err != nil || !b.Connected() {
		t.Fatalf("embedded: %v", err)
	}
	if _, err := b.JS.Stream(context.Background(), bus.JobsStream); err != nil {
		t.Fatalf("job stream: %v", err)
	}
}

// TestCredentials: a region's user and password (in the URL) or nkey seed
// are honoured; wrong ones are refused.
func TestCredentials(t *testing.T) {
	url := startServer(t, &server.Options{Username: "bretagne", Password: "s3cret"})
	hostport := url[len("nats://"):]
	b, err := connect("nats://bretagne:s3cret@"+hostport, bus.Config{})
	if err != nil {
		t.Fatalf("user and password: %v", err)
	}
	b.Close()
	if _, err := connect("nats://bretagne:wrong@"+hostport, bus.Config{}); err == nil {
		t.Fatal("a wrong password was accepted")
	}

	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(t.TempDir(), "bretagne.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	url = startServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	b, err = connect(url, bus.Config{NKeySeedFile: seedFile})
	if err != nil {
		t.Fatalf("nkey: %v", err)
	}
	b.Close()
	if _, err := connect(url, bus.Config{}); err == nil {
		t.Fatal("no credentials accepted by a server that requires an nkey")
	}
	if _, err := connect(url, bus.Config{NKeySeedFile: filepath.Join(t.TempDir(), "missing.nk")}); err == nil {
		t.Fatal("a missing seed file was accepted")
	}
}
