package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"github.com/coopnet/coopnet/services/routing/score"
)

// Config is what the node is told from outside: node.Config.
type Config = node.Config

// setting is one flag with its environment variable.
type setting struct {
	flag, env, usage string
	def              string
	dst              *string
}

// configFlags registers the node settings on fs. After fs.Parse, call apply
// to fill unset flags from the environment.
type configFlags struct {
	fs       *flag.FlagSet
	settings []setting
	peers    string
	offerTTL string
	skew     string
	bodies   string
	records  string
	proxies  string
	replicas string
	weights  string
	maxFile  string
	cfg      Config
}

func newConfigFlags(fs *flag.FlagSet) *configFlags {
	cf := &configFlags{fs: fs}
	c := &cf.cfg
	cf.settings = []setting{
		{"region", "COOPNET_REGION", "the region's slug, e.g. bourgogne-franche-comte (required for serve)", "", &c.Region},
		{"listen", "COOPNET_LISTEN", "address to listen on", "127.0.0.1:8080", &c.Listen},
		{"public-url", "COOPNET_PUBLIC_URL", "public base URL of this node, the base of every ActivityPub id (default http:// + listen address)", "", &c.PublicURL},
		{"database-url", "COOPNET_DATABASE_URL", "postgres://… or sqlite:path (default sqlite:<data-dir>/<region>.db)", "", &c.DatabaseURL},
		{"nats-url", "COOPNET_NATS_URL", "comma-separated NATS servers (default: an embedded server in the process)", "", &c.NATSURL},
		{"nats-creds", "COOPNET_NATS_CREDS", "NATS credentials file (JWT and nkey seed) for this region", "", &c.NATSCreds},
		{"nats-nkey", "COOPNET_NATS_NKEY", "file holding this region's NATS nkey seed", "", &c.NATSNKey},
		{"nats-replicas", "COOPNET_NATS_REPLICAS", "replicas of the durable job stream (3 in a NATS cluster)", "1", &cf.replicas},
		{"routing-weights", "COOPNET_ROUTING_WEIGHTS", "weights of the routing's cost: skill level, distance, load, fairness, and what a job must gain to take a member's place in a pending offer", "level=1,distance=1,load=1,fairness=1,supersede=0.2", &cf.weights},
		{"offer-ttl", "COOPNET_OFFER_TTL", "how long a member has to answer a job offer before it passes on", "48h", &cf.offerTTL},
		{"peers", "COOPNET_PEERS", "comma-separated public URLs of the regional nodes this node federates with", "", &cf.peers},
		{"key-secret-file", "COOPNET_KEY_SECRET_FILE", "file holding the secret (16+ characters) that encrypts the actors' private keys in the database (the same on every replica; empty: <data-dir>/<region>.key-secret, made on first start)", "", &c.KeySecretFile},
		{"signature-skew", "COOPNET_SIGNATURE_SKEW", "how far the Date of a peer's signed request may be from this node's clock (1s to 12h)", "1h", &cf.skew},
		{"activity-body-retention", "COOPNET_ACTIVITY_BODY_RETENTION", "how long the raw body of a federation activity is kept once applied or delivered: an audit window (1h to 2160h)", "168h", &cf.bodies},
		{"activity-record-retention", "COOPNET_ACTIVITY_RECORD_RETENTION", "how long the record of a federation activity (ids, digest, type, times; no body) is kept: de-duplication and who received what (at least the body retention, at most 87600h)", "9600h", &cf.records},
		{"trusted-proxies", "COOPNET_TRUSTED_PROXIES", "comma-separated networks (CIDR) of reverse proxies whose X-Forwarded-For is believed", "", &cf.proxies},
		{"metrics-listen", "COOPNET_METRICS_LISTEN", "a listen address of its own for /metrics, e.g. 10.0.0.5:9100 (empty: none)", "", &c.MetricsListen},
		{"metrics-token-file", "COOPNET_METRICS_TOKEN_FILE", "file holding the bearer token (16+ characters) that /metrics takes on the main address (empty: /metrics is refused there)", "", &c.MetricsTokenFile},
		{"smtp-url", "COOPNET_SMTP_URL", "the mail server of the notifications: smtp://user:password@host:587 (STARTTLS), smtps://host:465, or smtp://127.0.0.1:25?tls=none (empty: no mail)", "", &c.SMTPURL},
		{"mail-from", "COOPNET_MAIL_FROM", "the sender of the notification mails (default coopnet <noreply@public host>)", "", &c.MailFrom},
		{"mail-dir", "COOPNET_MAIL_DIR", "write the mails as files in this folder instead of sending them (the demo)", "", &c.MailDir},
		{"files", "COOPNET_FILES", "where attached files are kept: a folder, or an S3-compatible bucket s3://key:secret@host:port/bucket[/prefix][?region=…&tls=none] (default <data-dir>/files/<region>)", "", &c.Files},
		{"max-file-mb", "COOPNET_MAX_FILE_MB", "the largest attached file, in MB (1 to 100)", "10", &cf.maxFile},
		{"data-dir", "COOPNET_DATA_DIR", "directory for the embedded database and NATS store", "./data", &c.DataDir},
		{"log-format", "COOPNET_LOG_FORMAT", "log format: json, text, or auto (text on a terminal, else json)", "auto", &c.LogFormat},
		{"log-level", "COOPNET_LOG_LEVEL", "log level: debug, info, warn, error", "info", &c.LogLevel},
	}
	for _, s := range cf.settings {
		fs.StringVar(s.dst, s.flag, s.def, s.usage)
	}
	return cf
}

