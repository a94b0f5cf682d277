package member

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing/score"
	"github.com/coopnet/coopnet/services/routing/wire"
)

// rankHoldersPlain is rankHolders written the plain way: every member made
// a candidate with every figure, Exclude, then the one cost and a full sort.
// rankHolders must give the same answer.
func rankHoldersPlain(region string, q wire.Question, holders []members.SkillHolder, w score.Weights, bk bookings, k int) ([]wire.Candidate, wire.Exclusions) {
	var ex wire.Exclusions
	job := score.JobOf(&q)
	var scored []score.Scored
	for i := range holders {
		h := &holders[i]
		skipped := false
		for _, s := range q.Skip {
			skipped = skipped || s == h.Handle
		}
		if skipped {
			continue
		}
		if !h.Active {
			ex.Inactive++
			continue
		}
		c := wire.Candidate{Region: region, MemberID: h.ID, Handle: h.Handle, Name: h.Name, Level: h.Level,
			DistanceKm: distanceTo(h, geo.Point{Lat: q.Lat, Lon: q.Lon}), RemoteOK: h.RemoteOK, RadiusKm: h.RadiusKm,
			CapacityMin: score.CapacityMin(h.WeeklyHours, q.HorizonDays)}
		c.BookedMin, c.RoutedMinQtr = bk.minutes(h.ID)
		switch score.Exclude(c, job) {
		case score.ReasonLevel:
			ex.Level++
			continue
		case score.ReasonRadius:
			ex.Radius++
			continue
		case score.ReasonCapacity:
			in, ok := bk.inPlaceOf(c, job)
			if !ok || q.NoSupersede {
				ex.Capacity++
				continue
			}
			c = in
		}
		scored = append(scored, score.Scored{Candidate: c, Cost: score.Round9(score.RankCost(c, job, w))})
	}
	sort.Slice(scored, func(i, j int) bool { return score.Better(scored[i], scored[j]) })
	cands := []wire.Candidate{}
	for i := 0; i < len(scored) && i < k; i++ {
		cands = append(cands, scored[i].Candidate)
	}
	return cands, ex
}

// randomRegion makes n members of one skill, with many ties: clones that
// differ only by handle, by location or by level.
func randomRegion(rng *rand.Rand, n int) ([]members.SkillHolder, *book) {
	b := &book{minutes: map[string]memberMinutes{}, held: map[string][]heldOffer{}}
	now := time.Now()
	var hs []members.SkillHolder
	for i := range n {
		id := fmt.Sprintf("m%05d", i)
		h := members.SkillHolder{ID: id, Handle: fmt.Sprintf("tech%05d@bzh.test", rng.IntN(n*2)*100000+i), Name: "Tech " + id,
			Level: 1 + rng.IntN(5), RadiusKm: []int{0, 10, 30, 60, 150}[rng.IntN(5)], RemoteOK: rng.IntN(3) > 0,
			WeeklyHours: []int{0, 7, 20, 35}[rng.IntN(4)], Active: rng.IntN(20) > 0}
		if rng.IntN(15) > 0 {
			lat, lon := 47+rng.Float64()*2, -3+rng.Float64()*4
			h.Lat, h.Lon = &lat, &lon
		}
		if len(hs) > 0 && rng.IntN(4) == 0 {
			// A clone of the previous member but for its handle, and maybe its place.
			prev := hs[len(hs)-1]
			h.Level, h.RadiusKm, h.RemoteOK, h.WeeklyHours, h.Active, h.Lat, h.Lon =
				prev.Level, prev.RadiusKm, prev.RemoteOK, prev.WeeklyHours, prev.Active, prev.Lat, prev.Lon
			if rng.IntN(2) == 0 {
				lat, lon := 47+rng.Float64()*2, -3+rng.Float64()*4
				h.Lat, h.Lon = &lat, &lon
			}
			b.minutes[id] = b.minutes[prev.ID]
		} else if rng.IntN(3) > 0 {
			b.minutes[id] = memberMinutes{booked: rng.IntN(score.CapacityMin(h.WeeklyHours, score.DefaultHorizonDays) + 240), routed: rng.IntN(6000)}
		}
		for range rng.IntN(3) {
			if rng.IntN(2) == 0 {
				b.held[id] = append(b.held[id], heldOffer{ID: fmt.Sprintf("o%05d%d", i, len(b.held[id])), MemberID: id,
					Minutes: 60 * (1 + rng.IntN(8)), Regret: float64(rng.IntN(4)) / 4, ExpiresAt: now.Add(time.Duration(rng.IntN(3)-1) * time.Hour)})
			}
		}
		hs = append(hs, h)
	}
	return hs, b
}

func TestRankHoldersAsPlain(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		hs, b := randomRegion(rng, 1+rng.IntN(300))
		q := wire.Question{Skill: "website", MinLevel: 1 + rng.IntN(4), EstimatedMinutes: 60 * (1 + rng.IntN(16)),
			OnSite: rng.IntN(2) == 0, Lat: 47.5 + rng.Float64(), Lon: -2 + rng.Float64()*2, HorizonDays: score.DefaultHorizonDays,
			NoSupersede: rng.IntN(4) == 0}
		for range rng.IntN(4) {
			q.Skip = append(q.Skip, hs[rng.IntN(len(hs))].Handle)
		}
		w := score.DefaultWeights
		if seed%3 == 1 {
			w = score.Weights{Level: 2, Distance: 0.5, Load: 1, Fairness: 3, Supersede: 0.1}
		}
		k := []int{1, 3, score.MaxCandidatesPerRegion, 1000}[rng.IntN(4)]
		gotC, gotEx := rankHolders("bretagne", q, hs, w, lockedBook{b: b, now: time.Now()}, k)
		wantC, wantEx := rankHoldersPlain("bretagne", q, hs, w, lockedBook{b: b, now: time.Now()}, k)
		if !reflect.DeepEqual(gotC, wantC) || gotEx != wantEx {
			t.Fatalf("seed %d (%d members, k %d, %+v): rankHolders gave\n%+v %+v\nthe plain way\n%+v %+v",
				seed, len(hs), k, q, gotC, gotEx, wantC, wantEx)
		}
		if len(gotC) == 0 && gotEx == (wire.Exclusions{}) && len(q.Skip) == 0 {
			t.Fatalf("seed %d: nobody ranked and nobody left out of %d members", seed, len(hs))
		}
	}
}

// BenchmarkRankHolders: one region's answer over 1,000 members, for remote
// work (the routing benchmark's case) and on site, beside the plain way
// (every member made a candidate, then a full sort).
func BenchmarkRankHolders(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	hs, bk := randomRegion(rng, 1000)
	for _, onSite := range []bool{false, true} {
		q := wire.Question{Skill: "website", MinLevel: 2, EstimatedMinutes: 120, OnSite: onSite, Lat: 48.1, Lon: -1.7,
			HorizonDays: score.DefaultHorizonDays}
		for _, f := range []struct {
			name string
			rank func(string, wire.Question, []members.SkillHolder, score.Weights, bookings, int) ([]wire.Candidate, wire.Exclusions)
		}{{"rankHolders", rankHolders}, {"plain", rankHoldersPlain}} {
			b.Run(fmt.Sprintf("on_site=%t/%s", onSite, f.name), func(b *testing.B) {
				// make bench runs each benchmark once (-benchtime 1x): an
				// iteration is enough answers to time one.
				const answers = 500
				for b.Loop() {
					for range answers {
						f.rank("bretagne", q, hs, score.DefaultWeights, lockedBook{b: bk, now: time.Now()}, score.MaxCandidatesPerRegion)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*answers), "µs/answer")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
