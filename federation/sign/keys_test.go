package sign

import (
	"context"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestKeysEncryptedAtRest: with a secret, a private key is stored
// encrypted and bound to its owner; the same secret reads it back, another
// one or none does not; a key stored before the secret was set is
// encrypted on first use.
func TestKeysEncryptedAtRest(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		secret := []byte("une phrase secrète assez longue")
		stored := func(owner string) string {
			var row keyRow
			if err := db.Where("owner = ?", owner).Take(&row).Error; err != nil {
				t.Fatal(err)
			}
			return row.PrivatePEM
		}
		ks, err := NewStore(db, 1024, secret)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := ks.Get(ctx, "node")
		if err != nil {
			t.Fatal(err)
		}
		if s := stored("node"); !strings.HasPrefix(s, encPrefix) || strings.Contains(s, "PRIVATE KEY") {
			t.Fatalf("stored as %.40q…", s)
		}
		again, _ := NewStore(db, 1024, secret)
		kp2, err := again.Get(ctx, "node")
		if err != nil || !kp2.Private.Equal(kp.Private) {
			t.Fatalf("the same secret does not read the key back: %v", err)
		}
		wrong, _ := NewStore(db, 1024, []byte("une autre phrase, pas la bonne"))
		if _, err := wrong.Get(ctx, "node"); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
			t.Fatalf("another secret: %v", err)
		}
		none, _ := NewStore(db, 1024, nil)
		if _, err := none.Get(ctx, "node"); err == nil || !strings.Contains(err.Error(), "COOPNET_KEY_SECRET_FILE") {
			t.Fatalf("no secret: %v", err)
		}
		// A ciphertext moved to another owner's row does not open.
		if err := db.Exec("INSERT INTO federation_keys (owner, public_pem, private_pem, created_at) SELECT 'member:x', public_pem, private_pem, created_at FROM federation_keys WHERE owner = 'node'").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := again.Get(ctx, "member:x"); err == nil {
			t.Fatal("a key opened under another owner")
		}
		// Stored in the clear before the secret: encrypted on first use.
		if _, err := none.Get(ctx, "member:y"); err != nil {
			t.Fatal(err)
		}
		if s := stored("member:y"); !strings.Contains(s, "PRIVATE KEY") {
			t.Fatal("without a secret the key is stored as PEM")
		}
		if _, err := again.Get(ctx, "member:y"); err != nil {
			t.Fatal(err)
		}
		if s := stored("member:y"); !strings.HasPrefix(s, encPrefix) {
			t.Fatal("a clear key was not encrypted once a secret was set")
		}
		// At start, every clear key is encrypted, read or not.
		if _, err := none.Get(ctx, "member:z"); err != nil {
			t.Fatal(err)
		}
		if err := again.SealAll(ctx); err != nil {
			t.Fatal(err)
		}
		if s := stored("member:z"); !strings.HasPrefix(s, encPrefix) {
			t.Fatal("sealAll left a clear key")
		}
	})
}
