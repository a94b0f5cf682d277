package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/services/storage"
)

func openDB(ctx context.Context, cfg Config) (*storage.DB, error) {
	return storage.Open(ctx, cfg.DatabaseURL)
}

func cmdAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	const synopsis = "coopnet admin member add|member list|member password|member deactivate|token|privacy|nats-config|nats-stream [settings]"
	switch {
	case len(args) >= 2 && args[0] == "member" && args[1] == "password":
		return adminMemberPassword(ctx, args[2:], stdin, stdout, stderr, getenv)
	case len(args) >= 2 && args[0] == "member" && args[1] == "deactivate":
		return adminMemberDeactivate(ctx, args[2:], stdout, stderr, getenv)
	case len(args) >= 2 && args[0] == "member" && args[1] == "add":
		return adminMemberAdd(ctx, args[2:], stdin, stdout, stderr, getenv)
	case len(args) >= 2 && args[0] == "member" && args[1] == "list":
		return adminMemberList(ctx, args[2:], stdout, stderr, getenv)
	case len(args) >= 1 && args[0] == "privacy":
		return adminPrivacy(args[1:], stdout, stderr)
	case len(args) >= 1 && args[0] == "nats-stream":
		return adminNATSStream(ctx, args[1:], stdout, stderr, getenv)
	case len(args) >= 1 && args[0] == "nats-config":
		return adminNATSConfig(args[1:], stdout, stderr)
	case len(args) >= 1 && args[0] == "token":
		return adminToken(ctx, args[1:], stdout, stderr, getenv)
	default:
		return usageErr(fmt.Errorf("expected %s", synopsis))
	}
}

// skillFlags collects repeated --skill name:level values.
type skillFlags []members.SkillLevel

func (s *skillFlags) String() string { return fmt.Sprint(*s) }

func (s *skillFlags) Set(v string) error {
	name, lvl, ok := strings.Cut(v, ":")
	n, err := strconv.Atoi(lvl)
	if !ok || err != nil || name == "" {
		return fmt.Errorf("--skill %q must be name:level, e.g. website:4", v)
	}
	*s = append(*s, members.SkillLevel{Name: name, Level: n})
	return nil
}

// optFloat and optInt are flags that remember whether they were given.
type optFloat struct{ v *float64 }

func (o *optFloat) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatFloat(*o.v, 'f', -1, 64)
}

func (o *optFloat) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	o.v = &f
	return nil
}

type optInt struct{ v *int }

func (o *optInt) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.Itoa(*o.v)
}

func (o *optInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	o.v = &n
	return nil
}

func adminMemberAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		in           members.CreateInput
		passwordFile string
		sk           skillFlags
		lat, lon     optFloat
		radius, hrs  optInt
	)
	cfg, err := parseSettings("admin member add", "coopnet admin member add --email E --name N --role R --password P|--password-file F [...]",
		args, stderr, getenv, false, func(fs *flag.FlagSet) {
			fs.StringVar(&in.Email, "email", "", "e-mail address (required)")
			fs.StringVar(&in.Name, "name", "", "full name (required)")
			fs.StringVar(&in.Role, "role", "technician", "technician, staff or admin")
			fs.StringVar(&in.Password, "password", "", "password (prefer --password-file)")
			fs.StringVar(&passwordFile, "password-file", "", "file holding the password, - for standard input")
			fs.StringVar(&in.Handle, "handle", "", "handle (default: from the e-mail address)")
			fs.Var(&sk, "skill", "a skill as name:level (1-5); repeat for several")
			fs.StringVar(&in.Postcode, "postcode", "", "home postcode, e.g. 25150")
			fs.StringVar(&in.Commune, "commune", "", "home commune")
			fs.Var(&lat, "lat", "home latitude, decimal degrees")
			fs.Var(&lon, "lon", "home longitude, decimal degrees")
			fs.Var(&radius, "radius-km", "radius served on site, km (default 50)")
			fs.BoolVar(&in.RemoteOK, "remote-ok", false, "accepts remote work")
			fs.Var(&hrs, "weekly-hours", "weekly capacity in hours (default 35)")
		})
	if err != nil {
		return err
	}
	if in.Password, err = readPassword(in.Password, passwordFile, stdin); err != nil {
		return err
	}
	in.Skills, in.Lat, in.Lon, in.RadiusKm, in.WeeklyHours = sk, lat.v, lon.v, radius.v, hrs.v
	n, err := node.Open(ctx, cfg, newLogger(cfg, stderr), node.Options{Version: buildVersion(), NoBus: true, NoFederation: true})
	if err != nil {
		return err
	}
	defer n.Close()
	m, err := n.Members.Create(ctx, nil, in)
	if err != nil {
		return err
	}
	return printJSON(stdout, m)
}

