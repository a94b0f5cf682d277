package node

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/routing/score"
)

// Config is everything a node is told from outside (flags and COOPNET_*
// environment variables, parsed by the command) and passed down.
type Config struct {
	Region      string
	Listen      string
	PublicURL   string
	DatabaseURL string
	NATSURL     string
	NATSCreds   string
	NATSNKey    string
	// NATSReplicas is the replication of the job stream in a NATS cluster.
	NATSReplicas int
	OfferTTL     time.Duration
	// Weights tune the routing's cost function.
	Weights score.Weights
	Peers   []string
	// SignatureSkew is how far a peer's signed Date may be from our clock.
	SignatureSkew time.Duration
	// ActivityBodies and ActivityRecords: how long the raw bodies of
	// federation activities are kept once applied or delivered, and how
	// long the rest of their records.
	ActivityBodies, ActivityRecords time.Duration
	// KeySecretFile holds the secret that encrypts the federation's
	// private keys in the database; empty: a secret the node makes on its
	// first start in the data directory.
	KeySecretFile string
	// TrustedProxies are the networks of the reverse proxies in front of
	// the node, whose X-Forwarded-For header is believed.
	TrustedProxies []*net.IPNet
	// MetricsListen is a listen address of its own for /metrics (a private
	// network); MetricsTokenFile a file holding the bearer token that
	// /metrics takes on the main address. With neither, /metrics is
	// refused: it is not public.
	MetricsListen    string
	MetricsTokenFile string
	// SMTPURL is the mail server notifications go through; MailDir a
	// folder where mails are written as files instead (the demo); with
	// neither, no mail is sent. MailFrom is their sender.
	SMTPURL  string
	MailDir  string
	MailFrom string
	// Files is where attached files are kept (files.Open: a folder or an
	// s3:// bucket; empty: <data-dir>/files/<region>); MaxFileBytes the
	// largest accepted (0: files.DefaultMaxBytes).
	Files        string
	MaxFileBytes int64
	DataDir      string
	LogFormat    string
	LogLevel     string
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var regionRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// Finish validates the configuration and fills derived defaults.
func (c *Config) Finish(regionRequired bool) error {
	var errs []error
	switch {
	case c.Region == "" && regionRequired:
		errs = append(errs, errors.New("--region (COOPNET_REGION) is required, e.g. --region bourgogne-franche-comte"))
	case c.Region != "" && !geo.IsRegion(c.Region):
		var known []string
		for _, d := range geo.Departements() {
			known = append(known, d.Region)
		}
		errs = append(errs, fmt.Errorf("--region %q is not a region slug; one of: %s", c.Region, strings.Join(uniq(known), ", ")))
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil || port == "" {
		errs = append(errs, fmt.Errorf("--listen %q must be host:port, e.g. 127.0.0.1:8080", c.Listen))
	}
	if c.PublicURL == "" && err == nil {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if err := checkBaseURL(c.PublicURL); err != nil {
		errs = append(errs, fmt.Errorf("--public-url: %w", err))
	}
	for _, p := range c.Peers {
		if err := checkBaseURL(strings.TrimRight(p, "/")); err != nil {
			errs = append(errs, fmt.Errorf("--peers %q: %w", p, err))
		}
	}
	for _, n := range SplitList(c.NATSURL) {
		u, err := url.Parse(n)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") {
			errs = append(errs, fmt.Errorf("--nats-url %q must be like nats://host:4222", n))
		}
	}
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("--metrics-listen %q must be host:port, e.g. 127.0.0.1:9100", c.MetricsListen))
		} else if c.MetricsListen == c.Listen {
			errs = append(errs, fmt.Errorf("--metrics-listen %q must differ from --listen", c.MetricsListen))
		}
	}
	if c.SMTPURL != "" {
		if _, err := notify.ParseSMTP(c.SMTPURL); err != nil {
			errs = append(errs, fmt.Errorf("--smtp-url: %w", err))
		}
		if c.MailDir != "" {
			errs = append(errs, errors.New("--smtp-url and --mail-dir: give one (mails are sent, or written to a folder)"))
		}
	}
	if c.MailFrom == "" {
		host := c.Host()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		c.MailFrom = "coopnet <noreply@" + host + ">"
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || !strings.Contains(a.Address, "@") {
		errs = append(errs, fmt.Errorf("--mail-from %q must be an address such as \"coopnet <noreply@bretagne.coopnet.example>\"", c.MailFrom))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.Files == "" && c.Region != "" && c.DataDir != "" {
		c.Files = filepath.Join(c.DataDir, "files", c.Region)
	}
	if strings.HasPrefix(c.Files, "s3:") || strings.HasPrefix(c.Files, "file:") {
		if u, err := url.Parse(c.Files); err != nil || (u.Scheme == "s3" && (u.Host == "" || strings.Trim(u.Path, "/") == "")) {
			errs = append(errs, errors.New("--files must be a folder or s3://key:secret@host:port/bucket"))
		}
	}
	if c.DatabaseURL == "" && c.Region != "" {
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, c.Region+".db")
	}
	if c.DatabaseURL == "" && len(errs) == 0 {
		errs = append(errs, errors.New("--database-url (COOPNET_DATABASE_URL) or --region is required"))
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q must be auto, json or text", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http(s) URL such as https://bretagne.coopnet.example", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q must be a bare origin, without path, query or credentials", s)
	}
	return nil
}

// Host returns the public host (host[:port]) of the node, used in handles.
func (c *Config) Host() string {
	u, _ := url.Parse(c.PublicURL)
	if u == nil {
		return ""
	}
	return u.Host
}

func uniq(in []string) []string {
	m := map[string]bool{}
	var out []string
	for _, s := range in {
		if !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
