package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/coopnet/coopnet/federation"
	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/files"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/tickets"
)

// DemoPassword is the password of every sample member of the demo.
const DemoPassword = "coopnet-demo"

// demoRegion is one region of the demo coop with its sample people.
type demoRegion struct {
	slug    string
	members []members.CreateInput
	clients []demoClient
}

type demoClient struct {
	technician string // e-mail of the member in charge
	start      bool   // the technician starts work on the tickets at once
	done       bool   // the tickets are done and closed (a client staff may export or erase)
	in         clients.CreateInput
	tickets    []tickets.CreateInput
}

func ptr[T any](v T) *T { return &v }

// demoPhotos are comments with a photo attached, on the demo's tickets by
// title (the photo is drawn here: a sheet of paper caught in a printer).
var demoPhotos = map[string]string{
	"Imprimante de la classe de CM2 hors service": "Photo du bourrage, prise par l'enseignante.",
}

// demoPhoto is a PNG of a printer with a sheet caught in it.
func demoPhoto() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	fill := func(r image.Rectangle, c color.RGBA) { draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src) }
	fill(img.Bounds(), color.RGBA{222, 226, 232, 255})                   // the wall
	fill(image.Rect(120, 180, 520, 400), color.RGBA{70, 76, 88, 255})    // the printer
	fill(image.Rect(150, 210, 490, 240), color.RGBA{30, 33, 40, 255})    // its output slot
	fill(image.Rect(200, 120, 440, 225), color.RGBA{250, 250, 250, 255}) // the sheet, caught
	fill(image.Rect(300, 160, 440, 225), color.RGBA{235, 235, 235, 255}) // a fold
	fill(image.Rect(460, 340, 490, 360), color.RGBA{220, 40, 40, 255})   // the error light
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// demoProposals are skill levels sample members propose for themselves,
// waiting for their region's staff (« Membres »).
var demoProposals = map[string]members.SkillLevel{
	"paul@idf.coopnet.example": {Name: "training", Level: 3},
}

