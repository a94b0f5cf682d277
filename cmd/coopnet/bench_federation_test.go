package main

// Benchmarks of the federation between nodes (ActivityPub), each beside a
// baseline measured in the same run:
//
//   - the inbox: signed activities accepted per second (signature checked,
//     activity stored), beside the same bodies POSTed unsigned to an echo
//     handler that does nothing;
//   - delivery: the durable outbox to two peers, beside the same activities
//     signed and POSTed by as many workers without the outbox;
//   - catch-up: a node stopped while 1,000 changes that concern it are made,
//     restarted: how long until both nodes agree.

import (
	"bytes"
	"context"
	"fmt"
	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// benchServe opens a node without NATS and serves it on ln until the
// benchmark ends.
func benchServe(b *testing.B, region, dbURL string, ln net.Listener, peers []string) *node.Node {
	b.Helper()
	cfg := Config{Region: region, Listen: ln.Addr().String(), DatabaseURL: dbURL, DataDir: b.TempDir(),
		LogFormat: "json", LogLevel: "warn", Peers: peers, SignatureSkew: time.Hour}
	if err := cfg.Finish(true); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	n, err := node.Open(context.Background(), cfg, log, node.Options{NoBus: true, BcryptCost: bcrypt.MinCost})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx, ln, 10*time.Second) }()
	b.Cleanup(func() {
		cancel()
		<-served
		n.Close()
	})
	return n
}

func listeners(b *testing.B, n int) ([]net.Listener, []string) {
	b.Helper()
	lns, urls := make([]net.Listener, n), make([]string, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		lns[i], urls[i] = ln, "http://"+ln.Addr().String()
	}
	return lns, urls
}

// benchActivities is how many activities the inbox benchmark sends:
// COOPNET_BENCH_ACTIVITIES (default 6000). Each is signed beforehand, as a
// peer's delivery worker would have done.
func benchActivities(b *testing.B) int {
	if s := os.Getenv("COOPNET_BENCH_ACTIVITIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			b.Fatalf("COOPNET_BENCH_ACTIVITIES=%q: want a number ≥ 100", s)
		}
		return n
	}
	return 6000
}

// personUpdate is an Update{Person} of one of the sender's members, as
// coopnet sends them to keep the directory.
func personUpdate(from, to string, i int) []byte {
	handle := fmt.Sprintf("membre%03d", i%300)
	return fmt.Appendf(nil, `{"@context":["https://www.w3.org/ns/activitystreams","https://w3id.org/security/v1",`+
		`{"coopnet":"https://coopnet.coop/ns#","skills":"coopnet:skills","region":"coopnet:region"}],`+
		`"id":"%[1]s/actor/activities/bench-%[3]d","type":"Update","actor":"%[1]s/actor","to":["%[2]s/actor"],`+
		`"published":"%[4]s","object":{"id":"%[1]s/members/%[5]s","type":"Person","preferredUsername":"%[5]s",`+
		`"name":"Membre %[3]d","inbox":"%[1]s/members/%[5]s/inbox","outbox":"%[1]s/members/%[5]s/outbox",`+
		`"updated":"%[4]s","region":"bretagne","commune":"Rennes","departement":"35",`+
		`"skills":[{"name":"website","level":%[6]d}]}}`,
		from, to, i, time.Now().UTC().Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), handle, 1+i%5)
}

