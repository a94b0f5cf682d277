package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/ledger"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/services/tickets"
)

// BenchmarkFanOut: the notifications (in the app, and a mail each) of one
// event told to 1,000 members, written inside the event's transaction, on
// each database; beside the same event told to one member, in the same
// run. The target is that the fan-out costs per member a small part of a
// single notification: one insert per table whatever the count.
func BenchmarkFanOut(b *testing.B) {
	for _, d := range []migrations.Dialect{migrations.Postgres, migrations.SQLite} {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := storagetest.Open(b, d)
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			catalog := skills.NewCatalog(db)
			ms := members.New(db, catalog, members.Config{Region: "bretagne", Host: "bzh.test", BcryptCost: bcrypt.MinCost}, log)
			cs := clients.New(db, ms)
			ts := tickets.New(db, catalog, cs, ledger.New(db, "bretagne"), tickets.Config{Region: "bretagne", PublicURL: "http://bzh.test"}, log)
			s := New(db, ms, ts, nil, Config{PublicURL: "http://bzh.test", Host: "bzh.test", Region: "bretagne", Mailer: Dir{Path: b.TempDir()}}, log)
			const n = 1000
			ids := make([]string, 0, n)
			for i := range n {
				m, err := ms.Create(ctx, nil, members.CreateInput{Email: fmt.Sprintf("m%04d@bzh.test", i), Name: fmt.Sprintf("Membre %d", i),
					Role: "technician", Password: "mot de passe", Postcode: "35000"})
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, m.ID)
			}
			one := func(to []string) time.Duration {
				e := event{kind: Comment, to: to, byHandle: "jean@bfc.test", actor: "Jean", detail: "bench"}
				t0 := time.Now()
				if err := db.WithTx(ctx, func(ctx context.Context, _ *gorm.DB) error { return s.record(ctx, e) }); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			const rounds = 20
			var single, fan []time.Duration
			for r := range rounds {
				single = append(single, one(ids[r:r+1]))
				fan = append(fan, one(ids))
			}
			slices.Sort(single)
			slices.Sort(fan)
			med := func(l []time.Duration) float64 { return float64(l[len(l)/2].Microseconds()) / 1000 }
			var rows int64
			db.Table("notifications").Count(&rows)
			if rows != rounds*(n+1) {
				b.Fatalf("%d notifications, want %d", rows, rounds*(n+1))
			}
			b.ReportMetric(med(fan), "fanout_1000_ms")
			b.ReportMetric(med(single), "single_ms")
			b.ReportMetric(med(fan)/med(single), "ratio")
			b.ReportMetric(0, "ns/op")
			b.Logf("%s: one event to %d members %.1f ms (median of %d), to one member %.2f ms: %.0f µs a member",
				d, n, med(fan), rounds, med(single), med(fan)*1000/n)
		})
	}
}
