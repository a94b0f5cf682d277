package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/coopnet/coopnet/services/queue"
)

// Mailer sends one mail (msg, a whole RFC 5322 message) from from to to.
type Mailer interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// Permanent marks an error a mail cannot get past by trying again (an
// address the server refuses): the mail is given up at once.
type Permanent struct{ Err error }

func (p Permanent) Error() string { return p.Err.Error() }
func (p Permanent) Unwrap() error { return p.Err }

// SMTP sends mails through an SMTP server (submission): with STARTTLS
// (required unless tls=none), or TLS from the start (smtps), and PLAIN
// authentication when the URL has credentials.
type SMTP struct {
	Addr     string // host:port
	Implicit bool   // TLS from the start (smtps://, port 465)
	Plain    bool   // no TLS at all (tls=none: a relay on this machine)
	User     string
	Password string
	TLS      *tls.Config // nil: the system's roots, the server's host name
	// Timeout bounds one mail's exchange (default a minute).
	Timeout time.Duration
}

// ParseSMTP reads COOPNET_SMTP_URL: smtp://[user:password@]host[:587]
// (STARTTLS, required), smtp://host:25?tls=none (no TLS: a relay on a
// loopback address only when there are credentials), or
// smtps://[user:password@]host[:465].
func ParseSMTP(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%q must be like smtp://user:password@mail.example.org:587 or smtps://mail.example.org:465", redactURL(raw))
	}
	m := &SMTP{Implicit: u.Scheme == "smtps"}
	for k, v := range u.Query() {
		switch {
		case k == "tls" && len(v) == 1 && (v[0] == "none" || v[0] == "starttls") && !m.Implicit:
			m.Plain = v[0] == "none"
		default:
			return nil, fmt.Errorf("%q: unknown setting %q (only tls=none or tls=starttls, with smtp://)", redactURL(raw), k)
		}
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "587"
		if m.Implicit {
			port = "465"
		}
	}
	m.Addr = net.JoinHostPort(host, port)
	if u.User != nil {
		m.User = u.User.Username()
		m.Password, _ = u.User.Password()
		ip := net.ParseIP(host)
		if m.Plain && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("%q: a password is never sent without TLS to another machine (drop tls=none)", redactURL(raw))
		}
	}
	return m, nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Send implements Mailer.
func (m *SMTP) Send(ctx context.Context, from string, to []string, msg []byte) error {
	timeout := m.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(m.Addr)
	cfg := m.TLS
	if cfg == nil {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var c *smtp.Client
	switch {
	case m.Implicit:
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		c = smtp.NewClient(tc)
	case m.Plain:
		c = smtp.NewClient(conn)
	default:
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			return err
		}
	}
	defer c.Close()
	if m.User != "" {
		if err := c.Auth(sasl.NewPlainClient("", m.User, m.Password)); err != nil {
			return smtpError(err)
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return smtpError(err)
	}
	return c.Quit()
}

// smtpError makes a 5xx answer permanent.
func smtpError(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
		return Permanent{err}
	}
	return err
}

// Dir writes each mail as a file (name.eml) in a folder instead of
// sending it: `make demo`, which needs no mail server, and whoever tries
// coopnet on their own machine.
type Dir struct{ Path string }

// Send implements Mailer: the file appears whole (written aside, then
// renamed).
func (d Dir) Send(_ context.Context, _ string, _ []string, msg []byte) error {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return err
	}
	name := time.Now().UTC().Format("20060102T150405.000000000") + ".eml"
	tmp := filepath.Join(d.Path, "."+name)
	if err := os.WriteFile(tmp, msg, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(d.Path, name))
}

// mailRow is one mail to send (or one notification of a digest).
type mailRow struct {
	ID             string `gorm:"primaryKey"`
	MemberID       string
	NotificationID string
	Digest         bool
	DueAt          time.Time
	Attempts       int
	LastError      string
	LeaseUntil     *time.Time
	SentAt         *time.Time
	DeadAt         *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (mailRow) TableName() string { return "mail_outbox" }

// Start runs the mail worker until Stop. Mails put off by quiet hours or
// a failure come due with time: the worker also looks every half minute.
func (s *Service) Start() {
	if s.cfg.Mailer == nil {
		return
	}
	s.worker.Start(s.wake, 30*time.Second, func(ctx context.Context) error {
		_, err := s.SendDue(ctx)
		return err
	}, func(err error) { s.log.Warn("notify: mails", "err", err) })
}

// Stop stops the mail worker.
func (s *Service) Stop() { s.worker.Stop() }

// Wake pokes the mail worker (tests, after moving a mail's due time).
func (s *Service) Wake() { s.wake.Poke() }

// SendDue sends the mails that are due, and returns how many it sent. A
// member's digest rows leased together go as one mail.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		var rows []mailRow
		if err := s.mails.Lease(ctx, 50, 2*time.Minute, "id, member_id, notification_id, digest, attempts", &rows); err != nil {
			return sent, err
		}
		if len(rows) == 0 {
			return sent, nil
		}
		var groups [][]mailRow
		digestOf := map[string]int{}
		for _, r := range rows {
			if i, ok := digestOf[r.MemberID]; ok && r.Digest {
				groups[i] = append(groups[i], r)
				continue
			}
			if r.Digest {
				digestOf[r.MemberID] = len(groups)
			}
			groups = append(groups, []mailRow{r})
		}
		for _, g := range groups {
			err := s.sendGroup(ctx, g)
			if err := s.settle(ctx, g, err); err != nil {
				return sent, err
			}
			if err == nil {
				sent++
			}
		}
	}
	return sent, ctx.Err()
}

