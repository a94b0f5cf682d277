package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/coopnet/coopnet/federation/doc"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/tickets"
)

// maxActivityBytes is the largest activity accepted.
const maxActivityBytes = 1 << 20

type inboxRow struct {
	ID            int64  `gorm:"primaryKey"`
	ActivityID    string `gorm:"column:activity_id"`
	Actor         string
	Type          string
	Body          string
	State         string
	Attempts      int
	LastError     string
	ReceivedAt    time.Time
	ProcessedAt   *time.Time
	NextAttemptAt *time.Time
	WaitsFor      *string // the id of the object it waits for, if any
	Digest        string  // SHA-256 of the body as received, hex
	BodyPurgedAt  *time.Time
}

func (inboxRow) TableName() string { return "federation_inbox" }

// activityMediaType reports whether a Content-Type is ActivityPub's.
func activityMediaType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case doc.MediaActivity:
		return true
	case "application/ld+json":
		return params["profile"] == doc.NSActivityStreams
	}
	return false
}

// verifyRequest checks the HTTP signature of r (whose body, for a POST, is
// body) and returns the signing peer's host: the keyId's host must be a
// peer (checked before anything is fetched), the Date within the skew, the
// Digest the body's, and the signature the key's; on a failed check the key
// is fetched again once.
func (s *Service) verifyRequest(r *http.Request, body []byte) (string, error) {
	p, err := parseSignatureHeader(r.Header.Get("Signature"))
	if err != nil {
		return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
	}
	host, err := keyHost(p.KeyID)
	if err != nil {
		return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
	}
	if !s.allowed(host) {
		return "", apperr.New(apperr.Forbidden, "%s is not a peer of this node", host)
	}
	// Peers sign with their node's key: any other keyId would only make this
	// node fetch a document from the peer on a stranger's behalf.
	want := s.peers[host] + "/actor#main-key"
	if !strings.EqualFold(p.KeyID, want) {
		return "", apperr.New(apperr.Unauthorised, "keyId %s is not %s, the key of the node %s", p.KeyID, want, host)
	}
	p.KeyID = want // as the caches know it, whatever the case sent
	post := r.Method == http.MethodPost
	if err := requireSigned(p, post); err != nil {
		return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
	}
	// The signed Host must be this node's: a request signed for another
	// node and replayed here is refused.
	if !strings.EqualFold(r.Host, s.host) {
		return "", apperr.New(apperr.Unauthorised, "the request was signed for host %s, not %s", r.Host, s.host)
	}
	if err := checkDate(r.Header.Get("Date"), time.Now(), s.cfg.Skew); err != nil {
		return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
	}
	if post {
		if err := checkDigest(r.Header.Get("Digest"), body); err != nil {
			return "", apperr.New(apperr.Unauthorised, "%s", err.Error())
		}
	}
	ctx := r.Context()
	key, err := s.key(ctx, p.KeyID, host, false)
	if err != nil {
		s.log.Warn("peer key", "key_id", p.KeyID, "err", err)
		return "", apperr.New(apperr.Unauthorised, "the key %s could not be fetched", p.KeyID)
	}
	if err := verifySignature(r, key); err != nil {
		// The peer may have a new key: fetch it once more, at most every
		// refetchEvery per peer, so that bad signatures cannot make this
		// node fetch keys without end.
		if !s.mayRefetch(host) {
			return "", apperr.New(apperr.Unauthorised, "the signature does not verify")
		}
		if key, err = s.key(ctx, p.KeyID, host, true); err != nil || verifySignature(r, key) != nil {
			return "", apperr.New(apperr.Unauthorised, "the signature does not verify")
		}
	}
	s.sawPeer(ctx, host)
	return host, nil
}

// refetchEvery bounds how often a peer's key is fetched again because a
// signature did not verify with the one known.
const refetchEvery = 30 * time.Second

// mayRefetch reports whether host's key may be fetched again now, and if so
// records that it is.
func (s *Service) mayRefetch(host string) bool {
	s.peerKeysMu.Lock()
	defer s.peerKeysMu.Unlock()
	if s.refetched == nil {
		s.refetched = map[string]time.Time{}
	}
	if last, ok := s.refetched[host]; ok && time.Since(last) < refetchEvery {
		return false
	}
	s.refetched[host] = time.Now()
	return true
}

