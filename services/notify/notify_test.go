package notify_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/notify/notifytest"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/routing/member"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var paris, _ = time.LoadLocation("Europe/Paris")

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
	if err != nil {
		panic(err)
	}
	return t
}

func TestQuietHours(t *testing.T) {
	def := notify.DefaultSettings
	none := notify.Settings{QuietFrom: 0, QuietTo: 0, Lang: "fr"}
	late := notify.Settings{QuietFrom: 22 * 60, QuietTo: 7 * 60, Lang: "fr"}   // across midnight, weekdays only
	lunch := notify.Settings{QuietFrom: 12 * 60, QuietTo: 14 * 60, Lang: "fr"} // within a day
	for _, c := range []struct {
		name      string
		st        notify.Settings
		at, open  string
		digest    string
		quietness bool
	}{
		{"a working morning", def, "2026-12-09 10:00", "2026-12-09 10:00", "2026-12-10 08:00", false},
		{"a weekday evening waits for the morning", def, "2026-12-09 19:00", "2026-12-10 08:00", "2026-12-10 08:00", true},
		{"before dawn", def, "2026-12-09 06:59", "2026-12-09 08:00", "2026-12-09 08:00", true},
		{"Friday evening waits for Monday", def, "2026-12-11 20:00", "2026-12-14 08:00", "2026-12-14 08:00", true},
		{"Sunday noon", def, "2026-12-13 12:00", "2026-12-14 08:00", "2026-12-14 08:00", true},
		{"the end of the quiet hours is open", def, "2026-12-09 08:00", "2026-12-09 08:00", "2026-12-10 08:00", false},
		// 29 March 2026: clocks go from 02:00 to 03:00 in Paris.
		{"across the change to summer time", def, "2026-03-27 21:00", "2026-03-30 08:00", "2026-03-30 08:00", true},
		{"none", none, "2026-12-13 03:00", "2026-12-13 03:00", "2026-12-13 08:00", false},
		{"late, after midnight", late, "2026-12-12 01:00", "2026-12-12 07:00", "2026-12-12 07:00", true},
		{"late, a Saturday evening is not quiet", late, "2026-12-12 21:00", "2026-12-12 21:00", "2026-12-13 07:00", false},
		{"lunch", lunch, "2026-12-09 12:30", "2026-12-09 14:00", "2026-12-09 14:00", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.st.Quiet(at(c.at)); got != c.quietness {
				t.Errorf("quiet at %s: %v", c.at, got)
			}
			if got, want := c.st.NextOpen(at(c.at)), at(c.open).UTC(); !got.Equal(want) {
				t.Errorf("open from %s: %s, want %s", c.at, got.In(paris), want.In(paris))
			}
			if got, want := c.st.NextDigest(at(c.at)), at(c.digest).UTC(); !got.Equal(want) {
				t.Errorf("digest from %s: %s, want %s", c.at, got.In(paris), want.In(paris))
			}
		})
	}
}

// node is one node's notifications with two members and an SMTP server.
type node struct {
	db          *storage.DB
	ns          *notify.Service
	smtp        *notifytest.Server
	marie, jean *members.Member
	now         time.Time
}

var texts = notify.Texts{
	T: func(lang, key string, args ...any) string {
		return lang + ":" + key + ":" + strings.Trim(strings.ReplaceAll(strings.TrimSpace(fmtArgs(args)), "  ", " "), " ")
	},
	Time: func(lang string, t time.Time) string { return t.In(paris).Format("02/01 15:04") },
}

func fmtArgs(args []any) string {
	var b strings.Builder
	for _, a := range args {
		switch v := a.(type) {
		case string:
			b.WriteString(v + " ")
		case int:
			b.WriteString(strings.Repeat("#", v) + " ")
		}
	}
	return b.String()
}

