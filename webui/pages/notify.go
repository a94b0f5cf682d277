package pages

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/webui/web"
)

// --- the inbox ---

type notificationItem struct {
	*notify.Notification
	Text, Link string
}

type notificationsView struct {
	Items  []notificationItem
	Next   string // the cursor of the next page
	Unread int
}

// Texts are the catalogue notify writes its notifications and mails with.
var Texts = notify.Texts{T: T, Time: formatTime}

func (s *Pages) notificationsPage(c echo.Context) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	// List checks the cursor: a bad one is an error page, short or long.
	ns, err := s.Opt.Notify.List(ctx, by, notify.ListOptions{Before: c.QueryParam("before"), Limit: 51})
	if err != nil {
		return err
	}
	p := s.newPage(c, "notifications.title", nil)
	v := notificationsView{Unread: p.Unread}
	if len(ns) > 50 {
		ns = ns[:50]
		v.Next = ns[49].ID
	}
	for _, n := range ns {
		v.Items = append(v.Items, notificationItem{Notification: n, Text: Texts.Sentence(p.Lang, n), Link: notify.Link(n)})
	}
	p.Data = v
	return s.render(c, http.StatusOK, "notifications", p)
}

// readSubmit marks notifications read: one (id) or all of them.
func (s *Pages) readSubmit(c echo.Context) error {
	var ids []string
	if id := c.FormValue("id"); id != "" {
		ids = []string{id}
	}
	if _, err := s.Opt.Notify.MarkRead(c.Request().Context(), web.ActorOf(c), ids); err != nil {
		return err
	}
	return redirect(c, "/app/notifications", "")
}

// --- preferences ---

type prefsView struct {
	Prefs    []notify.Pref
	Settings notify.Settings
	From, To string // the quiet hours, hh:mm
	EmailOn  bool
}

func clockOf(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }

func (s *Pages) prefsPage(c echo.Context) error {
	return s.renderPrefs(c, http.StatusOK, nil, nil)
}

func (s *Pages) renderPrefs(c echo.Context, status int, in *notify.Choices, errs map[string]string) error {
	ctx, by := c.Request().Context(), web.ActorOf(c)
	var ch notify.Choices
	if in != nil {
		ch = *in
	} else {
		var err error
		if ch.Prefs, err = s.Opt.Notify.Prefs(ctx, by.ID); err != nil {
			return err
		}
		if ch.Settings, err = s.Opt.Notify.Settings(ctx, by.ID); err != nil {
			return err
		}
	}
	p := s.newPage(c, "prefs.title", prefsView{Prefs: ch.Prefs, Settings: ch.Settings, From: clockOf(ch.Settings.QuietFrom),
		To: clockOf(ch.Settings.QuietTo), EmailOn: s.Opt.Notify.EmailOn()})
	p.Errors = errs
	return s.render(c, status, "notification_prefs", p)
}

// parseClock reads hh:mm as minutes from midnight.
func parseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (s *Pages) prefsSubmit(c echo.Context) error {
	lang := langOf(c)
	var in notify.Choices
	errs := map[string]string{}
	for _, k := range notify.Kinds {
		in.Prefs = append(in.Prefs, notify.Pref{Kind: k, Channel: notify.Channel(c.FormValue("channel_" + string(k))),
			UrgentAnytime: c.FormValue("urgent_"+string(k)) == "on"})
	}
	var ok bool
	if in.Settings.QuietFrom, ok = parseClock(c.FormValue("quiet_from")); !ok {
		errs["quiet_from"] = T(lang, "prefs.bad_time")
	}
	if in.Settings.QuietTo, ok = parseClock(c.FormValue("quiet_to")); !ok {
		errs["quiet_to"] = T(lang, "prefs.bad_time")
	}
	in.Settings.QuietWeekends = c.FormValue("quiet_weekends") == "on"
	in.Settings.Digest = c.FormValue("digest") == "on"
	in.Settings.Lang = c.FormValue("mail_lang")
	if len(errs) > 0 {
		return s.renderPrefs(c, http.StatusUnprocessableEntity, &in, errs)
	}
	if _, err := s.Opt.Notify.SetChoices(c.Request().Context(), web.ActorOf(c), in); err != nil {
		if apperr.CodeOf(err) == apperr.Invalid {
			return s.renderPrefs(c, http.StatusUnprocessableEntity, &in, fieldErrors(lang, err))
		}
		return err
	}
	return redirect(c, "/app/notifications/settings", "prefs.saved")
}