func adminMemberList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseSettings("admin member list", "coopnet admin member list [settings]", args, stderr, getenv, false, nil)
	if err != nil {
		return err
	}
	n, err := node.Open(ctx, cfg, newLogger(cfg, stderr), node.Options{Version: buildVersion(), NoBus: true, NoFederation: true})
	if err != nil {
		return err
	}
	defer n.Close()
	all := []*members.Member{}
	after := ""
	for {
		page, err := n.Members.List(ctx, members.ListOptions{After: after, Limit: 500})
		if err != nil {
			return err
		}
		all = append(all, page...)
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	return printJSON(stdout, all)
}

// adminNode opens the node, without NATS nor the federation's workers,
// for a command about the member with that e-mail (required).
func adminNode(ctx context.Context, cfg Config, email string, stderr io.Writer) (*node.Node, error) {
	if email == "" {
		return nil, usageErr(errors.New("--email is required"))
	}
	return node.Open(ctx, cfg, newLogger(cfg, stderr), node.Options{Version: buildVersion(), NoBus: true, NoFederation: true})
}

// readPassword is the password given by --password, or read from
// --password-file (- for standard input), not both.
func readPassword(password, file string, stdin io.Reader) (string, error) {
	if file == "" {
		return password, nil
	}
	if password != "" {
		return "", usageErr(errors.New("give --password or --password-file, not both"))
	}
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 4096))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// adminMemberPassword sets a member's password (one who lost theirs) and
// ends all their sessions.
func adminMemberPassword(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	var email, password, passwordFile string
	cfg, err := parseSettings("admin member password", "coopnet admin member password --email E --password-file F|--password P [settings]",
		args, stderr, getenv, false, func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "the member's e-mail address (required)")
			fs.StringVar(&password, "password", "", "the new password (prefer --password-file)")
			fs.StringVar(&passwordFile, "password-file", "", "file holding the new password, - for standard input")
		})
	if err != nil {
		return err
	}
	if password, err = readPassword(password, passwordFile, stdin); err != nil {
		return err
	}
	if password == "" && email != "" {
		return usageErr(errors.New("--password-file or --password is required"))
	}
	n, err := adminNode(ctx, cfg, email, stderr)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Members.ResetPassword(ctx, email, password); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "password changed; the member's sessions are ended")
	return nil
}

// adminMemberDeactivate records that a member left the coop. Their offers
// and jobs go back to the routing when the node runs, and the peers hear
// of it then.
func adminMemberDeactivate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var email string
	cfg, err := parseSettings("admin member deactivate", "coopnet admin member deactivate --email E [settings]", args, stderr, getenv,
		false, func(fs *flag.FlagSet) { fs.StringVar(&email, "email", "", "the member's e-mail address (required)") })
	if err != nil {
		return err
	}
	n, err := adminNode(ctx, cfg, email, stderr)
	if err != nil {
		return err
	}
	defer n.Close()
	m, err := n.Members.GetByEmail(ctx, email)
	if err != nil {
		return err
	}
	if m, err = n.Members.Deactivate(ctx, nil, m.ID); err != nil {
		return err
	}
	return printJSON(stdout, m)
}

