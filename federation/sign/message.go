package sign

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// routingKeyOwner is the owner of the node's routing key in federation_keys.
const routingKeyOwner = "node:routing"

// MessageDigest is what a routing message's signature covers: the
// subject, the time of signing (Unix microseconds) and the body.
func MessageDigest(subject string, at time.Time, data []byte) []byte {
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

// ParseRoutingKey reads a PEM (PKIX) Ed25519 public key.
func ParseRoutingKey(s string) (ed25519.PublicKey, error) {
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

// RoutingKey returns this node's routing key, made on first use (two
// replicas making one at once agree on the first stored).
func (k *Store) RoutingKey(ctx context.Context) (ed25519.PrivateKey, string, error) {
	k.routingMu.Lock()
	defer k.routingMu.Unlock()
	if k.routingPriv != nil {
		return k.routingPriv, k.routingPub, nil
	}
	var row keyRow
	if err := k.db.WithContext(ctx).Where("owner = ?", routingKeyOwner).Limit(1).Find(&row).Error; err != nil {
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
			PrivatePEM: k.seal(routingKeyOwner, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})))}
		if err := k.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return nil, "", fmt.Errorf("federation: store the routing key: %w", err)
		}
		if err := k.db.WithContext(ctx).Where("owner = ?", routingKeyOwner).Take(&row).Error; err != nil {
			return nil, "", fmt.Errorf("federation: read the routing key: %w", err)
		}
	}
	plain, err := k.open(routingKeyOwner, row.PrivatePEM)
	if err != nil {
		return nil, "", fmt.Errorf("federation: the routing key: %w", err)
	}
	b, _ := pem.Decode([]byte(plain))
	if b == nil {
		return nil, "", errors.New("federation: the routing key is damaged")
	}
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	priv, ok := key.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, "", errors.New("federation: the routing key is not an Ed25519 key")
	}
	k.routingPriv, k.routingPub = priv, row.PublicPEM
	return priv, row.PublicPEM, nil
}
