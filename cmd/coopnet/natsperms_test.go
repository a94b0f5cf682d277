package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestShippedNATSConfig: the regions' users in deploy/nats are what
// `coopnet admin nats-config` writes from the code's one list of
// permissions, for every region of France and for the trial's three.
func TestShippedNATSConfig(t *testing.T) {
	var all []string
	for r := range geo.Regions {
		all = append(all, r)
	}
	for file, regions := range map[string][]string{
		"coopnet-regions.conf":       all,
		"coopnet-regions-trial.conf": rig.Regions,
	} {
		want, err := bus.AuthorizationConfig(regions)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nats", file))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("deploy/nats/%s is not what `coopnet admin nats-config` writes for %v: regenerate it", file, regions)
		}
	}
	for _, bad := range [][]string{{"Bretagne"}, {"bretagne", "bretagne"}, {bus.OpsUser}, {}} {
		if _, err := bus.AuthorizationConfig(bad); err == nil {
			t.Errorf("a configuration for %q", bad)
		}
	}
}

// startShippedNATS starts a nats-server from deploy/nats/nats-cluster.conf
// and the coopnet-regions.conf it includes, as shipped, alone on
// 127.0.0.1 (without its cluster, whose other servers are not here), and
// returns each region's user:password@.
func startShippedNATS(t *testing.T) (start func(dir string) (*bus.Embedded, error), users map[string]string, ops string) {
	dir := t.TempDir()
	for _, f := range []string{"nats-cluster.conf", "coopnet-regions.conf"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nats", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	users = map[string]string{}
	for r := range geo.Regions {
		pw := "pw-" + storagetest.Name(r)
		t.Setenv(bus.PasswordVariable(r), pw)
		users[r] = r + ":" + pw + "@"
	}
	t.Setenv("COOPNET_NATS_PASSWORD_OPS", "ops-password")
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats-cluster.conf"))
	if err != nil {
		t.Fatalf("the shipped NATS configuration: %v", err)
	}
	if len(opts.Users) != len(geo.Regions)+1 {
		t.Fatalf("the shipped configuration has %d users, want one per region and the operators'", len(opts.Users))
	}
	return func(store string) (*bus.Embedded, error) {
		o := opts.Clone()
		o.Host, o.Port, o.HTTPPort = "127.0.0.1", server.RANDOM_PORT, 0
		o.Cluster, o.Routes, o.RoutesStr = server.ClusterOpts{}, nil, ""
		o.JetStream, o.StoreDir, o.NoSigs, o.NoLog = true, store, true, true
		ns, err := server.NewServer(o)
		if err != nil {
			return nil, err
		}
		ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			ns.Shutdown()
			return nil, fmt.Errorf("the NATS server did not start")
		}
		url := ns.ClientURL()
		// No region's node may make the job stream: it stops, saying so.
		_, err = bus.Connect(context.Background(), bus.Config{URLs: strings.Replace(url, "nats://", "nats://"+users["bretagne"], 1),
			InboxPrefix: bus.InboxPrefix("bretagne")}, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "coopnet admin nats-stream") {
			ns.Shutdown()
			return nil, fmt.Errorf("a region's node on a NATS without the job stream: %v", err)
		}
		// The operators make it.
		var out, errOut bytes.Buffer
		env := map[string]string{"COOPNET_NATS_URL": strings.Replace(url, "nats://", "nats://coopnet-ops:ops-password@", 1)}
		if err := cmdAdmin(context.Background(), []string{"nats-stream"}, nil, &out, &errOut, func(k string) string { return env[k] }); err != nil ||
			!strings.Contains(out.String(), `"stream": "COOPNET_JOBS"`) {
			ns.Shutdown()
			return nil, fmt.Errorf("coopnet admin nats-stream: %v %s %s", err, out.String(), errOut.String())
		}
		return &bus.Embedded{Server: ns}, nil
	}, users, "coopnet-ops:ops-password@"
}

