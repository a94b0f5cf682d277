package members_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/migrations"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// BenchmarkLoginAttempt: what counting a login attempt in the database
// (LoginAttempt, then LoginSucceeded) adds to a login, on each database,
// beside its baseline of the same run, the bcrypt check every login pays
// at the cost production uses.
func BenchmarkLoginAttempt(b *testing.B) {
	ctx := context.Background()
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		db := storagetest.Open(b, d)
		ms := members.New(db, skills.NewCatalog(db), members.Config{Region: "bretagne", Host: "bzh.test"}, nil)
		ms.SetThrottleSecret([]byte("bench-secret-0123456789"))
		now := time.Now()
		b.Run(string(d), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				addr := fmt.Sprintf("198.18.%d.%d", i/250%250, 1+i%250)
				if _, err := ms.LoginAttempt(ctx, addr, "jean@bfc.test", now); err != nil {
					b.Fatal(err)
				}
				if err := ms.LoginSucceeded(ctx, addr, "jean@bfc.test", now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.DefaultCost)
	b.Run("baseline-bcrypt", func(b *testing.B) {
		for b.Loop() {
			_ = bcrypt.CompareHashAndPassword(hash, []byte("correct horse battery"))
		}
	})
}
