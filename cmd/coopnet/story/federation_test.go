package story_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"

	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
)

// directoryHandles lists the handles a node's directory shows.
func (c *coop) directoryHandles(region, email string) map[string]string {
	out := map[string]string{}
	for _, e := range rig.Must[rig.Page[directory.Entry]](c.As(email).On(region).Do("GET", "/api/v1/directory?limit=200", nil), 200).Items {
		out[e.Handle] = e.Region
	}
	return out
}

// TestDirectoryConverges: the three regions' directories list the seven
// members of the coop; a region that was down when a member joined
// elsewhere gets them when it is back, once.
func TestDirectoryConverges(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	all := func(region, email string) bool { return len(c.directoryHandles(region, email)) == 7 }
	rig.WaitFor(t, "three directories of seven", func() bool {
		return all("bourgogne-franche-comte", rig.Jean) && all("bretagne", rig.Marie) && all("ile-de-france", rig.Paul)
	})
	if got := c.directoryHandles("bourgogne-franche-comte", rig.Jean)[c.Handle(rig.Marie)]; got != "bretagne" {
		t.Fatalf("Marie in Jean's directory: %q", got)
	}

	c.Node("ile-de-france").Stop()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.Node("bretagne").N.Members.Create(ctx, nil, members.CreateInput{Email: fmt.Sprintf("nouveau%d@bzh.test", i),
			Name: fmt.Sprintf("Nouveau %d", i), Role: "technician", Password: "mot de passe", Postcode: "35000",
			Skills: []members.SkillLevel{{Name: "training", Level: 3}}}); err != nil {
			t.Fatal(err)
		}
	}
	rig.WaitFor(t, "Jean's directory of ten", func() bool { return len(c.directoryHandles("bourgogne-franche-comte", rig.Jean)) == 10 })
	c.Restart("ile-de-france")
	rig.WaitFor(t, "Paul's directory of ten", func() bool { return len(c.directoryHandles("ile-de-france", rig.Paul)) == 10 })
	for region, n := range map[string]int64{"ile-de-france": 8, "bourgogne-franche-comte": 8} {
		// The profiles of the other regions at the start (two and three),
		// three more from Bretagne: each stored and applied once.
		var stored, applied int64
		db := c.Node(region).N.DB
		db.Table("federation_inbox").Count(&stored)
		db.Table("federation_inbox").Where("state = 'applied'").Count(&applied)
		if stored != n || applied != n {
			t.Errorf("%s: %d activities stored, %d applied; want %d each", region, stored, applied, n)
		}
	}
}

// TestProfileChangeFederates: Marie changes her profile on her node (a new
// skill, a new level); the directories of the other regions follow, and a
// member may not change someone else's profile.
func TestProfileChangeFederates(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	me := rig.Must[members.Member](c.As(rig.Marie).Do("GET", "/api/v1/me", nil), 200)
	id, v := me.ID, me.Version
	c.API("bretagne", "PATCH", "/api/v1/members/"+id, rig.Gwen, map[string]any{"version": v, "name": "Usurpée"}, 403)
	c.API("bretagne", "PATCH", "/api/v1/members/"+id, rig.Marie, map[string]any{"version": v,
		"skills": []map[string]any{{"name": "website", "level": 5}, {"name": "training", "level": 3}}}, 200)
	c.API("bretagne", "PATCH", "/api/v1/members/"+id, rig.Marie, map[string]any{"version": v, "name": "Marie"}, 409)
	// Levels above those confirmed are proposals: Yann, staff of her
	// region, confirms them, and only then do they reach the directories.
	for _, skill := range []string{"website", "training"} {
		c.API("bretagne", "POST", "/api/v1/members/"+id+"/skills/review", rig.Yann, map[string]any{"skill": skill, "decision": "confirm"}, 200)
	}
	for _, r := range []struct{ region, email string }{{"bourgogne-franche-comte", rig.Jean}, {"ile-de-france", rig.Paul}} {
		defer func() {
			if t.Failed() {
				t.Log(c.API(r.region, "GET", "/api/v1/directory", r.email, nil, 200), c.federationTrouble())
			}
		}()
		rig.WaitFor(t, r.region+" to see Marie's new skills", func() bool {
			for _, e := range rig.List[directory.Entry](c.Coop, r.email, "/api/v1/directory?skill=training&min_level=3") {
				if e.Handle == c.Handle(rig.Marie) {
					levels := map[string]int{}
					for _, sk := range e.Skills {
						levels[sk.Name] = sk.Level
					}
					return len(levels) == 2 && levels["website"] == 5 && levels["training"] == 3
				}
			}
			return false
		})
	}
}

// TestSkillLearntFromAPeer: a shared ticket's skill that the assignee's
// node does not know yet (Jean's node has just added it to its
// vocabulary) is added to that node's vocabulary with the ticket, in the
// same transaction, rather than refused.
func TestSkillLearntFromAPeer(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	jeanID, marieID := c.SharedTicket("Site web et impression 3D")
	bfc := c.Node("bourgogne-franche-comte").N
	if err := bfc.DB.Exec("INSERT INTO skills (name, label_fr, label_en) VALUES ('impression-3d', 'Impression 3D', '3D printing')").Error; err != nil {
		t.Fatal(err)
	}
	bfc.Skills.Add(context.Background(), "impression-3d") // forgets the cached vocabulary
	v := c.Ticket(jeanID).Version
	c.API("bourgogne-franche-comte", "PATCH", "/api/v1/tickets/"+jeanID, rig.Jean, map[string]any{"version": v, "skill": "impression-3d"}, 200)
	rig.WaitFor(t, "the new skill on Marie's copy", func() bool {
		return c.TicketOn(rig.Marie, marieID).Skill == "impression-3d"
	})
	var n int64
	c.Node("bretagne").N.DB.Raw("SELECT COUNT(*) FROM skills WHERE name = 'impression-3d'").Scan(&n)
	if n != 1 {
		t.Fatalf("Bretagne's vocabulary has %d impression-3d", n)
	}
	if known, err := c.Node("bretagne").N.Skills.Known(context.Background(), "impression-3d"); err != nil || !known {
		t.Fatalf("Bretagne's cached vocabulary does not know the new skill: %v %v", known, err)
	}
}
