// Package storage opens coopnet's database through gorm: PostgreSQL in
// production, SQLite (pure Go, no cgo) as the embedded default. It applies
// the versioned migrations from the migrations package; the schema is never
// built from Go models.
package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/coopnet/coopnet/migrations"
)

// DB is an open database with its dialect.
type DB struct {
	*gorm.DB
	SQL     *sql.DB
	Dialect migrations.Dialect
	bus     *Bus // the services' events (Publish, Listen)
}

// Open connects to the database named by url: "postgres://…" (or
// "postgresql://…") or "sqlite:path/to/file.db". For SQLite the parent
// directory is created when missing.
func Open(ctx context.Context, dsn string) (*DB, error) {
	dialect, _, err := dialectorFor(dsn)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		db, err := connect(ctx, dialect, dsn)
		// A new SQLite file switches to WAL on its first connection, which
		// needs the file to itself: another process (a replica) opening it
		// at that very moment is told "locked" without waiting, by gorm.Open
		// or by the ping. It is over in an instant.
		if err == nil || !sqliteBusy(dialect, err) || ctx.Err() != nil {
			return db, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connect makes one attempt at Open: gorm, its connection pool, a ping.
func connect(ctx context.Context, dialect migrations.Dialect, dsn string) (*DB, error) {
	_, dialector, err := dialectorFor(dsn)
	if err != nil {
		return nil, err
	}
	gdb, err := gorm.Open(dialector, &gorm.Config{
		SkipDefaultTransaction: true,
		// No gorm statement cache: it re-prepares statements in every
		// transaction. pgx already caches prepared statements per connection.
		PrepareStmt:    false,
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC() },
		TranslateError: false,
	})
	if err != nil {
		if gdb != nil {
			if sqlDB, dbErr := gdb.DB(); dbErr == nil {
				sqlDB.Close()
			}
		}
		return nil, fmt.Errorf("storage: open %s: %w", Redact(dsn), err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	switch dialect {
	case migrations.Postgres:
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	case migrations.SQLite:
		// One writer at a time is SQLite's model; a small pool lets readers
		// proceed under WAL while the busy timeout queues writers.
		sqlDB.SetMaxOpenConns(4)
		sqlDB.SetMaxIdleConns(4)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("storage: connect to %s: %w", Redact(dsn), err)
	}
	return &DB{DB: gdb, SQL: sqlDB, Dialect: dialect, bus: &Bus{}}, nil
}

// sqliteBusy reports whether err is SQLite's "database is locked".
func sqliteBusy(dialect migrations.Dialect, err error) bool {
	return dialect == migrations.SQLite && strings.Contains(err.Error(), "SQLITE_BUSY")
}

func dialectorFor(dsn string) (migrations.Dialect, gorm.Dialector, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			return "", nil, fmt.Errorf("storage: invalid PostgreSQL URL: %w", err)
		}
		return migrations.Postgres, postgres.Open(dsn), nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			return "", nil, errors.New("storage: sqlite URL takes no parameters: coopnet sets them")
		}
		if path == "" {
			return "", nil, errors.New("storage: sqlite URL needs a file path, e.g. sqlite:./data/bretagne.db")
		}
		if err := privateFile(path); err != nil {
			return "", nil, err
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		// Write transactions take the lock at BEGIN, so that two writers queue
		// on the busy timeout instead of failing when one upgrades its read lock.
		// (Do not add _time_format: glebarez/go-sqlite v1.21 then ignores _txlock.)
		q.Set("_txlock", "immediate")
		return migrations.SQLite, sqlite.Open("file:" + path + "?" + q.Encode()), nil
	default:
		return "", nil, fmt.Errorf("storage: unsupported database URL %q: use postgres://… or sqlite:path", Redact(dsn))
	}
}

// privateFile makes the SQLite database at path readable by this user
// alone, before SQLite opens it: it holds password hashes, private keys
// and clients' contacts. A missing folder is made 0700, a missing file
// 0600 (SQLite then gives its -wal and -shm files the same rights), and
// an existing database readable by others (made by an older version) is
// narrowed to 0600.
func privateFile(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("storage: create %s: %w", dir, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("storage: open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, st.Mode().Perm()&0o600); err != nil {
				return fmt.Errorf("storage: make %s private: %w", p, err)
			}
		}
	}
	return nil
}

// Redact hides the password of a database URL for logs and errors.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Migrate applies pending migrations and returns their names.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	return migrations.Apply(ctx, db.SQL, db.Dialect)
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Close closes the pool.
func (db *DB) Close() error { return db.SQL.Close() }

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either dialect.
func IsUniqueViolation(err error) bool { return UniqueViolationOn(err, "") }

// UniqueViolationOn reports whether err is a unique-constraint violation on
// the given table column ("members.email"), or on any when column is "".
func UniqueViolationOn(err error, column string) bool {
	if err == nil {
		return false
	}
	table, col, _ := strings.Cut(column, ".")
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// PostgreSQL names constraints table_column_key by default.
		return pg.Code == "23505" && (column == "" || pg.ConstraintName == table+"_"+col+"_key")
	}
	s := err.Error()
	if !strings.Contains(s, "UNIQUE constraint failed") {
		return false
	}
	return column == "" || strings.Contains(s, column)
}

// Retry runs f again, a few times, while it fails with an error the
// database says is worth retrying as is: PostgreSQL's deadlock (40P01) or
// serialization failure (40001), when statements on the same rows met.
func Retry(f func() error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if err = f(); !isRetryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return err
}

func isRetryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// IsForeignKeyViolation reports whether err is a foreign-key violation on
// either dialect: a row refers to one that does not exist.
func IsForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23503"
	}
	return strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// NewID returns a new identifier: a UUIDv7, ordered by creation time, so that
// primary keys grow roughly monotonically and can serve as pagination cursors.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidID reports whether s has the form of an identifier made by NewID.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// Now is the current time as stored: UTC, to the microsecond (PostgreSQL's
// precision), so that a value reads back exactly as it was written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Bind returns q, written with ? placeholders as gorm takes them, in the
// database's own form ($1, $2, … for PostgreSQL), for the few hot queries
// that go to SQL directly rather than through gorm's statement builder. q
// must not hold a ? anywhere else (in a string literal, for instance).
func (db *DB) Bind(q string) string {
	if db.Dialect != migrations.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		fmt.Fprintf(&b, "$%d", n)
	}
	return b.String()
}

// IsUnavailable reports whether err says the database cannot be reached
// right now (refused or broken connections, a server shutting down or
// starting, too many connections, SQLite's lock held past its timeout),
// rather than anything about the request: the API answers 503 with
// Retry-After instead of a 500.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exception; 57P01-03: shutting down, crashed,
		// cannot connect now; 53300: too many connections.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" ||
			pg.Code == "53300"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ce), errors.As(err, &oe), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "conn closed") ||
		strings.Contains(s, "failed to connect to") || strings.Contains(s, "connection reset by peer") ||
		strings.Contains(s, "broken pipe") || strings.Contains(s, "unexpected EOF")
}

// Tables lists the tables of the database, from its own catalogue, sorted:
// a table added later is listed too (the record of processing and the
// scan for personal data rely on it).
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.Dialect == migrations.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	var out []string
	if err := db.WithContext(ctx).Raw(q).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("storage: list tables: %w", err)
	}
	return out, nil
}