func newNode(t *testing.T, db *storage.DB, clock *time.Time) *node {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cat := skills.NewCatalog(db)
	ms := members.New(db, cat, members.Config{Region: "bretagne", Host: "bzh.test", BcryptCost: bcrypt.MinCost}, log)
	cs := clients.New(db, ms)
	ts := tickets.New(db, cat, cs, ledger.New(db, "bretagne"), tickets.Config{Region: "bretagne", PublicURL: "http://bzh.test"}, log)
	srv := notifytest.Start(t)
	m, err := notify.ParseSMTP(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	m.TLS = srv.Client
	n := &node{db: db, smtp: srv}
	titles := func(ctx context.Context, ids []string) (map[string]string, error) {
		return member.OfferTitles(ctx, db, ids)
	}
	n.ns = notify.New(db, ms, ts, titles, notify.Config{PublicURL: "http://bzh.test", Host: "bzh.test", Region: "bretagne",
		Mailer: m, From: "coopnet <noreply@bzh.test>", Texts: texts, Backoff: queue.Backoff{First: time.Millisecond, Max: time.Millisecond},
		Attempts: 3, Now: func() time.Time { return *clock }}, log)
	n.ns.Listen()
	for _, p := range []struct {
		to         **members.Member
		email, nom string
	}{{&n.marie, "marie@bzh.test", "Marie Le Goff"}, {&n.jean, "jean@bzh.test", "Jean Martin"}} {
		mm, err := ms.Create(ctx, nil, members.CreateInput{Email: p.email, Name: p.nom, Role: "technician", Password: "correct horse battery",
			Postcode: "29000"})
		if err != nil {
			t.Fatal(err)
		}
		*p.to = mm
	}
	return n
}

// offer stores an offer for m and publishes it, as the routing does.
func (n *node) offer(t *testing.T, m *members.Member, title string) string {
	t.Helper()
	id := storage.NewID()
	err := n.db.WithTx(context.Background(), func(ctx context.Context, tx *gorm.DB) error {
		o := member.Offer{ID: id, RoutingID: storage.NewID(), OriginRegion: "bourgogne-franche-comte", TicketID: storage.NewID(),
			TicketAPID: "http://bfc.test/tickets/" + id, MemberID: m.ID, Title: title, Skill: "website", State: member.OfferPending,
			ForwardedBy: "jean@bfc.test", ForwardedByName: "Jean Martin", ExpiresAt: time.Now().Add(time.Hour), CreatedAt: time.Now()}
		if err := tx.Create(&o).Error; err != nil {
			return err
		}
		return storage.Publish(ctx, n.db, member.OfferMade{Offer: &o})
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (n *node) choose(t *testing.T, m *members.Member, st notify.Settings, prefs ...notify.Pref) {
	t.Helper()
	if _, err := n.ns.SetChoices(context.Background(), members.Actor{ID: m.ID}, notify.Choices{Prefs: prefs, Settings: st}); err != nil {
		t.Fatal(err)
	}
}

func (n *node) sendDue(t *testing.T) int {
	t.Helper()
	sent, err := n.ns.SendDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

func TestOfferNotifiedAndMailed(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clock := time.Now().UTC()
		n := newNode(t, db, &clock)
		// No quiet hours: the mail goes at once, whatever the hour the test runs.
		n.choose(t, n.marie, notify.Settings{Lang: "fr"})
		n.offer(t, n.marie, "Site web de l'école")
		marie := members.Actor{ID: n.marie.ID}
		if u, err := n.ns.Unread(ctx, n.marie.ID); err != nil || u != 1 {
			t.Fatalf("unread %d, %v", u, err)
		}
		list, err := n.ns.List(ctx, marie, notify.ListOptions{})
		if err != nil || len(list) != 1 || list[0].Kind != notify.Offer || list[0].Title != "Site web de l'école" || list[0].ActorName != "Jean Martin" {
			t.Fatalf("list %+v, %v", list, err)
		}
		if u, _ := n.ns.Unread(ctx, n.jean.ID); u != 0 {
			t.Fatalf("Jean was told of Marie's offer: %d", u)
		}
		if sent := n.sendDue(t); sent != 1 {
			t.Fatalf("sent %d mails", sent)
		}
		m := n.smtp.Wait(t, 10*time.Second, func(m notifytest.Mail) bool { return m.To == "marie@bzh.test" })
		if m.ContentType != "multipart/alternative" || m.Lang != "fr" || m.From != "noreply@bzh.test" {
			t.Errorf("mail %s, lang %q, from %q", m.ContentType, m.Lang, m.From)
		}
		if !strings.Contains(m.Subject, "fr:notify.subject.offer:Site web de l'école") {
			t.Errorf("subject %q", m.Subject)
		}
		for _, part := range []string{m.Text, m.HTML} {
			if !strings.Contains(part, "http://bzh.test/app/offers") || !strings.Contains(part, "http://bzh.test/app/notifications/settings") {
				t.Errorf("no link back in %q", part)
			}
		}
		if !strings.Contains(m.HTML, "Site web de l&#39;école") {
			t.Errorf("the HTML part does not escape the title: %q", m.HTML)
		}
		// Sent once: nothing is due any more.
		if sent := n.sendDue(t); sent != 0 || len(n.smtp.Mails()) != 1 {
			t.Fatalf("sent again: %d, %d mails", sent, len(n.smtp.Mails()))
		}
		// Marked read: the count falls, once.
		if k, err := n.ns.MarkRead(ctx, marie, nil); err != nil || k != 1 {
			t.Fatalf("marked %d, %v", k, err)
		}
		if u, _ := n.ns.Unread(ctx, n.marie.ID); u != 0 {
			t.Fatalf("unread %d after marking", u)
		}
	})
}

func TestQuietHoursHoldTheMail(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		// A Wednesday evening, a year ahead: the mail is due the next
		// morning, which the real clock has not reached.
		clock := at(time.Now().In(paris).Format("2006")+"-12-09 22:30").AddDate(1, 0, 0).UTC()
		for clock.In(paris).Weekday() != time.Wednesday {
			clock = clock.AddDate(0, 0, 1)
		}
		n := newNode(t, db, &clock)
		n.offer(t, n.marie, "Imprimante")
		if sent := n.sendDue(t); sent != 0 {
			t.Fatalf("a mail went in quiet hours: %d", sent)
		}
		data, err := n.ns.OfMember(ctx, n.marie.ID)
		if err != nil || len(data.Mails) != 1 {
			t.Fatalf("mails %+v, %v", data.Mails, err)
		}
		want := notify.DefaultSettings.NextOpen(clock)
		if got := data.Mails[0].DueAt.In(paris); got.Hour() != 8 || !data.Mails[0].DueAt.Equal(want) {
			t.Fatalf("due %s, want %s", got, want.In(paris))
		}
		// In the app at once all the same.
		if u, _ := n.ns.Unread(ctx, n.marie.ID); u != 1 {
			t.Fatalf("unread %d", u)
		}
	})
}

func TestDigestAndRetries(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clock := time.Now().UTC().AddDate(0, 0, -3) // the digest time has passed: due now
		n := newNode(t, db, &clock)
		n.choose(t, n.marie, notify.Settings{Digest: true, Lang: "en"})
		for _, title := range []string{"One", "Two", "Three"} {
			n.offer(t, n.marie, title)
		}
		n.smtp.Fail = 1 // the server asks to try again later, once
		// The back-off is a millisecond here: a next round sends it (the
		// same call may, once the millisecond passed).
		n.sendDue(t)
		deadline := time.Now().Add(10 * time.Second)
		for len(n.smtp.Mails()) == 0 && time.Now().Before(deadline) {
			n.sendDue(t)
		}
		m := n.smtp.Wait(t, time.Second, func(notifytest.Mail) bool { return true })
		if m.Lang != "en" || !strings.HasPrefix(m.Subject, "en:notify.digest_subject:###") {
			t.Fatalf("digest %q (%s)", m.Subject, m.Lang)
		}
		for _, title := range []string{"One", "Two", "Three"} {
			if !strings.Contains(m.Text, title) {
				t.Errorf("the digest lacks %q: %s", title, m.Text)
			}
		}
		if got := len(n.smtp.Mails()); got != 1 {
			t.Fatalf("%d mails, want one digest", got)
		}
		data, _ := n.ns.OfMember(ctx, n.marie.ID)
		for _, r := range data.Mails {
			if r.SentAt == nil || r.Attempts != 1 {
				t.Errorf("mail row %+v", r)
			}
		}
	})
}