// demoCoop is the story of the README: Jean at Bourguignon (Doubs) has a
// school that wants a website; Marie in Bretagne makes websites; Paul and
// Zoé in Île-de-France too.
var demoCoop = []demoRegion{
	{
		slug: "bourgogne-franche-comte",
		members: []members.CreateInput{
			{Email: "jean@bfc.coopnet.example", Name: "Jean Dugnouf", Role: "technician", Handle: "jean",
				Postcode: "25150", Commune: "Bourguignon", Lat: ptr(47.4167), Lon: ptr(6.7833), RadiusKm: ptr(40), WeeklyHours: ptr(35),
				Skills: []members.SkillLevel{{Name: "workstation", Level: 4}, {Name: "network", Level: 3}, {Name: "printing", Level: 3}}},
			{Email: "claire@bfc.coopnet.example", Name: "Claire Vernier", Role: "staff", Handle: "claire",
				Postcode: "25000", Commune: "Besançon", WeeklyHours: ptr(28)},
			{Email: "admin@bfc.coopnet.example", Name: "Admin BFC", Role: "admin", Handle: "admin"},
		},
		clients: []demoClient{
			{technician: "jean@bfc.coopnet.example",
				in: clients.CreateInput{Description: clients.Description{Name: "École primaire des Tilleuls", Kind: "school", Postcode: "25150", Commune: "Bourguignon",
					ContactName: "Mme Martin", ContactEmail: "ecole.tilleuls@example.org", ContactPhone: "03 81 00 00 01"}},
				tickets: []tickets.CreateInput{
					{Title: "Site web de l'école", Description: "L'école voudrait un petit site (actualités, menus de la cantine, photos des sorties).",
						Skill: "website", Priority: "normal", OnSite: ptr(false), EstimatedHours: ptr(16.0)},
					{Title: "Imprimante de la classe de CM2 hors service", Description: "Bourrage papier permanent.",
						Skill: "printing", Priority: "high", OnSite: ptr(true), EstimatedHours: ptr(1.5)},
				}},
			// A private person whose request is done: her data can be
			// exported and, at her request, erased (« Membres », RGPD).
			{technician: "jean@bfc.coopnet.example", done: true,
				in: clients.CreateInput{Description: clients.Description{Name: "Jeanne Dupont", Kind: "person", Postcode: "25150", Commune: "Bourguignon",
					ContactName: "Jeanne Dupont", ContactEmail: "jeanne.dupont@example.org", ContactPhone: "06 12 34 56 78"}},
				tickets: []tickets.CreateInput{
					{Title: "Ordinateur portable très lent", Description: "Nettoyage et passage à une distribution légère.",
						Skill: "workstation", Priority: "normal", OnSite: ptr(true), EstimatedHours: ptr(2.0)},
				}},
			{technician: "jean@bfc.coopnet.example",
				in: clients.CreateInput{Description: clients.Description{Name: "Mairie de Pont-de-Roide-Vermondans", Kind: "town_hall", Postcode: "25150",
					Commune: "Pont-de-Roide-Vermondans", ContactName: "Secrétariat de mairie", ContactPhone: "03 81 00 00 02"}},
				tickets: []tickets.CreateInput{
					{Title: "Visite préventive trimestrielle", Description: "Mises à jour et sauvegardes des 4 postes.",
						Skill: "workstation", Priority: "low", OnSite: ptr(true), EstimatedHours: ptr(3.0)},
				}},
		},
	},
	{
		slug: "bretagne",
		members: []members.CreateInput{
			{Email: "marie@bzh.coopnet.example", Name: "Marie Le Gall", Role: "technician", Handle: "marie",
				Postcode: "35000", Commune: "Rennes", RadiusKm: ptr(30), RemoteOK: true, WeeklyHours: ptr(32),
				Skills: []members.SkillLevel{{Name: "website", Level: 4}, {Name: "email", Level: 3}}},
			{Email: "yann@bzh.coopnet.example", Name: "Yann Kervella", Role: "staff", Handle: "yann", Postcode: "29000", Commune: "Quimper"},
			{Email: "admin@bzh.coopnet.example", Name: "Admin Bretagne", Role: "admin", Handle: "admin"},
			// Erwan is leaving the coop: the administrator deactivates him
			// (« Membres »).
			{Email: "erwan@bzh.coopnet.example", Name: "Erwan Le Bihan", Role: "technician", Handle: "erwan",
				Postcode: "29200", Commune: "Brest", RemoteOK: true, WeeklyHours: ptr(20),
				Skills: []members.SkillLevel{{Name: "network", Level: 3}}},
		},
		clients: []demoClient{
			{technician: "marie@bzh.coopnet.example",
				in: clients.CreateInput{Description: clients.Description{Name: "Association Les Jardins Partagés", Kind: "association", Postcode: "35000", Commune: "Rennes",
					ContactName: "Loïc", ContactEmail: "jardins@example.org"}},
				tickets: []tickets.CreateInput{
					{Title: "Migration de la messagerie", Skill: "email", Priority: "normal", OnSite: ptr(false), EstimatedHours: ptr(6.0)},
				}},
		},
	},
	{
		slug: "ile-de-france",
		members: []members.CreateInput{
			{Email: "paul@idf.coopnet.example", Name: "Paul Moreau", Role: "technician", Handle: "paul",
				Postcode: "93100", Commune: "Montreuil", RemoteOK: true,
				Skills: []members.SkillLevel{{Name: "website", Level: 2}, {Name: "server", Level: 4}}},
			{Email: "zoe@idf.coopnet.example", Name: "Zoé Bernard", Role: "technician", Handle: "zoe",
				Postcode: "75011", Commune: "Paris", RemoteOK: true, WeeklyHours: ptr(35),
				Skills: []members.SkillLevel{{Name: "website", Level: 5}, {Name: "training", Level: 4}}},
			{Email: "staff@idf.coopnet.example", Name: "Sophie Laurent", Role: "staff", Handle: "sophie", Postcode: "75011", Commune: "Paris"},
		},
		clients: []demoClient{
			// Zoé is fully booked this fortnight: three big jobs under way.
			{technician: "zoe@idf.coopnet.example", start: true,
				in: clients.CreateInput{Description: clients.Description{Name: "Médiathèque intercommunale", Kind: "town_hall", Postcode: "93100", Commune: "Montreuil",
					ContactName: "Service informatique", ContactEmail: "mediatheque@example.org"}},
				tickets: []tickets.CreateInput{
					{Title: "Refonte du site de la médiathèque", Skill: "website", OnSite: ptr(false), EstimatedHours: ptr(30.0)},
					{Title: "Portail du catalogue en ligne", Skill: "website", OnSite: ptr(false), EstimatedHours: ptr(25.0)},
					{Title: "Formation des bibliothécaires", Skill: "training", OnSite: ptr(true), EstimatedHours: ptr(20.0)},
				}},
		},
	},
}