// postInbox receives an activity: checked, stored raw under its id,
// answered 202; a worker applies it. A repeated activity is answered 202
// and stored once.
func (s *Service) postInbox(c echo.Context) error {
	r := c.Request()
	if !activityMediaType(r.Header.Get("Content-Type")) {
		s.metrics.inbox.WithLabelValues("bad_request").Inc()
		return &apperr.Error{Code: apperr.UnsupportedMedia,
			Message: "an activity is sent as " + doc.MediaActivity + " or " + doc.MediaLD}
	}
	if r.ContentLength > maxActivityBytes {
		return apperr.New(apperr.TooLarge, "an activity is at most %d bytes", maxActivityBytes)
	}
	body, err := readLimited(r.Body, maxActivityBytes)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, errTooLarge) || errors.As(err, &mbe) {
			return apperr.New(apperr.TooLarge, "an activity is at most %d bytes", maxActivityBytes)
		}
		return apperr.New(apperr.BadRequest, "the body could not be read")
	}
	signer, err := s.verifyRequest(r, body)
	if err != nil {
		result := "unauthorized"
		if apperr.CodeOf(err) == apperr.Forbidden {
			result = "forbidden"
		}
		s.metrics.inbox.WithLabelValues(result).Inc()
		return err
	}
	a, err := doc.ParseActivity(r.Context(), body)
	if err != nil {
		s.metrics.inbox.WithLabelValues("bad_request").Inc()
		return apperr.New(apperr.BadRequest, "%s", err.Error())
	}
	// The activity and its actor belong to the signer's node.
	for _, id := range []string{a.ID, a.Actor} {
		if h, _ := keyHost(id); h != signer {
			s.metrics.inbox.WithLabelValues("forbidden").Inc()
			return apperr.New(apperr.Forbidden, "%s does not belong to the signing node %s", id, signer)
		}
	}
	sum := sha256.Sum256(body)
	if err := s.precheck(r.Context(), a, signer); err != nil {
		if apperr.CodeOf(err) == apperr.Forbidden {
			s.metrics.inbox.WithLabelValues("forbidden").Inc()
			s.log.Warn("activity refused", "activity", a.ID, "type", a.Type, "from", signer, "err", err)
		}
		return err
	}
	row := inboxRow{ActivityID: a.ID, Actor: a.Actor, Type: a.Type, Body: string(body), State: "pending",
		ReceivedAt: time.Now().UTC(), Digest: hex.EncodeToString(sum[:])}
	inserted, err := s.storeActivity(r.Context(), row)
	if err != nil {
		return err
	}
	if !inserted {
		s.metrics.inbox.WithLabelValues("duplicate").Inc()
	} else {
		s.metrics.inbox.WithLabelValues("accepted").Inc()
		s.inboxWake.Poke()
	}
	return c.NoContent(http.StatusAccepted)
}

// inboxLoop applies received activities in the order they came.
func (s *Service) inboxLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		for {
			n, err := s.processInbox(ctx, 64)
			if err != nil && ctx.Err() == nil {
				s.log.Error("inbox", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.inboxWake:
		case <-t.C:
		}
	}
}

// maxApplyAttempts is how often an activity that fails to apply is tried
// (a database hiccup) before it is set aside as failed.
const maxApplyAttempts = 5

