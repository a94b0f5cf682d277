package main

// Load benchmarks of the JSON API on PostgreSQL, each measured beside a
// baseline of raw pgx statements on the same database, so that the ratio
// says what the node's layers (HTTP, echo, authentication, validation, gorm,
// JSON) cost over the database itself.
//
// Run them with make bench, or:
//
//	COOPNET_BENCH_SECONDS=5 go test -run '^$' -bench . -benchtime 1x ./cmd/coopnet/
//
// Each benchmark body runs once (b.N = 1) and manages its own duration:
// COOPNET_BENCH_SECONDS per phase (default 10), after a short warm-up.
// Targets are reported, not asserted: machines are noisy.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

const (
	benchRegion   = "bourgogne-franche-comte"
	benchWorkers  = 8
	benchPassword = "bench password 123"
	benchSkill    = "workstation"
)

// BenchmarkTicketCreateAPI: POST /api/v1/tickets by 8 clients, against
// single-row INSERTs into a bare copy of the tickets table by 8 pgx workers.
func BenchmarkTicketCreateAPI(b *testing.B) {
	d := benchDuration(b)
	bn := startBenchNode(b)
	pool := bn.rawPool(b)
	ctx := context.Background()
	for _, q := range []string{
		// The same shape as tickets: columns, defaults, checks, primary key,
		// unique ap_id and the four secondary indexes, and the foreign keys.
		"CREATE TABLE bench_raw_tickets (LIKE tickets INCLUDING ALL)",
		`ALTER TABLE bench_raw_tickets
			ADD FOREIGN KEY (client_id) REFERENCES clients (id),
			ADD FOREIGN KEY (technician_id) REFERENCES members (id),
			ADD FOREIGN KEY (skill) REFERENCES skills (name),
			ADD FOREIGN KEY (assignee_member_id) REFERENCES members (id)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	const insert = `INSERT INTO bench_raw_tickets (id, client_id, technician_id, title, description, skill,
		priority, on_site, estimated_minutes, status, origin_region, assignee_member_id, assignee_handle,
		assignee_region, assignee_name, ap_id, created_by, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`
	publicURL, host := bn.n.Cfg.PublicURL, bn.n.Cfg.Host()

	api, raw := runPaired(b, d, func(w int) func() error {
		c := bn.wireClient()
		body := mustJSON(b, map[string]any{
			"client_id": bn.clientID, "title": fmt.Sprintf("Imprimante en panne (bench %d)", w),
			"description": "Le copieur du secrétariat affiche une erreur 0x42 depuis ce matin.",
			"skill":       benchSkill, "priority": "normal", "on_site": true, "estimated_hours": 1.5,
		})
		return func() error { return c.do(http.MethodPost, "/api/v1/tickets", body, http.StatusCreated) }
	}, func(w int) func() error {
		title := fmt.Sprintf("Imprimante en panne (bench %d)", w)
		return func() error {
			id, now := storage.NewID(), time.Now().UTC()
			_, err := pool.Exec(ctx, insert, id, bn.clientID, bn.memberID, title,
				"Le copieur du secrétariat affiche une erreur 0x42 depuis ce matin.", benchSkill, "normal", true, 90,
				"new", benchRegion, nil, "", "", "", publicURL+"/tickets/"+id, "bench@"+host, 1, now, now)
			return err
		}
	})

	report(b, "ticket create: POST /api/v1/tickets vs raw INSERT", pairedSetup(d), [2]string{"API", "raw pgx"}, api, raw, 0.6)
}

// BenchmarkTicketReadAPI: GET /api/v1/tickets/{id} by 8 clients over ~1000
// tickets, against SELECT * … WHERE id = $1 by 8 pgx workers.
func BenchmarkTicketReadAPI(b *testing.B) {
	d := benchDuration(b)
	bn := startBenchNode(b)
	ids := bn.createTickets(b, 1000)
	pool := bn.rawPool(b)
	ctx := context.Background()

	api, raw := runPaired(b, d, func(w int) func() error {
		c := bn.wireClient()
		rng := rand.New(rand.NewPCG(uint64(w), 1))
		return func() error {
			return c.do(http.MethodGet, "/api/v1/tickets/"+ids[rng.IntN(len(ids))], nil, http.StatusOK)
		}
	}, func(w int) func() error {
		rng := rand.New(rand.NewPCG(uint64(w), 2))
		return func() error {
			id := ids[rng.IntN(len(ids))]
			rows, err := pool.Query(ctx, "SELECT * FROM tickets WHERE id = $1", id)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				if _, err := rows.Values(); err != nil {
					rows.Close()
					return err
				}
				n++
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("SELECT ticket %s: %d rows", id, n)
			}
			return nil
		}
	})

	report(b, "ticket read: GET /api/v1/tickets/{id} vs raw SELECT by primary key", pairedSetup(d), [2]string{"API", "raw pgx"}, api, raw, 0.3)
}

// benchDuration is the length of each measured phase: COOPNET_BENCH_SECONDS
// (default 10).
func benchDuration(b *testing.B) time.Duration {
	s := os.Getenv("COOPNET_BENCH_SECONDS")
	if s == "" {
		return 10 * time.Second
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) {
		b.Fatalf("COOPNET_BENCH_SECONDS=%q: want a positive number of seconds", s)
	}
	return time.Duration(f * float64(time.Second))
}

// profileLoad writes a CPU profile of a benchmark's load phase alone (not
// its seeding nor its baseline) to $COOPNET_BENCH_CPUPROFILE, if set; the
// function it returns stops it.
func profileLoad(b *testing.B) func() {
	b.Helper()
	path := os.Getenv("COOPNET_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("COOPNET_BENCH_CPUPROFILE: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatalf("COOPNET_BENCH_CPUPROFILE: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Errorf("COOPNET_BENCH_CPUPROFILE: %v", err)
		}
	}
}

// cpuUse is the CPU time used by the whole machine (from /proc/stat) and by
// this process, from a mark: a load phase's split between the Go process and
// PostgreSQL.
type cpuUse struct {
	at            time.Time
	machine, self time.Duration
}

func cpuNow() cpuUse {
	u := cpuUse{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// The first line of /proc/stat: "cpu  user nice system idle iowait irq
	// softirq steal …" in clock ticks (USER_HZ, 100 on Linux).
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line)
		for i := 1; i < len(f) && i <= 8; i++ {
			if i == 4 || i == 5 { // idle, iowait
				continue
			}
			n, _ := strconv.ParseInt(f[i], 10, 64)
			u.machine += time.Duration(n) * 10 * time.Millisecond
		}
	}
	return u
}

// since says how many cores the machine and this process kept busy since
// u, and the machine's CPU time per operation for ops done meanwhile.
func (u cpuUse) since(ops int) string {
	now := cpuNow()
	wall := now.at.Sub(u.at).Seconds()
	if wall <= 0 || u.machine == 0 || ops <= 0 {
		return "unknown"
	}
	machine := (now.machine - u.machine).Seconds()
	return fmt.Sprintf("%.2f cores busy on the machine, %.2f of them in this process; %.2f ms of the machine's CPU per operation",
		machine/wall, (now.self-u.self).Seconds()/wall, machine*1000/float64(ops))
}

// benchNode is a node serving HTTP on 127.0.0.1 on a fresh PostgreSQL
// database, with one technician logged in and one client of theirs.
type benchNode struct {
	n        *node.Node
	dbURL    string
	base     string // http://127.0.0.1:port
	tr       *http.Transport
	token    string
	memberID string
	clientID string
}

// startBenchNode opens a node on PostgreSQL, serves it until the benchmark
// ends, registers a technician, logs them in through the API and creates one
// client through the API.
func startBenchNode(b *testing.B) *benchNode {
	b.Helper()
	dbURL := storagetest.PostgresURL(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Region: benchRegion, Listen: ln.Addr().String(), DatabaseURL: dbURL, DataDir: b.TempDir(),
		LogFormat: "json", LogLevel: "info"}
	if err := cfg.Finish(true); err != nil {
		ln.Close()
		b.Fatal(err)
	}
	// The access log is encoded as in production, then dropped.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	n, err := node.Open(context.Background(), cfg, log, node.Options{BcryptCost: bcrypt.MinCost})
	if err != nil {
		ln.Close()
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx, ln, 10*time.Second) }()
	bn := &benchNode{n: n, dbURL: dbURL, base: "http://" + ln.Addr().String(),
		tr: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}}
	b.Cleanup(func() {
		bn.tr.CloseIdleConnections()
		cancel()
		if err := <-served; err != nil {
			b.Errorf("serve: %v", err)
		}
		n.Close()
	})

	m, err := n.Members.Create(context.Background(), nil, members.CreateInput{
		Email: "bench@bfc.test", Name: "Bench Technician", Role: "technician", Password: benchPassword,
		Postcode: "25150", Skills: []members.SkillLevel{{Name: benchSkill, Level: 3}},
	})
	if err != nil {
		b.Fatalf("create member: %v", err)
	}
	bn.memberID = m.ID
	c := bn.httpClient()
	var login struct{ Token string }
	resp, err := bn.do(c, http.MethodPost, "/api/v1/auth/login",
		mustJSON(b, map[string]string{"email": "bench@bfc.test", "password": benchPassword}), http.StatusOK)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(resp, &login); err != nil || login.Token == "" {
		b.Fatalf("login: no token in %s (%v)", resp, err)
	}
	bn.token = login.Token
	var cl struct{ ID string }
	resp, err = bn.do(c, http.MethodPost, "/api/v1/clients", mustJSON(b, map[string]string{
		"name": "École primaire Jules Ferry", "kind": "school", "postcode": "25150",
		"contact_name": "Mme Martin", "contact_email": "direction@ecole.test",
	}), http.StatusCreated)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(resp, &cl); err != nil || cl.ID == "" {
		b.Fatalf("create client: no id in %s (%v)", resp, err)
	}
	bn.clientID = cl.ID
	return bn
}

// httpClient returns a client of its own over the shared transport.
func (bn *benchNode) httpClient() *http.Client {
	return &http.Client{Transport: bn.tr, Timeout: 30 * time.Second}
}

// do sends one API request as the logged-in member and returns the body; a
// status other than want is an error quoting the body.
func (bn *benchNode) do(c *http.Client, method, path string, body []byte, want int) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, bn.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bn.token != "" {
		req.Header.Set("Authorization", "Bearer "+bn.token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return out, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want,
			strings.TrimSpace(string(out)))
	}
	return out, nil
}

// createTickets creates count tickets through the API with benchWorkers
// clients and returns their ids.
func (bn *benchNode) createTickets(b *testing.B, count int) []string {
	b.Helper()
	var (
		next    atomic.Int64
		mu      sync.Mutex
		ids     = make([]string, 0, count)
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for w := range benchWorkers {
		wg.Go(func() {
			c := bn.httpClient()
			for i := next.Add(1); i <= int64(count); i = next.Add(1) {
				body, err := json.Marshal(map[string]any{
					"client_id": bn.clientID, "title": fmt.Sprintf("Poste %d ne démarre plus (%d)", i, w),
					"description": "Écran noir au démarrage.", "skill": benchSkill,
					"priority": []string{"low", "normal", "high", "urgent"}[i%4], "on_site": i%2 == 0,
					"estimated_hours": float64(i%8) / 2,
				})
				var resp []byte
				if err == nil {
					resp, err = bn.do(c, http.MethodPost, "/api/v1/tickets", body, http.StatusCreated)
				}
				var t struct{ ID string }
				if err == nil {
					if err = json.Unmarshal(resp, &t); err == nil && t.ID == "" {
						err = fmt.Errorf("no id in %s", resp)
					}
				}
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
				mu.Lock()
				ids = append(ids, t.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatalf("create tickets: %v", first)
	}
	return ids
}

// rawPool opens a pgx pool of benchWorkers connections on the node's
// database, closed when the benchmark ends.
func (bn *benchNode) rawPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	pc, err := pgxpool.ParseConfig(bn.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	pc.MaxConns = benchWorkers
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		b.Fatal(err)
	}
	return pool
}

// loadResult is one measured phase: every latency, sorted, and the
// wall-clock time it took.
type loadResult struct {
	lat     []time.Duration
	elapsed time.Duration
}

func (r loadResult) rate() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }

// pct is the p-th percentile latency (0 < p ≤ 1), by nearest rank.
func (r loadResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.lat)))) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runPhase warms up, then runs benchWorkers workers for d; any error fails
// the benchmark.
func runPhase(b *testing.B, d time.Duration, newOp func(worker int) func() error) loadResult {
	b.Helper()
	if _, err := runLoad(benchWorkers, min(time.Second, d/5), newOp); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	r, err := runLoad(benchWorkers, d, newOp)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// pairedRounds is how many turns runPaired gives each of its two loads.
const pairedRounds = 4

// pairedSetup describes runPaired's phases for a report.
func pairedSetup(d time.Duration) string {
	return fmt.Sprintf("%s per load in %d alternating rounds", d, pairedRounds)
}

// runPaired measures a load and its baseline in alternating rounds (a, b,
// a, b, …; d in all for each, after a warm-up of both), so that a machine
// that slows down or speeds up during the run weighs on both alike rather
// than on whichever ran second. Each round makes its workers anew.
func runPaired(b *testing.B, d time.Duration, newA, newB func(worker int) func() error) (loadResult, loadResult) {
	b.Helper()
	warm := min(time.Second, d/5)
	var res [2]loadResult
	for i, newOp := range []func(int) func() error{newA, newB} {
		if _, err := runLoad(benchWorkers, warm, newOp); err != nil {
			b.Fatalf("warm-up %d: %v", i+1, err)
		}
	}
	for range pairedRounds {
		for i, newOp := range []func(int) func() error{newA, newB} {
			r, err := runLoad(benchWorkers, d/pairedRounds, newOp)
			if err != nil {
				b.Fatal(err)
			}
			res[i].lat = append(res[i].lat, r.lat...)
			res[i].elapsed += r.elapsed
		}
	}
	for i := range res {
		slices.Sort(res[i].lat)
	}
	return res[0], res[1]
}

// errPhaseDone, returned by an op, ends a phase of a fixed amount of work
// (without an error and without counting that call).
var errPhaseDone = errors.New("phase done")

// runLoad runs workers goroutines for d, each calling its own op (made by
// newOp) back to back, and records the latency of every call. The first
// error stops every worker and is returned.
func runLoad(workers int, d time.Duration, newOp func(worker int) func() error) (loadResult, error) {
	var (
		stop    atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
		lats    = make([][]time.Duration, workers)
		ops     = make([]func() error, workers)
	)
	for w := range workers {
		ops[w] = newOp(w)
	}
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			l := make([]time.Duration, 0, 1<<14)
			for !stop.Load() {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if err := ops[w](); err != nil {
					if !errors.Is(err, errPhaseDone) {
						errOnce.Do(func() { first = err })
					}
					stop.Store(true)
					break
				}
				l = append(l, time.Since(t0))
			}
			lats[w] = l
		})
	}
	wg.Wait()
	r := loadResult{lat: slices.Concat(lats...), elapsed: time.Since(start)}
	slices.Sort(r.lat)
	return r, first
}

// report publishes the metrics of a measured phase and its baseline and
// logs them, with the targets, for a person. names name the two phases.
func report(b *testing.B, title, setup string, names [2]string, api, raw loadResult, targetRatio float64) {
	b.Helper()
	const targetP99 = 20 * time.Millisecond
	ratio := api.rate() / raw.rate()
	b.ReportMetric(api.rate(), "api_req/s")
	b.ReportMetric(ms(api.pct(.50)), "api_p50_ms")
	b.ReportMetric(ms(api.pct(.99)), "api_p99_ms")
	b.ReportMetric(raw.rate(), "raw_req/s")
	b.ReportMetric(ms(raw.pct(.50)), "raw_p50_ms")
	b.ReportMetric(ms(raw.pct(.99)), "raw_p99_ms")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(0, "ns/op") // the whole run with its set-up: meaningless here

	var s strings.Builder
	fmt.Fprintf(&s, "\n%s\n", title)
	fmt.Fprintf(&s, "  %d workers, %s, %d CPUs\n", benchWorkers, setup, runtime.NumCPU())
	fmt.Fprintf(&s, "  %-10s %10s %9s %9s %9s %9s %9s\n", "", "req/s", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for i, r := range []loadResult{api, raw} {
		fmt.Fprintf(&s, "  %-10s %10.1f %9d %9.2f %9.2f %9.2f %9.2f\n", names[i], r.rate(), len(r.lat),
			ms(r.pct(.50)), ms(r.pct(.90)), ms(r.pct(.99)), ms(r.pct(1)))
	}
	fmt.Fprintf(&s, "  ratio %s/%s %.2f (target ≥ %.2f): %s\n", names[0], names[1], ratio, targetRatio, verdict(ratio >= targetRatio))
	fmt.Fprintf(&s, "  %s p99 %.2f ms (target ≤ %.0f ms): %s", names[0], ms(api.pct(.99)), ms(targetP99),
		verdict(api.pct(.99) <= targetP99))
	b.Log(s.String())
}

func mustJSON(b *testing.B, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// wireClient is a minimal HTTP/1.1 keep-alive client for the load phases.
// The load generator shares the machine's two cores with the node and
// PostgreSQL; net/http's client costs about as much CPU per request as the
// server does, which would measure the client as much as the node. Like wrk,
// this one writes prepared bytes and reads the status and the body.
type wireClient struct {
	addr, token string
	conn        net.Conn
	br          *bufio.Reader
	buf         []byte
}

func (bn *benchNode) wireClient() *wireClient {
	return &wireClient{addr: strings.TrimPrefix(bn.base, "http://"), token: bn.token}
}

// do sends one request and reads its response; a status other than want is
// an error quoting the body.
func (c *wireClient) do(method, path string, body []byte, want int) error {
	b := c.buf[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.addr...)
	b = append(b, "\r\nAuthorization: Bearer "...)
	b = append(b, c.token...)
	if body != nil {
		b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.buf = b
	if err := c.send(b, want); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// send writes a prepared request and reads its response; a status other
// than want is an error quoting the body.
func (c *wireClient) send(req []byte, want int) error {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return err
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	status, resp, keep, err := c.roundTrip(req)
	if err != nil || !keep {
		c.conn.Close()
		c.conn = nil
	}
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("status %d, want %d: %s", status, want, strings.TrimSpace(string(resp)))
	}
	return nil
}

func (c *wireClient) roundTrip(req []byte) (status int, body []byte, keep bool, err error) {
	if _, err = c.conn.Write(req); err != nil {
		return 0, nil, false, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			keep = !bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			sz, err := c.br.ReadString('\n')
			if err != nil {
				return 0, nil, false, err
			}
			n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
			if err != nil {
				return 0, nil, false, fmt.Errorf("bad chunk size %q", sz)
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(c.br, chunk); err != nil {
				return 0, nil, false, err
			}
			body = append(body, chunk[:n]...)
			if n == 0 {
				return status, body, keep, nil
			}
		}
	case length >= 0:
		body = make([]byte, length)
		_, err = io.ReadFull(c.br, body)
		return status, body, keep, err
	default:
		return 0, nil, false, errors.New("response without a length")
	}
}

// verdict says whether a target is met, for the reports.
func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}