func adminToken(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var email, label, expires string
	cfg, err := parseSettings("admin token", "coopnet admin token --email E [--label L] [--expires 90d] [settings]", args, stderr, getenv, false,
		func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "the member's e-mail address (required)")
			fs.StringVar(&label, "label", "command line", "what the token is for, shown in the member's list of tokens")
			fs.StringVar(&expires, "expires", "", "lifetime, in days (90d) or as a duration (720h); empty: until revoked")
		})
	if err != nil {
		return err
	}
	if email == "" {
		return usageErr(errors.New("--email is required"))
	}
	ttl, err := parseLifetime(expires)
	if err != nil {
		return usageErr(err)
	}
	n, err := node.Open(ctx, cfg, newLogger(cfg, stderr), node.Options{Version: buildVersion(), NoBus: true, NoFederation: true})
	if err != nil {
		return err
	}
	defer n.Close()
	m, err := n.Members.GetByEmail(ctx, email)
	if err != nil {
		return err
	}
	token, err := n.Members.IssueTokenFor(ctx, m.ID, label, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

// parseLifetime reads a token's lifetime: "" (until revoked), days ("90d")
// or a Go duration ("720h"), at most members.MaxTokenDays.
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("--expires %q must be days such as 90d, or a duration such as 720h", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("--expires %q must be days such as 90d, or a duration such as 720h", s)
		}
	}
	if d < time.Hour || d > members.MaxTokenDays*24*time.Hour {
		return 0, fmt.Errorf("--expires %q must be between 1h and %dd", s, members.MaxTokenDays)
	}
	return d, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// adminPrivacy prints the record of processing (RGPD article 30): what
// personal data a node holds, in which tables, why, shared with whom, kept
// how long. It needs no database: the record is one list in the code.
func adminPrivacy(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("admin privacy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "markdown", "markdown (a table, as the README shows it) or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *format {
	case "markdown":
		_, err := io.WriteString(stdout, privacy.Markdown())
		return err
	case "json":
		return printJSON(stdout, privacy.Record)
	}
	return usageErr(fmt.Errorf("--format %q must be markdown or json", *format))
}

// adminNATSConfig prints the authorization block of a nats-server
// configuration for the coop's regions (all of France's by default): one
// user per region with what its node may publish and subscribe to, and
// the operators' user. deploy/nats/coopnet-regions.conf is its output.
func adminNATSConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("admin nats-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var regions stringList
	fs.Var(&regions, "region", "a region of the coop (repeat it; default: every region of France)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(regions) == 0 {
		for r := range geo.Regions {
			regions = append(regions, r)
		}
	}
	conf, err := bus.AuthorizationConfig(regions)
	if err != nil {
		return usageErr(err)
	}
	_, err = io.WriteString(stdout, conf)
	return err
}

// stringList collects a repeated flag's values.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// parseFlags parses a command's flags, which take no arguments besides:
// a bad one is a usage error, --help asks for the command's help.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErr(err)
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// adminNATSStream creates the job stream on the coop's NATS, or brings its
// settings to this version's, as the operators' user (the regions' nodes
// may not: see bus.Permissions), and prints its state.
func adminNATSStream(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("admin nats-stream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	fs.StringVar(&cfg.NATSURL, "nats-url", getenv("COOPNET_NATS_URL"), "the coop's NATS servers, with the operators' user (COOPNET_NATS_URL)")
	fs.StringVar(&cfg.NATSCreds, "nats-creds", getenv("COOPNET_NATS_CREDS"), "a NATS credentials file (COOPNET_NATS_CREDS)")
	fs.StringVar(&cfg.NATSNKey, "nats-nkey", getenv("COOPNET_NATS_NKEY"), "an nkey seed file (COOPNET_NATS_NKEY)")
	replicas := getenv("COOPNET_NATS_REPLICAS")
	if replicas == "" {
		replicas = "1"
	}
	fs.StringVar(&replicas, "nats-replicas", replicas, "replicas of the job stream (COOPNET_NATS_REPLICAS)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	n, err := strconv.Atoi(replicas)
	if err != nil || n < 1 || n > 5 {
		return usageErr(fmt.Errorf("--nats-replicas %q must be 1 to 5", replicas))
	}
	cfg.NATSReplicas = n
	if cfg.NATSURL == "" {
		return usageErr(errors.New("--nats-url (COOPNET_NATS_URL) is required: an embedded NATS server makes its stream itself"))
	}
	b, err := bus.Connect(ctx, bus.Config{URLs: cfg.NATSURL, Name: "coopnet-admin", CredsFile: cfg.NATSCreds,
		NKeySeedFile: cfg.NATSNKey, Replicas: cfg.NATSReplicas}, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	defer b.Close()
	st, err := b.JS.Stream(ctx, bus.JobsStream)
	if err != nil {
		return fmt.Errorf("the job stream: %w", err)
	}
	info := st.CachedInfo()
	return printJSON(stdout, map[string]any{"stream": info.Config.Name, "subjects": info.Config.Subjects,
		"replicas": info.Config.Replicas, "max_age": info.Config.MaxAge.String(), "messages": info.State.Msgs,
		"consumers": info.State.Consumers})
}
