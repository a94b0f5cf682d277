package directory_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestCopiesOfPeers: Bourgogne-Franche-Comté's directory holds Marie's
// profile as Bretagne's node sent it: an older or repeated copy changes
// nothing, a newer one wins; the list merges the node's own members with
// the copies, by handle, filtered by skill and level, page by page; once
// Marie left her node, her copy goes and a late Update does not bring it
// back.
func TestCopiesOfPeers(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storagetest.Open(t, d)
			ms := members.New(db, skills.NewCatalog(db), members.Config{Region: "bourgogne-franche-comte", Host: "bfc.test",
				BcryptCost: bcrypt.MinCost}, nil)
			if _, err := ms.Create(ctx, nil, members.CreateInput{Email: "jean@bfc.test", Name: "Jean Martin", Role: "technician",
				Password: "mot de passe", Postcode: "25150", Skills: []members.SkillLevel{{Name: "website", Level: 2}}}); err != nil {
				t.Fatal(err)
			}
			dir := directory.New(db, ms, "bourgogne-franche-comte", "bfc.test")
			at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			marie := directory.Entry{APID: "https://bzh.test/members/marie", Handle: "marie@bzh.test", Name: "Marie Le Gall",
				Region: "bretagne", Commune: "Rennes", Departement: "35", RemoteOK: true, UpdatedAt: at,
				Skills: []members.SkillLevel{{Name: "website", Level: 5}}}
			apply := func(e directory.Entry, want bool) {
				t.Helper()
				changed, err := dir.Apply(ctx, e)
				if err != nil || changed != want {
					t.Fatalf("apply %s of %v: changed %t (%v), want %t", e.Name, e.UpdatedAt, changed, err, want)
				}
			}
			apply(marie, true)
			apply(marie, false) // the same copy again
			older := marie
			older.Name, older.UpdatedAt = "Marie (ancien nom)", at.Add(-time.Hour)
			apply(older, false)
			newer := marie
			newer.Name, newer.UpdatedAt = "Marie Le Gall-Kerbrat", at.Add(time.Hour)
			apply(newer, true)
			if e, err := dir.ByHandle(ctx, "MARIE@bzh.test"); err != nil || e.Name != "Marie Le Gall-Kerbrat" {
				t.Fatalf("by handle: %+v (%v)", e, err)
			}

			all, err := dir.List(ctx, directory.ListOptions{Limit: 10})
			if err != nil || len(all) != 2 || all[0].Handle != "jean@bfc.test" || !all[0].Local || all[1].Handle != "marie@bzh.test" || all[1].Local {
				t.Fatalf("list: %+v (%v)", all, err)
			}
			if len(all[1].Skills) != 1 || all[1].Skills[0].Level != 5 {
				t.Errorf("Marie's skills: %+v", all[1].Skills)
			}
			experts, err := dir.List(ctx, directory.ListOptions{Skill: "website", MinLevel: 4, Limit: 10})
			if err != nil || len(experts) != 1 || experts[0].Handle != "marie@bzh.test" {
				t.Errorf("website ≥ 4: %+v (%v)", experts, err)
			}
			page, err := dir.List(ctx, directory.ListOptions{After: "jean@bfc.test", Limit: 1})
			if err != nil || len(page) != 1 || page[0].Handle != "marie@bzh.test" {
				t.Errorf("the page after Jean: %+v (%v)", page, err)
			}

			gone, err := dir.Remove(ctx, marie.APID, at.Add(2*time.Hour))
			if err != nil || !gone {
				t.Fatalf("remove: %t (%v)", gone, err)
			}
			late := marie
			late.UpdatedAt = at.Add(90 * time.Minute) // sent before she left, arrived after
			apply(late, false)
			if left, err := dir.List(ctx, directory.ListOptions{Limit: 10}); err != nil || len(left) != 1 {
				t.Errorf("after Marie left: %+v (%v)", left, err)
			}
			bad := marie
			bad.Name = ""
			if _, err := dir.Apply(ctx, bad); err == nil {
				t.Error("a profile without a name was stored")
			}
		})
	}
}
