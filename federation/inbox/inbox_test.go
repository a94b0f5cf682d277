package inbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// probeApplier records each application in a table of the test's own,
// inside the applying transaction; every seventh activity fails once (a
// database hiccup), to be tried again.
type probeApplier struct {
	mu     sync.Mutex
	failed map[string]bool
	order  []int // the activities applied, in the order they were
}

func (p *probeApplier) Apply(ctx context.Context, tx *gorm.DB, a *doc.Activity) (bool, error) {
	var n int
	if _, err := fmt.Sscanf(a.ID, "https://bfc.test/activities/%d", &n); err != nil {
		return false, err
	}
	p.mu.Lock()
	fail := n%7 == 0 && !p.failed[a.ID]
	if fail {
		p.failed[a.ID] = true
	}
	p.mu.Unlock()
	if err := tx.Exec("INSERT INTO inbox_probe (activity_id) VALUES (?)", a.ID).Error; err != nil {
		return false, err
	}
	if fail {
		return false, errors.New("the database hiccupped")
	}
	p.mu.Lock()
	p.order = append(p.order, n)
	p.mu.Unlock()
	return false, nil
}

// TestReplicasApplyOnce, on both databases: two inboxes on one database
// (two replicas of a node) work through a burst of activities at once,
// taking turns on the one queue; each activity is applied exactly once
// (an application rolled back counts for nothing) and in the order they
// came, those that failed once are tried again, and none is left pending.
func TestReplicasApplyOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.Exec("CREATE TABLE inbox_probe (activity_id TEXT NOT NULL)").Error; err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		applier := &probeApplier{failed: map[string]bool{}}
		a := New(db, time.Hour, log, nil, applier, func() {})
		b := New(db, time.Hour, log, nil, applier, func() {})
		const total = 150
		for i := range total {
			id := fmt.Sprintf("https://bfc.test/activities/%d", i)
			body := fmt.Sprintf(`{"@context":%q,"id":%q,"type":"Create","actor":"https://bfc.test/actors/jean",`+
				`"object":{"id":"https://bfc.test/notes/%d","type":"Note","content":"message %d"}}`, doc.NSActivityStreams, id, i, i)
			if _, err := a.Store(ctx, Row{ActivityID: id, Actor: "https://bfc.test/actors/jean", Type: "Create", Body: body,
				ReceivedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		pending := func() (int64, error) {
			var n int64
			err := db.Model(&Row{}).Where("state = 'pending'").Count(&n).Error
			return n, err
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, in := range []*Inbox{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := pending()
					if err == nil && n > 0 {
						_, err = in.Process(ctx, 16)
					}
					if err != nil {
						errs <- err
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var counts []struct {
			ActivityID string
			N          int
		}
		if err := db.Raw("SELECT activity_id, COUNT(*) AS n FROM inbox_probe GROUP BY activity_id").Scan(&counts).Error; err != nil {
			t.Fatal(err)
		}
		if len(counts) != total {
			t.Errorf("%d activities applied, want %d", len(counts), total)
		}
		for _, c := range counts {
			if c.N != 1 {
				t.Errorf("%s applied %d times", c.ActivityID, c.N)
			}
		}
		var states []struct {
			State string
			N     int
		}
		if err := db.Raw("SELECT state, COUNT(*) AS n FROM federation_inbox GROUP BY state").Scan(&states).Error; err != nil {
			t.Fatal(err)
		}
		if len(states) != 1 || states[0].State != "applied" || states[0].N != total {
			t.Errorf("the inbox's rows by state: %+v, want %d applied", states, total)
		}
		if len(applier.failed) == 0 {
			t.Error("no activity failed once: the retry was not exercised")
		}
		// Those that never failed were applied in the order they came.
		last := -1
		for _, n := range applier.order {
			if applier.failed[fmt.Sprintf("https://bfc.test/activities/%d", n)] {
				continue
			}
			if n < last {
				t.Fatalf("activity %d applied after %d: %v", n, last, applier.order)
			}
			last = n
		}
	})
}
