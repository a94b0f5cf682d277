// Package relay is the routing plane's transport over NATS: messages
// signed by the node that sends them and checked against the node they
// must come from, requests and their signed replies, the outbox of durable
// messages published to JetStream once their transaction has committed,
// the bounded pool that handles what comes in, and the regions' presence
// (how many answers a search waits for).
package relay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/bus"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/storage"
)

const (
	// AcceptTimeout bounds a request to another region's node (an
	// acceptance, a release) and, by half, the check of a signature.
	AcceptTimeout = 5 * time.Second
	presenceEvery = 5 * time.Second
	presenceTTL   = 3 * presenceEvery
	// presenceSettle is how long after its start a node takes to hear the
	// other regions, which answer its first presence at once.
	presenceSettle = time.Second
	// handlerPool bounds the questions and job messages handled at once.
	handlerPool = 16
)

// Config tunes the relay of one node.
type Config struct {
	Region string
	// Skew is how far the signing time of a request-reply message may be
	// from this node's clock.
	Skew time.Duration
	// Tick is how often the outbox looks for messages due besides being
	// woken up.
	Tick time.Duration
}

// Relay is one node's end of the routing plane.
type Relay struct {
	db     *storage.DB
	bus    *bus.Bus
	cfg    Config
	log    *slog.Logger
	signer Signer // nil: messages neither signed nor checked

	dropped   *prometheus.CounterVec
	published prometheus.Counter
	pubErrors prometheus.Counter
	kick      queue.Signal
	outboxQ   *queue.Queue

	presMu   sync.Mutex
	presence map[string]time.Time
	started  time.Time // when Start was called
	// reconnected is when NATS last came back (unix nanoseconds): like a
	// start, the regions' presence is not known again at once.
	reconnected atomic.Int64

	sentMu  sync.Mutex
	sent    []string      // outbox rows published, to delete in one statement
	pool    chan struct{} // bounds the handlers running at once
	stopMu  sync.Mutex
	stopped bool
	sub     *nats.Subscription
	cancel  context.CancelFunc
	loops   sync.WaitGroup
	wg      sync.WaitGroup // handlers spawned
}

// New returns the relay of a node; Start connects it.
func New(db *storage.DB, b *bus.Bus, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Relay {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	rl := &Relay{db: db, bus: b, cfg: cfg, log: log, kick: queue.NewSignal(), presence: map[string]time.Time{},
		pool:      make(chan struct{}, handlerPool),
		dropped:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_routing_dropped_messages_total", Help: "Malformed or foreign messages dropped, by kind."}, []string{"kind"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_bus_published_total", Help: "Outbox messages published to JetStream."}),
		pubErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_bus_publish_errors_total", Help: "Failed attempts to publish outbox messages."}),
	}
	rl.outboxQ = queue.New(db, reg, queue.Spec{Topic: "bus_outbox", Table: "bus_outbox", Due: "next_attempt_at <= ?",
		Waiting: "next_attempt_at > ?", Order: "created_at, id", Leases: true, Ordered: true, What: "subject", Error: "''", At: "created_at"})
	if reg != nil {
		reg.MustRegister(rl.dropped, rl.published, rl.pubErrors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "coopnet_nats_connected", Help: "1 when the NATS connection is up."},
				func() float64 {
					if b != nil && b.Connected() {
						return 1
					}
					return 0
				}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "coopnet_bus_outbox_pending", Help: "Messages waiting in the outbox."},
				func() float64 {
					var n int64
					db.Model(&Row{}).Count(&n)
					return float64(n)
				}),
		)
	}
	return rl
}

// SetSigner makes the node sign what it publishes and check what it
// receives. Set once, before Start.
func (rl *Relay) SetSigner(sg Signer) { rl.signer = sg }

// Queue is the outbox of messages to publish to JetStream.
func (rl *Relay) Queue() *queue.Queue { return rl.outboxQ }

