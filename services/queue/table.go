package queue

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/storage"
)

// Spec describes one of coopnet's durable queues: a table of its owner's
// (the routings to search, the NATS outbox, the federation's outbox and
// inbox), whose rows are the items. The owner names its table and its
// conditions; the queue leases, counts and lists the items the one way.
type Spec struct {
	Topic string // its name in /metrics and on staff's page: "routings", "federation_outbox", …
	Table string
	// Due is the SQL condition of an item waiting for a worker now. In
	// Due and Waiting, every ? stands for the present time.
	Due string
	// Waiting is the condition of an item that waits for a later attempt
	// (or for something else) and is not due yet; "" for none.
	Waiting string
	// Leases: the table has a lease_until column, and its workers Lease.
	Leases bool
	// Ordered: the queue is a log, worked through in order by one worker
	// at a time (the inbox, whose activities build on each other; the NATS
	// outbox, whose messages must reach JetStream in the order they were
	// written). Lease then takes the first due items only while no other
	// worker holds a lease on a due item, and leases of the queue run one
	// at a time (a transaction-scoped advisory lock on PostgreSQL, SQLite's
	// one writer). A worker may also take its turn inside its own
	// transaction (TakeTurn), which then holds the items.
	Ordered bool
	// Dead is the condition of an item given up on (a dead letter), which
	// staff see; "" for a queue that never gives up.
	Dead string
	// Order is the order items are leased in.
	Order string
	// What names an item to staff, without a client's personal data (a
	// column or an expression); Error and At are the columns of its last
	// error and of when it last changed.
	What, Error, At string
}

// Queue is a queue with its counters.
type Queue struct {
	Spec
	db     *storage.DB
	leased prometheus.Counter
}

// New returns the queue spec describes, on db, counting what it leases in
// reg's coopnet_queue_leased_total{topic}.
func New(db *storage.DB, reg prometheus.Registerer, spec Spec) *Queue {
	q := &Queue{Spec: spec, db: db}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_queue_leased_total",
		Help: "Items of a durable queue leased by a worker.", ConstLabels: prometheus.Labels{"topic": spec.Topic}})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			panic(fmt.Sprintf("queue %s: %v", spec.Topic, err))
		}
	}
	q.leased = c
	return q
}

// Lease leases up to n due items for d: workers of several replicas never
// take the same item, and an item whose worker died is due again once its
// lease ends. On PostgreSQL workers racing for the same rows skip those
// another one has locked (SKIP LOCKED: two updates locking overlapping
// rows in different orders would deadlock), and the condition is checked
// again on the locked row; SQLite has one writer at a time. An Ordered
// queue's workers take turns instead (see Spec.Ordered). The leased rows'
// columns (returning) are scanned into dest, a pointer to an empty slice
// (left empty when nothing is due), in no particular order. The table
// needs an id and a lease_until column.
func (q *Queue) Lease(ctx context.Context, n int, d time.Duration, returning string, dest any) error {
	if !q.Leases {
		return fmt.Errorf("queue %s: its table has no leases", q.Topic)
	}
	// Nothing due, the common case of a worker's poll: no write, so that
	// an idle node does not take SQLite's write lock every tick. (A caller
	// leasing inside its own transaction asks HasDue before opening it.)
	if !q.db.InTx(ctx) {
		if due, err := q.HasDue(ctx); err != nil || !due {
			return err
		}
	}
	now := time.Now().UTC()
	pick, pickArgs := q.head("id", n, now)
	if q.db.Dialect == migrations.Postgres && !q.Ordered {
		pick += " FOR UPDATE SKIP LOCKED"
	}
	cond := q.dueAnd(free)
	sql := "UPDATE " + q.Table + " SET lease_until = ? WHERE id IN (" + pick + ") AND " + cond + " RETURNING " + returning
	args := append(append([]any{now.Add(d)}, pickArgs...), nows(cond, now)...)
	return q.take(ctx, sql, args, dest)
}

// TakeTurn takes the first n due items of an Ordered queue inside the
// caller's transaction, in order, scanning their columns (returning) into
// dest: the turn is the lease. The items are read, not marked (which would
// write each row a second time), held from the other workers until the
// transaction ends, and free again should it roll back or its worker die.
func (q *Queue) TakeTurn(ctx context.Context, n int, returning string, dest any) error {
	if !q.Ordered || !q.db.InTx(ctx) {
		return fmt.Errorf("queue %s: a turn is taken on an ordered queue inside a transaction", q.Topic)
	}
	sql, args := q.head(returning, n, time.Now().UTC())
	return q.take(ctx, sql, args, dest)
}

// take runs the statement that leases items into dest; for an Ordered
// queue, in the queue's turn: held until the transaction ends (the
// caller's, or one of its own), so that the statement, one of its own,
// sees what the previous holder committed.
func (q *Queue) take(ctx context.Context, sql string, args []any, dest any) error {
	var taken int64
	run := func(ctx context.Context, tx *gorm.DB) error {
		if q.Ordered && q.db.Dialect == migrations.Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", q.lockKey()).Error; err != nil {
				return err
			}
		}
		res := tx.Raw(sql, args...).Scan(dest)
		taken = res.RowsAffected
		return res.Error
	}
	var err error
	if q.Ordered && !q.db.InTx(ctx) {
		err = q.db.WithTx(ctx, run)
	} else {
		err = run(ctx, q.db.Conn(ctx))
	}
	if err != nil {
		return fmt.Errorf("queue %s: lease: %w", q.Topic, err)
	}
	q.leased.Add(float64(taken))
	return nil
}

