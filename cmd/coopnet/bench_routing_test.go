package main

// Routing benchmark: three regional nodes, each on its own PostgreSQL
// database, sharing one embedded NATS server, 1,000 members per region. A
// technician of Bourgogne-Franche-Comté forwards tickets through the API;
// each is measured from just before POST /api/v1/tickets/{id}/forward is
// sent to the moment the offer is stored on the node of the member who gets
// it (scatter-gather over the regions, ranking, the outbox, JetStream, the
// target's consumer). Beside it, on the same NATS server, the baseline of a
// bare NATS request-reply.
//
//	COOPNET_BENCH_SECONDS=5 go test -run '^$' -bench Routing -benchtime 1x ./cmd/coopnet/
//
// Targets (p99 ≤ 50 ms, ≥ 500 forwards/s) are reported, not asserted.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

const (
	routeBenchMembers    = 1000 // per region
	routeBenchWarmup     = 50
	routeBenchSequential = 300
	routeBenchOfferWait  = 10 * time.Second
	routeBenchTargetP99  = 50 * time.Millisecond
	routeBenchTargetRate = 500.0 // forwards/s
	routeBenchJobHours   = 2.0
	natsBenchSequential  = 2000
	natsBenchPayload     = 200 // bytes, each way
	// routePresenceSettle: every node publishes its presence every five
	// seconds; after that long, each knows how many regions to wait for.
	routePresenceSettle = 6 * time.Second
)

var routeBenchSkills = []string{"website", "network", "workstation", "server", "training", "backup"}

var routeBenchRegions = []struct {
	region, domain string
	postcodes      []string
}{
	{"bourgogne-franche-comte", "bfc", []string{"25000", "21000", "39000", "70000"}},
	{"bretagne", "bzh", []string{"35000", "29000", "56000", "22000"}},
	{"ile-de-france", "idf", []string{"75011", "93100", "92100", "94000"}},
}

// errOutOfTickets ends the throughput phase early when every ticket made
// beforehand has been forwarded.
var errOutOfTickets = errors.New("out of tickets")

// routeRig is the three-node network of the benchmark.
type routeRig struct {
	nats    *bus.Embedded
	nodes   map[string]*node.Node
	started time.Time // when the last node started

	// waiting maps a ticket being forwarded to its *pendingForward, until
	// an offer for it is stored.
	waiting  sync.Map
	byRegion map[string]*atomic.Int64 // offers stored, per target region

	// The forwarding technician of Bourgogne-Franche-Comté and their node.
	addr, token string
	tickets     []string
	next        atomic.Int64
}

type pendingForward struct {
	stored chan time.Time
}

// offerStored is every node's OnOfferStored: it stamps the arrival of the
// offer of a ticket being measured.
func (r *routeRig) offerStored(region string, o *member.Offer) {
	at := time.Now()
	r.byRegion[region].Add(1)
	if p, ok := r.waiting.LoadAndDelete(o.TicketID); ok {
		p.(*pendingForward).stored <- at
	}
}

// forward forwards one ticket through the API and waits for its offer to be
// stored, anywhere: it returns the time between the two.
func (r *routeRig) forward(c *wireClient, id string) (time.Duration, error) {
	p := &pendingForward{stored: make(chan time.Time, 1)}
	r.waiting.Store(id, p)
	start := time.Now()
	if err := c.do(http.MethodPost, "/api/v1/tickets/"+id+"/forward", nil, http.StatusAccepted); err != nil {
		r.waiting.Delete(id)
		return 0, err
	}
	t := time.NewTimer(routeBenchOfferWait)
	defer t.Stop()
	select {
	case at := <-p.stored:
		return at.Sub(start), nil
	case <-t.C:
		r.waiting.Delete(id)
		return 0, fmt.Errorf("ticket %s: no offer stored within %s of the forward", id, routeBenchOfferWait)
	}
}

// nextTicket hands out the tickets made beforehand, once each.
func (r *routeRig) nextTicket() (string, bool) {
	i := r.next.Add(1) - 1
	if i >= int64(len(r.tickets)) {
		return "", false
	}
	return r.tickets[i], true
}

func (r *routeRig) client() *wireClient { return &wireClient{addr: r.addr, token: r.token} }