// usage prints the flags with their environment variables.
func (cf *configFlags) usage(w io.Writer, synopsis string) {
	fmt.Fprintf(w, "Usage: %s\n\nSettings (a flag wins over its environment variable):\n", synopsis)
	cf.fs.VisitAll(func(f *flag.Flag) {
		env := ""
		for _, s := range cf.settings {
			if s.flag == f.Name {
				env = s.env
			}
		}
		def := ""
		if f.DefValue != "" {
			def = fmt.Sprintf(" (default %q)", f.DefValue)
		}
		if env != "" {
			fmt.Fprintf(w, "  --%-14s $%-22s %s%s\n", f.Name, env, f.Usage, def)
		} else {
			fmt.Fprintf(w, "  --%-14s %-23s %s%s\n", f.Name, "", f.Usage, def)
		}
	})
}

// apply fills the flags that were not given from the environment, then
// derives defaults and validates everything.
func (cf *configFlags) apply(getenv func(string) string, regionRequired bool) (Config, error) {
	set := map[string]bool{}
	cf.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range cf.settings {
		if !set[s.flag] {
			if v, ok := lookup(getenv, s.env); ok {
				*s.dst = v
			}
		}
	}
	c := cf.cfg
	c.Peers = node.SplitList(cf.peers)
	var ttlErr error
	if c.OfferTTL, ttlErr = time.ParseDuration(cf.offerTTL); ttlErr != nil || c.OfferTTL < time.Second || c.OfferTTL > 30*24*time.Hour {
		ttlErr = fmt.Errorf("--offer-ttl %q must be a duration between 1s and 720h, e.g. 48h", cf.offerTTL)
	}
	var skewErr error
	if c.SignatureSkew, skewErr = time.ParseDuration(cf.skew); skewErr != nil || c.SignatureSkew < time.Second || c.SignatureSkew > 12*time.Hour {
		skewErr = fmt.Errorf("--signature-skew %q must be a duration between 1s and 12h, e.g. 1h", cf.skew)
	}
	var retErr error
	var bErr, rErr error
	c.ActivityBodies, bErr = time.ParseDuration(cf.bodies)
	c.ActivityRecords, rErr = time.ParseDuration(cf.records)
	switch {
	case bErr != nil || c.ActivityBodies < time.Hour || c.ActivityBodies > 90*24*time.Hour:
		retErr = fmt.Errorf("--activity-body-retention %q must be a duration between 1h and 2160h, e.g. 168h", cf.bodies)
	case rErr != nil || c.ActivityRecords < c.ActivityBodies || c.ActivityRecords > 10*365*24*time.Hour:
		retErr = fmt.Errorf("--activity-record-retention %q must be a duration from the body retention (%s) to 87600h, e.g. 9600h",
			cf.records, c.ActivityBodies)
	}
	var replErr error
	if n, err := strconv.Atoi(cf.replicas); err != nil || n < 1 || n > 5 {
		replErr = fmt.Errorf("--nats-replicas %q must be a whole number from 1 to 5", cf.replicas)
	} else {
		c.NATSReplicas = n
	}
	var fileErr error
	if n, err := strconv.Atoi(cf.maxFile); err != nil || n < 1 || n > 100 {
		fileErr = fmt.Errorf("--max-file-mb %q must be a whole number from 1 to 100", cf.maxFile)
	} else {
		c.MaxFileBytes = int64(n) << 20
	}
	var wErr error
	if c.Weights, wErr = score.ParseWeights(cf.weights); wErr != nil {
		wErr = fmt.Errorf("--routing-weights: %w", wErr)
	}
	var proxyErr error
	for _, p := range node.SplitList(cf.proxies) {
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			proxyErr = errors.Join(proxyErr, fmt.Errorf("--trusted-proxies %q must be a network such as 10.0.0.0/8", p))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	return c, errors.Join(ttlErr, skewErr, retErr, replErr, fileErr, wErr, proxyErr, c.Finish(regionRequired))
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}
