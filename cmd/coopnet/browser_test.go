package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/files/filestest"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/notify/notifytest"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// chromium finds the browser for the browser tests: COOPNET_CHROMIUM, else
// Debian's. Without one the tests skip, except under CI, where .ci/run
// installs it and a missing browser is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("COOPNET_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := exec.LookPath(p); err == nil {
				return p
			}
		}
	}
	if storagetest.CI() {
		t.Fatal("no Chromium: .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("no Chromium (apt-get install -y chromium, or set COOPNET_CHROMIUM)")
	return ""
}

// artifacts is where the browser tests leave their screenshots:
// COOPNET_ARTIFACTS, else .artifacts/screenshots at the top of the
// repository (ignored by git).
func artifacts(t *testing.T) string {
	dir := os.Getenv("COOPNET_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// person is one browser, as one member uses coopnet: their own cookies.
type person struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	name string
}

func newPerson(t *testing.T, exe, name string) *person {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser on this context: the first Run's context owns it,
	// and each step's runs on a context of its own that ends with the step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: start Chromium: %v", name, err)
	}
	return &person{t: t, ctx: ctx, dir: artifacts(t), name: name}
}

// stepTimeout is how long one step of a journey may take before the test
// says where it stalled: a step waits for a state, and the ceiling only
// bounds a step that went wrong (a whole journey, on a machine running a
// second test suite beside this one, took longer than two minutes).
const stepTimeout = 2 * time.Minute

// step is the context of one step.
func (p *person) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, stepTimeout)
}

func (p *person) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.shot("failed-" + what)
		p.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// shot saves a screenshot of the whole page.
func (p *person) shot(step string) {
	ctx, cancel := p.step()
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", step, err)
		return
	}
	f := filepath.Join(p.dir, p.name+"-"+step+".png")
	if err := os.WriteFile(f, buf, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", step, err)
	}
}

func (p *person) login(base, email string) {
	p.t.Helper()
	p.run("login", chromedp.Navigate(base+"/app/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), "mot de passe"),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#logout")))
}

// text is the visible text of the first element sel selects, once there
// is one: read in one evaluation, so that a live page replacing its
// content meanwhile cannot leave the test holding a node that went.
func (p *person) text(sel string) string {
	p.t.Helper()
	q, _ := json.Marshal(sel)
	expr := `(function(){var e=document.querySelector(` + string(q) + `);return e?{found:true,text:e.innerText}:{found:false,text:""}})()`
	type found struct {
		Found bool   `json:"found"`
		Text  string `json:"text"`
	}
	var got found
	rig.WaitWithin(p.t, stepTimeout, p.name+": "+sel, func() bool {
		got = eval[found](p, expr)
		return got.Found
	})
	return strings.TrimSpace(got.Text)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *person, expr string) T {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, expr, err)
	}
	return v
}