// Start listens to the regions' presence, says this one is here, and
// starts publishing the outbox.
func (rl *Relay) Start(ctx context.Context) error {
	ctx, rl.cancel = context.WithCancel(ctx)
	rl.started = time.Now()
	sub, err := rl.bus.Conn.Subscribe(wire.SubjectPresence, func(m *nats.Msg) { rl.Spawn(func() { rl.receivePresence(ctx, m) }) })
	if err != nil {
		rl.cancel()
		return fmt.Errorf("routing: subscribe to presence: %w", err)
	}
	rl.sub = sub
	for _, f := range []func(context.Context){rl.outboxLoop, rl.presenceLoop} {
		rl.loops.Add(1)
		go func() {
			defer rl.loops.Done()
			f(ctx)
		}()
	}
	return nil
}

// Hello says this node is here, asking the others to say so at once: at
// the start, once every subscription is in place, and when NATS comes back.
func (rl *Relay) Hello() { rl.PublishPresence(true) }

// Reconnected notes that NATS came back: the regions' presence is known
// again only in a moment (see Settling), which Hello hastens.
func (rl *Relay) Reconnected() {
	rl.reconnected.Store(time.Now().UnixNano())
	rl.Hello()
}

// Settling reports whether this node has only just started or come back,
// and may not know every region yet.
func (rl *Relay) Settling() bool {
	return time.Since(rl.started) < presenceSettle || time.Since(time.Unix(0, rl.reconnected.Load())) < presenceSettle
}

// Halt spawns no more handlers: what comes in meanwhile is redelivered
// (JetStream) or not needed (questions). The first step of stopping.
func (rl *Relay) Halt() {
	rl.stopMu.Lock()
	rl.stopped = true
	rl.stopMu.Unlock()
}

// Stop halts, waits for the handlers running, and stops the outbox and
// the presence.
func (rl *Relay) Stop() {
	rl.Halt()
	if rl.sub != nil {
		_ = rl.sub.Unsubscribe()
	}
	rl.wg.Wait()
	if rl.cancel != nil {
		rl.cancel()
	}
	rl.loops.Wait()
}

// Kick wakes the outbox up.
func (rl *Relay) Kick() { rl.kick.Poke() }

// Signer proves which node sent a message of the routing plane, as NATS
// does not: every message a node publishes there is signed with its
// routing key, and every message received is checked against the node it
// must come from — the node of a region (a question's asker, an answering
// region, a presence), of a host (the node of a ticket, of a member).
// Federation provides it, with the keys the nodes publish in their actor
// documents.
type Signer interface {
	// SignMessage signs data sent on subject at time at.
	SignMessage(ctx context.Context, subject string, at time.Time, data []byte) (keyID, signature string, err error)
	// VerifyMessage checks a signature by the node at host (when host is
	// given) of region (when region is given). It reports checked false
	// when there is no key to check against; valid, whether the signature
	// holds; err, a failure to check it.
	VerifyMessage(ctx context.Context, host, region, subject string, at time.Time, data []byte, keyID, signature string) (checked, valid bool, err error)
}

// Headers of a signed message.
const (
	headerKeyID     = "Coopnet-Key-Id"
	headerSignature = "Coopnet-Signature"
	// headerSignedAt is when the message was signed, in Unix
	// microseconds: covered by the signature, so that a request-reply
	// message cannot be replayed long after (see Verify).
	headerSignedAt = "Coopnet-Signed-At"
)

// sender is the node a message must come from: the node of Region, or the
// node at Host, or both.
type Sender struct{ Host, Region string }

// request sends a request on subject, signed when a signer is set.
func (rl *Relay) Request(ctx context.Context, subject string, data []byte) (*nats.Msg, error) {
	msg, err := rl.NewMsg(ctx, subject, data)
	if err != nil {
		return nil, err
	}
	return rl.bus.Conn.RequestMsgWithContext(ctx, msg)
}

