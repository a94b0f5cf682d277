package sign

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/scrypt"
	"gorm.io/gorm/clause"

	"github.com/coopnet/coopnet/services/storage"
)

// KeyBits is the size of actors' RSA keys: RSA because Mastodon and most
// of the fediverse verify only rsa-sha256; 2048 bits as they use.
const KeyBits = 2048

type keyRow struct {
	Owner      string `gorm:"primaryKey"`
	PublicPEM  string `gorm:"column:public_pem"`
	PrivatePEM string `gorm:"column:private_pem"`
	CreatedAt  time.Time
}

func (keyRow) TableName() string { return "federation_keys" }

// KeyPair is an actor's keys, the public one also as PEM.
type KeyPair struct {
	Private   *rsa.PrivateKey
	PublicPEM string
}

// Store hands out actors' key pairs, creating each on first use. The
// private keys stay in the database and in memory: no route serves them.
// With a secret, they are stored encrypted (AES-256-GCM, bound to their
// owner) with a key derived from it by scrypt.
type Store struct {
	db    *storage.DB
	bits  int
	aead  cipher.AEAD // nil: keys stored as plain PEM
	mu    sync.Mutex
	cache map[string]*KeyPair
	// The node's routing key (see RoutingKey), once read.
	routingMu   sync.Mutex
	routingPriv ed25519.PrivateKey
	routingPub  string
	// SecretFile is where the secret was read, for errors.
	SecretFile string
}

// encPrefix marks an encrypted private key in federation_keys.
const encPrefix = "coopnet-enc-v1:"

func NewStore(db *storage.DB, bits int, secret []byte) (*Store, error) {
	k := &Store{db: db, bits: bits, cache: map[string]*KeyPair{}}
	if len(secret) > 0 {
		key, err := scrypt.Key(secret, []byte("coopnet federation keys"), 1<<15, 8, 1, 32)
		if err != nil {
			return nil, fmt.Errorf("federation: key secret: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if k.aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// seal encrypts a private key's PEM for owner's row, when there is a secret.
func (k *Store) seal(owner, pemText string) string {
	if k.aead == nil {
		return pemText
	}
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return encPrefix + base64.StdEncoding.EncodeToString(k.aead.Seal(nonce, nonce, []byte(pemText), []byte(owner)))
}

// open returns the PEM of a stored private key.
func (k *Store) open(owner, stored string) (string, error) {
	enc, ok := strings.CutPrefix(stored, encPrefix)
	if !ok {
		return stored, nil
	}
	if k.aead == nil {
		return "", errors.New("the private keys are encrypted: set COOPNET_KEY_SECRET_FILE")
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) < k.aead.NonceSize() {
		return "", errors.New("an encrypted private key is damaged")
	}
	plain, err := k.aead.Open(nil, b[:k.aead.NonceSize()], b[k.aead.NonceSize():], []byte(owner))
	if err != nil {
		return "", fmt.Errorf("the secret in %s does not decrypt the private keys: they were encrypted with another one "+
			"(every replica of a node needs the same secret: give it with COOPNET_KEY_SECRET_FILE)", k.SecretFile)
	}
	return string(plain), nil
}

// Get returns the key pair of owner ("node" or "member:<id>"), creating it
// if it has none. Two replicas creating one at once agree on the first
// stored.
func (k *Store) Get(ctx context.Context, owner string) (*KeyPair, error) {
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
			PrivatePEM: k.seal(owner, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(priv)})))}
		if err := k.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return nil, fmt.Errorf("federation: store key of %s: %w", owner, err)
		}
		if err := k.db.WithContext(ctx).Where("owner = ?", owner).Take(&row).Error; err != nil {
			return nil, fmt.Errorf("federation: read key of %s: %w", owner, err)
		}
	}
	plain, err := k.open(owner, row.PrivatePEM)
	if err != nil {
		return nil, fmt.Errorf("federation: key of %s: %w", owner, err)
	}
	priv, err := parsePrivateKey(plain)
	if err != nil {
		return nil, fmt.Errorf("federation: key of %s: %w", owner, err)
	}
	if k.aead != nil && !strings.HasPrefix(row.PrivatePEM, encPrefix) {
		// Stored before a secret was set: encrypt it now.
		if err := k.db.WithContext(ctx).Model(&keyRow{}).Where("owner = ? AND private_pem = ?", owner, row.PrivatePEM).
			Update("private_pem", k.seal(owner, plain)).Error; err != nil {
			return nil, fmt.Errorf("federation: encrypt key of %s: %w", owner, err)
		}
	}
	kp = &KeyPair{Private: priv, PublicPEM: row.PublicPEM}
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

// ParsePublicKey reads a PEM public key as peers publish it: PKIX, or
// PKCS#1 as some servers still do. Only RSA keys of 2048 bits or more.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
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

// SealAll encrypts, with the secret, every private key still stored in
// the clear (written before the secret was set), so that a dump of the
// database alone gives none away.
func (k *Store) SealAll(ctx context.Context) error {
	if k.aead == nil {
		return nil
	}
	var rows []keyRow
	if err := k.db.WithContext(ctx).Where("private_pem NOT LIKE ?", encPrefix+"%").Find(&rows).Error; err != nil {
		return fmt.Errorf("federation: read keys: %w", err)
	}
	for _, r := range rows {
		if err := k.db.WithContext(ctx).Model(&keyRow{}).Where("owner = ? AND private_pem = ?", r.Owner, r.PrivatePEM).
			Update("private_pem", k.seal(r.Owner, r.PrivatePEM)).Error; err != nil {
			return fmt.Errorf("federation: encrypt key of %s: %w", r.Owner, err)
		}
	}
	return nil
}