// settle records the outcome of sending the rows of g.
func (s *Service) settle(ctx context.Context, g []mailRow, sendErr error) error {
	now := time.Now().UTC()
	ids := make([]string, len(g))
	for i, r := range g {
		ids[i] = r.ID
	}
	q := s.db.Conn(context.WithoutCancel(ctx)).Model(&mailRow{}).Where("id IN ?", ids)
	if sendErr == nil {
		return q.Updates(map[string]any{"sent_at": now, "lease_until": nil, "updated_at": now}).Error
	}
	attempts := g[0].Attempts + 1
	up := map[string]any{"attempts": attempts, "last_error": queue.ErrorText(sendErr.Error()), "lease_until": nil, "updated_at": now}
	var perm Permanent
	if errors.As(sendErr, &perm) || attempts >= s.cfg.Attempts {
		up["dead_at"] = now
		s.log.Warn("notify: a mail was given up", "member", g[0].MemberID, "attempts", attempts, "err", sendErr)
	} else {
		up["due_at"] = now.Add(s.cfg.Backoff.After(attempts))
	}
	return q.Updates(up).Error
}

// errGone: the member left or the notifications are gone; nothing to
// send, and nothing to try again.
var errGone = Permanent{errors.New("the member left or the notification is gone")}

// sendGroup builds and sends the mail of g's notifications (one, or a
// member's digest).
func (s *Service) sendGroup(ctx context.Context, g []mailRow) error {
	m, err := s.members.Get(ctx, g[0].MemberID)
	if err != nil || !m.Active || m.Email == "" {
		return errGone
	}
	st, err := s.Settings(ctx, m.ID)
	if err != nil {
		return err
	}
	ids := make([]string, len(g))
	for i, r := range g {
		ids[i] = r.NotificationID
	}
	var ns []*Notification
	if err := s.db.Conn(ctx).Where("id IN ?", ids).Order("id").Find(&ns).Error; err != nil {
		return err
	}
	if len(ns) == 0 {
		return errGone
	}
	if err := s.fillTitles(ctx, ns); err != nil {
		return err
	}
	msg, err := s.Message(st.Lang, m.Name, m.Email, ns, g[0].Digest)
	if err != nil {
		return Permanent{err}
	}
	addr, err := mail.ParseAddress(s.cfg.From)
	if err != nil {
		return Permanent{fmt.Errorf("the sender %q: %w", s.cfg.From, err)}
	}
	return s.cfg.Mailer.Send(ctx, addr.Address, []string{m.Email}, msg)
}

var mailHTML = template.Must(template.New("mail").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a">
<p>{{.Hello}}</p>
<ul>{{range .Items}}<li><a href="{{.Link}}">{{.Text}}</a></li>{{end}}</ul>
<p style="color: #555; font-size: 90%">{{.Why}} <a href="{{.Prefs}}">{{.PrefsText}}</a></p>
</body></html>
`))

// Message writes the mail of ns to a member, in lang: multipart, the
// text and its HTML, with a link back to each page.
func (s *Service) Message(lang, name, email string, ns []*Notification, digest bool) ([]byte, error) {
	t := s.cfg.Texts.T
	type item struct{ Text, Link string }
	items := make([]item, len(ns))
	for i, n := range ns {
		items[i] = item{Text: s.cfg.Texts.Sentence(lang, n), Link: s.cfg.PublicURL + Link(n)}
	}
	subject := s.cfg.Texts.Subject(lang, ns[0])
	if digest {
		subject = t(lang, "notify.digest_subject", len(ns))
	}
	data := struct {
		Lang, Subject, Hello, Why, Prefs, PrefsText string
		Items                                       []item
	}{lang, subject, t(lang, "notify.mail_hello", name), t(lang, "notify.mail_why"), s.cfg.PublicURL + "/app/notifications/settings",
		t(lang, "notify.mail_prefs"), items}
	var text strings.Builder
	text.WriteString(data.Hello + "\r\n\r\n")
	for _, it := range items {
		text.WriteString("- " + it.Text + "\r\n  " + it.Link + "\r\n")
	}
	text.WriteString("\r\n-- \r\n" + data.Why + " " + data.PrefsText + " : " + data.Prefs + "\r\n")
	var html bytes.Buffer
	if err := mailHTML.Execute(&html, data); err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(s.cfg.From)
	if err != nil {
		return nil, fmt.Errorf("the sender %q: %w", s.cfg.From, err)
	}
	var h mail.Header
	h.SetDate(s.cfg.Now())
	h.SetAddressList("From", []*mail.Address{from})
	h.SetAddressList("To", []*mail.Address{{Name: name, Address: email}})
	h.SetSubject(subject)
	h.Set("Auto-Submitted", "auto-generated")
	h.Set("Content-Language", lang)
	host := s.cfg.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	if err := h.GenerateMessageIDWithHostname(host); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := mail.CreateInlineWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	for _, part := range []struct{ typ, body string }{{"text/plain", text.String()}, {"text/html", html.String()}} {
		var ph mail.InlineHeader
		ph.SetContentType(part.typ, map[string]string{"charset": "utf-8"})
		pw, err := w.CreatePart(ph)
		if err != nil {
			return nil, err
		}
		if _, err := pw.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := pw.Close(); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