func TestRefusedAddressIsGivenUp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clock := time.Now().UTC()
		n := newNode(t, db, &clock)
		n.choose(t, n.marie, notify.Settings{Lang: "fr"})
		n.smtp.Refuse = "marie@bzh.test"
		n.offer(t, n.marie, "Réseau")
		n.sendDue(t)
		dead, err := n.ns.Queue().DeadLetters(ctx, 10)
		if err != nil || len(dead) != 1 || !strings.Contains(dead[0].Error, "550") {
			t.Fatalf("dead letters %+v, %v", dead, err)
		}
		if st, _ := n.ns.Queue().Stats(ctx); st.Due != 0 || st.Waiting != 0 || st.Dead != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestPreferences(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clock := time.Now().UTC()
		n := newNode(t, db, &clock)
		// Bad choices are refused whole, and change nothing.
		for _, bad := range []notify.Choices{
			{Prefs: []notify.Pref{{Kind: "gossip", Channel: notify.App}}, Settings: notify.DefaultSettings},
			{Prefs: []notify.Pref{{Kind: notify.Offer, Channel: "pigeon"}}, Settings: notify.DefaultSettings},
			{Prefs: []notify.Pref{{Kind: notify.Offer, Channel: notify.None}, {Kind: notify.Offer, Channel: notify.App}}, Settings: notify.DefaultSettings},
			{Settings: notify.Settings{QuietFrom: 1440, Lang: "fr"}},
			{Settings: notify.Settings{QuietTo: -1, Lang: "fr"}},
			{Settings: notify.Settings{Lang: "de"}},
		} {
			if _, err := n.ns.SetChoices(ctx, members.Actor{ID: n.marie.ID}, bad); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%+v: %v", bad, err)
			}
		}
		if st, _ := n.ns.Settings(ctx, n.marie.ID); st != notify.DefaultSettings {
			t.Fatalf("settings changed by a refused choice: %+v", st)
		}
		// Offers by e-mail only: no inbox entry, a mail.
		n.choose(t, n.marie, notify.Settings{Lang: "fr"}, notify.Pref{Kind: notify.Offer, Channel: notify.Email})
		n.offer(t, n.marie, "Par courriel")
		if u, _ := n.ns.Unread(ctx, n.marie.ID); u != 0 {
			t.Errorf("an e-mail-only notification is in the app: %d", u)
		}
		if sent := n.sendDue(t); sent != 1 {
			t.Errorf("sent %d", sent)
		}
		// None: nothing at all.
		n.choose(t, n.marie, notify.Settings{Lang: "fr"}, notify.Pref{Kind: notify.Offer, Channel: notify.None})
		n.offer(t, n.marie, "Rien")
		if data, _ := n.ns.OfMember(ctx, n.marie.ID); len(data.Notifications) != 1 || len(data.Mails) != 1 {
			t.Errorf("after none: %d notifications, %d mails", len(data.Notifications), len(data.Mails))
		}
		prefs, _ := n.ns.Prefs(ctx, n.marie.ID)
		if prefs[0].Kind != notify.Offer || prefs[0].Channel != notify.None || len(prefs) != len(notify.Kinds) {
			t.Errorf("prefs %+v", prefs)
		}
		// Erased with the member.
		err := db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error { return n.ns.EraseMember(ctx, n.marie.ID) })
		if err != nil {
			t.Fatal(err)
		}
		if data, _ := n.ns.OfMember(ctx, n.marie.ID); len(data.Notifications) != 0 || len(data.Mails) != 0 ||
			data.Settings != notify.DefaultSettings {
			t.Errorf("left after erasure: %+v", data)
		}
	})
}

