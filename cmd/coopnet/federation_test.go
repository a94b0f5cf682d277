package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coopnet/coopnet/services/members"
)

// directoryHandles lists the handles a node's directory shows.
func (c *coop) directoryHandles(region, email string) map[string]string {
	out := map[string]string{}
	for _, it := range c.api(region, "GET", "/api/v1/directory?limit=200", email, nil, 200)["items"].([]any) {
		e := it.(map[string]any)
		out[e["handle"].(string)] = e["region"].(string)
	}
	return out
}

// TestDirectoryConverges: the three regions' directories list the six
// members of the coop; a region that was down when a member joined
// elsewhere gets them when it is back, once.
func TestDirectoryConverges(t *testing.T) {
	c := newCoop(t, 48*time.Hour)
	all := func(region, email string) bool { return len(c.directoryHandles(region, email)) == 6 }
	waitFor(t, "three directories of six", func() bool {
		return all("bourgogne-franche-comte", jeanEmail) && all("bretagne", marieEmail) && all("ile-de-france", paulEmail)
	})
	if got := c.directoryHandles("bourgogne-franche-comte", jeanEmail)[c.handle(marieEmail)]; got != "bretagne" {
		t.Fatalf("Marie in Jean's directory: %q", got)
	}

	c.node("ile-de-france").stop()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.node("bretagne").n.members.Create(ctx, nil, members.CreateInput{Email: fmt.Sprintf("nouveau%d@bzh.test", i),
			Name: fmt.Sprintf("Nouveau %d", i), Role: "technician", Password: "mot de passe", Postcode: "35000",
			Skills: []members.SkillLevel{{Name: "training", Level: 3}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "Jean's directory of nine", func() bool { return len(c.directoryHandles("bourgogne-franche-comte", jeanEmail)) == 9 })
	c.restart("ile-de-france")
	waitFor(t, "Paul's directory of nine", func() bool { return len(c.directoryHandles("ile-de-france", paulEmail)) == 9 })
	for region, n := range map[string]int64{"ile-de-france": 7, "bourgogne-franche-comte": 7} {
		// Two profiles from each other region at the start, three more from
		// Bretagne: each stored and applied once.
		var stored, applied int64
		db := c.node(region).n.db
		db.Table("federation_inbox").Count(&stored)
		db.Table("federation_inbox").Where("state = 'applied'").Count(&applied)
		if stored != n || applied != n {
			t.Errorf("%s: %d activities stored, %d applied; want %d each", region, stored, applied, n)
		}
	}
}
