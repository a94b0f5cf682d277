package story_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/notify/notifytest"
)

type notificationPage struct {
	Items      []notify.Notification `json:"items"`
	NextCursor string                `json:"next_cursor"`
	Unread     int                   `json:"unread"`
}

// notifications waits for a notification of kind in the member's inbox
// on their node and returns it.
func (c *coop) notification(region, email string, kind notify.Kind, about string) notify.Notification {
	c.T.Helper()
	var got notify.Notification
	rig.WaitFor(c.T, email+"'s "+string(kind)+" notification", func() bool {
		p := rig.Must[notificationPage](c.As(email).On(region).Do("GET", "/api/v1/notifications", nil), 200)
		for _, n := range p.Items {
			if n.Kind == kind && (n.TicketID == about || n.OfferID == about) {
				got = n
				return true
			}
		}
		return false
	})
	return got
}

// TestNotificationsAcrossRegions: Marie is told of the offer in the app
// and by e-mail (through a real SMTP server, STARTTLS and a password),
// Jean of her acceptance and her comment; nobody of their own doing; no
// client's contact in a mail.
func TestNotificationsAcrossRegions(t *testing.T) {
	c := newCoop(t, time.Minute)
	// No quiet hours for the two of them: the mails go whatever the hour
	// the test runs (the quiet hours have their own tests).
	for _, p := range []struct{ region, email, lang string }{{rig.BZH, rig.Marie, "fr"}, {rig.BFC, rig.Jean, "en"}} {
		got := rig.Must[notify.Choices](c.As(p.email).On(p.region).Do("PUT", "/api/v1/notifications/settings",
			map[string]any{"prefs": []map[string]any{{"kind": "comment", "channel": "both"}},
				"settings": map[string]any{"quiet_from": 0, "quiet_to": 0, "quiet_weekends": false, "digest": false, "lang": p.lang}}), 200)
		if got.Settings.Lang != p.lang || got.Prefs[4].Kind != notify.Comment || got.Prefs[4].Channel != notify.Both {
			t.Fatalf("choices %+v", got)
		}
	}
	// Bad input is refused and changes nothing.
	for _, bad := range []map[string]any{
		{"prefs": []map[string]any{{"kind": "comment", "channel": "carrier-pigeon"}}, "settings": map[string]any{"lang": "fr"}},
		{"settings": map[string]any{"quiet_from": 2000, "lang": "fr"}},
		{"settings": map[string]any{"lang": "fr"}, "surprise": true},
	} {
		rig.Must[rig.Problem](c.As(rig.Marie).On(rig.BZH).Do("PUT", "/api/v1/notifications/settings", bad), 422)
	}
	rig.Must[rig.Problem](c.As(rig.Marie).On(rig.BZH).Do("GET", "/api/v1/notifications?unread=maybe", nil), 422)
	rig.Must[rig.Problem](c.As(rig.Marie).On(rig.BZH).Do("GET", "/api/v1/notifications?since=yesterday", nil), 422)
	rig.Must[rig.Problem](c.As(rig.Marie).On(rig.BZH).Do("POST", "/api/v1/notifications/read", map[string]any{"ids": []string{"../x"}}), 422)

	jeanID := c.SchoolTicket("Site web de l'école", "website", false, 16)
	c.API(rig.BFC, "POST", "/api/v1/tickets/"+jeanID+"/forward", rig.Jean, map[string]any{}, 202)
	offer := c.OfferFor(rig.BZH, rig.Marie, jeanID)
	n := c.notification(rig.BZH, rig.Marie, notify.Offer, offer.ID)
	if n.Title != offer.Title || n.ActorName == "" || n.ReadAt != nil {
		t.Fatalf("Marie's notification %+v", n)
	}
	mail := c.SMTP.Wait(t, time.Minute, func(m notifytest.Mail) bool {
		return m.To == rig.Marie && strings.HasPrefix(m.Subject, "Nouvelle proposition")
	})
	if mail.Lang != "fr" || !strings.Contains(mail.Text, c.Nodes[rig.BZH].URL+"/app/offers") || !strings.Contains(mail.HTML, c.Nodes[rig.BZH].URL+"/app/offers") {
		t.Errorf("Marie's mail: %s\n%s", mail.Subject, mail.Text)
	}
	for _, private := range []string{"ecole.tilleuls@example.org", "Mme Martin", "Demande de l'école"} {
		if strings.Contains(string(mail.Raw), private) {
			t.Errorf("the mail carries the client's %q", private)
		}
	}
	// Opening « Propositions » marks the offer's notification read.
	c.Offers(rig.BZH, rig.Marie)

	c.API(rig.BZH, "POST", "/api/v1/offers/"+offer.ID+"/accept", rig.Marie, nil, 200)
	acc := c.notification(rig.BFC, rig.Jean, notify.Accepted, jeanID)
	if acc.ActorName != "Marie Le Gall" || acc.Title != "Site web de l'école" {
		t.Fatalf("Jean's notification %+v", acc)
	}
	c.SMTP.Wait(t, time.Minute, func(m notifytest.Mail) bool {
		return m.To == rig.Jean && m.Subject == "Request accepted: Site web de l'école" && m.Lang == "en"
	})
	apID := c.Ticket(jeanID).APID
	var marieID string
	rig.WaitFor(t, "Marie's copy", func() bool { marieID = c.CopyOf(rig.BZH, rig.Marie, apID); return marieID != "" })
	// Marie did it: she is not told she accepted.
	for _, x := range rig.Must[notificationPage](c.As(rig.Marie).On(rig.BZH).Do("GET", "/api/v1/notifications", nil), 200).Items {
		if x.Kind == notify.Accepted {
			t.Errorf("Marie was told of her own acceptance: %+v", x)
		}
	}

	// Marie comments on her copy: Jean is told on his node, she is not.
	c.API(rig.BZH, "POST", "/api/v1/tickets/"+marieID+"/comments", rig.Marie, map[string]any{"body": "Maquette envoyée."}, 201)
	cm := c.notification(rig.BFC, rig.Jean, notify.Comment, jeanID)
	if cm.ActorName != "Marie Le Gall" {
		t.Errorf("comment notification %+v", cm)
	}
	// Jean answers: Marie is told on hers.
	c.API(rig.BFC, "POST", "/api/v1/tickets/"+jeanID+"/comments", rig.Jean, map[string]any{"body": "Merci !"}, 201)
	c.notification(rig.BZH, rig.Marie, notify.Comment, marieID)
	for _, x := range rig.Must[notificationPage](c.As(rig.Jean).On(rig.BFC).Do("GET", "/api/v1/notifications", nil), 200).Items {
		if x.Kind == notify.Comment && x.ActorName != "Marie Le Gall" {
			t.Errorf("Jean was told of his own comment: %+v", x)
		}
	}

	// Mark all read: the count falls to zero.
	p := rig.Must[notificationPage](c.As(rig.Jean).On(rig.BFC).Do("GET", "/api/v1/notifications?unread=true", nil), 200)
	if p.Unread == 0 || len(p.Items) != p.Unread {
		t.Fatalf("Jean's unread: %d, %d items", p.Unread, len(p.Items))
	}
	res := rig.Must[map[string]int](c.As(rig.Jean).On(rig.BFC).Do("POST", "/api/v1/notifications/read", map[string]any{}), 200)
	if res["marked"] != p.Unread || res["unread"] != 0 {
		t.Fatalf("marked %+v", res)
	}
	// Jean's export holds his notifications.
	me := rig.Must[map[string]any](c.As(rig.Jean).On(rig.BFC).Do("GET", "/api/v1/me", nil), 200)
	exp := rig.Must[map[string]any](c.As(rig.Jean).On(rig.BFC).Do("GET", "/api/v1/members/"+me["id"].(string)+"/export", nil), 200)
	if ns, _ := exp["notifications"].(map[string]any)["notifications"].([]any); len(ns) < 2 {
		t.Errorf("export: %v", exp["notifications"])
	}
}
