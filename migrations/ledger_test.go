package migrations_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestCountersBecomeTheLedger: migration 0015 turns the time counters of
// tickets into entries of the ledger and the totals stay what they were:
// on a tracker, time logged here, time kept from a given-back assignee of
// another region and the current assignee's report; on a copy whose job
// went to another member of the node, the first member's time given up.
func TestCountersBecomeTheLedger(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			url := emptyURL(t, d)
			db, err := storage.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			list, err := migrations.List(d)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			for _, m := range list {
				if m.Version >= 15 {
					break
				}
				if _, err := db.SQL.ExecContext(ctx, m.SQL); err != nil {
					t.Fatalf("%s: %v", m.Name, err)
				}
				if err := db.Exec("INSERT INTO schema_migrations VALUES (?, ?, ?)", m.Version, m.Name, "2026-01-01T00:00:00Z").Error; err != nil {
					t.Fatal(err)
				}
			}
			at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			exec := func(q string, args ...any) {
				t.Helper()
				if err := db.Exec(q, args...).Error; err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for _, m := range [][]string{{"m-jean", "jean"}, {"m-marie", "marie"}, {"m-paul", "paul"}} {
				exec(`INSERT INTO members (id, handle, email, name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, 'technician', 'x', ?, ?)`,
					m[0], m[1], m[1]+"@coop.test", m[1], at, at)
			}
			exec(`INSERT INTO clients (id, technician_id, name, kind, postcode, commune, departement, lat, lon, created_at, updated_at)
				VALUES ('c1', 'm-jean', 'École', 'school', '25170', 'Bourguignon', '25', 47.4, 6.8, ?, ?)`, at, at)
			ticket := func(id, origin, assigneeID, assigneeRegion string, spent, remote int) {
				var member any
				if assigneeID != "" {
					member = assigneeID
				}
				exec(`INSERT INTO tickets (id, client_id, technician_id, title, skill, priority, on_site, estimated_minutes, status,
					origin_region, assignee_member_id, assignee_handle, assignee_region, ap_id, created_by, time_spent_minutes,
					remote_time_minutes, created_at, updated_at)
					VALUES (?, 'c1', 'm-jean', 'Site', 'website', 'normal', true, 60, 'in_progress', ?, ?, ?, ?, ?, 'jean@bfc', ?, ?, ?, ?)`,
					id, origin, member, "someone@"+assigneeRegion, assigneeRegion, "http://x/"+id, spent, remote, at, at)
			}
			// The tracker's ticket: Jean logged 30 and 15, kept 60 from an
			// assignee who gave it back; the assignee now reports 45.
			ticket("t-tracker", "bfc", "", "bretagne", 105, 45)
			exec(`INSERT INTO ticket_time (id, ticket_id, member_id, minutes, note, created_at) VALUES ('e1', 't-tracker', 'm-jean', 30, 'visite', ?), ('e2', 't-tracker', 'm-jean', 15, '', ?)`, at, at.Add(time.Hour))
			exec(`INSERT INTO ticket_history (id, ticket_id, version, actor_handle, action, field, old_value, new_value, created_at) VALUES ('h1', 't-tracker', 2, 'jean@bfc', 'logged_time', 'time_spent_minutes', '0', '30', ?)`, at)
			// A copy: Marie logged 40 then gave it back; Paul took it and
			// logged 20 (the copy's counter went to 0 when he took it); the
			// tracker reports 10.
			ticket("t-copy", "bfc", "m-paul", "bretagne", 20, 10)
			exec(`INSERT INTO ticket_time (id, ticket_id, member_id, minutes, note, created_at) VALUES ('e3', 't-copy', 'm-marie', 40, '', ?), ('e4', 't-copy', 'm-paul', 20, '', ?)`, at, at.Add(time.Hour))
			ticket("t-none", "bfc", "", "", 0, 0)

			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			want := map[string][2]int{"t-tracker": {105, 45}, "t-copy": {20, 10}, "t-none": {0, 0}}
			for id, w := range want {
				var here, peer int
				if err := db.Raw(`SELECT COALESCE(SUM(CASE WHEN source = 'here' THEN minutes ELSE 0 END), 0),
					COALESCE(SUM(CASE WHEN source = 'peer' THEN minutes ELSE 0 END), 0) FROM time_entries WHERE ticket_id = ?`, id).
					Row().Scan(&here, &peer); err != nil {
					t.Fatal(err)
				}
				if here != w[0] || peer != w[1] {
					t.Errorf("%s: here %d peer %d, want %d and %d", id, here, peer, w[0], w[1])
				}
				var th, tp int
				err := db.Raw("SELECT here_minutes, peer_minutes FROM ticket_time_totals WHERE ticket_id = ?", id).Row().Scan(&th, &tp)
				if (err == nil) != (w != [2]int{}) || th != w[0] || tp != w[1] {
					t.Errorf("%s: totals %d and %d (%v), want %d and %d", id, th, tp, err, w[0], w[1])
				}
			}
			var handle, region, note string
			var onSite bool
			if err := db.Raw("SELECT member_handle, origin_region, note, on_site FROM time_entries WHERE id = 'e1'").Row().
				Scan(&handle, &region, &note, &onSite); err != nil {
				t.Fatal(err)
			}
			if handle != "jean@bfc" || region != "bfc" || note != "visite" || !onSite {
				t.Errorf("e1: %q %q %q %t", handle, region, note, onSite)
			}
			if err := db.Raw("SELECT member_handle, origin_region FROM time_entries WHERE id = 'e4'").Row().Scan(&handle, &region); err != nil {
				t.Fatal(err)
			}
			if handle != "paul" || region != "bretagne" {
				t.Errorf("e4 (no history line: the member's handle): %q %q", handle, region)
			}
			var n int
			err = db.Raw("SELECT COUNT(*) FROM ticket_time").Row().Scan(&n)
			if err == nil {
				t.Error("ticket_time is still there")
			}
			var spent sql.NullInt64
			if err := db.Raw("SELECT time_spent_minutes FROM tickets WHERE id = 't-copy'").Row().Scan(&spent); err == nil {
				t.Error("tickets.time_spent_minutes is still there")
			}
		})
	}
}
