package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/coopnet/coopnet/services/apperr"
)

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
	// message cannot be replayed long after (see fresh).
	headerSignedAt = "Coopnet-Signed-At"
)

// SetSigner makes the node sign what it publishes and check what it
// receives. Set once, before Start.
func (s *Service) SetSigner(sg Signer) { s.signer = sg }

// sender is the node a message must come from: the node of Region, or the
// node at Host, or both.
type sender struct{ host, region string }

// request sends a request on subject, signed when a signer is set.
func (s *Service) request(ctx context.Context, subject string, data []byte) (*nats.Msg, error) {
	msg, err := s.newMsg(ctx, subject, data)
	if err != nil {
		return nil, err
	}
	return s.bus.Conn.RequestMsgWithContext(ctx, msg)
}

// newMsg makes a message to send on subject, signed when a signer is set.
func (s *Service) newMsg(ctx context.Context, subject string, data []byte) (*nats.Msg, error) {
	msg := nats.NewMsg(subject)
	msg.Data = data
	if s.signer != nil {
		at := time.Now()
		keyID, sig, err := s.signer.SignMessage(ctx, subject, at, data)
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
func (s *Service) respond(ctx context.Context, m *nats.Msg, data []byte) {
	if !strings.HasPrefix(m.Reply, "_INBOX.") {
		if m.Reply != "" {
			s.drop("reply", fmt.Errorf("reply subject %q of %s is not an inbox", m.Reply, m.Subject))
		}
		return
	}
	msg, err := s.newMsg(ctx, m.Reply, data)
	if err != nil {
		s.log.Warn("routing: sign an answer", "subject", m.Subject, "err", err)
		return
	}
	_ = m.RespondMsg(msg)
}

// respondJSON answers request m with v as JSON, signed.
func (s *Service) respondJSON(ctx context.Context, m *nats.Msg, v any) {
	b, _ := json.Marshal(v)
	s.respond(ctx, m, b)
}

// fromMembersNode checks that a request received over NATS in the name of
// a member (handle, of region) comes from that member's node, and if not,
// returns the code and message to answer (see signedBy). A member of this
// node's region acts on this node, never over NATS.
func (s *Service) fromMembersNode(ctx context.Context, m *nats.Msg, region, handle string) (code, message string) {
	if region == s.cfg.Region {
		return "forbidden", "a member of this region acts on its own node"
	}
	return s.signedBy(ctx, m, handle, region)
}

// reply is a decision of the ticket's node, sent back over NATS.
type reply interface{ version() int }

func (r *AcceptReply) version() int  { return r.V }
func (r *ReleaseReply) version() int { return r.V }

// askOrigin sends req (kind "accept" or "release") to the node of region
// origin, signed, and decodes its answer, which must be signed by that
// node, into rep. kept says what the member keeps meanwhile, for the
// error when the origin cannot be reached.
func (s *Service) askOrigin(ctx context.Context, kind, origin string, req any, rep reply, kept string) error {
	if !s.bus.Connected() {
		return apperr.New(apperr.Unavailable, "the routing network is unreachable right now; %s, try again in a moment", kept)
	}
	b, _ := json.Marshal(req)
	rctx, cancel := context.WithTimeout(ctx, acceptTimeout)
	msg, err := s.request(rctx, "coopnet.v1."+kind+"."+origin, b)
	cancel()
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return apperr.New(apperr.Unavailable, "the node of region %s does not answer right now; %s, try again in a moment", origin, kept)
		}
		return fmt.Errorf("routing: %s: %w", kind, err)
	}
	if err := s.verifySigned(ctx, inMsg{subject: msg.Subject, data: msg.Data, header: msg.Header}, sender{region: origin}, true); err != nil {
		if errors.Is(err, errMalformed) {
			s.drop(kind+"_reply", err)
			return fmt.Errorf("routing: %s: a reply not signed by the node of %s", kind, origin)
		}
		return apperr.New(apperr.Unavailable, "the answer of region %s could not be checked; %s, try again in a moment", origin, kept)
	}
	if err := decode(msg.Data, rep); err != nil || rep.version() != wireVersion {
		s.drop(kind+"_reply", err)
		return fmt.Errorf("routing: %s: bad reply from %s", kind, origin)
	}
	return nil
}

// signedBy checks that a request received names a member of the node that
// signed it (handle is the member's full handle, name@host, of region),
// and if not, returns the code and message to answer: "forbidden" for a
// signature that does not hold, "unavailable" when it could not be
// checked. Without a signer, or for a host with no known key, nothing is
// checked.
func (s *Service) signedBy(ctx context.Context, m *nats.Msg, handle, region string) (code, message string) {
	_, host, _ := strings.Cut(handle, "@")
	err := s.verifySigned(ctx, inMsg{subject: m.Subject, data: m.Data, header: m.Header}, sender{host: host, region: region}, true)
	switch {
	case errors.Is(err, errMalformed):
		s.drop(strings.TrimPrefix(strings.TrimSuffix(m.Subject, "."+s.cfg.Region), "coopnet.v1."), err)
		return "forbidden", "the request is not signed by the member's node"
	case err != nil:
		s.log.Warn("routing: a request's signature could not be checked", "subject", m.Subject, "host", host, "err", err)
		return "unavailable", "the key of the member's node could not be fetched: try again in a moment"
	}
	return "", ""
}

// inMsg is a message received over NATS, with its headers: a request, an
// answer, or a durable message of this region's job queue.
type inMsg struct {
	subject string
	data    []byte
	header  nats.Header
}

// verifySigned checks that a message was signed by the node it must come
// from: nil when it was, or when nothing can be checked (no signer; a coop
// that routes without federating); an errMalformed error when the
// signature does not hold, or, for a fresh message (request-reply: a
// question, an answer, an acceptance…), when it was signed longer ago (or
// later) than the signature skew — it is dropped, counted and logged by
// the caller; another error when the node's key could not be fetched (a
// job message comes again later; a request is answered "unavailable").
func (s *Service) verifySigned(ctx context.Context, m inMsg, want sender, fresh bool) error {
	if s.signer == nil {
		return nil
	}
	var keyID, sig, signedAt string
	if m.header != nil {
		keyID, sig, signedAt = m.header.Get(headerKeyID), m.header.Get(headerSignature), m.header.Get(headerSignedAt)
	}
	us, err := strconv.ParseInt(signedAt, 10, 64)
	if err != nil {
		return bad("%s: no time of signing", m.subject)
	}
	at := time.UnixMicro(us)
	if d := time.Since(at); fresh && (d > s.cfg.Skew || d < -s.cfg.Skew) {
		return bad("%s signed at %s, beyond the allowed skew of %s", m.subject, at.UTC().Format(time.RFC3339), s.cfg.Skew)
	}
	// Within a member's wait for an acceptance, not the HTTP client's: a
	// peer that does not answer must not hold every acceptance for long.
	vctx, cancel := context.WithTimeout(ctx, acceptTimeout/2)
	defer cancel()
	checked, valid, err := s.signer.VerifyMessage(vctx, want.host, want.region, m.subject, at, m.data, keyID, sig)
	switch {
	case err != nil:
		return fmt.Errorf("routing: check the signature of %s: %w", m.subject, err)
	case checked && !valid:
		return bad("%s not signed by the node of %s", m.subject, strings.Trim(want.host+" "+want.region, " "))
	}
	return nil
}

// apHost is the host of an ActivityPub id: the node the object lives on.
func apHost(id string) string {
	u, err := url.Parse(id)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}