// TestNATSPermissions: three regions' nodes on a nats-server started from
// the shipped configuration, each connected as its own region, share a
// job (question, answers, offer, acceptance, the job's messages, a
// release), and the workload figures; while Bretagne's user is refused
// what it may not do: read another region's inbox, acceptances or job
// queue, or everything; purge, delete or change the job stream; pull from,
// delete or acknowledge on another region's consumer, or make one of its
// own on another's jobs. Without a user, nobody connects.
func TestNATSPermissions(t *testing.T) {
	start, users, ops := startShippedNATS(t)
	c := &coop{rig.NewWith(t, 48*time.Hour, map[string]string{
		"bourgogne-franche-comte": storagetest.SQLiteURL(t),
		"bretagne":                storagetest.SQLiteURL(t),
		"ile-de-france":           storagetest.SQLiteURL(t),
	}, start, users, ops)}
	url := fmt.Sprintf("nats://127.0.0.1:%d", c.NATSPort)

	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("a connection without a user was let in")
	}
	if nc, err := nats.Connect(strings.Replace(url, "nats://", "nats://bretagne:wrong@", 1)); err == nil {
		nc.Close()
		t.Fatal("a wrong password was let in")
	}

	var mu sync.Mutex
	refused := map[string]bool{}
	bzh, err := nats.Connect(strings.Replace(url, "nats://", "nats://"+users["bretagne"], 1),
		nats.CustomInboxPrefix(bus.InboxPrefix("bretagne")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			refused[err.Error()] = true
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer bzh.Close()
	expect := func(what, subject string) {
		t.Helper()
		rig.WaitFor(t, "Bretagne refused to "+what+" "+subject, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for e := range refused {
				if strings.Contains(strings.ToLower(e), "permissions violation for "+what) && strings.Contains(e, `"`+subject+`"`) {
					return true
				}
			}
			return false
		})
	}
	for _, subject := range []string{
		"_INBOX.bourgogne-franche-comte.>", "_INBOX.>", "coopnet.v1.accept.bourgogne-franche-comte",
		"coopnet.v1.release.ile-de-france", "coopnet.v1.jobs.>", "coopnet.v1.jobs.bourgogne-franche-comte.offer", ">",
	} {
		if _, err := bzh.Subscribe(subject, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		expect("subscription to", subject)
	}
	for _, subject := range []string{
		"$JS.API.STREAM.PURGE.COOPNET_JOBS", "$JS.API.STREAM.DELETE.COOPNET_JOBS", "$JS.API.STREAM.UPDATE.COOPNET_JOBS",
		"$JS.API.STREAM.CREATE.OTHER",
		"$JS.API.STREAM.MSG.GET.COOPNET_JOBS",
		"$JS.API.CONSUMER.MSG.NEXT.COOPNET_JOBS.jobs-bourgogne-franche-comte",
		"$JS.API.CONSUMER.DELETE.COOPNET_JOBS.jobs-bourgogne-franche-comte",
		"$JS.API.CONSUMER.CREATE.COOPNET_JOBS.jobs-bretagne.coopnet.v1.jobs.bourgogne-franche-comte.>",
		"$JS.API.CONSUMER.CREATE.COOPNET_JOBS.spy",
		"$JS.ACK.COOPNET_JOBS.jobs-bourgogne-franche-comte.1.1.1.1.1",
		"coopnet.v2.anything",
	} {
		if err := bzh.PublishRequest(subject, "_INBOX.bretagne.probe", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		expect("publish to", subject)
	}
	js := c.JetStream()
	info, err := js.StreamInfo(bus.JobsStream)
	if err != nil {
		t.Fatalf("the job stream after Bretagne's attempts: %v", err)
	}
	var consumers []string
	for name := range js.ConsumerNames(bus.JobsStream) {
		consumers = append(consumers, name)
	}
	sort.Strings(consumers)
	if strings.Join(consumers, " ") != "jobs-bourgogne-franche-comte jobs-bretagne jobs-ile-de-france" || info.Config.MaxAge != 14*24*time.Hour {
		t.Fatalf("the job stream after Bretagne's attempts: consumers %v, max age %v", consumers, info.Config.MaxAge)
	}

	// Under these permissions the coop works: a job shared, then given
	// back and taken by the next candidate; the workload of every region.
	jeanID, marieID := c.SharedTicket("Site web de l'École primaire des Tilleuls")
	rig.WaitFor(t, "Marie's job given back", func() bool {
		var out map[string]any
		switch code := rig.Status(t, "POST", c.Node("bretagne").URL+"/api/v1/tickets/"+marieID+"/release", c.Tokens[rig.Marie],
			map[string]any{"reason": "Je ne peux plus, désolée."}, &out); code {
		case 200:
			return true
		case 503: // Jean's node slow to answer (a loaded machine): she tries again, as the page tells her
			return false
		case 409: // it answered the first time after all, too late for her node to hear it
			return c.TicketOn(rig.Marie, marieID).Status == "cancelled"
		default:
			t.Fatalf("Marie gives the job back: %d %v", code, out)
			return false
		}
	})
	rig.WaitFor(t, "the job offered to the next candidate", func() bool {
		r := c.API("bourgogne-franche-comte", "GET", "/api/v1/tickets/"+jeanID+"/routing", rig.Jean, nil, 200)
		return r["offered_to"] != nil && r["offered_to"] != c.Handle(rig.Marie)
	})
	loads, err := c.Node("bourgogne-franche-comte").N.Routing.RegionLoads(t.Context())
	if err != nil || len(loads) != 3 {
		t.Fatalf("the regions' workload under the shipped permissions: %v %v", loads, err)
	}
	for _, l := range loads {
		if l.Technicians < 1 || l.CapacityHours < l.Technicians {
			t.Errorf("the workload of %s: %d technicians, %d hours a week", l.Region, l.Technicians, l.CapacityHours)
		}
	}
	ml, err := c.Node("bretagne").N.Routing.Member().MemberLoads(t.Context())
	if err != nil || len(ml) < 2 || ml[0].WeeklyHours <= 0 {
		t.Fatalf("Bretagne's members' loads: %+v %v", ml, err)
	}

	// A stream set up to copy the jobs elsewhere (by whoever could)
	// stops a node at start.
	cfg := bus.StreamConfig(1)
	cfg.RePublish = &jetstream.RePublish{Source: "coopnet.v1.jobs.>", Destination: "elsewhere.>"}
	opsJS, err := jetstream.New(c.NATSConn())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opsJS.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	_, err = bus.Connect(t.Context(), bus.Config{URLs: strings.Replace(url, "nats://", "nats://"+users["bretagne"], 1),
		InboxPrefix: bus.InboxPrefix("bretagne")}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "copies its messages elsewhere") {
		t.Fatalf("a node on a job stream that republishes: %v", err)
	}
}
