// Package storagetest gives tests a fresh, migrated database on SQLite and,
// when a server is reachable, on PostgreSQL.
//
// PostgreSQL: set COOPNET_TEST_POSTGRES_URL (a URL to an administrative
// database such as postgres://postgres@127.0.0.1:5432/postgres), or let it
// find a server on 127.0.0.1:5432. Each test package migrates one template
// database of its own once, and each test gets a copy of it
// (CREATE DATABASE … TEMPLATE …), dropped when the test ends; call Main from
// the package's TestMain so the template is dropped too. Under CI=true a
// missing PostgreSQL fails the test instead of skipping it.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/storage"
)

// DefaultPostgresURL is tried when COOPNET_TEST_POSTGRES_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	pgOnce     sync.Once
	pgAdminURL string
	pgTemplate string
	pgErr      error
	prefix     = "coopnet_t_" + randHex(4)
)

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Main runs the package's tests and then drops the PostgreSQL template
// database, if one was made. Use it as: func TestMain(m *testing.M) { storagetest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if pgTemplate != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = adminExec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgTemplate))
		cancel()
	}
	os.Exit(code)
}

// CI reports whether tests run under CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// PostgresAdminURL returns the URL of the administrative database, or "".
func PostgresAdminURL() string {
	if u := os.Getenv("COOPNET_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, pgAdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// preparePostgres creates and migrates this package's template database.
func preparePostgres() {
	pgAdminURL = PostgresAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgAdminURL)
	if err != nil {
		pgErr = fmt.Errorf("no PostgreSQL at %s: %w", storage.Redact(pgAdminURL), err)
		return
	}
	conn.Close(ctx)
	name := prefix + "_tpl"
	if err := adminExec(ctx, "CREATE DATABASE "+name); err != nil {
		pgErr = fmt.Errorf("create template database: %w", err)
		return
	}
	db, err := storage.Open(ctx, withDatabase(pgAdminURL, name))
	if err != nil {
		pgErr = err
		return
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		pgErr = fmt.Errorf("migrate template: %w", err)
		return
	}
	pgTemplate = name
}

func withDatabase(adminURL, name string) string {
	u, err := url.Parse(adminURL)
	if err != nil {
		return adminURL
	}
	u.Path = "/" + name
	return u.String()
}

// PostgresURL returns the URL of a fresh, migrated PostgreSQL database for
// this test, dropped when the test ends. It skips the test when no server
// answers, except under CI where it fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	requirePostgres(t)
	return newDatabase(t, pgTemplate)
}

// EmptyPostgresURL is PostgresURL without the migrations: an empty database,
// for testing the migrations themselves.
func EmptyPostgresURL(t testing.TB) string {
	t.Helper()
	requirePostgres(t)
	return newDatabase(t, "template0")
}

func requirePostgres(t testing.TB) {
	t.Helper()
	pgOnce.Do(preparePostgres)
	if pgErr != nil {
		if CI() {
			t.Fatalf("PostgreSQL is required under CI: %v", pgErr)
		}
		t.Skipf("PostgreSQL not available: %v", pgErr)
	}
}

func newDatabase(t testing.TB, template string) string {
	t.Helper()
	name := prefix + "_" + randHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	for i := 0; i < 5; i++ { // the template may be briefly busy
		if err = adminExec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(pgAdminURL, name)
}

// SQLiteURL returns the URL of a fresh SQLite file in the test's temp dir.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "coopnet.db")
}

// Open opens and migrates a fresh database of the given dialect, closed
// when the test ends.
func Open(t testing.TB, d migrations.Dialect) *storage.DB {
	t.Helper()
	var dsn string
	switch d {
	case migrations.Postgres:
		dsn = PostgresURL(t)
	case migrations.SQLite:
		dsn = SQLiteURL(t)
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", d, err)
	}
	return db
}

// Dialects are the dialects every storage test runs on.
var Dialects = []migrations.Dialect{migrations.SQLite, migrations.Postgres}

// Each runs f as a subtest on a fresh database of every dialect.
func Each(t *testing.T, f func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			f(t, Open(t, d))
		})
	}
}

// Name is a helper for unique names in shared resources.
func Name(parts ...string) string { return strings.Join(append(parts, randHex(3)), "-") }
