package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSettings(t *testing.T) {
	tests := map[string]struct {
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		"defaults from the region": {
			args: []string{"--region", "bretagne"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" ||
					c.DatabaseURL != "sqlite:data/bretagne.db" || c.NATSURL != "" || c.DataDir != "./data" {
					t.Errorf("%+v", c)
				}
			},
		},
		"environment": {
			env: map[string]string{"COOPNET_REGION": "ile-de-france", "COOPNET_LISTEN": "0.0.0.0:9000",
				"COOPNET_DATABASE_URL": "postgres://u@db/coopnet", "COOPNET_PEERS": "https://bretagne.coop.example, https://bfc.coop.example/",
				"COOPNET_NATS_URL": "nats://a:4222,nats://b:4222", "COOPNET_DATA_DIR": "/var/lib/coopnet"},
			check: func(t *testing.T, c Config) {
				if c.Region != "ile-de-france" || c.PublicURL != "http://127.0.0.1:9000" || c.DatabaseURL != "postgres://u@db/coopnet" ||
					len(c.Peers) != 2 || c.Peers[1] != "https://bfc.coop.example/" || c.NATSURL != "nats://a:4222,nats://b:4222" {
					t.Errorf("%+v", c)
				}
			},
		},
		"a flag wins over its variable": {
			args: []string{"--region", "bretagne", "--public-url", "https://bzh.coop.example/"},
			env:  map[string]string{"COOPNET_REGION": "corse", "COOPNET_PUBLIC_URL": "https://other.example"},
			check: func(t *testing.T, c Config) {
				if c.Region != "bretagne" || c.PublicURL != "https://bzh.coop.example" || c.Host() != "bzh.coop.example" {
					t.Errorf("%+v", c)
				}
			},
		},
		"region required":      {args: nil, wantErr: "--region (COOPNET_REGION) is required"},
		"unknown region":       {args: []string{"--region", "atlantide"}, wantErr: "not a region slug"},
		"bad listen":           {args: []string{"--region", "bretagne", "--listen", "8080"}, wantErr: "--listen"},
		"public URL with path": {args: []string{"--region", "bretagne", "--public-url", "https://x.example/coop"}, wantErr: "bare origin"},
		"public URL not http":  {args: []string{"--region", "bretagne", "--public-url", "ftp://x.example"}, wantErr: "--public-url"},
		"bad peer":             {args: []string{"--region", "bretagne", "--peers", "bretagne.example"}, wantErr: "--peers"},
		"bad NATS URL":         {args: []string{"--region", "bretagne", "--nats-url", "http://nats:4222"}, wantErr: "--nats-url"},
		"routing weights": {
			args: []string{"--region", "bretagne", "--routing-weights", "fairness=2"},
			check: func(t *testing.T, c Config) {
				if c.Weights.Fairness != 2 || c.Weights.Level != 1 {
					t.Errorf("%+v", c.Weights)
				}
			},
		},
		"bad routing weights":    {args: []string{"--region", "bretagne", "--routing-weights", "speed=3"}, wantErr: "--routing-weights"},
		"bad offer TTL":          {args: []string{"--region", "bretagne", "--offer-ttl", "forever"}, wantErr: "--offer-ttl"},
		"bad proxies":            {args: []string{"--region", "bretagne", "--trusted-proxies", "10.0.0.1"}, wantErr: "--trusted-proxies"},
		"bad replicas":           {args: []string{"--region", "bretagne", "--nats-replicas", "9"}, wantErr: "--nats-replicas"},
		"bad log format":         {args: []string{"--region", "bretagne", "--log-format", "xml"}, wantErr: "--log-format"},
		"unknown flag":           {args: []string{"--region", "bretagne", "--colour", "blue"}, wantErr: "flag provided but not defined"},
		"stray argument":         {args: []string{"--region", "bretagne", "now"}, wantErr: "unexpected argument"},
		"empty data dir":         {args: []string{"--region", "bretagne", "--data-dir", ""}, wantErr: "--data-dir"},
		"several errors at once": {args: []string{"--region", "atlantide", "--listen", "x"}, wantErr: "--listen"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseSettings("serve", "coopnet serve", tc.args, &stderr, envOf(tc.env), true, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errUsage) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestHelpListsFlagsAndVariables(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--help"}, nil, &stdout, &stderr, envOf(nil))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--region", "$COOPNET_REGION", "--listen", "$COOPNET_LISTEN", "--public-url", "$COOPNET_PUBLIC_URL",
		"--database-url", "$COOPNET_DATABASE_URL", "--nats-url", "$COOPNET_NATS_URL", "--peers", "$COOPNET_PEERS",
		"--data-dir", "$COOPNET_DATA_DIR"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage"},
		{[]string{"launch"}, 2, `unknown command "launch"`},
		{[]string{"serve"}, 2, "--region"},
		{[]string{"admin"}, 2, "expected coopnet admin"},
		{[]string{"admin", "token", "--region", "bretagne"}, 2, "--email is required"},
		{[]string{"admin", "member", "add", "--region", "bretagne", "--skill", "website"}, 2, "name:level"},
		{[]string{"version"}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, nil, &stdout, &stderr, envOf(nil))
		if code != tc.code || !strings.Contains(stderr.String()+stdout.String(), tc.want) {
			t.Errorf("coopnet %v: exit %d, output %q; want exit %d mentioning %q", tc.args, code, stderr.String()+stdout.String(), tc.code, tc.want)
		}
	}
}