// noHorizontalScroll checks a page at a phone's width (360 px).
func (p *person) noHorizontalScroll(url string) {
	p.t.Helper()
	p.run("360px "+url, chromedp.EmulateViewport(360, 740), chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main")))
	p.fits(strings.Trim(url[strings.Index(url, "/app"):], "/"))
}

// TestBrowserJourneys runs the seed story in a real browser (headless
// Chromium) against three real nodes: Jean creates a client and a request
// on Bourgogne-Franche-Comté and forwards it; Marie, on Bretagne, sees the
// offer and accepts it; Jean sees her as the assignee; Claire, staff, sees
// the routed job on the dashboard. Then the pages at a phone's width, the
// language switch, and a form without its CSRF token.
func TestBrowserJourneys(t *testing.T) {
	exe := chromium(t)
	c := newCoop(t, 48*time.Hour)
	bfc, bzh := c.Node("bourgogne-franche-comte").URL, c.Node("bretagne").URL

	// (1) Jean.
	jean := newPerson(t, exe, "1-jean")
	jean.run("login page", chromedp.Navigate(bfc+"/app/login"), chromedp.WaitVisible(chromedp.CSS("#email")))
	jean.accessible("login")
	jean.login(bfc, rig.Jean)
	jean.shot("1-logged-in")
	jean.accessible("home")
	jean.run("new client", chromedp.Navigate(bfc+"/app/clients"), chromedp.WaitVisible(chromedp.CSS("#new-client")),
		chromedp.SendKeys(chromedp.CSS("#name"), "École primaire des Tilleuls"), chromedp.SetValue(chromedp.CSS("#kind"), "school"),
		chromedp.SendKeys(chromedp.CSS("#postcode"), "25150"), chromedp.SendKeys(chromedp.CSS("#commune"), "Bourguignon"),
		chromedp.SendKeys(chromedp.CSS("#contact_name"), "Mme Martin"),
		chromedp.SendKeys(chromedp.CSS("#contact_email"), "ecole.tilleuls@example.org"))
	jean.shot("2-client-form")
	jean.accessible("clients")
	jean.run("save client", chromedp.Click(chromedp.CSS("#client-submit")), chromedp.WaitVisible(chromedp.CSS("#client-name")),
		chromedp.Click(chromedp.CSS("#new-ticket-for-client")), chromedp.WaitVisible(chromedp.CSS("#new-ticket")),
		chromedp.SendKeys(chromedp.CSS("#title"), "Site web de l'école"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Un petit site pour présenter l'école et ses projets."),
		chromedp.SetValue(chromedp.CSS("#skill"), "website"), chromedp.SendKeys(chromedp.CSS("#estimated_hours"), "16"))
	jean.shot("3-request-form")
	jean.accessible("new request")
	jean.run("save request", chromedp.Click(chromedp.CSS(`#new-ticket button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#forward")))
	ticketURL, err := chromedp.Run(jean.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	jean.shot("4-request")
	jean.accessible("ticket")

	// Marie is at her requests when Jean forwards: her mails go at once
	// (no quiet hours for her, whatever the hour the test runs).
	rig.Must[notify.Choices](c.As(rig.Marie).On(rig.BZH).Do("PUT", "/api/v1/notifications/settings",
		map[string]any{"settings": map[string]any{"quiet_from": 0, "quiet_to": 0, "quiet_weekends": false, "digest": false, "lang": "fr"}}), 200)
	marie := newPerson(t, exe, "2-marie")
	// On Jean's node by mistake, she is told which node this is and where
	// the others are.
	rig.WaitFor(t, "the other regions' nodes named after a failed login", func() bool {
		marie.run("wrong node", chromedp.Navigate(bfc+"/app/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), rig.Marie), chromedp.SendKeys(chromedp.CSS("#password"), "mot de passe"),
			chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#login-error")))
		return strings.Contains(eval[string](marie, `(document.querySelector("#other-nodes") || {}).innerText || ""`), "Bretagne")
	})
	if href := eval[string](marie, `document.querySelector("#other-nodes a[href^='`+bzh+`']").getAttribute("href")`); href != bzh+"/app/login" {
		t.Errorf("the link to Bretagne's node: %q", href)
	}
	marie.shot("0-wrong-node")
	marie.login(bzh, rig.Marie)
	marie.run("her requests", chromedp.Navigate(bzh+"/app/tickets"), chromedp.WaitVisible(chromedp.CSS(`body[data-live-ready="1"]`)))
	if n := eval[string](marie, `document.querySelector("#count-offers").textContent`); n != "" {
		t.Errorf("Marie has %q offers before Jean forwards", n)
	}

	jean.run("forward", chromedp.SendKeys(chromedp.CSS("#fwd-note"), "Petit site vitrine"),
		chromedp.Click(chromedp.CSS("#forward-submit")), chromedp.WaitVisible(chromedp.CSS("#routing-state")))
	// Jean's page follows the routing live, without a reload: the offer
	// and its line in the history (the page reads them one after the
	// other, so one made as the offer committed may show one of them; the
	// next live update shows both).
	rig.WaitFor(t, "the offer to be shown on Jean's page, live", func() bool {
		return eval[bool](jean, `!!document.querySelector("#offered-to") && document.querySelector("#history").innerText.includes("proposée")`)
	})
	if got := jean.text("#offered-to"); !strings.Contains(got, "Marie Le Gall") || !strings.Contains(got, "(Bretagne)") || strings.Contains(got, "marie@") {
		t.Errorf("Jean sees the offer made to %q", got)
	}
	jean.shot("5-forwarded")
	// The history says « proposée » once, not « proposée : proposée ».
	if hist := jean.text("#history"); !strings.Contains(hist, "proposée") || strings.Contains(hist, "proposée\u00a0: proposée") {
		t.Errorf("Jean's history of the offer: %q", hist)
	}
	// No move is chosen for him: on an offered ticket the only one is to
	// cancel it, and it must not be one click away.
	if got := eval[string](jean, `document.querySelector("#status").value`); got != "" {
		t.Errorf("the status select preselects %q on an offered ticket", got)
	}

	// (2) Marie is told live: the header counts the offer and the
	// notification, on the page she is on; and by e-mail.
	rig.WaitFor(t, "the offer counted in Marie's header, live", func() bool {
		return eval[string](marie, `document.querySelector("#count-offers").textContent`) == "1" &&
			eval[string](marie, `document.querySelector("#count-unread").textContent`) == "1"
	})
	marie.shot("0-told-live")
	mail := c.SMTP.Wait(t, time.Minute, func(m notifytest.Mail) bool {
		return m.To == rig.Marie && strings.Contains(m.Subject, "Site web de l'école")
	})
	if !strings.Contains(mail.Text, bzh+"/app/offers") || strings.Contains(string(mail.Raw), "ecole.tilleuls@example.org") {
		t.Errorf("Marie's mail: %s", mail.Text)
	}
	marie.run("notifications", chromedp.Click(chromedp.CSS("#nav-notifications")), chromedp.WaitVisible(chromedp.CSS("#notifications li.unread")))
	if got := marie.text("#notifications"); !strings.Contains(got, "Jean Dugnouf vous propose une demande") || !strings.Contains(got, "Site web de l'école") {
		t.Errorf("Marie's notifications: %q", got)
	}
	marie.shot("0-notifications")
	marie.accessible("notifications")
	marie.run("offers", chromedp.Click(chromedp.CSS("#notifications li.unread a")), chromedp.WaitVisible(chromedp.CSS(".offer")))
	// The offer's notification is read once she sees the offer.
	if n := eval[string](marie, `document.querySelector("#count-unread").textContent`); n != "" {
		t.Errorf("unread %q on the offers page", n)
	}
	offer := marie.text(".offer")
	if !strings.Contains(offer, "Bourguignon") || strings.Contains(offer, "Tilleuls") || !strings.Contains(offer, "Jean Dugnouf") {
		t.Errorf("Marie's offer (commune only until accepted): %q", offer)
	}
	marie.shot("1-offers")
	marie.accessible("offers")
	marie.run("accept", chromedp.Click(chromedp.CSS(".offer button.accept")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	marie.shot("2-accepted")
	// The list she lands on shows the job once its copy arrives, without a
	// reload, and the message of her acceptance stays.
	rig.WaitFor(t, "the job among Marie's requests, live", func() bool {
		return eval[int](marie, `document.querySelectorAll("#tickets .card").length`) == 1
	})
	if got := marie.text(".flash"); !strings.Contains(got, "Travail accepté") {
		t.Errorf("the message of her acceptance after the live update: %q", got)
	}
	marie.shot("3-her-requests")
	marie.accessible("her requests")

	// (3) Jean's page, open all along, shows Marie as the assignee live.
	rig.WaitFor(t, "Marie as the assignee on Jean's page, live", func() bool {
		return eval[int](jean, `document.querySelectorAll("#ticket-assignee").length`) == 1
	})
	// He is told in his inbox, read already: the page he looks at shows it.
	told := false
	for _, n := range rig.Must[struct {
		Items      []notify.Notification `json:"items"`
		NextCursor string                `json:"next_cursor"`
		Unread     int                   `json:"unread"`
	}](c.As(rig.Jean).Do("GET", "/api/v1/notifications", nil), 200).Items {
		told = told || (n.Kind == notify.Accepted && n.ActorName == "Marie Le Gall" && n.ReadAt != nil)
	}
	if !told {
		t.Error("Jean's inbox lacks Marie's acceptance, read on the page he had open")
	}
	if got := jean.text("#ticket-assignee"); !strings.Contains(got, "Marie Le Gall") || !strings.Contains(got, "(Bretagne)") {
		t.Errorf("Jean's ticket shows the assignee %q", got)
	}
	if got := jean.text("#ticket-status"); got != "acceptée" {
		t.Errorf("status %q", got)
	}
	jean.shot("6-assigned")
	// The history names people and the routing, never a handle.
	if hist := jean.text("#history"); strings.Contains(hist, "@") || !strings.Contains(hist, "Marie Le Gall (Bretagne)") {
		t.Errorf("Jean's history shows handles: %q", hist)
	}

	// Jean attaches a photo of the school's front for the website; it
	// reaches Marie's node with his comment and shows as a thumbnail on
	// her copy of the ticket.
	photoFile := filepath.Join(t.TempDir(), "facade.png")
	if err := os.WriteFile(photoFile, filestest.PNG(t, 800, 500), 0o644); err != nil {
		t.Fatal(err)
	}
	jean.run("attach a photo", chromedp.SendKeys(chromedp.CSS("#body"), "La façade, pour la page d'accueil"),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{photoFile}), chromedp.Click(chromedp.CSS(`#comment button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#comments img[alt="facade.png"]`)))
	jean.shot("6-photo")
	marie.run("her copy", chromedp.Navigate(bzh+"/app/tickets"), chromedp.WaitVisible(chromedp.CSS("#tickets .card a")),
		chromedp.Click(chromedp.CSS("#tickets .card a")), chromedp.WaitVisible(chromedp.CSS("#comments")))
	marieTicket, err := chromedp.Run(marie.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	rig.WaitFor(t, "Jean's photo on Marie's copy", func() bool {
		marie.run("reload her copy", chromedp.Navigate(marieTicket), chromedp.WaitVisible(chromedp.CSS("#comments")))
		return eval[bool](marie, `(function(){var i=document.querySelector('#comments img[alt="facade.png"]');return !!i && i.complete && i.naturalWidth === 320})()`)
	})
	marie.shot("3-photo")
	marie.accessible("her copy")

	// Jean plans the intervention; it reaches Marie's calendar, on her
	// node; she accepts it there.
	when := time.Now().In(time.FixedZone("", 0)).AddDate(0, 0, 2)
	day, frDay := when.Format(time.DateOnly), when.Format("02/01/2006")
	// Dates are typed the French way, whatever the browser's own locale
	// (its pickers follow that, not the page's language).
	if got := eval[string](jean, `document.querySelector("#ev-start").placeholder`); got != "jj/mm/aaaa hh:mm" {
		t.Errorf("the start's placeholder: %q", got)
	}
	// A date that is none: the page says how to write one.
	jean.run("plan with no date", chromedp.SetValue(chromedp.CSS("#ev-start"), "mardi matin"), chromedp.SetValue(chromedp.CSS("#ev-end"), frDay+" 11:30"),
		chromedp.Click(chromedp.CSS(`#plan button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#ev-start-error")))
	if got := jean.text("#ev-start-error"); !strings.Contains(got, "08/12/2026 09:00") ||
		eval[string](jean, `document.querySelector("#ev-start").getAttribute("aria-invalid")`) != "true" {
		t.Errorf("a start that is no date: %q", got)
	}
	// Then with the end before the start: the page says so, in French.
	jean.run("plan badly", chromedp.SetValue(chromedp.CSS("#ev-start"), frDay+" 11:30"), chromedp.SetValue(chromedp.CSS("#ev-end"), frDay+" 09:00"),
		chromedp.Click(chromedp.CSS(`#plan button[type="submit"]`)))
	rig.WaitFor(t, "the plan form sent back for its end before its start", func() bool {
		return eval[bool](jean, `!document.querySelector("#ev-start-error") && !!document.querySelector("#ev-end-error")`)
	})
	if got := jean.text("#ev-end-error"); !strings.Contains(got, "Fin") || !strings.Contains(got, "Après le début") {
		t.Errorf("the plan form with the end before the start says %q", got)
	}
	jean.run("plan", chromedp.SetValue(chromedp.CSS("#ev-start"), frDay+" 09:00"), chromedp.SetValue(chromedp.CSS("#ev-end"), frDay+" 11:30"),
		chromedp.SendKeys(chromedp.CSS("#ev-loc"), "École des Tilleuls"), chromedp.Click(chromedp.CSS(`#plan button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#plan .badge")))
	rig.WaitFor(t, "the intervention in Marie's calendar", func() bool {
		marie.run("calendar", chromedp.Navigate(bzh+"/app/calendar?week="+day), chromedp.WaitVisible(chromedp.CSS("main")))
		return eval[int](marie, `document.querySelectorAll(".event").length`) == 1
	})
	if got := marie.text(".event"); !strings.Contains(got, "09:00") || !strings.Contains(got, "Site web de l'école") {
		t.Errorf("Marie's calendar shows %q", got)
	}
	marie.shot("4-calendar")
	marie.run("accept the intervention", chromedp.Click(chromedp.CSS(`.event button[value="accept"]`)),
		chromedp.WaitVisible(chromedp.CSS(".event.state-accepted")))
	rig.WaitFor(t, "Marie's answer on Jean's page, live", func() bool {
		return eval[string](jean, `(document.querySelector("#plan .badge") || {}).textContent || ""`) == "acceptée"
	})

	// (4) Claire, staff, sees the routed job.
	claire := newPerson(t, exe, "3-claire")
	claire.login(bfc, rig.Claire)
	claire.run("dashboard", chromedp.Navigate(bfc+"/app/staff"), chromedp.WaitVisible(chromedp.CSS("#routed")))
	if got := claire.text("#routed"); !strings.Contains(got, "Bretagne") {
		t.Errorf("the dashboard's routed jobs: %q", got)
	}
	rig.WaitFor(t, "the three regions' load on the dashboard", func() bool {
		claire.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#regions")))
		got := claire.text("#regions")
		return strings.Contains(got, "Bretagne") && strings.Contains(got, "Île-de-France") && strings.Contains(got, "Bourgogne-Franche-Comté")
	})
	claire.shot("1-dashboard")
	// Each bar says what it measures, over which days, and an overload in words.
	if got := claire.text("#load"); !strings.Contains(got, " sur ") || !strings.Contains(got, "14 prochains jours") {
		t.Errorf("the members' load: %q", got)
	}
	claire.accessible("dashboard")

	// The node's queues, from the staff menu: four, in French, nothing
	// given up on.
	claire.run("queues", chromedp.Click(chromedp.CSS("#nav-queues")), chromedp.WaitVisible(chromedp.CSS("#queues")))
	if got := claire.text("#queues"); !strings.Contains(got, "Recherches de routage") || !strings.Contains(got, "Envois aux autres régions") ||
		!strings.Contains(got, "Activités reçues") || !strings.Contains(got, "Messages vers NATS") {
		t.Errorf("Claire's queues: %q", got)
	}
	if got := claire.text("#dead-letters"); !strings.Contains(got, "Aucun élément abandonné") {
		t.Errorf("Claire's dead letters: %q", got)
	}
	claire.shot("1-queues")
	claire.accessible("queues")

	// The cards name the client; the client's page lists its requests and
	// its contact is a tap away.
	jean.run("his requests", chromedp.Navigate(bfc+"/app/tickets"), chromedp.WaitVisible(chromedp.CSS("#tickets .card .client")))
	if got := jean.text("#tickets .card .client"); got != "École primaire des Tilleuls" {
		t.Errorf("the card's client: %q", got)
	}
	jean.accessible("tickets")
	// He finds it by its client's name, without the accents, and a filter
	// that matches nothing says so.
	jean.run("search", chromedp.SendKeys(chromedp.CSS("#f-q"), "ecole primaire"), chromedp.Click(chromedp.CSS("#f-submit")),
		chromedp.WaitVisible(chromedp.CSS("#f-reset")))
	if n := eval[int](jean, `document.querySelectorAll("#tickets .card").length`); n != 1 {
		t.Errorf("searching « ecole primaire » finds %d requests", n)
	}
	jean.run("filter", chromedp.SetValue(chromedp.CSS("#f-priority"), "urgent"), chromedp.Click(chromedp.CSS("#f-submit")),
		chromedp.WaitVisible(chromedp.CSS("#tickets-empty")))
	if got := jean.text("#tickets-empty"); !strings.Contains(got, "Aucune demande ne correspond") {
		t.Errorf("no urgent request: %q", got)
	}
	jean.shot("7-filtered")
	jean.accessible("tickets filtered")
	jean.run("the client", chromedp.Navigate(bfc+"/app/clients"), chromedp.WaitVisible(chromedp.CSS("main a[href^='/app/clients/']")),
		chromedp.Click(chromedp.CSS("main a[href^='/app/clients/']")), chromedp.WaitVisible(chromedp.CSS("#client-tickets")))
	if got := jean.text("#client-tickets"); !strings.Contains(got, "Site web de l'école") {
		t.Errorf("the client's requests: %q", got)
	}
	if got := eval[string](jean, `document.querySelector("#client-mail").getAttribute("href")`); got != "mailto:ecole.tilleuls@example.org" {
		t.Errorf("the contact's e-mail link: %q", got)
	}
	jean.accessible("client")
	for _, page := range []string{"/app/calendar", "/app/directory", "/app/account", "/app/notifications/settings", "/app/notifications"} {
		jean.run(page, chromedp.Navigate(bfc+page), chromedp.WaitVisible(chromedp.CSS("main")))
		jean.accessible(page)
	}

	// Phones: no horizontal scroll at 360 px.
	for _, u := range []string{bfc + "/app/tickets", ticketURL, bfc + "/app/clients", bfc + "/app/calendar", bfc + "/app/directory",
		bfc + "/app/notifications", bfc + "/app/notifications/settings"} {
		jean.noHorizontalScroll(u)
	}
	jean.shot("7-phone")
	marie.noHorizontalScroll(bzh + "/app/offers")
	claire.noHorizontalScroll(bfc + "/app/staff")
	claire.noHorizontalScroll(bfc + "/app/staff/queues")
	claire.shot("2-phone")

	// An error page, as someone following a stale link sees it.
	jean.run("a stale link", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(bfc+"/app/tickets/01a00000-0000-7000-8000-000000000000"),
		chromedp.WaitVisible(chromedp.CSS("main")))
	jean.accessible("an error page")

	// The language switch.
	jean.run("english", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(ticketURL), chromedp.Click(chromedp.CSS("#lang")),
		chromedp.WaitVisible(chromedp.CSS("#ticket-status")))
	lang := eval[string](jean, `document.documentElement.lang`)
	if got := jean.text("#ticket-status"); lang != "en" || got != "accepted" {
		t.Errorf("after the switch: lang %q, status %q", lang, got)
	}
	jean.shot("8-english")

	// A form posted without its CSRF token (from another site, say) is
	// refused, even with Jean's valid session, and writes nothing.
	var session string
	cs, err := chromedp.Call(jean.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{bfc + "/app/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range cs.Cookies {
		if ck.Name == "coopnet_session" {
			session = ck.Value
		}
	}
	if session == "" {
		t.Fatal("no session cookie in Jean's browser")
	}
	req, _ := http.NewRequest(http.MethodPost, ticketURL+"/comments", strings.NewReader(url.Values{"body": {"forgé"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "coopnet_session", Value: session})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form without a CSRF token: %d", resp.StatusCode)
	}
	var n int64
	c.Node("bourgogne-franche-comte").N.DB.Raw("SELECT COUNT(*) FROM ticket_comments WHERE body = 'forgé'").Scan(&n)
	if n != 0 {
		t.Error("a form without a CSRF token wrote a comment")
	}

	// (5) Marie cannot do the job after all: she gives it back from her
	// copy's page, and Jean's ticket goes to the next candidate.
	marie.run("her copy", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(bzh+"/app/tickets"),
		chromedp.WaitVisible(chromedp.CSS("#tickets .card a")), chromedp.Click(chromedp.CSS("#tickets .card a")),
		chromedp.WaitVisible(chromedp.CSS("#release")))
	// Giving the job back is not what she mostly does there: it comes after
	// planning and the comments, and is not the page's primary button.
	if !eval[bool](marie, `!!(document.querySelector("#comments").compareDocumentPosition(document.querySelector("#release")) & Node.DOCUMENT_POSITION_FOLLOWING) && document.querySelector("#release-submit").classList.contains("secondary")`) {
		t.Error("« Rendre le travail » comes before planning and the comments, or is the primary button")
	}
	// A second step asks before the job goes.
	marie.run("give it back", chromedp.SendKeys(chromedp.CSS("#release-reason"), "Un imprévu : je ne pourrai pas venir."),
		chromedp.Click(chromedp.CSS("#release-submit")), chromedp.WaitVisible(chromedp.CSS("#confirm-heading")))
	if got := marie.text("#confirm-heading"); !strings.Contains(got, "Rendre le travail") {
		t.Errorf("the confirmation asks %q", got)
	}
	marie.shot("5-confirm-give-back")
	marie.accessible("the give-back confirmation")
	marie.run("confirm", chromedp.Click(chromedp.CSS("#confirm")), chromedp.Click(chromedp.CSS("#confirm-submit")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := marie.text(".flash"); !strings.Contains(got, "Travail rendu") {
		t.Errorf("Marie's flash after giving the job back: %q", got)
	}
	marie.shot("5-given-back")
	rig.WaitFor(t, "the job offered again on Jean's page", func() bool {
		jean.run("reload", chromedp.Navigate(ticketURL), chromedp.WaitVisible(chromedp.CSS("#ticket-status")))
		return jean.text("#ticket-status") == "offered"
	})
	if got := jean.text("#history"); !strings.Contains(got, "Un imprévu : je ne pourrai pas venir.") {
		t.Errorf("Jean's history does not give Marie's reason: %q", got)
	}
}
