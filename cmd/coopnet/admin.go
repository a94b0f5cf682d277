package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
)

func openDB(ctx context.Context, cfg Config) (*storage.DB, error) {
	return storage.Open(ctx, cfg.DatabaseURL)
}

func cmdAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	const synopsis = "coopnet admin member add|member list|token [settings]"
	switch {
	case len(args) >= 2 && args[0] == "member" && args[1] == "add":
		return adminMemberAdd(ctx, args[2:], stdin, stdout, stderr, getenv)
	case len(args) >= 2 && args[0] == "member" && args[1] == "list":
		return adminMemberList(ctx, args[2:], stdout, stderr, getenv)
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
	if passwordFile != "" {
		if in.Password != "" {
			return usageErr(errors.New("give --password or --password-file, not both"))
		}
		var b []byte
		if passwordFile == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, 4096))
		} else {
			b, err = os.ReadFile(passwordFile)
		}
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		in.Password = strings.TrimRight(string(b), "\r\n")
	}
	in.Skills, in.Lat, in.Lon, in.RadiusKm, in.WeeklyHours = sk, lat.v, lon.v, radius.v, hrs.v
	n, err := openNode(ctx, cfg, newLogger(cfg, stderr), nodeOptions{NoBus: true, NoFederation: true})
	if err != nil {
		return err
	}
	defer n.Close()
	m, err := n.members.Create(ctx, nil, in)
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
	n, err := openNode(ctx, cfg, newLogger(cfg, stderr), nodeOptions{NoBus: true, NoFederation: true})
	if err != nil {
		return err
	}
	defer n.Close()
	all := []*members.Member{}
	after := ""
	for {
		page, err := n.members.List(ctx, members.ListOptions{After: after, Limit: 500})
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

func adminToken(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var email string
	cfg, err := parseSettings("admin token", "coopnet admin token --email E [settings]", args, stderr, getenv, false,
		func(fs *flag.FlagSet) { fs.StringVar(&email, "email", "", "the member's e-mail address (required)") })
	if err != nil {
		return err
	}
	if email == "" {
		return usageErr(errors.New("--email is required"))
	}
	n, err := openNode(ctx, cfg, newLogger(cfg, stderr), nodeOptions{NoBus: true, NoFederation: true})
	if err != nil {
		return err
	}
	defer n.Close()
	m, err := n.members.GetByEmail(ctx, email)
	if err != nil {
		return err
	}
	token, err := n.members.IssueToken(ctx, m.ID, members.APIToken)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
