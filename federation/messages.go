package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"time"

	"github.com/coopnet/coopnet/federation/sign"
)

// RoutingKeyID is the id of this node's routing key.
func (s *Service) RoutingKeyID() string { return s.NodeActor() + "#routing-key" }

// SignMessage signs data sent on subject at time at as this node: it
// returns the key's id and the signature (base64).
func (s *Service) SignMessage(ctx context.Context, subject string, at time.Time, data []byte) (keyID, signature string, err error) {
	priv, _, err := s.keys.RoutingKey(ctx)
	if err != nil {
		return "", "", err
	}
	return s.RoutingKeyID(), base64.StdEncoding.EncodeToString(ed25519.Sign(priv, sign.MessageDigest(subject, at, data))), nil
}

// VerifyMessage checks a routing message's signature by the node at host
// (when given) of region (when given): see peers.Peers.VerifyMessage.
func (s *Service) VerifyMessage(ctx context.Context, host, region, subject string, at time.Time, data []byte, keyID, signature string) (checked, valid bool, err error) {
	return s.transport.VerifyMessage(ctx, host, region, subject, at, data, keyID, signature)
}

// PeerRegion is the region of the peer node at host, as its actor says it.
func (s *Service) PeerRegion(ctx context.Context, host string) (string, error) {
	return s.transport.PeerRegion(ctx, host)
}
