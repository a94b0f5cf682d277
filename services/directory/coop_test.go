package directory_test

import (
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/directory"
)

// TestDirectoryAcrossRegions, in a coop of three regions: Jean's node
// lists the members of every region, Marie with her skill and region as
// her node published them, his own colleagues marked local; the skill
// filter finds the website makers of Bretagne and Île-de-France; a bad
// filter is refused.
func TestDirectoryAcrossRegions(t *testing.T) {
	c := rig.New(t, time.Minute)
	jean := c.As(rig.Jean)
	byHandle := func(path string) map[string]directory.Entry {
		out := map[string]directory.Entry{}
		for _, e := range rig.Must[rig.Page[directory.Entry]](jean.Do("GET", path, nil), 200).Items {
			out[e.Handle] = e
		}
		return out
	}
	rig.WaitFor(t, "every region's members in Jean's directory", func() bool {
		d := byHandle("/api/v1/directory?limit=100")
		_, marie := d[c.Handle(rig.Marie)]
		_, zoe := d[c.Handle(rig.Zoe)]
		return marie && zoe
	})
	d := byHandle("/api/v1/directory?limit=100")
	marie := d[c.Handle(rig.Marie)]
	if marie.Name != "Marie Le Gall" || marie.Region != rig.BZH || marie.Local || !marie.RemoteOK ||
		len(marie.Skills) != 1 || marie.Skills[0].Name != "website" || marie.Skills[0].Level != 4 {
		t.Errorf("Marie in Jean's directory: %+v", marie)
	}
	if claire, ok := d[c.Handle(rig.Claire)]; !ok || !claire.Local || claire.Region != rig.BFC {
		t.Errorf("Claire in Jean's directory: %+v", claire)
	}

	rig.WaitFor(t, "the website makers of the other regions", func() bool {
		w := byHandle("/api/v1/directory?skill=website&min_level=3")
		_, m := w[c.Handle(rig.Marie)]
		_, g := w[c.Handle(rig.Gwen)]
		_, z := w[c.Handle(rig.Zoe)]
		_, p := w[c.Handle(rig.Paul)] // level 2
		_, j := w[c.Handle(rig.Jean)] // no website skill
		return m && g && z && !p && !j && len(w) == 3
	})
	rig.Refused(jean.Do("GET", "/api/v1/directory?min_level=9", nil), 422)
}