// newMsg makes a message to send on subject, signed when a signer is set.
func (rl *Relay) NewMsg(ctx context.Context, subject string, data []byte) (*nats.Msg, error) {
	msg := nats.NewMsg(subject)
	msg.Data = data
	if rl.signer != nil {
		at := time.Now()
		keyID, sig, err := rl.signer.SignMessage(ctx, subject, at, data)
		if err != nil {
			return nil, err
		}
		msg.Header.Set(headerKeyID, keyID)
		msg.Header.Set(headerSignature, sig)
		msg.Header.Set(headerSignedAt, strconv.FormatInt(at.UnixMicro(), 10))
	}
	return msg, nil
}

// respond answers request m with data, signed, if m asks for an answer on
// an inbox. A reply subject that is not an inbox would have this node
// publish where the asker may not, with this node's rights: on
// "$JS.API.STREAM.PURGE.COOPNET_JOBS", say, an answer purges the stream.
func (rl *Relay) Respond(ctx context.Context, m *nats.Msg, data []byte) {
	if !strings.HasPrefix(m.Reply, "_INBOX.") {
		if m.Reply != "" {
			rl.Drop("reply", fmt.Errorf("reply subject %q of %s is not an inbox", m.Reply, m.Subject))
		}
		return
	}
	msg, err := rl.NewMsg(ctx, m.Reply, data)
	if err != nil {
		rl.log.Warn("routing: sign an answer", "subject", m.Subject, "err", err)
		return
	}
	_ = m.RespondMsg(msg)
}

// respondJSON answers request m with v as JSON, signed.
func (rl *Relay) RespondJSON(ctx context.Context, m *nats.Msg, v any) {
	b, _ := json.Marshal(v)
	rl.Respond(ctx, m, b)
}

// reply is a decision of the ticket's node, sent back over NATS.
type Reply interface{ WireVersion() int }

// askOrigin sends req (kind "accept" or "release") to the node of region
// origin, signed, and decodes its answer, which must be signed by that
// node, into rep. kept says what the member keeps meanwhile, for the
// error when the origin cannot be reached.
func (rl *Relay) Ask(ctx context.Context, kind, origin string, req any, rep Reply, kept string) error {
	if !rl.bus.Connected() {
		return apperr.New(apperr.Unavailable, "the routing network is unreachable right now; %s, try again in a moment", kept)
	}
	b, _ := json.Marshal(req)
	rctx, cancel := context.WithTimeout(ctx, AcceptTimeout)
	msg, err := rl.Request(rctx, "coopnet.v1."+kind+"."+origin, b)
	cancel()
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return apperr.New(apperr.Unavailable, "the node of region %s does not answer right now; %s, try again in a moment", origin, kept)
		}
		return fmt.Errorf("routing: %s: %w", kind, err)
	}
	if err := rl.Verify(ctx, In{Subject: msg.Subject, Data: msg.Data, Header: msg.Header}, Sender{Region: origin}, true); err != nil {
		if errors.Is(err, wire.ErrMalformed) {
			rl.Drop(kind+"_reply", err)
			return fmt.Errorf("routing: %s: a Reply not signed by the node of %s", kind, origin)
		}
		return apperr.New(apperr.Unavailable, "the answer of region %s could not be checked; %s, try again in a moment", origin, kept)
	}
	if err := wire.Decode(msg.Data, rep); err != nil || rep.WireVersion() != wire.Version {
		rl.Drop(kind+"_reply", err)
		return fmt.Errorf("routing: %s: wire.Bad Reply from %s", kind, origin)
	}
	return nil
}