// sequential forwards count tickets one at a time.
func (r *routeRig) sequential(b *testing.B, count int) loadResult {
	b.Helper()
	c := r.client()
	res := loadResult{lat: make([]time.Duration, 0, count)}
	start := time.Now()
	for range count {
		id, ok := r.nextTicket()
		if !ok {
			b.Fatal("out of tickets in a sequential phase")
		}
		d, err := r.forward(c, id)
		if err != nil {
			b.Fatal(err)
		}
		res.lat = append(res.lat, d)
	}
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}

// BenchmarkRoutingLatency: forward → offer stored across three regions, one
// at a time and by 8 concurrent forwarders, beside raw NATS request-reply.
func BenchmarkRoutingLatency(b *testing.B) {
	d := benchDuration(b)
	r := startRouteRig(b)
	nTickets := routeBenchWarmup + routeBenchSequential + int(math.Ceil(1.2*routeBenchTargetRate*d.Seconds()))
	t0 := time.Now()
	r.seed(b, nTickets)
	seeded := time.Since(t0)
	if wait := routePresenceSettle - time.Since(r.started); wait > 0 {
		time.Sleep(wait)
	}

	r.sequential(b, routeBenchWarmup)
	seq := r.sequential(b, routeBenchSequential)

	// Throughput: 8 forwarders, each forwarding its next ticket as soon as
	// the offer of the previous one is stored.
	lats := make([][]time.Duration, benchWorkers)
	stopProfile := profileLoad(b)
	cpu := cpuNow()
	load, err := runLoad(benchWorkers, d, func(w int) func() error {
		c := r.client()
		return func() error {
			id, ok := r.nextTicket()
			if !ok {
				return errOutOfTickets
			}
			lat, err := r.forward(c, id)
			if err == nil {
				lats[w] = append(lats[w], lat)
			}
			return err
		}
	})
	stopProfile()
	ranOut := errors.Is(err, errOutOfTickets)
	if err != nil && !ranOut {
		b.Fatal(err)
	}
	load.lat = slices.Concat(lats...) // offer stored, not the worker's wake-up
	used := cpu.since(len(load.lat))
	slices.Sort(load.lat)

	natsSeq, natsLoad := natsBaseline(b, r.nats.URL(), d)

	offers := map[string]int64{}
	for region, n := range r.byRegion {
		offers[region] = n.Load()
	}
	reportRouting(b, d, seeded, seq, load, natsSeq, natsLoad, offers, ranOut, used)
}

// startRouteRig starts the embedded NATS server and the three nodes, each
// on a fresh PostgreSQL database, all stopped when the benchmark ends.
func startRouteRig(b *testing.B) *routeRig {
	b.Helper()
	e, err := bus.StartEmbedded("127.0.0.1", 0, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Shutdown) // last: after the nodes
	r := &routeRig{nats: e, nodes: map[string]*node.Node{}, byRegion: map[string]*atomic.Int64{}}
	for _, rg := range routeBenchRegions {
		r.byRegion[rg.region] = new(atomic.Int64)
	}
	for _, rg := range routeBenchRegions {
		r.nodes[rg.region] = r.startNode(b, rg.region)
	}
	r.started = time.Now()
	return r
}

func (r *routeRig) startNode(b *testing.B, region string) *node.Node {
	b.Helper()
	dbURL := storagetest.PostgresURL(b) // dropped after the node closes
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Region: region, Listen: ln.Addr().String(), DatabaseURL: dbURL, DataDir: b.TempDir(),
		NATSURL: r.nats.URL(), OfferTTL: 48 * time.Hour, LogFormat: "json", LogLevel: "info"}
	if err := cfg.Finish(true); err != nil {
		ln.Close()
		b.Fatal(err)
	}
	// Logs are encoded as in production, then dropped.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	n, err := node.Open(context.Background(), cfg, log, node.Options{BcryptCost: bcrypt.MinCost,
		GatherWindow: 300 * time.Millisecond, Tick: time.Second, // the production default: work is driven by wake-ups, the tick only catches what they miss
		OnOfferStored: func(o *member.Offer) { r.offerStored(region, o) }})
	if err != nil {
		ln.Close()
		b.Fatalf("open %s: %v", region, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx, ln, 10*time.Second) }()
	b.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			b.Errorf("serve %s: %v", region, err)
		}
		n.Close()
	})
	if region == routeBenchRegions[0].region {
		r.addr = ln.Addr().String()
	}
	return n
}

