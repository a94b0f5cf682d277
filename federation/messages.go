package federation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

// Signed routing messages. NATS does not say who published a message, and
// every region's node may publish on the routing plane: each message a
// node sends there (questions and answers, offers and what ends them,
// acceptances and releases and their replies, presence) carries a
// signature by the sending node's routing key, over the subject, the time
// of signing and the body, which the receiving node checks against the
// node it must come from: by host (the node of a ticket, of a member) or
// by region (a question's asker, an answering region).
//
// The routing key is an Ed25519 key of the node, apart from its RSA
// ActivityPub key: a forward signs and checks about a dozen messages, and
// Ed25519 signs in tens of microseconds where RSA-2048 takes about a
// millisecond. Its public half is published in the node's actor document
// (coopnetRoutingKey), with the node's region (preferredUsername), and
// fetched from peers as their ActivityPub keys are.

// routingKeyOwner is the owner of the node's routing key in federation_keys.
const routingKeyOwner = "node:routing"

// RoutingKeyID is the id of this node's routing key.
func (s *Service) RoutingKeyID() string { return s.NodeActor() + "#routing-key" }

// messageDigest is what a routing message's signature covers: the
// subject, the time of signing (Unix microseconds) and the body.
func messageDigest(subject string, at time.Time, data []byte) []byte {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{'\n'})
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.UnixMicro()))
	h.Write(ts[:])
	h.Write([]byte{'\n'})
	h.Write(data)
	return h.Sum(nil)
}

// routingKey returns this node's routing key, made on first use (two
// replicas making one at once agree on the first stored).
func (s *Service) routingKey(ctx context.Context) (ed25519.PrivateKey, string, error) {
	s.routingMu.Lock()
	defer s.routingMu.Unlock()
	if s.routingPriv != nil {
		return s.routingPriv, s.routingPub, nil
	}
	var row keyRow
	if err := s.db.WithContext(ctx).Where("owner = ?", routingKeyOwner).Limit(1).Find(&row).Error; err != nil {
		return nil, "", fmt.Errorf("federation: read the routing key: %w", err)
	}
	if row.Owner == "" {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, "", fmt.Errorf("federation: make the routing key: %w", err)
		}
		pubDER, _ := x509.MarshalPKIXPublicKey(pub)
		privDER, _ := x509.MarshalPKCS8PrivateKey(priv)
		row = keyRow{Owner: routingKeyOwner, CreatedAt: time.Now().UTC(),
			PublicPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
			PrivatePEM: s.keys.seal(routingKeyOwner, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})))}
		if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return nil, "", fmt.Errorf("federation: store the routing key: %w", err)
		}
		if err := s.db.WithContext(ctx).Where("owner = ?", routingKeyOwner).Take(&row).Error; err != nil {
			return nil, "", fmt.Errorf("federation: read the routing key: %w", err)
		}
	}
	plain, err := s.keys.open(routingKeyOwner, row.PrivatePEM)
	if err != nil {
		return nil, "", fmt.Errorf("federation: the routing key: %w", err)
	}
	b, _ := pem.Decode([]byte(plain))
	if b == nil {
		return nil, "", errors.New("federation: the routing key is damaged")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	priv, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, "", errors.New("federation: the routing key is not an Ed25519 key")
	}
	s.routingPriv, s.routingPub = priv, row.PublicPEM
	return priv, row.PublicPEM, nil
}

// SignMessage signs data sent on subject at time at as this node: it
// returns the key's id and the signature (base64).
func (s *Service) SignMessage(ctx context.Context, subject string, at time.Time, data []byte) (keyID, signature string, err error) {
	priv, _, err := s.routingKey(ctx)
	if err != nil {
		return "", "", err
	}
	return s.RoutingKeyID(), base64.StdEncoding.EncodeToString(ed25519.Sign(priv, messageDigest(subject, at, data))), nil
}

// peerRouting is what this node knows of a peer for the routing plane:
// its region and its routing key.
type peerRouting struct {
	region string
	key    ed25519.PublicKey
}

// VerifyMessage checks that data sent on subject at time at, signed with
// keyID, was signed by a node this node knows and that this node is the
// one it must come from: the node at host when host is given, the node of
// region when region is given (this node itself included). It reports
// checked false when there is no key to check against (a coop that routes
// over NATS without federating: no peers); with peers, a signer that is
// not one of them, or not the node expected, does not sign validly. valid
// false is a signature that does not hold; err, a failure to check it (the
// peer's document could not be fetched).
func (s *Service) VerifyMessage(ctx context.Context, host, region, subject string, at time.Time, data []byte, keyID, signature string) (checked, valid bool, err error) {
	signer, err := keyHost(keyID)
	if err != nil {
		return true, false, nil
	}
	own := signer == s.host
	if !own && !s.allowed(signer) {
		return len(s.peers) > 0, false, nil
	}
	if host != "" && !strings.EqualFold(host, signer) {
		return true, false, nil
	}
	base := s.cfg.PublicURL
	if !own {
		base = s.peers[signer]
	}
	if !strings.EqualFold(keyID, base+"/actor#routing-key") {
		return true, false, nil
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return true, false, nil
	}
	digest := messageDigest(subject, at, data)
	if own {
		priv, _, err := s.routingKey(ctx)
		if err != nil {
			return true, false, err
		}
		if region != "" && region != s.cfg.Region {
			return true, false, nil
		}
		return true, ed25519.Verify(priv.Public().(ed25519.PublicKey), digest, sig), nil
	}
	p, err := s.peerRouting(ctx, signer, false)
	if err != nil {
		return true, false, fmt.Errorf("federation: the routing key of %s: %w", signer, err)
	}
	if ed25519.Verify(p.key, digest, sig) && (region == "" || region == p.region) {
		return true, true, nil
	}
	// The peer may have a new key (or a region set anew): fetch it once
	// more, within bounds.
	if s.mayRefetch(signer) {
		if p, err = s.peerRouting(ctx, signer, true); err == nil && ed25519.Verify(p.key, digest, sig) &&
			(region == "" || region == p.region) {
			return true, true, nil
		}
	}
	return true, false, nil
}

