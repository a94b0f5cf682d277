package federation

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/storage"
)

// keyBits is the size of actors' RSA keys: RSA because Mastodon and most
// of the fediverse verify only rsa-sha256; 2048 bits as they use.
const keyBits = 2048

type keyRow struct {
	Owner      string `gorm:"primaryKey"`
	PublicPEM  string `gorm:"column:public_pem"`
	PrivatePEM string `gorm:"column:private_pem"`
	CreatedAt  time.Time
}

func (keyRow) TableName() string { return "federation_keys" }

// keyPair is an actor's keys, the public one also as PEM.
type keyPair struct {
	private   *rsa.PrivateKey
	publicPEM string
}

// keyStore hands out actors' key pairs, creating each on first use. The
// private keys stay in the database and in memory: no route serves them.
type keyStore struct {
	db    *storage.DB
	bits  int
	mu    sync.Mutex
	cache map[string]*keyPair
}

func newKeyStore(db *storage.DB, bits int) *keyStore {
	return &keyStore{db: db, bits: bits, cache: map[string]*keyPair{}}
}

// get returns the key pair of owner ("node" or "member:<id>"), creating it
// if it has none. Two replicas creating one at once agree on the first
// stored.
func (k *keyStore) get(ctx context.Context, owner string) (*keyPair, error) {
	k.mu.Lock()
	kp := k.cache[owner]
	k.mu.Unlock()
	if kp != nil {
		return kp, nil
	}
	var row keyRow
	err := k.db.WithContext(ctx).Where("owner = ?", owner).Limit(1).Find(&row).Error
	if err != nil {
		return nil, fmt.Errorf("federation: read key of %s: %w", owner, err)
	}
	if row.Owner == "" {
		priv, err := rsa.GenerateKey(rand.Reader, k.bits)
		if err != nil {
			return nil, fmt.Errorf("federation: generate key: %w", err)
		}
		pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("federation: %w", err)
		}
		row = keyRow{Owner: owner, CreatedAt: time.Now().UTC(),
			PublicPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
			PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(priv)}))}
		if err := k.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return nil, fmt.Errorf("federation: store key of %s: %w", owner, err)
		}
		if err := k.db.WithContext(ctx).Where("owner = ?", owner).Take(&row).Error; err != nil {
			return nil, fmt.Errorf("federation: read key of %s: %w", owner, err)
		}
	}
	priv, err := parsePrivateKey(row.PrivatePEM)
	if err != nil {
		return nil, fmt.Errorf("federation: key of %s: %w", owner, err)
	}
	kp = &keyPair{private: priv, publicPEM: row.PublicPEM}
	k.mu.Lock()
	k.cache[owner] = kp
	k.mu.Unlock()
	return kp, nil
}

func mustPKCS8(k *rsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	return b
}

func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// parsePublicKey reads a PEM public key as peers publish it: PKIX, or
// PKCS#1 as some servers still do. Only RSA keys of 2048 bits or more.
func parsePublicKey(s string) (*rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("publicKeyPem holds no PEM block")
	}
	var pub any
	var err error
	switch b.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", b.Type)
	}
	if err != nil {
		return nil, err
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA public key")
	}
	if rk.N.BitLen() < 2048 {
		return nil, fmt.Errorf("RSA key of %d bits: at least 2048 needed", rk.N.BitLen())
	}
	return rk, nil
}
