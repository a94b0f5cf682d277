package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/files/filestest"
	"github.com/coopnet/coopnet/services/notify"
)

// onPhone sets the person's browser to a phone's screen (390×844, touch).
func (p *person) onPhone() {
	p.t.Helper()
	p.run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(3)))
}

// fits checks that the page in view needs no horizontal scroll.
func (p *person) fits(what string) {
	p.t.Helper()
	if scroll, inner := eval[int](p, `document.documentElement.scrollWidth`), eval[int](p, `window.innerWidth`); scroll > inner {
		p.shot("too-wide-" + strings.NewReplacer(" ", "-", "/", "-").Replace(what))
		p.t.Errorf("%s: %s is %d px wide in a %d px viewport", p.name, what, scroll, inner)
	}
}

// TestBrowserJourneysOnPhones runs the three journeys on phones (390×844,
// touch): Jean forwards his request and attaches a photo, Marie accepts
// the offer and finds the job and the photo, Claire reads the dashboard —
// every step by taps on the pages as a phone shows them, each page without
// horizontal scrolling and checked by axe-core.
func TestBrowserJourneysOnPhones(t *testing.T) {
	exe := chromium(t)
	c := newCoop(t, 48*time.Hour)
	bfc, bzh := c.Node(rig.BFC).URL, c.Node(rig.BZH).URL
	jeanID := c.SchoolTicket("Site web de l'école", "website", false, 16)
	rig.Must[notify.Choices](c.As(rig.Marie).On(rig.BZH).Do("PUT", "/api/v1/notifications/settings",
		map[string]any{"settings": map[string]any{"quiet_from": 0, "quiet_to": 0, "quiet_weekends": false, "digest": false, "lang": "fr"}}), 200)

	// Jean, on his phone: his list, the request, « Transmettre ».
	jean := newPerson(t, exe, "phone-1-jean")
	jean.onPhone()
	jean.login(bfc, rig.Jean)
	jean.run("his requests", chromedp.Navigate(bfc+"/app/tickets"), chromedp.WaitVisible(chromedp.CSS("#tickets .card a")))
	jean.fits("his requests")
	jean.accessible("his requests on a phone")
	jean.run("the request", chromedp.Click(chromedp.CSS("#tickets .card a")), chromedp.WaitVisible(chromedp.CSS("#forward-submit")))
	jean.fits("the request")
	jean.run("forward", chromedp.SendKeys(chromedp.CSS("#fwd-note"), "Petit site vitrine"), chromedp.Click(chromedp.CSS("#forward-submit")),
		chromedp.WaitVisible(chromedp.CSS("#routing-state")))
	rig.WaitFor(t, "the offer on Jean's phone, live", func() bool {
		return eval[bool](jean, `!!document.querySelector("#offered-to")`)
	})
	if got := jean.text("#offered-to"); !strings.Contains(got, "Marie Le Gall (Bretagne)") {
		t.Errorf("Jean's phone shows the offer made to %q", got)
	}
	jean.fits("the forwarded request")
	jean.shot("1-forwarded")

	// Marie, on her phone: told, she taps « Propositions » and accepts.
	marie := newPerson(t, exe, "phone-2-marie")
	marie.onPhone()
	marie.login(bzh, rig.Marie)
	rig.WaitFor(t, "the offer counted on Marie's phone", func() bool {
		marie.run("reload", chromedp.Navigate(bzh+"/app/"), chromedp.WaitVisible(chromedp.CSS("#nav-offers")))
		return eval[string](marie, `document.querySelector("#count-offers").textContent`) == "1"
	})
	marie.run("offers", chromedp.Click(chromedp.CSS("#nav-offers")), chromedp.WaitVisible(chromedp.CSS(".offer button.accept")))
	marie.fits("the offers")
	marie.accessible("the offers on a phone")
	marie.shot("1-offers")
	marie.run("accept", chromedp.Click(chromedp.CSS(".offer button.accept")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	rig.WaitFor(t, "the job among Marie's requests, on her phone", func() bool {
		return eval[int](marie, `document.querySelectorAll("#tickets .card").length`) == 1
	})
	marie.fits("her requests")

	// Jean attaches a photo from his phone; Marie finds it on hers.
	photo := filepath.Join(t.TempDir(), "facade.png")
	if err := os.WriteFile(photo, filestest.PNG(t, 1200, 900), 0o644); err != nil {
		t.Fatal(err)
	}
	rig.WaitFor(t, "Marie as the assignee on Jean's phone", func() bool {
		return eval[int](jean, `document.querySelectorAll("#ticket-assignee").length`) == 1 &&
			strings.Contains(jean.text("#ticket-assignee"), "Marie Le Gall")
	})
	jean.run("attach", chromedp.Navigate(bfc+"/app/tickets/"+jeanID), chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{photo}), chromedp.Click(chromedp.CSS(`#comment button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#comments img[alt="facade.png"]`)))
	jean.fits("the request with its photo")
	marie.run("her copy", chromedp.Click(chromedp.CSS("#tickets .card a")), chromedp.WaitVisible(chromedp.CSS("#comments")))
	copyURL, err := chromedp.Run(marie.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	rig.WaitFor(t, "Jean's photo on Marie's phone", func() bool {
		marie.run("reload her copy", chromedp.Navigate(copyURL), chromedp.WaitVisible(chromedp.CSS("#comments")))
		return eval[bool](marie, `(function(){var i=document.querySelector('#comments img[alt="facade.png"]');return !!i && i.complete && i.naturalWidth > 0})()`)
	})
	marie.fits("her copy with the photo")
	marie.accessible("her copy on a phone")
	marie.shot("2-photo")

	// Claire, on her phone: the dashboard.
	claire := newPerson(t, exe, "phone-3-claire")
	claire.onPhone()
	claire.login(bfc, rig.Claire)
	claire.run("dashboard", chromedp.Navigate(bfc+"/app/staff"), chromedp.WaitVisible(chromedp.CSS("#load")))
	claire.fits("the dashboard")
	claire.accessible("the dashboard on a phone")
	if got := claire.text("#routed"); !strings.Contains(got, "Bretagne") {
		t.Errorf("Claire's phone: routed jobs %q", got)
	}
	claire.shot("1-dashboard")
}