// The lease conditions of an item; every ? stands for the present time.
const (
	free = "(lease_until IS NULL OR lease_until < ?)" // nobody holds it
	held = "lease_until >= ?"                         // a worker holds it
)

// dueAnd is the condition of a due item whose lease is as lease says.
func (q *Queue) dueAnd(lease string) string { return "(" + q.Due + ") AND " + lease }

// head is the query of the first n due items nobody holds (for an Ordered
// queue, only while nobody holds any), selecting cols, and its arguments.
func (q *Queue) head(cols string, n int, now time.Time) (string, []any) {
	cond := q.dueAnd(free)
	if q.Ordered {
		cond += " AND NOT EXISTS (SELECT 1 FROM " + q.Table + " WHERE " + q.dueAnd(held) + ")"
	}
	return "SELECT " + cols + " FROM " + q.Table + " WHERE " + cond + " ORDER BY " + q.Order + " LIMIT ?", append(nows(cond, now), n)
}

// HasDue reports whether an item is due and not leased: a read, which a
// worker polling an idle queue makes instead of a write.
func (q *Queue) HasDue(ctx context.Context) (bool, error) {
	cond := q.dueAnd(free)
	var found []int
	err := q.db.Conn(ctx).Raw("SELECT 1 FROM "+q.Table+" WHERE "+cond+" LIMIT 1", nows(cond, time.Now().UTC())...).Scan(&found).Error
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", q.Topic, err)
	}
	return len(found) > 0, nil
}

// lockKey is the advisory lock of an ordered queue: its topic's hash.
func (q *Queue) lockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("coopnet queue " + q.Topic))
	return int64(h.Sum64())
}

// nows is as many times now as cond has placeholders.
func nows(cond string, now time.Time) []any {
	out := make([]any, strings.Count(cond, "?"))
	for i := range out {
		out[i] = now
	}
	return out
}

// Stats are a queue's items by state.
type Stats struct {
	Topic   string `json:"topic"`
	Due     int64  `json:"due"`     // waiting for a worker now
	Leased  int64  `json:"leased"`  // due, and held by a worker (or put off a while)
	Waiting int64  `json:"waiting"` // to be tried again later
	Dead    int64  `json:"dead"`    // given up on
}

// Stats counts the queue's items.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Topic: q.Topic}
	now := time.Now().UTC()
	count := func(cond string, n *int64, extra ...any) error {
		if cond == "" {
			return nil
		}
		args := append(nows(cond, now), extra...)
		return q.db.Conn(ctx).Raw("SELECT COUNT(*) FROM "+q.Table+" WHERE "+cond, args...).Scan(n).Error
	}
	due := q.Due
	if q.Leases {
		due = q.dueAnd(free)
	}
	err := count(due, &st.Due)
	if err == nil && q.Leases {
		err = count(q.dueAnd(held), &st.Leased)
	}
	if err == nil {
		err = count(q.Waiting, &st.Waiting)
	}
	if err == nil {
		err = count(q.Dead, &st.Dead)
	}
	if err != nil {
		return st, fmt.Errorf("queue %s: %w", q.Topic, err)
	}
	return st, nil
}

// DeadLetter is an item a queue gave up on.
type DeadLetter struct {
	Topic string    `json:"topic"`
	ID    string    `json:"id"`
	What  string    `json:"what"`
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// DeadLetters are the queue's latest dead letters, newest first.
func (q *Queue) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	if q.Dead == "" {
		return nil, nil
	}
	var rows []struct {
		ID, What, Error string
		At              time.Time
	}
	sql := "SELECT CAST(id AS TEXT) AS id, " + q.What + " AS what, " + q.Error + " AS error, " + q.At + " AS at FROM " + q.Table +
		" WHERE " + q.Dead + " ORDER BY " + q.At + " DESC LIMIT ?"
	if err := q.db.Conn(ctx).Raw(sql, limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("queue %s: dead letters: %w", q.Topic, err)
	}
	out := make([]DeadLetter, len(rows))
	for i, r := range rows {
		out[i] = DeadLetter{Topic: q.Topic, ID: r.ID, What: r.What, Error: r.Error, At: r.At.UTC()}
	}
	return out, nil
}

// Collector exposes the queues' items by state in /metrics, counted when
// scraped: coopnet_queue_items{topic, state}.
type Collector struct{ Queues []*Queue }

var itemsDesc = prometheus.NewDesc("coopnet_queue_items", "Items of a durable queue, by state (due, leased, waiting, dead).",
	[]string{"topic", "state"}, nil)

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) { ch <- itemsDesc }

// Collect implements prometheus.Collector. A queue that cannot be counted
// in time (a database under load) is left out of this scrape, not failed:
// an error would turn the whole of /metrics into a 500.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, q := range c.Queues {
		st, err := q.Stats(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(st.Due), q.Topic, "due")
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(st.Leased), q.Topic, "leased")
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(st.Waiting), q.Topic, "waiting")
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(st.Dead), q.Topic, "dead")
	}
}

// maxErrorText is how much of an error an item keeps (its Error column).
const maxErrorText = 500

// ErrorText is what of msg an item keeps as its error: at most
// maxErrorText bytes.
func ErrorText(msg string) string {
	if len(msg) <= maxErrorText {
		return msg
	}
	return msg[:maxErrorText]
}
