package migrations_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestDialectsHaveTheSameSchema: once migrated, both dialects have the
// same tables and, table by table, the same columns with the same kind of
// type (text, integer, real, boolean, time), nullability and default, the
// same primary keys, the same indexes (named ones by name; each with its
// uniqueness, columns and whether it is partial), the same foreign keys
// (column, referenced table and column, on delete) and as many CHECK
// constraints. Something a migration forgets or gets different in one
// dialect (say, when SQLite rebuilds a table) fails here, line by line.
// (The dialects' own spellings are compared as what they mean: TEXT
// PRIMARY KEY is NOT NULL on both, PostgreSQL's BIGSERIAL is SQLite's
// INTEGER PRIMARY KEY, ”::text is ”.)
func TestDialectsHaveTheSameSchema(t *testing.T) {
	ctx := context.Background()
	schema := map[migrations.Dialect]map[string]string{}
	for _, d := range storagetest.Dialects {
		db, err := storage.Open(ctx, emptyURL(t, d))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if d == migrations.Postgres {
			schema[d] = postgresSchema(t, db)
		} else {
			schema[d] = sqliteSchema(t, db)
		}
		if len(schema[d]) < 300 {
			t.Fatalf("%s: only %d facts read", d, len(schema[d]))
		}
	}
	pg, lite := schema[migrations.Postgres], schema[migrations.SQLite]
	var keys []string
	for k := range pg {
		keys = append(keys, k)
	}
	for k := range lite {
		if _, ok := pg[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, inPG := pg[k]
		l, inLite := lite[k]
		switch {
		case !inLite:
			t.Errorf("%s: %s in PostgreSQL, not in SQLite", k, p)
		case !inPG:
			t.Errorf("%s: %s in SQLite, not in PostgreSQL", k, l)
		case p != l:
			t.Errorf("%s: %s in PostgreSQL, %s in SQLite", k, p, l)
		}
	}
}

// typeKind is what a column's type means, in either dialect's spelling.
func typeKind(t string) string {
	t = strings.ToLower(t)
	switch {
	case strings.Contains(t, "timestamp") || strings.Contains(t, "datetime"):
		return "time"
	case strings.Contains(t, "bool"):
		return "boolean"
	case strings.Contains(t, "int"):
		return "integer"
	case strings.Contains(t, "char") || strings.Contains(t, "text"):
		return "text"
	case strings.Contains(t, "double") || strings.Contains(t, "real") || strings.Contains(t, "float") || strings.Contains(t, "numeric"):
		return "real"
	case strings.Contains(t, "bytea") || strings.Contains(t, "blob"):
		return "bytes"
	}
	return t
}

var pgCast = regexp.MustCompile(`::[a-z ]+(\[\])?`)

// defaultValue is a column default as it reads in either dialect.
func defaultValue(d string) string {
	d = strings.ToLower(strings.TrimSpace(pgCast.ReplaceAllString(d, "")))
	switch d {
	case "now()", "current_timestamp":
		return "now"
	}
	if strings.HasPrefix(d, "nextval(") {
		return "serial"
	}
	return d
}

func scan[T any](t *testing.T, db *storage.DB, q string) []T {
	t.Helper()
	var out []T
	if err := db.Raw(q).Scan(&out).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func postgresSchema(t *testing.T, db *storage.DB) map[string]string {
	s := map[string]string{}
	for _, c := range scan[struct{ T, C, Type, Nullable, Def string }](t, db, `SELECT table_name AS t, column_name AS c,
		data_type AS type, is_nullable AS nullable, COALESCE(column_default, '') AS def
		FROM information_schema.columns WHERE table_schema = current_schema()`) {
		def := defaultValue(c.Def)
		if def == "serial" {
			def = "" // as SQLite's INTEGER PRIMARY KEY, numbered when not given
		}
		kind := typeKind(c.Type)
		s[c.T+"."+c.C] = fmt.Sprintf("%s null=%v default=%q", kind, c.Nullable == "YES", def)
	}
	for _, ix := range scan[struct {
		T, Name, Cols     string
		Uniq, Pk, Partial bool
	}](t, db, `SELECT t.relname AS t, i.relname AS name, ix.indisunique AS uniq, ix.indisprimary AS pk,
		ix.indpred IS NOT NULL AS partial,
		array_to_string(array(SELECT COALESCE(a.attname, 'expr') FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
			LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS cols
		FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema()`) {
		switch {
		case ix.Pk:
			s[ix.T+" primary key"] = ix.Cols
		case strings.HasSuffix(ix.Name, "_key"): // a UNIQUE constraint's own index
			s[ix.T+" unique ("+ix.Cols+")"] = "unique"
		default:
			s[ix.T+" index "+ix.Name] = fmt.Sprintf("unique=%v (%s) partial=%v", ix.Uniq, ix.Cols, ix.Partial)
		}
	}
	for _, fk := range scan[struct{ T, C, RefT, RefC, OnDelete string }](t, db, `SELECT tc.table_name AS t,
		kcu.column_name AS c, ccu.table_name AS ref_t, ccu.column_name AS ref_c, rc.delete_rule AS on_delete
		FROM information_schema.table_constraints tc
		JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
		JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
		JOIN information_schema.referential_constraints rc ON rc.constraint_name = tc.constraint_name AND rc.constraint_schema = tc.table_schema
		WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()`) {
		s[fk.T+"."+fk.C+" references"] = fmt.Sprintf("%s.%s on delete %s", fk.RefT, fk.RefC, strings.ToLower(fk.OnDelete))
	}
	for _, ck := range scan[struct {
		T string
		N int
	}](t, db, `SELECT c.relname AS t, COUNT(*) AS n FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype = 'c' AND n.nspname = current_schema() GROUP BY c.relname`) {
		s[ck.T+" checks"] = fmt.Sprint(ck.N)
	}
	return s
}

var checkRe = regexp.MustCompile(`(?i)\bCHECK\s*\(`)

func sqliteSchema(t *testing.T, db *storage.DB) map[string]string {
	s := map[string]string{}
	tables := scan[struct{ Name, SQL string }](t, db, `SELECT name, sql FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	pkOf := map[string]string{}
	for _, tb := range tables {
		var pk []string
		cols := scan[struct {
			Name, Type string
			Nn         int
			Dflt       *string
			Pk         int
		}](t, db, `SELECT name, type, "notnull" AS nn, dflt_value AS dflt, pk FROM pragma_table_info('`+tb.Name+`') ORDER BY pk`)
		for _, c := range cols {
			def := ""
			if c.Dflt != nil {
				def = defaultValue(*c.Dflt)
			}
			kind := typeKind(c.Type)
			s[tb.Name+"."+c.Name] = fmt.Sprintf("%s null=%v default=%q", kind, c.Nn == 0 && c.Pk == 0, def)
			if c.Pk > 0 {
				pk = append(pk, c.Name)
			}
		}
		if len(pk) > 0 {
			s[tb.Name+" primary key"] = strings.Join(pk, ",")
			pkOf[tb.Name] = strings.Join(pk, ",")
		}
		if n := len(checkRe.FindAllString(tb.SQL, -1)); n > 0 {
			s[tb.Name+" checks"] = fmt.Sprint(n)
		}
		for _, ix := range scan[struct {
			Name, Origin string
			Uniq, Parti  int
		}](t, db, `SELECT name, origin, "unique" AS uniq, partial AS parti FROM pragma_index_list('`+tb.Name+`')`) {
			var cols []string
			for _, c := range scan[struct{ Name *string }](t, db, `SELECT name FROM pragma_index_info('`+ix.Name+`') ORDER BY seqno`) {
				if c.Name == nil {
					cols = append(cols, "expr")
				} else {
					cols = append(cols, *c.Name)
				}
			}
			switch ix.Origin {
			case "pk":
			case "u":
				s[tb.Name+" unique ("+strings.Join(cols, ",")+")"] = "unique"
			default:
				s[tb.Name+" index "+ix.Name] = fmt.Sprintf("unique=%v (%s) partial=%v", ix.Uniq == 1, strings.Join(cols, ","), ix.Parti == 1)
			}
		}
	}
	for _, tb := range tables {
		for _, fk := range scan[struct {
			From, Table string
			To          *string
			OnDelete    string
		}](t, db, `SELECT "from", "table", "to", on_delete AS on_delete FROM pragma_foreign_key_list('`+tb.Name+`')`) {
			to := pkOf[fk.Table]
			if fk.To != nil && *fk.To != "" {
				to = *fk.To
			}
			s[tb.Name+"."+fk.From+" references"] = fmt.Sprintf("%s.%s on delete %s", fk.Table, to, strings.ToLower(fk.OnDelete))
		}
	}
	return s
}
