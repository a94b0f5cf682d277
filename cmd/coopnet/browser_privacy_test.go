package main

import (
	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserPrivacy runs, in a real browser, what the coop does for
// people's rights: Claire (staff, in French) exports a client's data and
// erases it; Bretagne's administrator (in English) deactivates Marie, who
// is logged out at once; Jean changes his password and makes an API
// token; the new pages fit a phone.
func TestBrowserPrivacy(t *testing.T) {
	exe := chromium(t)
	c := newCoop(t, 48*time.Hour)
	bfc, bzh := c.Node("bourgogne-franche-comte").URL, c.Node("bretagne").URL
	admin := c.AddAdmin("bretagne", "admin@bzh.test")
	cl := c.API("bourgogne-franche-comte", "POST", "/api/v1/clients", rig.Jean, map[string]any{"name": "Jeanne Dupont",
		"kind": "person", "postcode": "25150", "commune": "Bourguignon", "contact_name": "Jeanne Dupont",
		"contact_email": "jeanne.dupont@example.org", "contact_phone": "06 12 34 56 78"}, 201)
	clientURL := bfc + "/app/clients/" + cl["id"].(string)

	// Claire exports Jeanne's data, then erases it.
	claire := newPerson(t, exe, "p1-claire")
	claire.login(bfc, rig.Claire)
	claire.run("the client", chromedp.Navigate(clientURL), chromedp.WaitVisible(chromedp.CSS("#privacy")),
		chromedp.Click(chromedp.CSS("#client-export")), chromedp.WaitVisible(chromedp.CSS("#shared-with")))
	if got := claire.text("main"); !strings.Contains(got, "jeanne.dupont@example.org") || !strings.Contains(got, "Transmis à d’autres nœuds") {
		t.Errorf("the export page shows %q", got)
	}
	claire.shot("1-export")
	claire.accessible("the client's export")
	claire.noHorizontalScroll(clientURL + "/export")
	claire.run("erase", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(clientURL), chromedp.WaitVisible(chromedp.CSS("#client-erase")),
		chromedp.Click(chromedp.CSS("#client-erase")), chromedp.WaitVisible(chromedp.CSS("#confirm-heading")))
	if got := claire.text("#confirm-heading"); got != "Effacer les données de Jeanne Dupont" {
		t.Errorf("the confirmation asks %q", got)
	}
	claire.shot("2-confirm")
	claire.accessible("the erasure's confirmation")
	claire.run("confirm", chromedp.SendKeys(chromedp.CSS("#reason"), "demande écrite du 2 décembre"),
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.Click(chromedp.CSS("#confirm-submit")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := claire.text(".flash"); !strings.Contains(got, "Données du client effacées") {
		t.Errorf("after the erasure: %q", got)
	}
	if got := claire.text("#client-name"); got != "Client effacé" {
		t.Errorf("the client is now %q", got)
	}
	claire.shot("3-erased")
	var contact string
	c.Node("bourgogne-franche-comte").N.DB.Raw("SELECT contact_email FROM clients WHERE id = ?", cl["id"]).Row().Scan(&contact)
	if contact != "" {
		t.Errorf("the contact is still stored: %q", contact)
	}
	claire.noHorizontalScroll(bfc + "/app/staff/members")

	// Marie is logged in; her region's administrator, in English,
	// deactivates her.
	marie := newPerson(t, exe, "p2-marie")
	marie.login(bzh, rig.Marie)
	boss := newPerson(t, exe, "p3-admin")
	boss.login(bzh, admin)
	boss.run("english", chromedp.Navigate(bzh+"/app/staff/members"), chromedp.WaitVisible(chromedp.CSS("#lang")),
		chromedp.Click(chromedp.CSS("#lang")), chromedp.WaitVisible(chromedp.CSS("#proposals")))
	handle, _, _ := strings.Cut(rig.Marie, "@")
	boss.run("deactivate Marie", chromedp.Click(chromedp.CSS("#member-"+handle+" a.button")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-heading")))
	if got := boss.text("#confirm-heading"); got != "Marie Le Gall leaves the cooperative" {
		t.Errorf("the confirmation asks %q", got)
	}
	boss.shot("1-confirm")
	boss.accessible("the deactivation's confirmation")
	boss.noHorizontalScroll(bzh + "/app/staff/members/" + c.MemberID("bretagne", rig.Marie) + "/deactivate")
	boss.run("confirm", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(bzh+"/app/staff/members/"+c.MemberID("bretagne", rig.Marie)+"/deactivate"),
		chromedp.WaitVisible(chromedp.CSS("#confirm")), chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-submit")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := boss.text(".flash"); got != "Member deactivated." {
		t.Errorf("after the deactivation: %q", got)
	}
	if got := boss.text("#member-" + handle); !strings.Contains(got, "left the cooperative") {
		t.Errorf("Marie in the list: %q", got)
	}
	boss.shot("2-deactivated")
	boss.accessible("the members page")
	marie.run("her next page", chromedp.Navigate(bzh+"/app/offers"), chromedp.WaitVisible(chromedp.CSS("#email")))
	marie.shot("1-logged-out")

	// Jean, on his account page: a wrong current password is said in
	// French; then the change; then an API token, shown once.
	jean := newPerson(t, exe, "p4-jean")
	jean.login(bfc, rig.Jean)
	jean.run("account", chromedp.Click(chromedp.CSS("#nav-account")), chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#current-password"), "pas le bon"), chromedp.SendKeys(chromedp.CSS("#new-password"), "un nouveau mot de passe"),
		chromedp.SendKeys(chromedp.CSS("#confirm-password"), "un nouveau mot de passe"), chromedp.Click(chromedp.CSS("#password-submit")),
		chromedp.WaitVisible(chromedp.CSS("#password .field-error")))
	if got := jean.text("#password .field-error"); got != "Mot de passe incorrect." {
		t.Errorf("a wrong current password: %q", got)
	}
	jean.run("change", chromedp.SendKeys(chromedp.CSS("#current-password"), "mot de passe"),
		chromedp.SendKeys(chromedp.CSS("#new-password"), "un nouveau mot de passe"),
		chromedp.SendKeys(chromedp.CSS("#confirm-password"), "un nouveau mot de passe"), chromedp.Click(chromedp.CSS("#password-submit")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := jean.text(".flash"); !strings.Contains(got, "Mot de passe changé") {
		t.Errorf("after the change: %q", got)
	}
	jean.run("token", chromedp.SendKeys(chromedp.CSS("#token-label"), "sauvegarde"), chromedp.Click(chromedp.CSS("#token-submit")),
		chromedp.WaitVisible(chromedp.CSS("#new-token")))
	if tok := jean.text("#new-token"); !strings.HasPrefix(tok, "cn_") {
		t.Errorf("the new token: %q", tok)
	} else {
		rig.Call(t, "GET", bfc+"/api/v1/me", tok, nil, 200)
	}
	jean.shot("1-account")
	jean.accessible("the account page in English")
	jean.noHorizontalScroll(bfc + "/app/account")
}
