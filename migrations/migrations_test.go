package migrations_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestListIsOrderedAndParallel(t *testing.T) {
	pg, err := migrations.List(migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := migrations.List(migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) == 0 || len(pg) != len(lite) {
		t.Fatalf("%d PostgreSQL and %d SQLite migrations: each source gives both", len(pg), len(lite))
	}
	for i := range pg {
		if pg[i].Version != i+1 || pg[i].Name != lite[i].Name {
			t.Errorf("migration %d: %s / %s: versions must run 1, 2, 3…", i, pg[i].Name, lite[i].Name)
		}
		for _, m := range []migrations.Migration{pg[i], lite[i]} {
			if strings.Contains(m.SQL, "-- [") {
				t.Errorf("%s: a section marker is left in its text", m.Name)
			}
		}
		if strings.Contains(lite[i].SQL, "TIMESTAMPTZ") || strings.Contains(lite[i].SQL, "BIGSERIAL") {
			t.Errorf("%s: SQLite's text has PostgreSQL's types", lite[i].Name)
		}
	}
	// The sections: the skills' name check is a regular expression on
	// PostgreSQL and a length on SQLite, and each dialect gets only its own.
	if !strings.Contains(pg[0].SQL, "name ~ '^[a-z]") || strings.Contains(pg[0].SQL, "length(name)") {
		t.Errorf("PostgreSQL's 0001 is not its section:\n%s", pg[0].SQL[:400])
	}
	if !strings.Contains(lite[0].SQL, "length(name) BETWEEN 2 AND 32") || strings.Contains(lite[0].SQL, "name ~") {
		t.Errorf("SQLite's 0001 is not its section:\n%s", lite[0].SQL[:400])
	}
	if _, err := migrations.List("oracle"); err == nil {
		t.Error("an unknown dialect is accepted")
	}
}

func emptyURL(t *testing.T, d migrations.Dialect) string {
	if d == migrations.Postgres {
		return storagetest.EmptyPostgresURL(t)
	}
	return storagetest.SQLiteURL(t)
}

// TestApplyOnceConcurrently starts several "replicas" on one empty database
// at once: every migration is applied exactly once and none fails.
func TestApplyOnceConcurrently(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			url := emptyURL(t, d)
			ctx := context.Background()
			const replicas = 4
			var wg sync.WaitGroup
			applied := make([][]string, replicas)
			errs := make([]error, replicas)
			for i := 0; i < replicas; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := storage.Open(ctx, url)
					if err != nil {
						errs[i] = err
						return
					}
					defer db.Close()
					applied[i], errs[i] = db.Migrate(ctx)
				}()
			}
			wg.Wait()
			all, _ := migrations.List(d)
			total := 0
			for i := range errs {
				if errs[i] != nil {
					t.Fatalf("replica %d: %v", i, errs[i])
				}
				total += len(applied[i])
			}
			if total != len(all) {
				t.Fatalf("%d migrations applied across replicas, want %d (each exactly once)", total, len(all))
			}
			db, err := storage.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int64
			if err := db.Table("schema_migrations").Count(&n).Error; err != nil || n != int64(len(all)) {
				t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, len(all))
			}
			again, err := db.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second run applied %v (%v), want nothing", again, err)
			}
			pending, err := migrations.Pending(ctx, db.SQL, d)
			if err != nil || len(pending) != 0 {
				t.Fatalf("pending after migrating: %v %v", pending, err)
			}
			// The seeded skill vocabulary is there.
			var skills int64
			db.Table("skills").Where("name IN ?", []string{"website", "network", "training"}).Count(&skills)
			if skills != 3 {
				t.Errorf("skills seeded: %d of 3", skills)
			}
		})
	}
}

// TestOutboxRowsSignedOnUpgrade: migration 0009 marks the job messages
// waiting in the outbox since before the upgrade that must now go out
// signed (a receiving node drops them unsigned), and only those.
func TestOutboxRowsSignedOnUpgrade(t *testing.T) {
	all, err := migrations.List(migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			db := storagetest.Open(t, d)
			list, err := migrations.List(d)
			if err != nil || len(list) != len(all) {
				t.Fatalf("%d migrations (%v)", len(list), err)
			}
			var update string
			for _, m := range list {
				if m.Version == 9 {
					_, update, _ = strings.Cut(m.SQL, "DEFAULT false;")
				}
			}
			if !strings.Contains(update, "UPDATE bus_outbox") {
				t.Fatalf("migration 0009 has no UPDATE of the outbox: %q", update)
			}
			rows := map[string]bool{ // id → signed after the upgrade
				"decline":        true,
				"superseded":     true,
				"withdraw":       true,
				"accepted":       true,
				"offer":          false,
				"offer-in-place": true,
			}
			for id := range rows {
				kind, payload := strings.TrimSuffix(id, "-in-place"), `{"v":1,"kind":"offer","regret":0.5}`
				if id == "offer-in-place" {
					payload = `{"v":1,"kind":"offer","supersedes":"01a201c8-0000-7000-8000-0000000000b1","regret":0.5}`
				}
				if err := db.Exec(`INSERT INTO bus_outbox (id, subject, payload, signed, attempts, next_attempt_at, created_at)
					VALUES (?, ?, ?, false, 0, ?, ?)`, id, "coopnet.v1.jobs.bretagne."+kind, payload, time.Now(), time.Now()).Error; err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Exec(update).Error; err != nil {
				t.Fatal(err)
			}
			for id, want := range rows {
				var signed bool
				if err := db.Raw("SELECT signed FROM bus_outbox WHERE id = ?", id).Row().Scan(&signed); err != nil || signed != want {
					t.Errorf("%s: signed %t (%v), want %t", id, signed, err, want)
				}
			}
		})
	}
}
