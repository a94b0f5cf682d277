// Package migrations holds coopnet's versioned database schema as reviewable
// SQL files, one per version for both dialects, and the runner that applies
// them.
//
// A file is written in PostgreSQL's SQL. Its SQLite text is the same with
// TIMESTAMPTZ read as DATETIME, DOUBLE PRECISION as REAL and BIGSERIAL
// PRIMARY KEY as INTEGER PRIMARY KEY AUTOINCREMENT; what differs beyond that
// goes between a line "-- [postgres]" and a line "-- [sqlite]", each block
// running to the next marker, and "-- [both]" goes back to the common text.
// TestParity checks that both dialects end with the same schema.
//
// Files are named NNNN_description.sql and applied in order, each in its own
// transaction, and recorded in schema_migrations. A migration, once shipped,
// is never edited: add a new one. On PostgreSQL the runner holds a session
// advisory lock so that several replicas starting at once apply each
// migration exactly once; on SQLite the database file's write lock does the
// same.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed sql/*.sql
var files embed.FS

// Dialect names a SQL dialect.
type Dialect string

// Supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// advisoryLockKey is an arbitrary constant shared by every coopnet process:
// "coopnet" in ASCII, as an int64.
const advisoryLockKey = 0x636f6f706e6574

// Migration is one versioned SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// List returns the migrations of a dialect in version order.
func List(d Dialect) ([]Migration, error) {
	if d != Postgres && d != SQLite {
		return nil, fmt.Errorf("migrations: unknown dialect %q", d)
	}
	const dir = "sql"
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrations: %s/%s: name must be NNNN_description.sql", dir, name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		body, err := fs.ReadFile(files, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", name, err)
		}
		text, err := inDialect(string(body), d)
		if err != nil {
			return nil, fmt.Errorf("migrations: %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// sqliteTypes are the PostgreSQL spellings a migration's common text uses
// and what SQLite reads for them.
var sqliteTypes = strings.NewReplacer("TIMESTAMPTZ", "DATETIME", "DOUBLE PRECISION", "REAL",
	"BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT")

// inDialect returns a migration's text for dialect d: the common lines (for
// SQLite with its type names) and d's own blocks.
func inDialect(src string, d Dialect) (string, error) {
	var b strings.Builder
	in := "both"
	for n, line := range strings.Split(src, "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "-- ["); ok && strings.HasSuffix(m, "]") {
			switch m = strings.TrimSuffix(m, "]"); m {
			case "both", string(Postgres), string(SQLite):
				in = m
				continue
			default:
				return "", fmt.Errorf("line %d: unknown section %q", n+1, m)
			}
		}
		switch {
		case in == "both" && d == SQLite:
			b.WriteString(sqliteTypes.Replace(line))
		case in == "both" || in == string(d):
			b.WriteString(line)
		default:
			continue
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// Apply applies every pending migration of dialect d to db and returns the
// names of those it applied (empty when the schema was already current).
//
// On SQLite a runner that finds the file locked beyond the busy timeout (a
// replica switching a new file to WAL, a checkpoint under heavy load) starts
// over after a short pause, for up to a minute: every step is transactional
// and checked against schema_migrations, so starting over is safe.
func Apply(ctx context.Context, db *sql.DB, d Dialect) ([]string, error) {
	if d != SQLite {
		return applyAll(ctx, db, d)
	}
	deadline := time.Now().Add(time.Minute)
	var applied []string
	for {
		more, err := applyAll(ctx, db, d)
		applied = append(applied, more...)
		if err == nil || !sqliteBusy(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return applied, err
		}
		select {
		case <-ctx.Done():
			return applied, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sqliteBusy reports whether err is SQLite's "database is locked".
func sqliteBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

func applyAll(ctx context.Context, db *sql.DB, d Dialect) ([]string, error) {
	all, err := List(d)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: connect: %w", err)
	}
	defer conn.Close()

	if d == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", advisoryLockKey); err != nil {
			return nil, fmt.Errorf("migrations: advisory lock: %w", err)
		}
		defer func() {
			// A fresh context: the caller's may be cancelled, and the lock
			// must not outlive this function on a pooled connection.
			unlockCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = conn.ExecContext(unlockCtx, "SELECT pg_advisory_unlock($1)", advisoryLockKey)
		}()
	}

	create := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("migrations: create schema_migrations: %w", err)
	}

	var applied []string
	for _, m := range all {
		done, err := apply(ctx, conn, d, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.Name)
		}
	}
	return applied, nil
}

// apply runs one migration in a transaction unless it is already recorded.
// The check happens inside the transaction: on SQLite the write lock taken by
// an IMMEDIATE transaction serialises concurrent runners.
func apply(ctx context.Context, conn *sql.Conn, d Dialect, m Migration) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrations: begin %s: %w", m.Name, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op

	q := "SELECT COUNT(*) FROM schema_migrations WHERE version = ?"
	ins := "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"
	if d == Postgres {
		q = "SELECT COUNT(*) FROM schema_migrations WHERE version = $1"
		ins = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"
	}
	var n int
	if err := tx.QueryRowContext(ctx, q, m.Version).Scan(&n); err != nil {
		return false, fmt.Errorf("migrations: check %s: %w", m.Name, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrations: apply %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, ins, m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return false, fmt.Errorf("migrations: record %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrations: commit %s: %w", m.Name, err)
	}
	return true, nil
}

// Pending returns the names of the migrations not yet applied.
func Pending(ctx context.Context, db *sql.DB, d Dialect) ([]string, error) {
	all, err := List(d)
	if err != nil {
		return nil, err
	}
	done := map[int]bool{}
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err == nil {
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return nil, fmt.Errorf("migrations: scan: %w", err)
			}
			done[v] = true
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("migrations: list applied: %w", err)
		}
	}
	var out []string
	for _, m := range all {
		if !done[m.Version] {
			out = append(out, m.Name)
		}
	}
	return out, nil
}
