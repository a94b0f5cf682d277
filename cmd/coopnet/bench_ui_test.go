package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/routing/score"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
	"github.com/coopnet/coopnet/webui/web"
)

// BenchmarkPages: the server time of the pages of the web interface on
// each database holding 10,000 tickets, 1,000 clients and 500 members — a
// technician's ticket list (its first page, then a search with a filter),
// a ticket's page, the clients list, a specialist's offers inbox and the
// staff dashboard — beside the time of the same page's data read directly
// through the services, in the same run. Each page is rendered 300 times
// in the process (no network: the server's own time), one at a time.
func BenchmarkPages(b *testing.B) {
	b.Run("postgres", func(b *testing.B) { benchPages(b, storagetest.PostgresURL(b)) })
	b.Run("sqlite", func(b *testing.B) { benchPages(b, "") })
}

func benchPages(b *testing.B, dbURL string) {
	const (
		nMembers = 500
		nClients = 1000
		nTickets = 10000
		rounds   = 300
	)
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ln.Close()
	cfg := Config{Region: benchRegion, Listen: ln.Addr().String(), DatabaseURL: dbURL, DataDir: b.TempDir(),
		LogFormat: "json", LogLevel: "warn"}
	if err := cfg.Finish(true); err != nil {
		b.Fatal(err)
	}
	n, err := node.Open(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), node.Options{BcryptCost: bcrypt.MinCost})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })

	// 500 members (one of them staff), 1,000 clients, 10,000 tickets; 200
	// of them the first technician's (her first 100 clients'); 30 pending
	// offers for her; 100 unroutable and 300 routed jobs.
	var techs []*members.Member
	var staff *members.Member
	for i := range nMembers {
		role := "technician"
		if i == nMembers-1 {
			role = "staff"
		}
		m, err := n.Members.Create(ctx, nil, members.CreateInput{Email: fmt.Sprintf("m%03d@bfc.test", i), Name: fmt.Sprintf("Membre %03d", i),
			Role: role, Password: benchPassword, Postcode: "25000", Skills: []members.SkillLevel{{Name: "website", Level: 1 + i%5}}})
		if err != nil {
			b.Fatal(err)
		}
		if role == "staff" {
			staff = m
		} else {
			techs = append(techs, m)
		}
	}
	var cls []*clients.Client
	for i := range nClients {
		tech := techs[i%50]
		if i < 100 {
			tech = techs[0]
		}
		a := members.Actor{ID: tech.ID, Handle: tech.FullHandle, Name: tech.Name, Role: tech.Role}
		d := clients.Description{Name: fmt.Sprintf("École n°%d", i), Kind: "school", Postcode: "25150"}
		cl, err := n.Clients.Create(ctx, a, clients.CreateInput{Description: d})
		if err != nil {
			b.Fatal(err)
		}
		cls = append(cls, cl)
	}
	now := storage.Now()
	statuses := []tickets.Status{tickets.StatusNew, tickets.StatusAccepted, tickets.StatusInProgress, tickets.StatusResolved,
		tickets.StatusClosed, tickets.StatusUnroutable}
	var ts []tickets.Ticket
	for i := range nTickets {
		cl := cls[100+i%(len(cls)-100)]
		if i < 200 {
			cl = cls[i%100] // the first technician's
		}
		id := storage.NewID()
		st := statuses[i%len(statuses)]
		title := fmt.Sprintf("Demande %d", i)
		t := tickets.Ticket{ID: id, ClientID: cl.ID, TechnicianID: cl.TechnicianID, Title: title, SearchText: strings.ToLower(title),
			Skill: "website", Priority: "normal", EstimatedMinutes: 120, Status: st, OriginRegion: benchRegion,
			APID: cfg.PublicURL + "/tickets/" + id, CreatedBy: "bench", Version: 1, CreatedAt: now, UpdatedAt: now}
		if st == tickets.StatusAccepted || st == tickets.StatusInProgress {
			m := techs[i%len(techs)]
			t.AssigneeMemberID, t.AssigneeHandle, t.AssigneeRegion, t.AssigneeName = &m.ID, m.FullHandle, benchRegion, m.Name
		}
		ts = append(ts, t)
	}
	if err := n.DB.CreateInBatches(ts, 500).Error; err != nil {
		b.Fatal(err)
	}
	var rs []routing.Routing
	for i := range 400 {
		r := routing.Routing{ID: storage.NewID(), TicketID: ts[i].ID, Skill: "website", MinLevel: 1, State: "accepted",
			OfferRegion: []string{"bretagne", "ile-de-france", "occitanie"}[i%3], RequestedBy: "bench", RequestedByName: "Bench",
			Candidates: "[]", Excluded: "{}", CreatedAt: now, UpdatedAt: now}
		if i < 100 {
			r.State, r.Reason, r.OfferRegion = "unroutable", score.ReasonCapacity, ""
		}
		rs = append(rs, r)
	}
	if err := n.DB.CreateInBatches(rs, 200).Error; err != nil {
		b.Fatal(err)
	}
	me := techs[0]
	var offers []member.Offer
	for i := range 30 {
		offers = append(offers, member.Offer{ID: storage.NewID(), RoutingID: storage.NewID(), OriginRegion: "bretagne",
			TicketID: storage.NewID(), TicketAPID: fmt.Sprintf("http://bzh.test/tickets/%d", i), MemberID: me.ID,
			Title: fmt.Sprintf("Travail %d", i), Skill: "website", EstimatedMinutes: 240, Commune: "Rennes", Departement: "35",
			ForwardedBy: "yann@bzh.test", ForwardedByName: "Yann", State: "pending", ExpiresAt: now.Add(48 * time.Hour), CreatedAt: now})
	}
	if err := n.DB.Create(&offers).Error; err != nil {
		b.Fatal(err)
	}
	n.DB.Exec("ANALYZE") // fresh statistics, as autovacuum would have after such a load

	handler := n.Server.Handler()
	cookie := func(m *members.Member) *http.Cookie {
		tok, err := n.Members.IssueToken(ctx, m.ID, members.SessionToken)
		if err != nil {
			b.Fatal(err)
		}
		return &http.Cookie{Name: web.SessionCookie, Value: tok}
	}
	techCookie, staffCookie := cookie(me), cookie(staff)
	techActor := members.Actor{ID: me.ID, Handle: me.FullHandle, Name: me.Name, Role: me.Role}
	staffActor := members.Actor{ID: staff.ID, Handle: staff.FullHandle, Name: staff.Name, Role: staff.Role}

	page := func(path string, ck *http.Cookie) func() error {
		return func() error {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.AddCookie(ck)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET %s: %d", path, rec.Code)
			}
			return nil
		}
	}
	// Her ticket's page, with comments and a history.
	mine := ts[0].ID
	for i := range 10 {
		if _, err := n.Tickets.AddComment(ctx, techActor, mine, fmt.Sprintf("Passage n°%d : RAS", i), i%3 == 0); err != nil {
			b.Fatal(err)
		}
	}
	ticketQuery := func() error {
		t, err := n.Tickets.Get(ctx, techActor, mine)
		if err != nil {
			return err
		}
		if _, err := n.Clients.Get(ctx, techActor, t.ClientID); err != nil {
			return err
		}
		if _, err := n.Tickets.Comments(ctx, techActor, mine, "", 200); err != nil {
			return err
		}
		if _, err := n.Tickets.History(ctx, techActor, mine, "", 200); err != nil {
			return err
		}
		if _, err := n.Routing.RoutingOf(ctx, techActor, mine); err != nil && !strings.Contains(err.Error(), "no routing") {
			return err
		}
		_, err = n.Planning.OfTicket(ctx, techActor, mine)
		return err
	}
	search := tickets.ListOptions{Query: "demande 1", Priority: "normal", Sort: tickets.SortUpdated, Limit: 51}
	rows := []struct {
		name        string
		page, query func() error
	}{
		{"ticket list (50 of her 200, of 10,000)", page("/app/tickets", techCookie), func() error {
			_, err := n.Tickets.List(ctx, techActor, tickets.ListOptions{Limit: 51})
			return err
		}},
		{"ticket search (q, priority, sort)", page("/app/tickets?q=demande+1&priority=normal&sort=updated", techCookie), func() error {
			_, err := n.Tickets.List(ctx, techActor, search)
			return err
		}},
		{"ticket page (10 comments)", page("/app/tickets/"+mine, techCookie), ticketQuery},
		{"clients list (50 of her 100, of 1,000)", page("/app/clients", techCookie), func() error {
			_, err := n.Clients.List(ctx, techActor, clients.ListOptions{Limit: 51})
			return err
		}},
		{"offers inbox (30 offers)", page("/app/offers", techCookie), func() error {
			_, err := n.Routing.Member().PendingOffers(ctx, techActor)
			return err
		}},
		{"staff dashboard", page("/app/staff", staffCookie), func() error {
			if _, err := n.Tickets.Stats(ctx); err != nil {
				return err
			}
			if _, err := n.Routing.UnroutableTickets(ctx, staffActor); err != nil {
				return err
			}
			if _, err := n.Routing.AcceptedByRegion(ctx); err != nil {
				return err
			}
			if _, err := n.Routing.RegionLoads(ctx); err != nil { // this region's figures, and the others' over NATS
				return err
			}
			_, err := n.Routing.Member().MemberLoads(ctx)
			return err
		}},
	}
	measure := func(f func() error) []time.Duration {
		for range 20 { // warm-up
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
		lat := make([]time.Duration, 0, rounds)
		for range rounds {
			t0 := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		return lat
	}
	p := func(lat []time.Duration, q float64) float64 { return ms(lat[int(q*float64(len(lat)))-1]) }
	dialect := "PostgreSQL"
	if dbURL == "" {
		dialect = "SQLite"
	}
	report := fmt.Sprintf("\npages on %s with %d tickets, %d clients and %d members, %d renders each, one at a time, %d CPUs\n"+
		"  %-40s %10s %10s %12s %12s %s\n", dialect, nTickets, nClients, nMembers, rounds, runtime.NumCPU(), "", "page p50", "page p95",
		"queries p50", "queries p95", "(target: page p95 ≤ 50 ms)")
	for _, r := range rows {
		pg, q := measure(r.page), measure(r.query)
		report += fmt.Sprintf("  %-40s %8.2f ms %8.2f ms %10.2f ms %10.2f ms %s\n", r.name, p(pg, .5), p(pg, .95), p(q, .5),
			p(q, .95), verdict(p(pg, .95) <= 50))
		b.ReportMetric(p(pg, .95), "page_p95_ms_"+strings.Join(strings.Fields(r.name)[:2], "_"))
	}
	b.ReportMetric(0, "ns/op")
	b.Log(report)
}
