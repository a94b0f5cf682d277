// Command coopnet runs a regional node of the coopnet cooperative extranet
// and administers it. See README.md, or run coopnet help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/coopnet/coopnet/cmd/coopnet/node"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usageText = `coopnet — the extranet of a nationwide cooperative of IT technicians.

Usage:
  coopnet serve   [settings]   run one regional node until SIGINT/SIGTERM
  coopnet migrate [settings]   apply pending database migrations and exit
  coopnet demo    [--data-dir D] [--port P]   start a demo coop with sample data
  coopnet admin member add --email E --name N --role technician|staff|admin --password P|--password-file F [...]
  coopnet admin member list    print this node's members as JSON
  coopnet admin member password --email E --password-file F   set a member's password, ending their sessions
  coopnet admin member deactivate --email E   a member leaves the coop
  coopnet admin privacy [--format markdown|json]   print the record of processing (RGPD)
  coopnet admin nats-config [--region r]...        print the regions' NATS users and permissions
  coopnet admin nats-stream [--nats-url U]          create the job stream, as the NATS operators
  coopnet admin token --email E [--label L] [--expires 90d]   print a new API token for that member
  coopnet version              print the version

Run "coopnet <command> --help" for a command's settings.
`

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// tuneGC lets the heap grow to five times what is live before collecting
// (GOGC=400) unless GOGC is set: a node's live heap is small (tens of MB),
// and collecting less often is worth 5 to 10 % of the CPU under load. Set
// GOMEMLIMIT as well where memory is tight.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

// usageError is a command-line mistake, reported with exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string        { return u.err.Error() }
func (u usageError) Unwrap() error        { return u.err }
func (u usageError) Is(target error) bool { return target == errUsage }

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stderr, getenv)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout, stderr, getenv)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr, getenv)
	case "admin":
		err = cmdAdmin(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "coopnet", buildVersion())
		return 0
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		fmt.Fprintf(stderr, "coopnet: unknown command %q\n\n%s", args[0], usageText)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "coopnet %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "coopnet %s: %v\n", args[0], err)
		return 1
	}
}

func usageErr(err error) error { return usageError{err} }

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// parseSettings parses a command's flags and the environment into a Config.
func parseSettings(name, synopsis string, args []string, stderr io.Writer, getenv func(string) string,
	regionRequired bool, extra func(fs *flag.FlagSet)) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cf := newConfigFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			cf.usage(stderr, synopsis)
			return Config{}, err
		}
		cf.usage(stderr, synopsis)
		return Config{}, usageErr(err)
	}
	if fs.NArg() > 0 {
		return Config{}, usageErr(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	cfg, err := cf.apply(getenv, regionRequired)
	if err != nil {
		return Config{}, usageErr(err)
	}
	return cfg, nil
}

// newLogger sets up log/slog once: JSON in production, text for a person.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseSettings("serve", "coopnet serve [settings]", args, stderr, getenv, true, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	slog.SetDefault(log)
	// Listen first: a port in use fails at once, and peers greeted at start
	// (federation) can reach this node while it opens.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	n, err := node.Open(ctx, cfg, log, node.Options{Version: buildVersion()})
	if err != nil {
		ln.Close()
		return err
	}
	defer n.Close()
	return n.Serve(ctx, ln, 30*time.Second)
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseSettings("migrate", "coopnet migrate [settings]", args, stderr, getenv, false, nil)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, a := range applied {
		fmt.Fprintln(stdout, "applied", a)
	}
	return nil
}