// PeerRegion is the region of the peer node at host, as its actor says it.
func (s *Service) PeerRegion(ctx context.Context, host string) (string, error) {
	p, err := s.peerRouting(ctx, strings.ToLower(host), false)
	if err != nil {
		return "", err
	}
	return p.region, nil
}

// peerRouting returns a peer's region and routing key: from memory, the
// database, or its actor document (refresh skips the first two).
func (s *Service) peerRouting(ctx context.Context, host string, refresh bool) (peerRouting, error) {
	if !refresh {
		s.routingMu.Lock()
		p, ok := s.peerRoutes[host]
		s.routingMu.Unlock()
		if ok {
			return p, nil
		}
		var row peerRow
		if err := s.db.WithContext(ctx).Where("host = ?", host).Limit(1).Find(&row).Error; err != nil {
			return peerRouting{}, fmt.Errorf("federation: peer %s: %w", host, err)
		}
		if row.Region != "" && row.RoutingKeyPEM != "" {
			if k, err := parseRoutingKey(row.RoutingKeyPEM); err == nil {
				p := peerRouting{region: row.Region, key: k}
				s.cacheRouting(host, p)
				return p, nil
			}
		}
	}
	base, ok := s.peers[host]
	if !ok {
		return peerRouting{}, fmt.Errorf("federation: %s is not a peer", host)
	}
	obj, err := s.fetchJSON(ctx, base+"/actor")
	if err != nil {
		return peerRouting{}, err
	}
	return s.keepRouting(ctx, host, obj)
}

// keepRouting reads a peer's region and routing key from its actor
// document and keeps them. Two peers may not claim one region: routing
// answers are believed by region.
func (s *Service) keepRouting(ctx context.Context, host string, obj map[string]any) (peerRouting, error) {
	base := s.peers[host]
	if id, _ := obj["id"].(string); !strings.EqualFold(id, base+"/actor") {
		return peerRouting{}, fmt.Errorf("federation: the actor of %s is %q", host, id)
	}
	region, _ := obj["preferredUsername"].(string)
	if region == "" || len(region) > 64 {
		return peerRouting{}, fmt.Errorf("federation: the actor of %s names no region", host)
	}
	rk, _ := obj["coopnetRoutingKey"].(map[string]any)
	keyPEM, _ := rk["publicKeyPem"].(string)
	if id, _ := rk["id"].(string); !strings.EqualFold(id, base+"/actor#routing-key") || keyPEM == "" {
		return peerRouting{}, fmt.Errorf("federation: %s publishes no routing key (an older coopnet?)", host)
	}
	k, err := parseRoutingKey(keyPEM)
	if err != nil {
		return peerRouting{}, fmt.Errorf("federation: the routing key of %s: %w", host, err)
	}
	if region == s.cfg.Region {
		return peerRouting{}, fmt.Errorf("federation: %s says it is region %s, this node's own", host, region)
	}
	var other int64
	if err := s.db.WithContext(ctx).Model(&peerRow{}).Where("region = ? AND host <> ?", region, host).Count(&other).Error; err != nil {
		return peerRouting{}, err
	}
	if other > 0 {
		return peerRouting{}, fmt.Errorf("federation: %s says it is region %s, which another peer is already", host, region)
	}
	if err := s.db.WithContext(ctx).Model(&peerRow{}).Where("host = ?", host).
		Updates(map[string]any{"region": region, "routing_key_pem": keyPEM}).Error; err != nil {
		return peerRouting{}, fmt.Errorf("federation: keep the routing key of %s: %w", host, err)
	}
	p := peerRouting{region: region, key: k}
	s.cacheRouting(host, p)
	return p, nil
}

func (s *Service) cacheRouting(host string, p peerRouting) {
	s.routingMu.Lock()
	s.peerRoutes[host] = p
	s.routingMu.Unlock()
}

// parseRoutingKey reads a PEM (PKIX) Ed25519 public key.
func parseRoutingKey(s string) (ed25519.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("no PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	pk, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("not an Ed25519 key")
	}
	return pk, nil
}