// signedBy checks that a request received names a member of the node that
// signed it (handle is the member's full handle, name@host, of region),
// and if not, returns the code and message to answer: "forbidden" for a
// signature that does not hold, "unavailable" when it could not be
// checked. Without a signer, or for a host with no known key, nothing is
// checked.
func (rl *Relay) SignedBy(ctx context.Context, m *nats.Msg, handle, region string) (code, message string) {
	_, host, _ := strings.Cut(handle, "@")
	err := rl.Verify(ctx, In{Subject: m.Subject, Data: m.Data, Header: m.Header}, Sender{Host: host, Region: region}, true)
	switch {
	case errors.Is(err, wire.ErrMalformed):
		rl.Drop(strings.TrimPrefix(strings.TrimSuffix(m.Subject, "."+rl.cfg.Region), "coopnet.v1."), err)
		return "forbidden", "the Request is not signed by the member's node"
	case err != nil:
		rl.log.Warn("routing: a request's signature could not be checked", "subject", m.Subject, "host", host, "err", err)
		return "unavailable", "the key of the member's node could not be fetched: try again in a moment"
	}
	return "", ""
}

// inMsg is a message received over NATS, with its headers: a request, an
// answer, or a durable message of this region's job queue.
type In struct {
	Subject string
	Data    []byte
	Header  nats.Header
}

// Verify checks that a message was signed by the node it must come
// from: nil when it was, or when nothing can be checked (no signer; a coop
// that routes without federating); a wire.ErrMalformed error when the
// signature does not hold, or, for a fresh message (request-reply: a
// question, an answer, an acceptance…), when it was signed longer ago (or
// later) than the signature skew — it is dropped, counted and logged by
// the caller; another error when the node's key could not be fetched (a
// job message comes again later; a request is answered "unavailable").
func (rl *Relay) Verify(ctx context.Context, m In, want Sender, fresh bool) error {
	if rl.signer == nil {
		return nil
	}
	var keyID, sig, signedAt string
	if m.Header != nil {
		keyID, sig, signedAt = m.Header.Get(headerKeyID), m.Header.Get(headerSignature), m.Header.Get(headerSignedAt)
	}
	us, err := strconv.ParseInt(signedAt, 10, 64)
	if err != nil {
		return wire.Bad("%s: no time of signing", m.Subject)
	}
	at := time.UnixMicro(us)
	if d := time.Since(at); fresh && (d > rl.cfg.Skew || d < -rl.cfg.Skew) {
		return wire.Bad("%s signed at %s, beyond the allowed skew of %s", m.Subject, at.UTC().Format(time.RFC3339), rl.cfg.Skew)
	}
	// Within a member's wait for an acceptance, not the HTTP client's: a
	// peer that does not answer must not hold every acceptance for long.
	vctx, cancel := context.WithTimeout(ctx, AcceptTimeout/2)
	defer cancel()
	checked, valid, err := rl.signer.VerifyMessage(vctx, want.Host, want.Region, m.Subject, at, m.Data, keyID, sig)
	switch {
	case err != nil:
		return fmt.Errorf("routing: Check the signature of %s: %w", m.Subject, err)
	case checked && !valid:
		return wire.Bad("%s not signed by the node of %s", m.Subject, strings.Trim(want.Host+" "+want.Region, " "))
	}
	return nil
}

// Row is a message to publish on JetStream once the transaction that
// wrote it has committed.
type Row struct {
	ID            string `gorm:"primaryKey"`
	Subject       string
	Payload       string
	Signed        bool // published with the node's signature (see Signer)
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
	LeaseUntil    *time.Time // held by a worker until then
}

func (Row) TableName() string { return "bus_outbox" }

// Enqueue writes a message to the outbox inside tx. id becomes the
// message's Nats-Msg-Id. A signed message is published with the node's
// signature: every message that ends an offer or gives it away, which the
// receiving node checks (see Verify). A plain offer is not signed: by
// itself it wins nobody, the member's acceptance (signed) does.
func Enqueue(ctx context.Context, tx *gorm.DB, id, subject string, msg any, signed bool) error {
	row, err := NewRow(id, subject, msg, signed)
	if err != nil {
		return err
	}
	if err := tx.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("routing: outbox %s: %w", subject, err)
	}
	if p, ok := tx.Get(outboxSetting); ok {
		rows := p.(*[]Row)
		*rows = append(*rows, row)
	}
	return nil
}