// demoGatherWindow is how long a demo node's forward waits for the
// regions' answers at most.
const demoGatherWindow = 3 * time.Second

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./data/demo", "directory for the demo databases")
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8080, "port of the first region; the others follow")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *port < 1 || *port > 65535-len(demoCoop) {
		return usageErr(fmt.Errorf("--port %d is out of range", *port))
	}
	// One embedded NATS server for the whole demo coop: the routing plane
	// the three regions share.
	nats, err := bus.StartEmbedded(*host, 0, filepath.Join(*dataDir, "nats"))
	if err != nil {
		return err
	}
	defer nats.Shutdown()
	var nodes []*node.Node
	var listeners []net.Listener
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	urls := make([]string, len(demoCoop))
	for i := range demoCoop {
		urls[i] = "http://" + net.JoinHostPort(*host, strconv.Itoa(*port+i))
	}
	for i, r := range demoCoop {
		listen := net.JoinHostPort(*host, strconv.Itoa(*port+i))
		// Each region federates with the two others over ActivityPub.
		var peers []string
		for j, u := range urls {
			if j != i {
				peers = append(peers, u)
			}
		}
		cfg := Config{Region: r.slug, Listen: listen, DataDir: *dataDir, LogFormat: "text", LogLevel: "warn",
			DatabaseURL: "sqlite:" + filepath.Join(*dataDir, r.slug+".db"), NATSURL: nats.URL(),
			OfferTTL: routing.DefaultOfferTTL, Peers: peers, SignatureSkew: time.Hour,
			// No mail server: the mails are written to a folder, which « Courriels » lists.
			MailDir: filepath.Join(*dataDir, "mails", r.slug)}
		if err := cfg.Finish(true); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("demo: listen on %s (is another demo running? try --port): %w", listen, err)
		}
		listeners = append(listeners, ln)
		// The regions start one after the other: the first deliveries to a
		// region not yet listening are retried within seconds, not minutes.
		n, err := node.Open(ctx, cfg, newLogger(cfg, stderr), node.Options{Version: buildVersion(), Federation: func(fc *federation.Config) {
			fc.Retry.First, fc.Retry.Max = time.Second, time.Minute
		},
			// Three nodes on one machine, perhaps a laptop busy with other
			// work: a forward waits longer for a region's answer than
			// production's 300 ms (it goes on as soon as all have answered).
			GatherWindow: demoGatherWindow})
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		if err := seedDemo(ctx, n, r); err != nil {
			return fmt.Errorf("demo: seed %s: %w", r.slug, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.Serve(ctx, listeners[i], 5*time.Second)
		}()
	}
	// Where to log in is printed once the regions know each other (each
	// has the others' keys and has heard them on NATS), so that the story
	// told below works at once, even on a busy machine.
	if !demoRegionsMet(ctx, nodes, time.Minute) && ctx.Err() == nil {
		fmt.Fprintln(stderr, "coopnet demo: the regions have not all heard from each other yet; a job forwarded now may not reach them all")
	}
	if ctx.Err() == nil {
		printDemo(stdout, nodes)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// demoRegionsMet waits until every node hears every region on NATS (their
// signed presence checked with the keys each fetched from the others), at
// most for wait, and reports whether they do.
func demoRegionsMet(ctx context.Context, nodes []*node.Node, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		met := true
		for _, n := range nodes {
			if n.Routing != nil && n.Routing.LiveRegions() < len(nodes) {
				met = false
			}
		}
		if met {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// seedDemo fills an empty node with the region's sample data, through the
// services as a person would; a node that already has members is left as is.
// demoNoQuiet is the member whose quiet hours the demo turns off, so that
// the offer's mail is there to see at any hour.
const demoNoQuiet = "marie@bzh.coopnet.example"

func seedDemo(ctx context.Context, n *node.Node, r demoRegion) error {
	count, err := n.Members.Count(ctx)
	if err != nil || count > 0 {
		return err
	}
	byEmail := map[string]members.Actor{}
	for _, in := range r.members {
		in.Password = DemoPassword
		m, err := n.Members.Create(ctx, nil, in)
		if err != nil {
			return err
		}
		byEmail[m.Email] = members.Actor{ID: m.ID, Handle: m.FullHandle, Name: m.Name, Role: m.Role}
		if m.Email == demoNoQuiet {
			// Her mails go at once, whatever the hour the demo runs; the
			// others keep the quiet hours (19:00–08:00 and weekends).
			if _, err := n.Notify.SetChoices(ctx, byEmail[m.Email], notify.Choices{Settings: notify.Settings{Lang: "fr"}}); err != nil {
				return err
			}
		}
		if p, ok := demoProposals[m.Email]; ok {
			// The member proposes a level above those confirmed: it waits
			// for their region's staff.
			skills := append(append([]members.SkillLevel{}, m.Skills...), p)
			if _, err := n.Members.Update(ctx, byEmail[m.Email], m.ID, members.UpdateInput{Version: m.Version, Skills: &skills}); err != nil {
				return err
			}
		}
	}
	for _, dc := range r.clients {
		tech := byEmail[dc.technician]
		c, err := n.Clients.Create(ctx, tech, dc.in)
		if err != nil {
			return err
		}
		for _, tin := range dc.tickets {
			tin.ClientID = c.ID
			t, err := n.Tickets.Create(ctx, tech, tin)
			if err != nil {
				return err
			}
			var steps []tickets.Status
			switch {
			case dc.start:
				steps = []tickets.Status{tickets.StatusInProgress}
			case dc.done:
				steps = []tickets.Status{tickets.StatusInProgress, tickets.StatusResolved, tickets.StatusClosed}
			}
			for _, st := range steps {
				if t, err = n.Tickets.Update(ctx, tech, t.ID, tickets.UpdateInput{Version: t.Version, Status: &st}); err != nil {
					return err
				}
			}
			if body, ok := demoPhotos[t.Title]; ok && n.Tickets.Files() != nil {
				kept, err := n.Tickets.Accept(ctx, "file", "bourrage-cm2.png", bytes.NewReader(demoPhoto()))
				if err != nil {
					return err
				}
				if _, err := n.Tickets.CommentWithFiles(ctx, tech, t.ID, body, false, []*files.Stored{kept}); err != nil {
					n.Tickets.Discard(ctx, []*files.Stored{kept})
					return err
				}
			}
		}
	}
	return nil
}

func printDemo(w io.Writer, nodes []*node.Node) {
	fmt.Fprintln(w, "coopnet demo: a cooperative of three regions is running, sharing one embedded NATS. Ctrl-C stops it.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tLOG IN AT\tE-MAIL\tROLE")
	for _, n := range nodes {
		for _, r := range demoCoop {
			if r.slug != n.Cfg.Region {
				continue
			}
			for _, m := range r.members {
				fmt.Fprintf(tw, "%s\t%s/app/login\t%s\t%s\n", r.slug, n.Cfg.PublicURL, m.Email, m.Role)
			}
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nEvery sample password is %q.\n", DemoPassword)
	fmt.Fprintln(w, "The story, in the browser: Jean (Bourgogne-Franche-Comté) opens the school's website request in")
	fmt.Fprintln(w, "« Mes demandes » and forwards it to the network; Marie (Bretagne) finds it in « Propositions » and")
	fmt.Fprintln(w, "accepts it; Jean sees her as the assignee; Claire (staff) sees the routed job on the dashboard.")
	fmt.Fprintln(w, "People's data: Claire exports, then erases, the data of Jeanne Dupont (« Mes clients » › Jeanne Dupont ›")
	fmt.Fprintln(w, "« Données personnelles »); Bretagne's admin deactivates Erwan, who leaves the coop (« Membres »); Sophie")
	fmt.Fprintln(w, "(staff, Île-de-France) confirms the training level Paul proposed (« Membres »); everyone has « Mon compte ».")
	fmt.Fprintln(w, "Notifications: the header counts them (« Notifications », « Propositions »), live. No mail server here:")
	fmt.Fprintln(w, "mails are written to <data-dir>/mails/<region> and listed on « Courriels »; Marie's quiet hours are off in the")
	fmt.Fprintln(w, "demo so that hers go at once, the others' wait outside 08:00–19:00 on weekdays (« Mes notifications »).")
	fmt.Fprintln(w, "Search and files: « Mes demandes » searches without accents (« ecole ») and filters; a request's comments take")
	fmt.Fprintln(w, "photos and PDFs (the printer of the CM2 class has one), kept in <data-dir>/files/<region>.")
	fmt.Fprintln(w, "README.md (Démarrage rapide) has the same story through the JSON API.")
	if len(nodes) > 0 {
		fmt.Fprintf(w, "Try: curl -s %s/api/v1/auth/login -H 'Content-Type: application/json' -d '{\"email\":\"jean@bfc.coopnet.example\",\"password\":\"%s\"}'\n",
			nodes[0].Cfg.PublicURL, DemoPassword)
	}
}
