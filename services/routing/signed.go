package routing

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go"
)

// Signer proves which node sent a routing request, as NATS does not: the
// requests that change who does a job (accepting an offer, giving the job
// back) are signed by the member's node and checked by the ticket's node.
// Federation provides it, with the nodes' ActivityPub keys.
type Signer interface {
	SignMessage(ctx context.Context, subject string, data []byte) (keyID, signature string, err error)
	// VerifyMessage reports checked false, without error, when host is
	// not a node it knows a key for.
	VerifyMessage(ctx context.Context, host, subject string, data []byte, keyID, signature string) (checked bool, err error)
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
	msg := nats.NewMsg(subject)
	msg.Data = data
	if s.signer != nil {
		keyID, sig, err := s.signer.SignMessage(ctx, subject, data)
		if err != nil {
			return nil, err
		}
		msg.Header.Set(headerKeyID, keyID)
		msg.Header.Set(headerSignature, sig)
	}
	return s.bus.Conn.RequestMsgWithContext(ctx, msg)
}

// signedBy checks that a request received names a member of the node that
// signed it: handle is the member's full handle (name@host). Without a
// signer, or for a host with no known key, nothing is checked.
func (s *Service) signedBy(ctx context.Context, m *nats.Msg, handle string) error {
	if s.signer == nil {
		return nil
	}
	_, host, _ := strings.Cut(handle, "@")
	var keyID, sig string
	if m.Header != nil {
		keyID, sig = m.Header.Get(headerKeyID), m.Header.Get(headerSignature)
	}
	_, err := s.signer.VerifyMessage(ctx, host, m.Subject, m.Data, keyID, sig)
	return err
}