// NewRow is a message to publish, due now.
func NewRow(id, subject string, msg any, signed bool) (Row, error) {
	payload, err := json.Marshal(msg)
	if err != nil {
		return Row{}, fmt.Errorf("routing: encode %s: %w", subject, err)
	}
	now := storage.Now()
	return Row{ID: id, Subject: subject, Payload: string(payload), Signed: signed, NextAttemptAt: now, CreatedAt: now}, nil
}

// Insert is the statement that writes the row (see Enqueue).
func (r Row) Insert() storage.Stmt {
	return storage.Stmt{SQL: "INSERT INTO bus_outbox (id, subject, payload, signed, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		Args: []any{r.ID, r.Subject, r.Payload, r.Signed, r.Attempts, r.NextAttemptAt, r.CreatedAt}}
}

// outboxSetting marks a transaction run by InTx, which collects the
// messages it enqueues.
const outboxSetting = "coopnet:outbox"

// AddPending adds rows, written by tx with statements of the caller's own
// (see Row.Insert), to those InTx publishes once tx has committed.
func AddPending(tx *gorm.DB, rows []Row) {
	if p, ok := tx.Get(outboxSetting); ok {
		*p.(*[]Row) = append(*p.(*[]Row), rows...)
	}
}

// InTx runs f in a transaction (which f's context carries) and, once it
// has committed, publishes at once the messages f enqueued (the outbox
// loop retries any that fail).
func (rl *Relay) InTx(ctx context.Context, f func(ctx context.Context, tx *gorm.DB) error) error {
	return rl.InTxThen(ctx, false, f)
}

// InTxThen is InTx; with background, the messages are published by another
// goroutine, so that the caller (an acceptance waiting for its answer) does
// not wait for JetStream.
func (rl *Relay) InTxThen(ctx context.Context, background bool, f func(ctx context.Context, tx *gorm.DB) error) error {
	var pending []Row
	err := rl.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		// A new session, so that the setting is kept and statements do not
		// accumulate on the one the setting created.
		return f(ctx, tx.Set(outboxSetting, &pending).Session(&gorm.Session{}))
	})
	switch {
	case err != nil || len(pending) == 0:
	case background:
		// Not the caller's context: a request's ends with its answer, while
		// the publishing goes on.
		bg := context.WithoutCancel(ctx)
		rl.Spawn(func() { rl.PublishNow(bg, pending) })
	default:
		rl.PublishNow(ctx, pending)
	}
	return err
}

// PublishNow publishes committed outbox rows and deletes them; on any
// failure it leaves the rest to the outbox loop.
func (rl *Relay) PublishNow(ctx context.Context, rows []Row) {
	for _, r := range rows {
		if !rl.bus.Connected() || rl.publish(ctx, r) != nil {
			rl.kick.Poke()
			return
		}
	}
}

// publish sends one outbox row to JetStream and deletes it.
func (rl *Relay) publish(ctx context.Context, r Row) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	msg, err := rl.NewMsg(pctx, r.Subject, []byte(r.Payload))
	if err == nil {
		_, err = rl.bus.JS.PublishMsg(pctx, msg, jetstream.WithMsgID(r.ID))
	}
	cancel()
	if err != nil {
		rl.pubErrors.Inc()
		return err
	}
	rl.published.Inc()
	// Deleted with others in one statement by the outbox loop: should the
	// process stop before, the row is published again, and JetStream drops
	// the duplicate by its Nats-Msg-Id.
	rl.sentMu.Lock()
	rl.sent = append(rl.sent, r.ID)
	rl.sentMu.Unlock()
	return nil
}

// wasSent reports whether a row was published and awaits deletion.
func (rl *Relay) wasSent(id string) bool {
	rl.sentMu.Lock()
	defer rl.sentMu.Unlock()
	return slices.Contains(rl.sent, id)
}

