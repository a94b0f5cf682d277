// Package notifytest runs a real SMTP server in a test's process (go-smtp's
// server, with STARTTLS on a certificate made for the test and PLAIN
// authentication) and keeps what it receives, parsed, for the test to read.
package notifytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// User and Password are what the server takes.
const (
	User     = "coopnet"
	Password = "smtp-secret-for-tests"
)

// Mail is one message the server received.
type Mail struct {
	From, To      string
	Subject, Lang string
	Text, HTML    string
	ContentType   string // of the whole message
	Raw           []byte
}

// Server is the test's SMTP server.
type Server struct {
	Addr string
	// Client trusts the server's certificate: what a node's mailer takes.
	Client *tls.Config

	mu     sync.Mutex
	mails  []Mail
	arrive chan struct{}
	// Refuse, when set, answers RCPT TO for that address with 550.
	Refuse string
	// Fail, when above zero, answers that many DATA with 451 (try later).
	Fail int
}

// Start starts a server on 127.0.0.1, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	cert, pool := certificate(t)
	s := &Server{arrive: make(chan struct{}, 1), Client: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 1 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// URL is the server's COOPNET_SMTP_URL: STARTTLS with a password.
func (s *Server) URL() string { return "smtp://" + User + ":" + Password + "@" + s.Addr }

// Mails are what arrived so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Wait returns the first mail that ok accepts, waiting for it up to
// timeout (a bound on a failure, not a pause: it returns as soon as the
// mail is there).
func (s *Server) Wait(t testing.TB, timeout time.Duration, ok func(Mail) bool) Mail {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		for _, m := range s.Mails() {
			if ok(m) {
				return m
			}
		}
		select {
		case <-s.arrive:
		case <-deadline.C:
			var got []string
			for _, m := range s.Mails() {
				got = append(got, m.To+": "+m.Subject)
			}
			t.Fatalf("no such mail within %s; received %d: %v", timeout, len(got), got)
		}
	}
}

type session struct {
	s        *Server
	authed   bool
	from, to string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != User || pass != Password {
			return errors.New("bad credentials")
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	refuse := x.s.Refuse
	x.s.mu.Unlock()
	if refuse != "" && strings.EqualFold(to, refuse) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	x.to = to
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	if x.s.Fail > 0 {
		x.s.Fail--
		x.s.mu.Unlock()
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	x.s.mu.Unlock()
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: err.Error()}
	}
	m.From, m.To = x.from, x.to
	x.s.mu.Lock()
	x.s.mails = append(x.s.mails, m)
	x.s.mu.Unlock()
	select {
	case x.s.arrive <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", "" }
func (x *session) Logout() error { return nil }

// Parse reads a mail: its subject, language and text and HTML parts.
func Parse(raw []byte) (Mail, error) {
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	m := Mail{Raw: raw, Lang: r.Header.Get("Content-Language")}
	m.ContentType, _, _ = r.Header.ContentType()
	if m.Subject, err = r.Header.Subject(); err != nil {
		return Mail{}, err
	}
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Mail{}, err
		}
		h, ok := p.Header.(*mail.InlineHeader)
		if !ok {
			continue
		}
		b, err := io.ReadAll(p.Body)
		if err != nil {
			return Mail{}, err
		}
		switch t, _, _ := h.ContentType(); t {
		case "text/plain":
			m.Text = string(b)
		case "text/html":
			m.HTML = string(b)
		}
	}
	if m.Text == "" || m.HTML == "" {
		return Mail{}, fmt.Errorf("a mail without its text and HTML parts (%s)", m.ContentType)
	}
	return m, nil
}

// certificate makes a self-signed certificate for 127.0.0.1 and the pool
// that trusts it.
func certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "coopnet test SMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