// processInbox applies up to limit pending activities and returns how
// many it handled. They are applied in one transaction, each in its own
// savepoint with its row's state: an activity is applied exactly once,
// even by replicas working at once, and one that fails is rolled back
// alone. One commit for the batch: a busy inbox keeps up.
func (s *Service) processInbox(ctx context.Context, limit int) (int, error) {
	var rows []inboxRow
	if err := s.db.WithContext(ctx).Where("state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)", time.Now().UTC()).
		Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return 0, fmt.Errorf("federation: read inbox: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	failed := make([]error, len(rows))
	var (
		applied int
		tickets []string // the tickets whose state was applied: what waits for them is due
	)
	err := s.inboxWriting(func() error {
		return s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error {
			applied, tickets = 0, tickets[:0]
			for i, row := range rows {
				failed[i] = nil
				a, err := s.applyOne(ctx, tx, row, &failed[i])
				if err != nil {
					return err
				}
				if a != nil {
					applied++
					if a.ObjectType == "Ticket" {
						tickets = append(tickets, a.ObjectID)
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("federation: apply: %w", err)
	}
	s.metrics.applied.WithLabelValues("ok").Add(float64(applied))
	for i, row := range rows {
		if failed[i] != nil {
			if err := s.applyFailed(ctx, row, failed[i]); err != nil {
				return 0, err
			}
		}
	}
	if applied > 0 {
		s.Wake() // what applying queued (the tracker's answers) goes now
		if err := s.retryWaiting(ctx, tickets); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// applyOne claims and applies one activity inside tx, in a savepoint, and
// returns it once applied (nil otherwise): on failure of the activity
// itself, the savepoint is rolled back and *failed says why; err is an error
// of the database, which fails the whole batch.
func (s *Service) applyOne(ctx context.Context, tx *gorm.DB, row inboxRow, failed *error) (applied *doc.Activity, err error) {
	err = s.db.WithTx(ctx, func(ctx context.Context, tx *gorm.DB) error { // a savepoint of ctx's transaction
		// Claim: only one worker moves a row out of pending.
		res := tx.Model(&inboxRow{}).Where("id = ? AND state = 'pending'", row.ID).
			Updates(map[string]any{"state": "applied", "processed_at": time.Now().UTC(), "attempts": row.Attempts + 1})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil // another worker had it
		}
		// Checked when received: read it again without go-fed's check.
		a, err := doc.ReadActivity([]byte(row.Body))
		if err == nil {
			var ignored bool
			ignored, err = s.apply(ctx, tx, a)
			if err == nil && ignored {
				return tx.Model(&inboxRow{}).Where("id = ?", row.ID).Update("state", "ignored").Error
			}
		}
		if err != nil {
			*failed = err
			return errRollback
		}
		applied = a
		return nil
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	return applied, err
}

// waitBackoff spaces the attempts of an activity that waits for another.
var waitBackoff = queue.Backoff{First: time.Second, Max: 5 * time.Minute}

// applyFailed records why an activity was not applied: it waits (for an
// activity it needs, or after a conflict), is tried again, or has failed.
func (s *Service) applyFailed(ctx context.Context, row inboxRow, applyErr error) error {
	// A conflict is a concurrent change of the same object on this node
	// (a member's edit): try again shortly, on the new version.
	if apperr.CodeOf(applyErr) == apperr.Conflict {
		applyErr = notYet(applyErr)
	}
	if errors.Is(applyErr, errNotYet) && time.Since(row.ReceivedAt) < maxWait {
		// It needs an activity not received yet: wait for it, with back-off;
		// it is due again at once when the ticket it waits for arrives.
		s.metrics.applied.WithLabelValues("waiting").Inc()
		next := time.Now().UTC().Add(waitBackoff.After(row.Attempts + 1))
		var waitsFor *string
		var we *waitError
		if errors.As(applyErr, &we) && we.object != "" {
			waitsFor = &we.object
		} else {
			s.timeWaiters.Store(true)
		}
		return s.db.WithContext(ctx).Model(&inboxRow{}).Where("id = ? AND state = 'pending'", row.ID).Updates(map[string]any{
			"attempts": row.Attempts + 1, "next_attempt_at": next, "waits_for": waitsFor,
			"last_error": truncate(applyErr.Error(), 500)}).Error
	}
	// Invalid content is final; anything else is tried again a few times.
	state := "pending"
	var ae *apperr.Error
	if errors.Is(applyErr, doc.ErrMalformed) || errors.As(applyErr, &ae) || row.Attempts+1 >= maxApplyAttempts {
		state = "failed"
	}
	s.metrics.applied.WithLabelValues(state).Inc()
	s.log.Warn("activity not applied", "activity", row.ActivityID, "type", row.Type, "state", state, "err", applyErr)
	upd := map[string]any{"state": state, "attempts": row.Attempts + 1, "last_error": truncate(applyErr.Error(), 500)}
	if state == "failed" {
		// Refused (not the sender's to send, or not valid) or failing for
		// good: nothing will apply it, so its body — perhaps a client's
		// data sent where it does not belong — is not kept. The digest
		// stays, and the error says why.
		now := time.Now().UTC()
		upd["body"], upd["body_purged_at"], upd["processed_at"] = "", now, now
	}
	// Only if no other replica applied it meanwhile.
	return s.db.WithContext(ctx).Model(&inboxRow{}).Where("id = ? AND state = 'pending'", row.ID).Updates(upd).Error
}

var errRollback = errors.New("rollback")

// errNotYet is the error of an activity that needs another one first (the
// ticket a comment is about): it waits and is tried again.
var errNotYet = errors.New("waits for an earlier activity")

// maxWait bounds how long an activity waits for the one it needs.
const maxWait = 48 * time.Hour

// waitError is errNotYet with what is waited for: the id of a ticket whose
// state is on its way, or "" for a wait on time alone (a conflict, an
// acceptance being recorded).
type waitError struct {
	object string
	err    error
}

func (e *waitError) Error() string        { return errNotYet.Error() + ": " + e.err.Error() }
func (e *waitError) Is(target error) bool { return target == errNotYet }
func (e *waitError) Unwrap() error        { return e.err }

func notYet(err error) error { return &waitError{err: err} }

// notYetFor is notYet for an activity that needs ticket apID first.
func notYetFor(apID string, err error) error { return &waitError{object: apID, err: err} }

// retryWaiting, after a batch applied something, makes due again the
// activities that wait for one of the tickets whose state was just applied,
// and those that wait on time alone (a conflict with a change made at that
// instant, an acceptance being recorded): what was applied may be what they
// needed. An activity waiting for another ticket keeps its back-off.
func (s *Service) retryWaiting(ctx context.Context, tickets []string) error {
	timeWaiters := s.timeWaiters.Swap(false)
	q := s.db.WithContext(ctx).Model(&inboxRow{}).Where("state = 'pending' AND next_attempt_at IS NOT NULL")
	switch {
	case timeWaiters && len(tickets) > 0:
		q = q.Where("(waits_for IS NULL OR waits_for IN ?)", tickets)
	case timeWaiters:
		q = q.Where("waits_for IS NULL")
	case len(tickets) > 0:
		q = q.Where("waits_for IN ?", tickets)
	default:
		return nil
	}
	return q.Updates(map[string]any{"next_attempt_at": nil, "waits_for": nil}).Error
}

// apply carries out one activity inside tx. It reports ignored for
// activities this node has nothing to do with.
func (s *Service) apply(ctx context.Context, tx *gorm.DB, a *doc.Activity) (ignored bool, err error) {
	work := s.tickets != nil
	switch {
	case a.Type == "Update" && a.ObjectType == "Person":
		return false, s.applyPersonUpdate(ctx, tx, a)
	case a.Type == "Delete" && (a.ObjectType == "" || a.ObjectType == "Person" || a.ObjectType == "Tombstone") &&
		strings.Contains(a.ObjectID, "/members/"):
		return false, s.applyPersonDelete(ctx, tx, a)
	case a.Type == "Delete" && a.Raw["coopnetErase"] == "client" && s.tickets != nil:
		return false, s.applyErase(ctx, tx, a)
	case !work:
	case (a.Type == "Offer" || a.Type == "Update") && a.ObjectType == "Ticket":
		return false, s.applyTicket(ctx, tx, a)
	case a.Type == "Create" && a.ObjectType == "Note":
		return false, s.applyNote(ctx, tx, a)
	case a.Type == "Resolve" && a.ObjectID != "":
		return false, s.applyResolve(ctx, tx, a, a.ObjectID, tickets.StatusResolved)
	case a.Type == "Undo" && a.ObjectType == "Resolve":
		to := tickets.StatusInProgress
		if st, _ := a.Raw["status"].(string); st != "" {
			to = tickets.Status(st)
		}
		return false, s.applyResolve(ctx, tx, a, doc.IDOf(a.Object["object"]), to)
	case a.Type == "Accept" && a.ObjectType == "Offer":
		return false, s.applyOfferAccepted(ctx, tx, a)
	case a.Type == "Invite" && a.ObjectType == "Event":
		return false, s.applyInvite(ctx, tx, a)
	case (a.Type == "Accept" || a.Type == "TentativeAccept" || a.Type == "Reject") && a.ObjectType == "Invite":
		return false, s.applyAnswer(ctx, tx, a)
	}
	return true, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
