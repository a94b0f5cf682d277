package ledger_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// seed writes a member, a client and a ticket the ledger can refer to.
func seed(t *testing.T, db *storage.DB) (memberID, ticketID string) {
	t.Helper()
	at := time.Now().UTC()
	memberID, ticketID = storage.NewID(), storage.NewID()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO members (id, handle, email, name, role, password_hash, created_at, updated_at) VALUES (?, 'marie', 'marie@coop.test', 'Marie', 'technician', 'x', ?, ?)`,
			[]any{memberID, at, at}},
		{`INSERT INTO clients (id, technician_id, name, kind, postcode, commune, departement, lat, lon, created_at, updated_at)
			VALUES ('c1', ?, 'École', 'school', '25170', 'Bourguignon', '25', 47.4, 6.8, ?, ?)`, []any{memberID, at, at}},
		{`INSERT INTO tickets (id, client_id, technician_id, title, skill, priority, on_site, estimated_minutes, status, origin_region, ap_id, created_by, created_at, updated_at)
			VALUES (?, 'c1', ?, 'Site', 'website', 'normal', true, 60, 'new', 'bfc', ?, 'marie@bfc', ?, ?)`,
			[]any{ticketID, memberID, "http://bfc/" + ticketID, at, at}},
	} {
		if err := db.Exec(q.sql, q.args...).Error; err != nil {
			t.Fatal(err)
		}
	}
	return memberID, ticketID
}

// TestTotalsAreTheSumOfEntries follows a shared ticket's time on its
// tracker: time logged here, the assignee's reports, the job given back
// (its time kept) and the next assignee's reports from nothing. The
// ledger only grows, and its sums are the totals at every step.
func TestTotalsAreTheSumOfEntries(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storagetest.Open(t, d)
			lg := ledger.New(db, "bfc")
			member, ticket := seed(t, db)
			entries := func() int {
				var n int
				if err := db.Raw("SELECT COUNT(*) FROM time_entries WHERE ticket_id = ?", ticket).Row().Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			check := func(step string, here, peer, rows int) {
				t.Helper()
				tot, err := lg.Of(ctx, ticket)
				if err != nil {
					t.Fatal(err)
				}
				if tot.Here != here || tot.Peer != peer || tot.All() != here+peer {
					t.Errorf("%s: %+v, want here %d peer %d", step, tot, here, peer)
				}
				many, err := lg.OfMany(ctx, []string{ticket, "other"})
				if err != nil || many[ticket] != tot || many["other"] != (ledger.Totals{}) {
					t.Errorf("%s: OfMany %v (%v), want %+v", step, many, err, tot)
				}
				var here2, peer2 int
				if err := db.Raw(`SELECT COALESCE(SUM(CASE WHEN source = 'here' THEN minutes END), 0),
					COALESCE(SUM(CASE WHEN source = 'peer' THEN minutes END), 0) FROM time_entries WHERE ticket_id = ?`, ticket).
					Row().Scan(&here2, &peer2); err != nil {
					t.Fatal(err)
				}
				if here2 != tot.Here || peer2 != tot.Peer {
					t.Errorf("%s: the totals %+v are not the sums of the entries (%d, %d)", step, tot, here2, peer2)
				}
				if n := entries(); n != rows {
					t.Errorf("%s: %d entries, want %d", step, n, rows)
				}
			}
			check("nothing yet", 0, 0, 0)
			if _, err := lg.Log(ctx, ledger.LogInput{TicketID: ticket, MemberID: member, MemberHandle: "marie@bfc", Minutes: 30, Note: "visite"}); err != nil {
				t.Fatal(err)
			}
			check("logged", 30, 0, 1)
			for _, bad := range []int{0, -5, ledger.MaxMinutes + 1} {
				_, err := lg.Log(ctx, ledger.LogInput{TicketID: ticket, MemberID: member, Minutes: bad})
				if apperr.CodeOf(err) != apperr.Invalid {
					t.Errorf("%d minutes: %v, want invalid", bad, err)
				}
			}
			check("refused", 30, 0, 1)
			report := func(total, wantBefore int, wantChanged bool) {
				t.Helper()
				err := db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error {
					before, changed, err := lg.Report(ctx, ticket, "bretagne", "gwen@bzh", total)
					if before != wantBefore || changed != wantChanged {
						t.Errorf("report %d: before %d changed %t", total, before, changed)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			report(45, 0, true)
			check("reported", 30, 45, 2)
			report(45, 45, false)
			check("reported again", 30, 45, 2)
			report(60, 45, true)
			check("more", 30, 60, 3)
			kept, err := lg.Keep(ctx, ticket, "bretagne", "gwen@bzh")
			if err != nil || kept != 60 {
				t.Fatalf("kept %d (%v)", kept, err)
			}
			check("kept", 90, 0, 5)
			report(20, 0, true)
			check("the next assignee", 90, 20, 6)
			gone, err := lg.HandOver(ctx, ticket, "marie@bfc")
			if err != nil || gone != 90 {
				t.Fatalf("handed over %d (%v)", gone, err)
			}
			check("handed over", 0, 20, 7)
			logged, err := lg.Logged(ctx, ticket)
			if err != nil || len(logged) != 1 || logged[0].Minutes != 30 || logged[0].Note != "visite" {
				t.Fatalf("logged: %+v (%v)", logged, err)
			}
			mine, err := lg.ByMember(ctx, member)
			if err != nil || len(mine) != 1 {
				t.Fatalf("by member: %+v (%v)", mine, err)
			}
			if err := lg.EraseNotes(ctx, []string{ticket}); err != nil {
				t.Fatal(err)
			}
			logged, _ = lg.Logged(ctx, ticket)
			if logged[0].Note != "" {
				t.Errorf("note after erasure: %q", logged[0].Note)
			}
		})
	}
}
