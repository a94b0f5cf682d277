package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// probeSpec is a queue over a table of the test's own, shaped as the
// federation's outbox is.
var probeSpec = queue.Spec{Topic: "probe", Table: "queue_probe", Leases: true,
	Due: "state = 'pending' AND next_attempt_at <= ?", Waiting: "state = 'pending' AND next_attempt_at > ?",
	Dead: "state = 'failed'", Order: "next_attempt_at, id", What: "what", Error: "last_error", At: "created_at"}

// createProbe makes probeSpec's table in db.
func createProbe(t *testing.T, db *storage.DB) {
	t.Helper()
	if err := db.Exec(`CREATE TABLE queue_probe (id TEXT PRIMARY KEY, what TEXT NOT NULL, state TEXT NOT NULL,
		next_attempt_at TIMESTAMP NOT NULL, lease_until TIMESTAMP, last_error TEXT NOT NULL DEFAULT '', created_at TIMESTAMP NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
}

type probe struct {
	ID   string
	What string
}

// TestLease, on both databases: four workers leasing at once take every
// due item exactly once; an item whose lease ran out is due again; items
// not due yet and dead letters are not leased; the counts by state and
// the dead letters are what the table holds.
func TestLease(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		createProbe(t, db)
		now := time.Now().UTC()
		insert := func(id, state string, next time.Time, lastError string) {
			if err := db.Exec("INSERT INTO queue_probe (id, what, state, next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?)",
				id, "item "+id, state, next, lastError, now).Error; err != nil {
				t.Fatal(err)
			}
		}
		const due = 40
		for i := range due {
			insert(fmt.Sprintf("d%02d", i), "pending", now.Add(-time.Minute), "")
		}
		insert("later", "pending", now.Add(time.Hour), "")
		insert("dead", "failed", now.Add(-time.Hour), "refused: 410")
		reg := prometheus.NewRegistry()
		q := queue.New(db, reg, probeSpec)

		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				for {
					var rows []probe
					if err := q.Lease(ctx, 3, time.Minute, "id, what", &rows); err != nil {
						errs <- err
						return
					}
					if len(rows) == 0 {
						return
					}
					mu.Lock()
					for _, r := range rows {
						got[r.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(got) != due {
			t.Errorf("%d items leased, want %d", len(got), due)
		}
		for id, n := range got {
			if n != 1 || !strings.HasPrefix(id, "d") {
				t.Errorf("%s leased %d times", id, n)
			}
		}
		if n := gathered(t, reg, "coopnet_queue_leased_total"); n != fmt.Sprintf("{topic=probe} %d", due) {
			t.Errorf("coopnet_queue_leased_total %s, want %d", n, due)
		}
		st, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st != (queue.Stats{Topic: "probe", Due: 0, Leased: due, Waiting: 1, Dead: 1}) {
			t.Errorf("stats while leased: %+v", st)
		}

		// A worker died holding d07: once its lease ends, it is due again.
		if err := db.Exec("UPDATE queue_probe SET lease_until = ? WHERE id = 'd07'", now.Add(-time.Second)).Error; err != nil {
			t.Fatal(err)
		}
		var again []probe
		if err := q.Lease(ctx, 10, time.Minute, "id, what", &again); err != nil || len(again) != 1 || again[0].ID != "d07" {
			t.Errorf("after d07's lease ran out: %v %v", again, err)
		}

		dead, err := q.DeadLetters(ctx, 10)
		if err != nil || len(dead) != 1 || dead[0].ID != "dead" || dead[0].What != "item dead" || dead[0].Error != "refused: 410" ||
			dead[0].Topic != "probe" || dead[0].At.Sub(now).Abs() > time.Millisecond {
			t.Errorf("dead letters: %+v %v", dead, err)
		}

		// /metrics: the items by state.
		reg.MustRegister(queue.Collector{Queues: []*queue.Queue{q}})
		want := "{state=dead,topic=probe} 1 {state=due,topic=probe} 0 {state=leased,topic=probe} 40 {state=waiting,topic=probe} 1"
		if got := gathered(t, reg, "coopnet_queue_items"); got != want {
			t.Errorf("coopnet_queue_items: %s, want %s", got, want)
		}

		// A queue without leases refuses to lease.
		nq := queue.New(db, nil, queue.Spec{Topic: "plain", Table: "queue_probe", Due: "state = 'pending'", Order: "id"})
		var none []probe
		if err := nq.Lease(ctx, 1, time.Minute, "id", &none); err == nil {
			t.Error("a queue without leases leased")
		}
	})
}

// gathered is the metric's samples in reg: "{label=value,…} value" each,
// space-separated, in the registry's order.
func gathered(t *testing.T, reg *prometheus.Registry, name string) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out = append(out, fmt.Sprintf("{%s} %v", strings.Join(labels, ","), v))
		}
	}
	return strings.Join(out, " ")
}

// TestOrderedLease, on both databases: an Ordered queue is worked through
// by one worker at a time, in order. While one worker holds a lease,
// another leases nothing; a turn taken inside a transaction makes the
// next worker wait for its end, then take the items after those done; and
// a transaction rolled back gives its items back at once, in order.
func TestOrderedLease(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		createProbe(t, db)
		now := time.Now().UTC()
		for i := range 12 {
			if err := db.Exec("INSERT INTO queue_probe (id, what, state, next_attempt_at, created_at) VALUES (?, ?, 'pending', ?, ?)",
				fmt.Sprintf("m%02d", i), fmt.Sprintf("message %d", i), now.Add(-time.Minute), now).Error; err != nil {
				t.Fatal(err)
			}
		}
		spec := probeSpec
		spec.Topic, spec.Ordered, spec.Order = "log", true, "id"
		a, b := queue.New(db, nil, spec), queue.New(db, nil, spec) // two replicas' workers
		ids := func(rows []probe) string {
			var out []string
			for _, r := range rows {
				out = append(out, r.ID)
			}
			slices.Sort(out)
			return strings.Join(out, " ")
		}
		done := func(rows []probe) {
			for _, r := range rows {
				if err := db.Conn(ctx).Exec("UPDATE queue_probe SET state = 'sent' WHERE id = ?", r.ID).Error; err != nil {
					t.Fatal(err)
				}
			}
		}

		// A holds the head: B gets nothing until A's items are done.
		var first, none []probe
		if err := a.Lease(ctx, 3, time.Minute, "id, what", &first); err != nil || ids(first) != "m00 m01 m02" {
			t.Fatalf("A leased %q, %v", ids(first), err)
		}
		if err := b.Lease(ctx, 3, time.Minute, "id, what", &none); err != nil || len(none) != 0 {
			t.Fatalf("B leased %q while A held the head, %v", ids(none), err)
		}
		done(first)
		var second []probe
		if err := b.Lease(ctx, 3, time.Minute, "id, what", &second); err != nil || ids(second) != "m03 m04 m05" {
			t.Fatalf("B leased %q after A's were done, %v", ids(second), err)
		}
		done(second)

		// A takes its turn inside a transaction still open: B, leasing
		// meanwhile, waits for it and takes what comes after.
		leased := make(chan struct{})
		commit := make(chan struct{})
		var inTx []probe
		errs := make(chan error, 2)
		go func() {
			errs <- db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
				if err := a.TakeTurn(ctx, 3, "id, what", &inTx); err != nil {
					close(leased)
					return err
				}
				close(leased)
				<-commit
				return tx.Exec("UPDATE queue_probe SET state = 'sent' WHERE id IN ?", []string{inTx[0].ID, inTx[1].ID, inTx[2].ID}).Error
			})
		}()
		<-leased
		var after []probe
		go func() { errs <- b.Lease(ctx, 3, time.Minute, "id, what", &after) }()
		if db.Dialect == migrations.Postgres {
			// B waits for A's turn (SQLite's writers wait for the lock
			// of A's transaction the same way).
			deadline := time.Now().Add(30 * time.Second)
			for {
				var waiting int64
				db.Raw("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted " +
					"AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&waiting)
				if waiting > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("B does not wait for A's lease to end")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		close(commit)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if ids(inTx) != "m06 m07 m08" || ids(after) != "m09 m10 m11" {
			t.Fatalf("A leased %q in its transaction, B %q after it", ids(inTx), ids(after))
		}

		// A transaction that takes its turn and rolls back leaves nothing taken.
		if err := db.Exec("UPDATE queue_probe SET lease_until = NULL, state = 'pending' WHERE id IN ('m09', 'm10', 'm11')").Error; err != nil {
			t.Fatal(err)
		}
		failed := errors.New("the worker died")
		err := db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			var rows []probe
			if err := a.TakeTurn(ctx, 3, "id, what", &rows); err != nil {
				return err
			}
			return failed
		})
		var again []probe
		if !errors.Is(err, failed) || b.Lease(ctx, 3, time.Minute, "id, what", &again) != nil || ids(again) != "m09 m10 m11" {
			t.Fatalf("after a rolled-back lease: %v, B leased %q", err, ids(again))
		}
	})
}