func TestWatchersAreWoken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := time.Now().UTC()
		n := newNode(t, db, &clock)
		ch, stop := n.ns.Watch(n.marie.ID)
		defer stop()
		other, stopOther := n.ns.Watch(n.jean.ID)
		defer stopOther()
		before := time.Now().Add(-time.Millisecond)
		n.offer(t, n.marie, "Live")
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("Marie's watcher was not woken")
		}
		select {
		case <-other:
			t.Fatal("Jean's watcher was woken by Marie's offer")
		default:
		}
		if !n.ns.TouchedSince(n.marie.ID, before) || n.ns.TouchedSince(n.jean.ID, before) {
			t.Fatal("TouchedSince")
		}
	})
}

func TestParseSMTP(t *testing.T) {
	for _, c := range []struct {
		url, addr string
		implicit  bool
		plain     bool
		bad       string
	}{
		{url: "smtp://u:p@mail.example.org", addr: "mail.example.org:587"},
		{url: "smtps://mail.example.org", addr: "mail.example.org:465", implicit: true},
		{url: "smtp://127.0.0.1:25?tls=none", addr: "127.0.0.1:25", plain: true},
		{url: "smtp://u:p@127.0.0.1:25?tls=none", addr: "127.0.0.1:25", plain: true},
		{url: "smtp://u:p@mail.example.org:25?tls=none", bad: "never sent without TLS"},
		{url: "http://mail.example.org", bad: "must be like"},
		{url: "smtps://mail.example.org?tls=none", bad: "unknown setting"},
		{url: "smtp://mail.example.org?debug=1", bad: "unknown setting"},
		{url: "smtp://u:secret@mail.example.org/path", bad: "must be like"},
	} {
		m, err := notify.ParseSMTP(c.url)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: %v", c.url, err)
			}
			continue
		}
		if err != nil || m.Addr != c.addr || m.Implicit != c.implicit || m.Plain != c.plain {
			t.Errorf("%s: %+v, %v", c.url, m, err)
		}
	}
}
