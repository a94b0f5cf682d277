package federation

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Signed routing messages. NATS does not say who published a message: the
// routing plane's requests that change who does a job (a member's node
// accepting an offer, or giving the job back) carry a signature by the
// sending node's ActivityPub key, over the subject and the body, which the
// deciding node checks against the key of the node hosting the member.

// messageDigest is what a routing message's signature covers.
func messageDigest(subject string, data []byte) []byte {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{'\n'})
	h.Write(data)
	return h.Sum(nil)
}

// SignMessage signs data sent on subject as this node: it returns the key's
// id and the signature (base64).
func (s *Service) SignMessage(ctx context.Context, subject string, data []byte) (keyID, signature string, err error) {
	kp, err := s.keys.get(ctx, "node")
	if err != nil {
		return "", "", err
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, kp.private, crypto.SHA256, messageDigest(subject, data))
	if err != nil {
		return "", "", fmt.Errorf("federation: sign a message: %w", err)
	}
	return s.NodeActor() + "#main-key", base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyMessage checks that data sent on subject was signed by the node at
// host, this node itself included. It reports checked false when host is
// another node and this node has no peers: there is no key to check
// against (a coop that routes over NATS without federating); with peers, a
// host that is not one of them does not sign validly. valid false is a
// signature that does not hold; err, a failure to check it (the peer's key
// could not be fetched).
func (s *Service) VerifyMessage(ctx context.Context, host, subject string, data []byte, keyID, signature string) (checked, valid bool, err error) {
	host = strings.ToLower(host)
	own := host == s.host // a message of this node to itself (a job of its own region)
	want := s.NodeActor() + "#main-key"
	if !own {
		base, ok := s.peers[host]
		if !ok {
			// With peers configured, a member's node must be one of them.
			return len(s.peers) > 0, false, nil
		}
		want = base + "/actor#main-key"
	}
	if !strings.EqualFold(keyID, want) {
		return true, false, nil
	}
	keyID = want // as the caches know it, whatever the case sent
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) == 0 || len(sig) > 1024 {
		return true, false, nil
	}
	digest := messageDigest(subject, data)
	if own {
		kp, err := s.keys.get(ctx, "node")
		if err != nil {
			return true, false, err
		}
		return true, rsa.VerifyPKCS1v15(&kp.private.PublicKey, crypto.SHA256, digest, sig) == nil, nil
	}
	key, err := s.key(ctx, keyID, host, false)
	if err != nil {
		return true, false, fmt.Errorf("federation: the key of %s: %w", host, err)
	}
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest, sig) == nil {
		return true, true, nil
	}
	// The peer may have a new key: fetch it once more, within bounds.
	if s.mayRefetch(host) {
		if key, err = s.key(ctx, keyID, host, true); err == nil && rsa.VerifyPKCS1v15(key, crypto.SHA256, digest, sig) == nil {
			return true, true, nil
		}
	}
	return true, false, nil
}
