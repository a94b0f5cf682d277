package score

import (
	"fmt"
	"math"
	"testing"

	"github.com/coopnet/coopnet/services/routing/wire"
)

func cand(handle string, level int, km float64, remote bool, radius, capMin, booked, routed int) wire.Candidate {
	return wire.Candidate{Region: "r", MemberID: handle, Handle: handle, Name: handle, Level: level, DistanceKm: km,
		RemoteOK: remote, RadiusKm: radius, CapacityMin: capMin, BookedMin: booked, RoutedMinQtr: routed}
}

func TestExclude(t *testing.T) {
	onSite := Job{Skill: "website", MinLevel: 3, EstimatedMinutes: 120, OnSite: true}
	remote := Job{Skill: "website", MinLevel: 3, EstimatedMinutes: 120, OnSite: false}
	tests := map[string]struct {
		c    wire.Candidate
		j    Job
		want string
	}{
		"qualified on site":                  {cand("a", 3, 10, false, 50, 600, 0, 0), onSite, ""},
		"level too low":                      {cand("a", 2, 10, false, 50, 600, 0, 0), onSite, ReasonLevel},
		"outside radius on site":             {cand("a", 4, 60, true, 50, 600, 0, 0), onSite, ReasonRadius},
		"remote work from afar, accepted":    {cand("a", 4, 600, true, 50, 600, 0, 0), remote, ""},
		"remote work from afar, not taken":   {cand("a", 4, 600, false, 50, 600, 0, 0), remote, ReasonRadius},
		"remote work nearby, no remote flag": {cand("a", 4, 20, false, 50, 600, 0, 0), remote, ""},
		"exactly full enough":                {cand("a", 4, 20, false, 50, 600, 480, 0), onSite, ""},
		"one minute short":                   {cand("a", 4, 20, false, 50, 600, 481, 0), onSite, ReasonCapacity},
		"on the radius":                      {cand("a", 4, 50, false, 50, 600, 0, 0), onSite, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Exclude(tc.c, tc.j); got != tc.want {
				t.Errorf("Exclude = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCost(t *testing.T) {
	j := Job{Skill: "website", MinLevel: 1, EstimatedMinutes: 120, OnSite: true}
	base := cand("a", 3, 50, false, 100, 1200, 0, 0)
	worse := map[string]wire.Candidate{
		"lower level":         cand("a", 2, 50, false, 100, 1200, 0, 0),
		"farther":             cand("a", 3, 80, false, 100, 1200, 0, 0),
		"more booked":         cand("a", 3, 50, false, 100, 1200, 600, 0),
		"more routed already": cand("a", 3, 50, false, 100, 1200, 0, 3000),
		"less capacity":       cand("a", 3, 50, false, 100, 600, 0, 0),
	}
	b := Cost(base, j, DefaultWeights)
	for name, c := range worse {
		if got := Cost(c, j, DefaultWeights); got <= b {
			t.Errorf("%s: cost %v, not above %v", name, got, b)
		}
	}
	// The documented formula, by hand: (5-3)/4 + 50/100 + (0+120)/1200 + 0.
	if want := 0.5 + 0.5 + 0.1; math.Abs(b-want) > 1e-9 {
		t.Errorf("cost %v, want %v", b, want)
	}
	// Distance does not count for remote work done remotely …
	r := Job{Skill: "website", MinLevel: 1, EstimatedMinutes: 120}
	if Cost(cand("a", 3, 900, true, 10, 1200, 0, 0), r, DefaultWeights) != Cost(cand("a", 3, 5, true, 10, 1200, 0, 0), r, DefaultWeights) {
		t.Error("distance counted for remote work")
	}
	// … and a weight of zero switches a criterion off.
	w := DefaultWeights
	w.Distance = 0
	if Cost(cand("a", 3, 90, false, 100, 1200, 0, 0), j, w) != Cost(cand("a", 3, 10, false, 100, 1200, 0, 0), j, w) {
		t.Error("zero distance weight still counts distance")
	}
}

// TestRankTheStory: for the school's website (remote, 16 h), Marie (level 4,
// free) comes before Gwen (3) and Paul (2); Zoé (5) is fully booked.
func TestRankTheStory(t *testing.T) {
	j := Job{Skill: "website", MinLevel: 1, EstimatedMinutes: 16 * 60}
	fortnight := func(weekly int) int { return weekly * 60 * 2 }
	ranked := Rank([]wire.Candidate{
		cand("paul", 2, 390, true, 50, fortnight(35), 0, 0),
		cand("zoe", 5, 390, true, 50, fortnight(10), 20*60, 0),
		cand("gwen", 3, 700, true, 50, fortnight(30), 0, 0),
		cand("marie", 4, 640, true, 30, fortnight(32), 0, 0),
	}, j, DefaultWeights)
	var got []string
	for _, s := range ranked {
		got = append(got, s.Handle)
	}
	if len(got) != 3 || got[0] != "marie" || got[1] != "gwen" || got[2] != "paul" {
		t.Fatalf("ranking %v, want [marie gwen paul]", got)
	}
}

// TestRankTieBreaks: equal costs are ordered by level, then distance, then
// handle, whatever the input order.
func TestRankTieBreaks(t *testing.T) {
	j := Job{Skill: "website", MinLevel: 1, EstimatedMinutes: 60}
	w := Weights{Load: 1} // only load counts: every candidate below costs the same
	in := []wire.Candidate{
		cand("b", 3, 10, true, 50, 600, 0, 0),
		cand("a", 3, 10, true, 50, 600, 0, 0),
		cand("c", 3, 5, true, 50, 600, 0, 0),
		cand("d", 4, 40, true, 50, 600, 0, 0),
	}
	for i := 0; i < 4; i++ {
		rot := append(append([]wire.Candidate{}, in[i:]...), in[:i]...)
		var got []string
		for _, s := range Rank(rot, j, w) {
			got = append(got, s.Handle)
		}
		if want := "d c a b"; joinSpace(got) != want {
			t.Errorf("input rotated by %d: %v, want %s", i, got, want)
		}
	}
}

func joinSpace(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestUnroutableReason(t *testing.T) {
	tests := []struct {
		answered int
		ex       map[string]wire.Exclusions
		want     string
	}{
		{0, nil, ReasonNoAnswer},
		{3, map[string]wire.Exclusions{"a": {}, "b": {}}, ReasonNoSkill},
		{3, map[string]wire.Exclusions{"a": {Level: 2}}, ReasonLevel},
		{3, map[string]wire.Exclusions{"a": {Level: 2}, "b": {Radius: 1}}, ReasonLevel},
		{3, map[string]wire.Exclusions{"a": {Radius: 2}, "b": {Capacity: 1}}, ReasonRadius},
		{3, map[string]wire.Exclusions{"a": {Radius: 2}, "b": {Capacity: 2}}, ReasonCapacity},
		{3, map[string]wire.Exclusions{"a": {Level: 5, Radius: 1}}, ReasonLevel},
	}
	for _, tc := range tests {
		if got := UnroutableReason(tc.answered, tc.ex); got != tc.want {
			t.Errorf("UnroutableReason(%d, %v) = %q, want %q", tc.answered, tc.ex, got, tc.want)
		}
	}
}

func TestParseWeights(t *testing.T) {
	w, err := ParseWeights("level=2, distance=0.5,load=1,fairness=3,supersede=0")
	if err != nil || w != (Weights{Level: 2, Distance: 0.5, Load: 1, Fairness: 3}) {
		t.Fatalf("ParseWeights = %+v, %v", w, err)
	}
	if w, err := ParseWeights("distance=2"); err != nil || w != (Weights{Level: 1, Distance: 2, Load: 1, Fairness: 1, Supersede: 0.2}) {
		t.Fatalf("partial weights = %+v, %v", w, err)
	}
	for _, bad := range []string{"speed=1", "level=-1", "level=abc", "level", "level=NaN", "supersede=101",
		"level=0,distance=0,load=0,fairness=0", "level=0,distance=0,load=0,fairness=0,supersede=1"} {
		if _, err := ParseWeights(bad); err == nil {
			t.Errorf("ParseWeights(%q) accepted", bad)
		}
	}
}

// TestRankTopIsRankPrefix: the best k are the first k of the full ranking.
func TestRankTopIsRankPrefix(t *testing.T) {
	j := Job{Skill: "website", MinLevel: 2, EstimatedMinutes: 120, OnSite: true}
	var cands []wire.Candidate
	for i := 0; i < 200; i++ {
		cands = append(cands, cand(fmt.Sprintf("m%03d", i), 1+i%5, float64((i*37)%90), i%2 == 0, 20+(i*13)%60, 600+(i*7)%900, (i*11)%700, (i*17)%3000))
	}
	full := Rank(cands, j, DefaultWeights)
	for _, k := range []int{1, 5, 10, 20, len(full), len(full) + 5} {
		top := RankTop(cands, j, DefaultWeights, k)
		want := full[:min(k, len(full))]
		if len(top) != len(want) {
			t.Fatalf("k=%d: %d candidates, want %d", k, len(top), len(want))
		}
		for i := range top {
			if top[i].Handle != want[i].Handle {
				t.Fatalf("k=%d: position %d is %s, want %s", k, i, top[i].Handle, want[i].Handle)
			}
		}
	}
	// The full ranking is sorted by the documented order.
	for i := 1; i < len(full); i++ {
		if Better(full[i], full[i-1]) {
			t.Fatalf("ranking out of order at %d", i)
		}
	}
}

// TestSupersedeRanking: a member who would give up a pending offer ranks by
// their cost plus what that offer's job loses plus the Supersede weight.
func TestSupersedeRanking(t *testing.T) {
	j := Job{Skill: "website", MinLevel: 1, EstimatedMinutes: 120, OnSite: true}
	free := cand("free", 2, 50, false, 100, 1200, 0, 0)  // 0.75 + 0.5 + 0.1 = 1.35
	held := cand("held", 5, 10, false, 100, 1200, 0, 0)  // 0 + 0.1 + 0.1 = 0.2
	held.Supersedes, held.SupersedeCost = "offer-x", 0.5 // 0.2 + 0.5 + 0.2 = 0.9
	ranked := Rank([]wire.Candidate{free, held}, j, DefaultWeights)
	if len(ranked) != 2 || ranked[0].Handle != "held" || math.Abs(ranked[0].Cost-0.9) > 1e-9 || math.Abs(ranked[1].Cost-1.35) > 1e-9 {
		t.Fatalf("ranking %+v, want held (0.9) then free (1.35)", ranked)
	}
	// What the held offer's job loses outweighs the gain: the free member first.
	held.SupersedeCost = 1.0 // 0.2 + 1.0 + 0.2 = 1.4
	if ranked := Rank([]wire.Candidate{free, held}, j, DefaultWeights); ranked[0].Handle != "free" {
		t.Fatalf("ranking %+v, want free first", ranked)
	}
	// A large Supersede weight: nobody's place is taken while someone has room.
	w := DefaultWeights
	w.Supersede = 100
	held.SupersedeCost = 0
	if ranked := Rank([]wire.Candidate{free, held}, j, w); ranked[0].Handle != "free" {
		t.Fatalf("ranking %+v, want free first with supersede=100", ranked)
	}
}

// TestRegret: what a job loses is the cost of its next candidate who takes
// nobody's place, less its own; none such: no regret, never superseded.
func TestRegret(t *testing.T) {
	j := Job{Skill: "website", MinLevel: 1, EstimatedMinutes: 120, OnSite: true}
	a := cand("a", 5, 10, false, 100, 1200, 0, 0) // 0.2
	b := cand("b", 4, 10, false, 100, 1200, 0, 0) // 0.45, taking someone's place: +0.1+0.2
	b.Supersedes, b.SupersedeCost = "offer-y", 0.1
	c := cand("c", 3, 30, false, 100, 1200, 0, 0) // 0.5 + 0.3 + 0.1 = 0.9
	ranked := Rank([]wire.Candidate{c, b, a}, j, DefaultWeights)
	if got := []string{ranked[0].Handle, ranked[1].Handle, ranked[2].Handle}; joinSpace(got) != "a b c" {
		t.Fatalf("ranking %v", got)
	}
	if r, ok := Regret(ranked, 0, j, DefaultWeights); !ok || math.Abs(r-0.7) > 1e-9 {
		t.Errorf("regret of a = %v, %v; want 0.7 (c's 0.9 less a's 0.2: b takes someone's place)", r, ok)
	}
	// b's own cost, not their ranking cost, is what the job pays.
	if r, ok := Regret(ranked, 1, j, DefaultWeights); !ok || math.Abs(r-(0.9-0.45)) > 1e-9 {
		t.Errorf("regret of b = %v, %v; want 0.45", r, ok)
	}
	if _, ok := Regret(ranked, 2, j, DefaultWeights); ok {
		t.Error("the last candidate has a regret")
	}
}
