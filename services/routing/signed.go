package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/coopnet/coopnet/services/apperr"
)

// Signer proves which node sent a routing request, as NATS does not: the
// requests that change who does a job (accepting an offer, giving the job
// back) are signed by the member's node and checked by the ticket's node.
// Federation provides it, with the nodes' ActivityPub keys.
type Signer interface {
	SignMessage(ctx context.Context, subject string, data []byte) (keyID, signature string, err error)
	// VerifyMessage reports checked false when host is not a node it
	// knows a key for; valid, whether the signature holds; err, a failure
	// to check it.
	VerifyMessage(ctx context.Context, host, subject string, data []byte, keyID, signature string) (checked, valid bool, err error)
}

// Headers of a signed request.
const (
	headerKeyID     = "Coopnet-Key-Id"
	headerSignature = "Coopnet-Signature"
)

// SetSigner makes the node sign its acceptances and releases and check
// those it receives. Set once, before Start.
func (s *Service) SetSigner(sg Signer) { s.signer = sg }

// request sends a request on subject, signed when a signer is set.
func (s *Service) request(ctx context.Context, subject string, data []byte) (*nats.Msg, error) {
	msg, err := s.newMsg(ctx, subject, data, true)
	if err != nil {
		return nil, err
	}
	return s.bus.Conn.RequestMsgWithContext(ctx, msg)
}

// newMsg makes a message to send on subject, with the node's signature in
// its headers when signed and a signer is set.
func (s *Service) newMsg(ctx context.Context, subject string, data []byte, signed bool) (*nats.Msg, error) {
	msg := nats.NewMsg(subject)
	msg.Data = data
	if signed && s.signer != nil {
		keyID, sig, err := s.signer.SignMessage(ctx, subject, data)
		if err != nil {
			return nil, err
		}
		msg.Header.Set(headerKeyID, keyID)
		msg.Header.Set(headerSignature, sig)
	}
	return msg, nil
}

// fromMembersNode checks that a request received over NATS in the name of
// a member (handle, of region) comes from that member's node, and if not,
// returns the code and message to answer (see signedBy). A member of this
// node's region acts on this node, never over NATS.
func (s *Service) fromMembersNode(ctx context.Context, m *nats.Msg, region, handle string) (code, message string) {
	if region == s.cfg.Region {
		return "forbidden", "a member of this region acts on its own node"
	}
	return s.signedBy(ctx, m, handle)
}

// reply is a decision of the ticket's node, sent back over NATS.
type reply interface{ version() int }

func (r *AcceptReply) version() int  { return r.V }
func (r *ReleaseReply) version() int { return r.V }

// askOrigin sends req (kind "accept" or "release") to the node of region
// origin, signed, and decodes its answer into rep. kept says what the
// member keeps meanwhile, for the error when the origin cannot be reached.
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
	if err := decode(msg.Data, rep); err != nil || rep.version() != wireVersion {
		s.drop(kind+"_reply", err)
		return fmt.Errorf("routing: %s: bad reply from %s", kind, origin)
	}
	return nil
}

// signedBy checks that a request received names a member of the node that
// signed it (handle is the member's full handle, name@host), and if not,
// returns the code and message to answer: "forbidden" for a signature that
// does not hold, "unavailable" when it could not be checked. Without a
// signer, or for a host with no known key, nothing is checked.
func (s *Service) signedBy(ctx context.Context, m *nats.Msg, handle string) (code, message string) {
	_, host, _ := strings.Cut(handle, "@")
	err := s.verifySigned(ctx, inMsg{subject: m.Subject, data: m.Data, header: m.Header}, host)
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

// inMsg is a message received over NATS, with its headers: a request, or
// a durable message of this region's job queue.
type inMsg struct {
	subject string
	data    []byte
	header  nats.Header
}

// verifySigned checks that a message was signed by the node at host: nil
// when it was, or when nothing can be checked (no signer; a coop that
// routes without federating); an errMalformed error when the signature
// does not hold (dropped, counted and logged by the caller); another error
// when the node's key could not be fetched (a job message comes again
// later; a request is answered "unavailable").
func (s *Service) verifySigned(ctx context.Context, m inMsg, host string) error {
	if s.signer == nil {
		return nil
	}
	var keyID, sig string
	if m.header != nil {
		keyID, sig = m.header.Get(headerKeyID), m.header.Get(headerSignature)
	}
	// Within a member's wait for an acceptance, not the HTTP client's: a
	// peer that does not answer must not hold every acceptance for long.
	vctx, cancel := context.WithTimeout(ctx, acceptTimeout/2)
	defer cancel()
	checked, valid, err := s.signer.VerifyMessage(vctx, host, m.subject, m.data, keyID, sig)
	switch {
	case err != nil:
		return fmt.Errorf("routing: check the signature of %s: %w", m.subject, err)
	case checked && !valid:
		return bad("%s not signed by %s", m.subject, host)
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
