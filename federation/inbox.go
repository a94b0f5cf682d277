package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/federation/inbox"
	"github.com/coopnet/coopnet/federation/sign"
	"github.com/coopnet/coopnet/federation/transport"
	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/tickets"
)

// maxActivityBytes is the largest activity accepted.
const maxActivityBytes = 1 << 20

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
	body, err := transport.ReadLimited(r.Body, maxActivityBytes)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, transport.ErrTooLarge) || errors.As(err, &mbe) {
			return apperr.New(apperr.TooLarge, "an activity is at most %d bytes", maxActivityBytes)
		}
		return apperr.New(apperr.BadRequest, "the body could not be read")
	}
	signer, err := s.transport.VerifyRequest(r, body)
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
		if h, _ := sign.KeyHost(id); h != signer {
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
	row := inbox.Row{ActivityID: a.ID, Actor: a.Actor, Type: a.Type, Body: string(body), State: "pending",
		ReceivedAt: time.Now().UTC(), Digest: hex.EncodeToString(sum[:])}
	inserted, err := s.inbox.Store(r.Context(), row)
	if err != nil {
		return err
	}
	if !inserted {
		s.metrics.inbox.WithLabelValues("duplicate").Inc()
	} else {
		s.metrics.inbox.WithLabelValues("accepted").Inc()
		s.inbox.Wake()
	}
	return c.NoContent(http.StatusAccepted)
}

// apply carries out one activity inside tx. It reports ignored for
// activities this node has nothing to do with.
// applier is the service as the inbox sees it.
type applier struct{ s *Service }

func (a applier) Apply(ctx context.Context, tx *gorm.DB, act *doc.Activity) (bool, error) {
	return a.s.apply(ctx, tx, act)
}

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