// deleteSent removes the rows published since the last call.
func (rl *Relay) deleteSent(ctx context.Context) {
	rl.sentMu.Lock()
	ids := rl.sent
	rl.sent = nil
	rl.sentMu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := rl.db.WithContext(ctx).Delete(&Row{}, "id IN ?", ids[:n]).Error; err != nil {
			rl.log.Warn("outbox: delete published messages", "err", err)
			rl.sentMu.Lock()
			rl.sent = append(rl.sent, ids...)
			rl.sentMu.Unlock()
			return
		}
		ids = ids[n:]
	}
}

// outboxLoop publishes due messages, oldest first, when woken up and every tick.
func (rl *Relay) outboxLoop(ctx context.Context) {
	t := time.NewTicker(rl.cfg.Tick)
	defer t.Stop()
	for {
		rl.flushOutbox(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-rl.kick:
		}
	}
}

// outboxLease is how long the outbox's worker holds the messages it
// leased while it publishes them. The outbox is an Ordered queue: while a
// worker holds messages, the other replicas' workers wait, so that
// JetStream gets them in the order they were written; should the worker
// die, they (and what follows them) go when the lease ends, published
// twice at worst, which JetStream drops by Nats-Msg-Id. Messages
// published at once after their commit (PublishNow) do not wait for it.
const outboxLease = 30 * time.Second

// unlease gives back messages leased but not tried: due again at once,
// not when their lease ends.
func (rl *Relay) unlease(ctx context.Context, rows []Row) {
	if len(rows) == 0 {
		return
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	if err := rl.db.WithContext(context.WithoutCancel(ctx)).Model(&Row{}).Where("id IN ?", ids).Update("lease_until", nil).Error; err != nil {
		rl.log.Warn("outbox: give back leased messages; they are due when their lease ends", "err", err)
	}
}

// outboxBackoff is the wait before a message that failed to go out is
// tried again.
var outboxBackoff = queue.Backoff{First: time.Second, Max: time.Minute}

// flushOutbox publishes every due message. A failure leaves the row with a
// later next attempt (exponential back-off with jitter, at most a minute):
// while NATS is down, messages wait in the database, not in memory.
func (rl *Relay) flushOutbox(ctx context.Context) {
	for ctx.Err() == nil && rl.bus.Connected() { // while NATS is away, messages wait here, not in its buffer
		rl.deleteSent(ctx)
		var rows []Row
		if err := rl.outboxQ.Lease(ctx, 100, outboxLease, "*", &rows); err != nil {
			if ctx.Err() == nil {
				rl.log.Warn("outbox: read", "err", err)
			}
			return
		}
		if len(rows) == 0 {
			return
		}
		// The lease's RETURNING gives the rows in no order: oldest first.
		slices.SortFunc(rows, func(a, b Row) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		})
		attempted := 0
		for i, r := range rows {
			if rl.wasSent(r.ID) {
				continue // published just now; deleted at the next pass
			}
			attempted++
			if err := rl.publish(ctx, r); err != nil {
				backoff := outboxBackoff.After(r.Attempts + 1)
				// Not the loop's context: on a stop, the lease must still end.
				rl.db.WithContext(context.WithoutCancel(ctx)).Model(&Row{}).Where("id = ?", r.ID).
					Updates(map[string]any{"attempts": r.Attempts + 1, "next_attempt_at": storage.Now().Add(backoff), "lease_until": nil})
				if ctx.Err() == nil {
					rl.log.Warn("outbox: publish failed; will retry", "subject", r.Subject, "id", r.ID, "attempt", r.Attempts+1, "err", err)
				}
				rl.unlease(ctx, rows[i+1:])
				return // NATS is likely down: try again at the next tick
			}
		}
		if attempted == 0 {
			return // only rows awaiting deletion are left
		}
	}
}