// --- the demo's mails ---

// demoMail is one mail the demo wrote to its folder.
type demoMail struct {
	Name, To, Subject, Text string
	Date                    time.Time
}

type mailsView struct {
	Dir   string
	Mails []demoMail
	Open  *demoMail
}

// mailsPage lists the mails the node wrote to its folder (the demo, which
// sends none): a member sees theirs, an administrator all.
func (s *Pages) mailsPage(c echo.Context) error {
	by := web.ActorOf(c)
	me, err := s.Opt.Members.Get(c.Request().Context(), by.ID)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(s.Opt.MailDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	v := mailsView{Dir: s.Opt.MailDir}
	open := c.QueryParam("open")
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".eml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		m, err := readMail(filepath.Join(s.Opt.MailDir, e.Name()))
		if err != nil {
			continue
		}
		if by.Role != members.Admin && !strings.EqualFold(m.To, me.Email) {
			continue
		}
		m.Name = e.Name()
		if m.Name == open {
			mm := m
			v.Open = &mm
		}
		v.Mails = append(v.Mails, m)
	}
	sort.Slice(v.Mails, func(i, j int) bool { return v.Mails[i].Name > v.Mails[j].Name })
	if len(v.Mails) > 100 {
		v.Mails = v.Mails[:100]
	}
	return s.render(c, http.StatusOK, "mails", s.newPage(c, "mails.title", v))
}

// readMail reads a mail's envelope and text part.
func readMail(path string) (demoMail, error) {
	f, err := os.Open(path)
	if err != nil {
		return demoMail{}, err
	}
	defer f.Close()
	r, err := mail.CreateReader(io.LimitReader(f, 1<<20))
	if err != nil {
		return demoMail{}, err
	}
	var m demoMail
	if to, err := r.Header.AddressList("To"); err == nil && len(to) > 0 {
		m.To = to[0].Address
	}
	m.Subject, _ = r.Header.Subject()
	m.Date, _ = r.Header.Date()
	for {
		part, err := r.NextPart()
		if err != nil {
			break
		}
		if h, ok := part.Header.(*mail.InlineHeader); ok {
			if t, _, _ := h.ContentType(); t == "text/plain" {
				var b bytes.Buffer
				_, _ = io.Copy(&b, io.LimitReader(part.Body, 64<<10))
				m.Text = b.String()
			}
		}
	}
	return m, nil
}

// --- live pages ---

// live streams, as Server-Sent Events, what changes for the member: the
// header's counts, and a "change" the open page reloads its content on.
// ?since= is when the page was made (milliseconds): a change between the
// page and the stream is told at once.
func (s *Pages) live(c echo.Context) error {
	by := web.ActorOf(c)
	ctx := c.Request().Context()
	since, _ := strconv.ParseInt(c.QueryParam("since"), 10, 64)
	ch, stop := s.Opt.Notify.Watch(by.ID)
	defer stop()
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w.Writer)
	send := func(event string) error {
		unread, err := s.Opt.Notify.Unread(ctx, by.ID)
		if err != nil {
			return err
		}
		offers := s.pendingOffers(c, by)
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: {\"unread\":%d,\"offers\":%d,\"at\":%d}\n\n", event, unread, offers,
			time.Now().UnixMilli()); err != nil {
			return err
		}
		return rc.Flush()
	}
	first := "counts"
	if since > 0 && s.Opt.Notify.TouchedSince(by.ID, time.UnixMilli(since)) {
		first = "change"
	}
	if err := send(first); err != nil {
		return nil
	}
	beat := time.NewTicker(25 * time.Second)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.Opt.Notify.Ending():
			return nil
		case <-ch:
			if err := send("change"); err != nil {
				return nil
			}
		case <-beat.C:
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(w, ": beat\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
}

// pendingOffers counts the member's offers waiting for an answer (0 on a
// node without routing).
func (s *Pages) pendingOffers(c echo.Context, by members.Actor) int {
	if s.Opt.Routing == nil {
		return 0
	}
	n, err := s.Opt.Routing.Member().PendingCount(c.Request().Context(), by.ID)
	if err != nil {
		return 0
	}
	return n
}
