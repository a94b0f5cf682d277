package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/storage"
)

func TestOpenRefusesBadURLs(t *testing.T) {
	for _, dsn := range []string{"", "mysql://root@localhost/db", "sqlite:", "sqlite:x.db?_pragma=foo", "file.db"} {
		if _, err := storage.Open(context.Background(), dsn); err == nil {
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

func TestRedact(t *testing.T) {
	got := storage.Redact("postgres://coop:s3cret@db:5432/coopnet?sslmode=require")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "coop:xxxxx@db:5432") {
		t.Errorf("Redact = %q", got)
	}
	if storage.Redact("sqlite:./data/x.db") != "sqlite:./data/x.db" {
		t.Error("sqlite URL changed")
	}
}

func TestIDs(t *testing.T) {
	a, b := storage.NewID(), storage.NewID()
	if !storage.ValidID(a) || a == b || a > b {
		t.Errorf("ids %s, %s: want valid, distinct and increasing", a, b)
	}
	for _, bad := range []string{"", "1", "' OR 1=1 --", strings.Repeat("a", 36)} {
		if storage.ValidID(bad) {
			t.Errorf("ValidID(%q)", bad)
		}
	}
}