// spawn runs f on the handler pool, waiting for a free place when all are
// busy (back-pressure on NATS rather than unbounded goroutines).
func (rl *Relay) Spawn(f func()) {
	rl.pool <- struct{}{}
	rl.stopMu.Lock()
	if rl.stopped {
		rl.stopMu.Unlock()
		<-rl.pool
		return // stopping: the message is redelivered (JetStream) or not needed (questions)
	}
	rl.wg.Add(1)
	rl.stopMu.Unlock()
	go func() {
		defer func() { <-rl.pool; rl.wg.Done() }()
		f()
	}()
}

func (rl *Relay) Drop(kind string, err error) {
	rl.dropped.WithLabelValues(kind).Inc()
	rl.log.Warn("routing: dropped a message", "kind", kind, "err", err)
}

// receive decodes a request of another region into dst and validates it;
// a bad one is dropped (counted and logged) and receive reports false.
func (rl *Relay) Receive(kind string, data []byte, dst interface{ Validate() error }) bool {
	return rl.Check(kind, wire.Decode(data, dst), dst)
}

// check validates a message v read with error err (the error first); a bad
// one is dropped (counted and logged) and check reports false.
func (rl *Relay) Check(kind string, err error, v interface{ Validate() error }) bool {
	if err == nil {
		err = v.Validate()
	}
	if err != nil {
		rl.Drop(kind, err)
		return false
	}
	return true
}

func (rl *Relay) PublishPresence(hello bool) {
	b, _ := json.Marshal(wire.Presence{V: wire.Version, Region: rl.cfg.Region, Hello: hello})
	msg, err := rl.NewMsg(context.Background(), wire.SubjectPresence, b)
	if err != nil {
		rl.log.Warn("routing: sign presence", "err", err)
		return
	}
	_ = rl.bus.Conn.PublishMsg(msg)
}

func (rl *Relay) presenceLoop(ctx context.Context) {
	t := time.NewTicker(presenceEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rl.PublishPresence(false)
		}
	}
}

// receivePresence notes that a region's node is alive, from its signed
// presence: a forged one would make searches wait for a region that
// never answers.
func (rl *Relay) receivePresence(ctx context.Context, m *nats.Msg) {
	var p wire.Presence
	if err := wire.Decode(m.Data, &p); err != nil || p.V != wire.Version || !wire.RegionRe.MatchString(p.Region) {
		rl.Drop("presence", err)
		return
	}
	if err := rl.Verify(ctx, In{Subject: m.Subject, Data: m.Data, Header: m.Header}, Sender{Region: p.Region}, true); err != nil {
		rl.DropOrWarn("presence", err)
		return
	}
	rl.presMu.Lock()
	rl.presence[p.Region] = time.Now()
	rl.presMu.Unlock()
	if p.Hello && p.Region != rl.cfg.Region {
		// A region (re)starting: say this one is here too.
		rl.PublishPresence(false)
	}
}

// dropOrWarn drops a message whose signature does not hold, and logs one
// that could not be checked (the sender's key could not be fetched).
func (rl *Relay) DropOrWarn(kind string, err error) {
	if errors.Is(err, wire.ErrMalformed) {
		rl.Drop(kind, err)
		return
	}
	rl.log.Warn("routing: a message could not be checked", "kind", kind, "err", err)
}

// LiveRegions is how many regions (this one included) this node has heard
// from lately: how many answers a search waits for.
func (rl *Relay) LiveRegions() int {
	rl.presMu.Lock()
	defer rl.presMu.Unlock()
	n := 0
	for r, seen := range rl.presence {
		if time.Since(seen) < presenceTTL {
			n++
		} else {
			delete(rl.presence, r)
		}
	}
	return n
}

// AsksFor reports whether m's reply subject is an inbox of region's node.
func AsksFor(m *nats.Msg, region string) bool {
	return m.Reply != "" && strings.HasPrefix(m.Reply, bus.InboxPrefix(region)+".")
}