// rawRequest is req as bytes on the wire.
func rawRequest(req *http.Request, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Method, req.URL.RequestURI(), req.URL.Host, len(body))
	for k, vs := range req.Header {
		if k == "Host" {
			continue
		}
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// signedRequests prepares n activities from sender to target's inbox, signed
// by the sender (on every core), and the same bodies unsigned.
func signedRequests(b *testing.B, sender *node.Node, from, to string, first, n int) (signed, unsigned [][]byte) {
	b.Helper()
	signed, unsigned = make([][]byte, n), make([][]byte, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				body := personUpdate(from, to, first+i)
				req, _ := http.NewRequest(http.MethodPost, to+"/actor/inbox", nil)
				req.Header.Set("Content-Type", "application/activity+json")
				unsigned[i] = rawRequest(req, body)
				if err := sender.Fed.Sign(req, body); err != nil {
					failed.Store(err)
					return
				}
				signed[i] = rawRequest(req, body)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return signed, unsigned
}

// sendAll POSTs every prepared request to addr with benchWorkers
// keep-alive connections, each expecting want.
func sendAll(b *testing.B, addr string, reqs [][]byte, want int) loadResult {
	b.Helper()
	var next atomic.Int64
	r, err := runLoad(benchWorkers, time.Hour, func(int) func() error {
		c := &wireClient{addr: addr}
		return func() error {
			i := int(next.Add(1)) - 1
			if i >= len(reqs) {
				return errPhaseDone
			}
			return c.send(reqs[i], want)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkFederationInbox: signed Update{Person} activities POSTed by 8
// connections to a node's inbox on PostgreSQL, then on SQLite (checked: allow-list, Date,
// Digest, RSA signature; parsed; stored; answered 202; applied by the
// inbox worker meanwhile), beside the same bodies POSTed unsigned to an
// echo handler that reads them and answers 202.
func BenchmarkFederationInbox(b *testing.B) {
	b.Run("postgres", func(b *testing.B) { benchInbox(b, storagetest.PostgresURL(b)) })
	// The embedded default, for comparison.
	b.Run("sqlite", func(b *testing.B) { benchInbox(b, storagetest.SQLiteURL(b)) })
}

func benchInbox(b *testing.B, dbURL string) {
	n := benchActivities(b)
	lns, urls := listeners(b, 2)
	recv := benchServe(b, "bourgogne-franche-comte", dbURL, lns[0], []string{urls[1]})
	sender := benchServe(b, "bretagne", storagetest.SQLiteURL(b), lns[1], []string{urls[0]})

	noop := echo.New()
	noop.HideBanner, noop.HidePort = true, true
	noop.POST("/actor/inbox", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		return c.NoContent(http.StatusAccepted)
	})
	noopLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	noopSrv := &http.Server{Handler: noop}
	go noopSrv.Serve(noopLn)
	b.Cleanup(func() { noopSrv.Close() })

	warm, warmRaw := signedRequests(b, sender, urls[1], urls[0], 0, 200)
	signed, unsigned := signedRequests(b, sender, urls[1], urls[0], 200, n)
	addr := strings.TrimPrefix(urls[0], "http://")
	sendAll(b, addr, warm, http.StatusAccepted) // the receiver fetches the sender's key here
	sendAll(b, noopLn.Addr().String(), warmRaw, http.StatusAccepted)

	raw := sendAll(b, noopLn.Addr().String(), unsigned, http.StatusAccepted)
	inbox := sendAll(b, addr, signed, http.StatusAccepted)
	report(b, "federation inbox: signed activities to a node's inbox vs unsigned POSTs to a no-op echo handler",
		fmt.Sprintf("%d activities each", n), [2]string{"inbox", "no-op"}, inbox, raw, 0.3)

	// Then the inbox worker applies what it stored (not measured above).
	t0 := time.Now()
	var stored, pending int64
	recv.DB.Raw("SELECT COUNT(*) FROM federation_inbox").Scan(&stored)
	for {
		recv.DB.Raw("SELECT COUNT(*) FROM federation_inbox WHERE state = 'pending'").Scan(&pending)
		if pending == 0 || time.Since(t0) > 5*time.Minute {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Logf("stored %d activities; %d still pending %v after the load", stored, pending, time.Since(t0).Round(time.Millisecond))
	if stored != int64(n+len(warm)) {
		b.Errorf("stored %d activities, sent %d", stored, n+len(warm))
	}
}

// BenchmarkFederationDelivery: a node's durable outbox delivering 2×N
// activities (N members' profiles, each to two peers: claimed with a lease,
// signed afresh, POSTed, recorded), beside the same activities signed and
// POSTed by as many workers (4) straight from memory, without the outbox.
func BenchmarkFederationDelivery(b *testing.B) {
	const members = 1500
	lns, urls := listeners(b, 3)
	sender := benchServe(b, "bourgogne-franche-comte", storagetest.PostgresURL(b), lns[0], urls[1:])
	benchServe(b, "bretagne", storagetest.SQLiteURL(b), lns[1], []string{urls[0]})
	benchServe(b, "ile-de-france", storagetest.SQLiteURL(b), lns[2], []string{urls[0]})
	ctx := context.Background()

	// The profiles queue while the delivery workers are stopped.
	sender.Fed.Stop()
	for i := range members {
		if _, err := sender.Members.Create(ctx, nil, members_(i)); err != nil {
			b.Fatal(err)
		}
	}
	var rows []struct{ Inbox, Body string }
	if err := sender.DB.Raw("SELECT inbox, body FROM federation_outbox WHERE state = 'pending'").Scan(&rows).Error; err != nil {
		b.Fatal(err)
	}
	if len(rows) != 2*members {
		b.Fatalf("%d deliveries queued, want %d", len(rows), 2*members)
	}

	// Baseline: the same activities (under other ids), signed and POSTed by
	// 4 workers with net/http, as the outbox's workers do, from memory.
	client := &http.Client{Timeout: 30 * time.Second}
	var next atomic.Int64
	raw, err := runLoad(4, time.Hour, func(int) func() error {
		return func() error {
			i := int(next.Add(1)) - 1
			if i >= len(rows) {
				return errPhaseDone
			}
			body := []byte(strings.Replace(rows[i].Body, "/activities/", "/activities/direct-", 1))
			req, _ := http.NewRequest(http.MethodPost, rows[i].Inbox, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/activity+json")
			if err := sender.Fed.Sign(req, body); err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				return fmt.Errorf("direct POST: %d", resp.StatusCode)
			}
			return nil
		}
	})
	if err != nil {
		b.Fatal(err)
	}

	t0 := time.Now()
	if err := sender.Fed.Start(ctx); err != nil {
		b.Fatal(err)
	}
	var pending int64
	for {
		sender.DB.Raw("SELECT COUNT(*) FROM federation_outbox WHERE state = 'pending'").Scan(&pending)
		if pending == 0 || time.Since(t0) > 5*time.Minute {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(t0)
	var delivered int64
	sender.DB.Raw("SELECT COUNT(*) FROM federation_outbox WHERE state = 'delivered'").Scan(&delivered)
	rate := float64(delivered) / elapsed.Seconds()
	b.ReportMetric(rate, "outbox_deliveries/s")
	b.ReportMetric(raw.rate(), "direct_posts/s")
	b.ReportMetric(rate/raw.rate(), "ratio")
	b.ReportMetric(0, "ns/op")
	b.Logf("\nfederation delivery: %d activities to two peers (%d deliveries)\n"+
		"  outbox  %8.1f deliveries/s  (%d delivered in %v, %d left)\n"+
		"  direct  %8.1f POSTs/s       (4 workers, signed, no queue; p50 %.2f ms, p99 %.2f ms)\n"+
		"  ratio outbox/direct %.2f", members, len(rows), rate, delivered, elapsed.Round(time.Millisecond), pending,
		raw.rate(), ms(raw.pct(.5)), ms(raw.pct(.99)), rate/raw.rate())
	if pending != 0 {
		b.Errorf("%d deliveries still pending", pending)
	}
}

// members_ is the i-th member of the delivery benchmark.
func members_(i int) members.CreateInput {
	return members.CreateInput{Email: fmt.Sprintf("membre%04d@bfc.test", i), Name: fmt.Sprintf("Membre %d", i),
		Role: "technician", Password: benchPassword, Postcode: "25000",
		Skills: []members.SkillLevel{{Name: "website", Level: 1 + i%5}}}
}

// BenchmarkFederationCatchUp: Marie's node (Bretagne) is stopped while
// Jean's (Bourgogne-Franche-Comté) makes 1,000 changes to the ticket she
// works on (900 public comments, 100 edits); it restarts: how long until
// both hold the same ticket and every comment. The coop rig's federation
// retries within half a second; a restarted node greets its peers, which
// then deliver what waited for it at once.
func BenchmarkFederationCatchUp(b *testing.B) {
	const comments, edits = 900, 100
	c := newCoop(b, 48*time.Hour)
	jeanID, marieID := c.SharedTicket("Site web de l'École primaire des Tilleuls")
	c.Node("bretagne").Stop()

	t0 := time.Now()
	for i := range comments + edits {
		if i%10 == 9 {
			v := c.Ticket(jeanID).Version
			c.API("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+jeanID, rig.Jean,
				map[string]any{"version": v, "description": fmt.Sprintf("Version %d du cahier des charges", i)}, 200)
			continue
		}
		c.API("bourgogne-franche-comte", "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean,
			map[string]any{"body": fmt.Sprintf("Message %d", i)}, 201)
	}
	made := time.Since(t0)

	t1 := time.Now()
	bzh := c.Restart("bretagne")
	var n int64
	rig.WaitWithin(b, 10*time.Minute, "Bretagne to catch up", func() bool {
		bzh.N.DB.Raw("SELECT COUNT(*) FROM ticket_comments WHERE ticket_id = ?", marieID).Scan(&n)
		if n < comments {
			return false
		}
		m := c.TicketOn(rig.Marie, marieID)
		return rig.SameState(c.Ticket(jeanID), m)
	})
	caught := time.Since(t1)
	b.ReportMetric(caught.Seconds(), "catch_up_s")
	b.ReportMetric(float64(comments+edits)/caught.Seconds(), "changes/s")
	b.ReportMetric(made.Seconds(), "making_changes_s")
	b.ReportMetric(0, "ns/op")
	b.Logf("\nfederation catch-up: %d changes (%d comments, %d edits) made on Bourgogne-Franche-Comté in %v while Bretagne was down;\n"+
		"  Bretagne restarted and converged in %v (%.0f changes/s), %d comments held", comments+edits, comments, edits,
		made.Round(time.Millisecond), caught.Round(time.Millisecond), float64(comments+edits)/caught.Seconds(), n)
}