// seed registers 1,000 members in each region (through the members service,
// with the cheapest bcrypt), the forwarding technician, their client near
// Besançon and count remote website tickets of 2 h for it.
func (r *routeRig) seed(b *testing.B, count int) {
	b.Helper()
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	fail := func(err error) { errOnce.Do(func() { first = err }) }
	for ri, rg := range routeBenchRegions {
		n := r.nodes[rg.region]
		const workers = 4
		for w := range workers {
			wg.Go(func() {
				for i := w; i < routeBenchMembers; i += workers {
					rng := rand.New(rand.NewPCG(uint64(ri), uint64(i)))
					var skills []members.SkillLevel
					for _, k := range rng.Perm(len(routeBenchSkills))[:1+rng.IntN(3)] {
						skills = append(skills, members.SkillLevel{Name: routeBenchSkills[k], Level: 1 + rng.IntN(5)})
					}
					_, err := n.Members.Create(ctx, nil, members.CreateInput{
						Email: fmt.Sprintf("m%04d@%s.bench", i, rg.domain), Name: fmt.Sprintf("Membre %d (%s)", i, rg.domain),
						Role: "technician", Password: benchPassword, Postcode: rg.postcodes[rng.IntN(len(rg.postcodes))],
						RadiusKm: ptrTo(20 + rng.IntN(61)), RemoteOK: rng.IntN(2) == 0, WeeklyHours: ptrTo(20 + rng.IntN(16)),
						Skills: skills,
					})
					if err != nil {
						fail(fmt.Errorf("seed %s member %d: %w", rg.region, i, err))
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}

	n := r.nodes[routeBenchRegions[0].region]
	tech, err := n.Members.Create(ctx, nil, members.CreateInput{Email: "tech@bfc.bench", Name: "Jean Dugnouf",
		Role: "technician", Password: benchPassword, Postcode: "25150", Commune: "Bourguignon",
		Skills: []members.SkillLevel{{Name: "workstation", Level: 4}}})
	if err != nil {
		b.Fatal(err)
	}
	if r.token, err = n.Members.IssueToken(ctx, tech.ID, members.APIToken); err != nil {
		b.Fatal(err)
	}
	actor := members.Actor{ID: tech.ID, Handle: tech.FullHandle, Name: tech.Name, Role: tech.Role}
	cl, err := n.Clients.Create(ctx, actor, clients.CreateInput{Description: clients.Description{Name: "École primaire des Tilleuls", Kind: "school",
		Postcode: "25150", Commune: "Bourguignon", ContactName: "Mme Martin", ContactEmail: "ecole.tilleuls@example.org"}})
	if err != nil {
		b.Fatal(err)
	}
	r.tickets = make([]string, count)
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < count; i += workers {
				t, err := n.Tickets.Create(ctx, actor, tickets.CreateInput{ClientID: cl.ID,
					Title: fmt.Sprintf("Site web de l'école (%d)", i), Description: "Mettre à jour le site vitrine.",
					Skill: "website", OnSite: ptrTo(false), EstimatedHours: ptrTo(routeBenchJobHours)})
				if err != nil {
					fail(fmt.Errorf("ticket %d: %w", i, err))
					return
				}
				r.tickets[i] = t.ID
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

// natsBaseline measures a bare request-reply on the same server: one
// responder replying 200 bytes, one requester 2,000 times in a row, then 8
// concurrent requesters for d.
func natsBaseline(b *testing.B, url string, d time.Duration) (seq, load loadResult) {
	b.Helper()
	resp, err := nats.Connect(url, nats.Name("bench-responder"))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Close()
	payload := []byte(strings.Repeat("x", natsBenchPayload))
	if _, err := resp.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(payload) }); err != nil {
		b.Fatal(err)
	}
	if err := resp.Flush(); err != nil {
		b.Fatal(err)
	}
	req, err := nats.Connect(url, nats.Name("bench-requester"))
	if err != nil {
		b.Fatal(err)
	}
	defer req.Close()
	op := func(int) func() error {
		return func() error {
			m, err := req.Request("bench.echo", payload, routeBenchOfferWait)
			if err == nil && len(m.Data) != natsBenchPayload {
				err = fmt.Errorf("NATS reply of %d bytes", len(m.Data))
			}
			return err
		}
	}
	once := op(0)
	seq.lat = make([]time.Duration, 0, natsBenchSequential)
	for range natsBenchSequential / 10 { // warm-up
		if err := once(); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	for range natsBenchSequential {
		t0 := time.Now()
		if err := once(); err != nil {
			b.Fatal(err)
		}
		seq.lat = append(seq.lat, time.Since(t0))
	}
	seq.elapsed = time.Since(start)
	slices.Sort(seq.lat)
	return seq, runPhase(b, d, op)
}

// reportRouting publishes the metrics and logs them, with the targets, for a
// person.
func reportRouting(b *testing.B, d, seeded time.Duration, seq, load, natsSeq, natsLoad loadResult, offers map[string]int64, ranOut bool, used string) {
	b.Helper()
	b.ReportMetric(ms(seq.pct(.50)), "seq_p50_ms")
	b.ReportMetric(ms(seq.pct(.99)), "seq_p99_ms")
	b.ReportMetric(load.rate(), "forwards/s")
	b.ReportMetric(ms(load.pct(.50)), "load_p50_ms")
	b.ReportMetric(ms(load.pct(.99)), "load_p99_ms")
	b.ReportMetric(ms(natsSeq.pct(.50)), "nats_seq_p50_ms")
	b.ReportMetric(ms(natsSeq.pct(.99)), "nats_seq_p99_ms")
	b.ReportMetric(natsLoad.rate(), "nats_req/s")
	b.ReportMetric(ms(natsLoad.pct(.50)), "nats_load_p50_ms")
	b.ReportMetric(ms(natsLoad.pct(.99)), "nats_load_p99_ms")
	b.ReportMetric(0, "ns/op") // the whole run with its set-up: meaningless here

	// testing keeps ten lines of a benchmark's log: ten here.
	var s strings.Builder
	fmt.Fprintf(&s, "routing: POST /api/v1/tickets/{id}/forward → offer stored on the member's node\n")
	fmt.Fprintf(&s, "  3 regions × %d members (seeded in %s), PostgreSQL per node, one embedded NATS; gather window 300ms, "+
		"tick 1s; remote %.0f h website jobs from BFC; %d workers for %s; %d CPUs\n",
		routeBenchMembers, seeded.Round(100*time.Millisecond), routeBenchJobHours, benchWorkers, d, runtime.NumCPU())
	fmt.Fprintf(&s, "  %-23s %10s %9s %9s %9s %9s %9s\n", "", "per s", "count", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for _, row := range []struct {
		name string
		r    loadResult
	}{{"forward, one at a time", seq}, {"forward, 8 workers", load},
		{"NATS req, one at a time", natsSeq}, {"NATS req, 8 workers", natsLoad}} {
		fmt.Fprintf(&s, "  %-23s %10.1f %9d %9.2f %9.2f %9.2f %9.2f\n", row.name, row.r.rate(), len(row.r.lat),
			ms(row.r.pct(.50)), ms(row.r.pct(.90)), ms(row.r.pct(.99)), ms(row.r.pct(1)))
	}
	fmt.Fprintf(&s, "  offers stored by region (warm-up included):")
	for _, rg := range routeBenchRegions {
		fmt.Fprintf(&s, " %s %d", rg.region, offers[rg.region])
	}
	if ranOut {
		fmt.Fprintf(&s, "; every ticket made beforehand was forwarded: the load phase ended after %s",
			load.elapsed.Round(time.Millisecond))
	}
	fmt.Fprintf(&s, "\n  CPU during the load (the forward is the operation): %s", used)
	fmt.Fprintf(&s, "\n  targets: p99 one at a time %.2f ms (≤ %.0f ms) %s; p99 under load %.2f ms (≤ %.0f ms) %s; "+
		"%.1f forwards/s (≥ %.0f) %s",
		ms(seq.pct(.99)), ms(routeBenchTargetP99), verdict(seq.pct(.99) <= routeBenchTargetP99),
		ms(load.pct(.99)), ms(routeBenchTargetP99), verdict(load.pct(.99) <= routeBenchTargetP99),
		load.rate(), routeBenchTargetRate, verdict(load.rate() >= routeBenchTargetRate))
	b.Log(s.String())
}
