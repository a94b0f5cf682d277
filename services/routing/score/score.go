// Package score ranks the members who could take a job: the one cost
// function of the routing (skill level, distance, load, fairness), the
// reasons a member is left out, and the order of the best few.
package score

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/coopnet/coopnet/services/routing/wire"
)

// Job is what scoring needs to know about a forwarded ticket.
type Job struct {
	Skill            string
	MinLevel         int
	EstimatedMinutes int
	OnSite           bool
}

// Weights tune the cost of giving a job to a candidate. Each term is
// normalised to about 0..1 before it is weighted, so that weights read as
// "how much this criterion matters" relative to the others.
type Weights struct {
	// Level: (5 − level) / 4 — prefer the more skilled.
	Level float64
	// Distance: km / 100 for work on site, 0 for remote work done remotely.
	Distance float64
	// Load: the candidate's booked share of capacity over the horizon,
	// counting this job — prefer who has room.
	Load float64
	// Fairness: routed work received this quarter as a share of a quarter's
	// capacity — spread routed work, so that members where demand is low
	// get their share.
	Fairness float64
	// Supersede: what a job must gain, at least, to take a member who has
	// no room left because of a pending offer (see RankCost).
	Supersede float64
}

// DefaultWeights weigh skill, distance, load and fairness equally; a job
// takes a member from a pending offer only when that saves the coop a fifth
// of a criterion.
var DefaultWeights = Weights{Level: 1, Distance: 1, Load: 1, Fairness: 1, Supersede: 0.2}

// Exclusion reasons, also the reasons a ticket is unroutable.
const (
	ReasonNoSkill  = "no_skill"      // nobody has the skill at all
	ReasonLevel    = "level"         // nobody at the level asked
	ReasonRadius   = "out_of_radius" // nobody within reach for work on site
	ReasonCapacity = "full"          // everybody qualified is fully booked
	ReasonDeclined = "all_declined"  // every candidate declined or let the offer expire
	ReasonNoAnswer = "no_answer"     // no region answered in time
	ReasonError    = "error"         // the search kept failing (see the logs)
)

// Exclude says why a candidate cannot take a job, or "" if they can. A
// candidate must have the level; for work on site, live within their radius;
// for remote work, accept remote work or live within their radius; and have
// the job's hours free over the horizon.
func Exclude(c wire.Candidate, j Job) string {
	switch {
	case c.Level < j.MinLevel:
		return ReasonLevel
	case j.OnSite && c.DistanceKm > float64(c.RadiusKm):
		return ReasonRadius
	case !j.OnSite && !c.RemoteOK && c.DistanceKm > float64(c.RadiusKm):
		return ReasonRadius
	case c.CapacityMin-c.BookedMin < j.EstimatedMinutes:
		return ReasonCapacity
	}
	return ""
}

// Cost is the cost of giving job j to candidate c: lower is better. It is
// the one scoring function of the router, used by the benchmark's optimal
// matching too.
func Cost(c wire.Candidate, j Job, w Weights) float64 {
	level := float64(5-c.Level) / 4
	dist := 0.0
	if j.OnSite || !c.RemoteOK {
		dist = c.DistanceKm / 100
	}
	load := 1.0
	if c.CapacityMin > 0 {
		load = float64(c.BookedMin+j.EstimatedMinutes) / float64(c.CapacityMin)
	}
	fair := 0.0
	if c.CapacityMin > 0 {
		// A quarter is 13 weeks; CapacityMin covers the horizon, so scale it.
		quarter := float64(c.CapacityMin) * quarterPerHorizon
		fair = float64(c.RoutedMinQtr) / quarter
	}
	return w.Level*level + w.Distance*dist + w.Load*load + w.Fairness*fair
}

// RankCost is what a candidate is ranked by: Cost, and for a member who
// would have to give up a pending offer to take the job (Supersedes), what
// that offer's job loses by going to its next candidate (SupersedeCost) plus
// the Supersede weight. Such a member is proposed only when this still beats
// everyone with room: jobs forwarded in the same days then share the
// members between them better than first come, first served.
func RankCost(c wire.Candidate, j Job, w Weights) float64 {
	cost := Cost(c, j, w)
	if c.Supersedes != "" {
		cost += c.SupersedeCost + w.Supersede
	}
	return cost
}

// Regret is what the job would lose if ranked[i] had to give it up: the
// cost of its next candidate who takes nobody's place, less ranked[i]'s own
// Cost. ok is false when there is no such candidate: an offer without a
// fallback is never superseded.
func Regret(ranked []Scored, i int, j Job, w Weights) (regret float64, ok bool) {
	for _, n := range ranked[i+1:] {
		if n.Supersedes == "" {
			return max(0, Round9(n.Cost-Cost(ranked[i].Candidate, j, w))), true
		}
	}
	return 0, false
}

// quarterPerHorizon converts capacity over the default horizon (14 days) to
// a quarter (91 days).
const quarterPerHorizon = 91.0 / DefaultHorizonDays

// DefaultHorizonDays is how many days ahead capacity is counted by default.
const DefaultHorizonDays = 14

// CapacityMin is a member's capacity over a horizon of days, in minutes.
func CapacityMin(weeklyHours, horizonDays int) int { return weeklyHours * 60 * horizonDays / 7 }

// MaxCandidatesPerRegion bounds a region's answer: a job rarely needs more
// than a few offers before someone accepts.
const MaxCandidatesPerRegion = 10

// MaxCandidates bounds the ranked list a routing keeps of all regions'
// answers.
const MaxCandidates = 20

// JobOf is what scoring needs of a question.
func JobOf(q *wire.Question) Job {
	return Job{Skill: q.Skill, MinLevel: q.MinLevel, EstimatedMinutes: q.EstimatedMinutes, OnSite: q.OnSite}
}

// Scored is a candidate with the cost they are ranked by (RankCost).
type Scored struct {
	wire.Candidate
	Cost float64 `json:"cost"`
}

// Rank keeps the candidates who can take the job and orders them best
// first. Ties are broken deterministically: higher level, then shorter
// distance, then handle.
func Rank(cands []wire.Candidate, j Job, w Weights) []Scored { return RankTop(cands, j, w, len(cands)) }

// RankTop is Rank keeping only the best k: it selects them without sorting
// everyone (a region with hundreds of qualified members answers often).
func RankTop(cands []wire.Candidate, j Job, w Weights, k int) []Scored {
	top := NewTopK(k)
	for _, c := range cands {
		if Exclude(c, j) != "" {
			continue
		}
		if cost := Round9(RankCost(c, j, w)); top.MayTake(cost) {
			top.Offer(Scored{Candidate: c, Cost: cost})
		}
	}
	return top.list
}

// List is the best k so far, best first.
func (t *TopK) List() []Scored { return t.list }

// TopK keeps the best k of the candidates offered to it, best first.
type TopK struct {
	k    int
	list []Scored
}

func NewTopK(k int) *TopK {
	if k <= 0 {
		return &TopK{}
	}
	return &TopK{k: k, list: make([]Scored, 0, min(k, 16))}
}

// MayTake says whether a candidate of this cost could be among the best k:
// false when it is dearer than all of them (a tie is settled by Offer).
func (t *TopK) MayTake(cost float64) bool {
	return t.k > 0 && (len(t.list) < t.k || cost <= t.list[t.k-1].Cost)
}

// Offer keeps sc if it is among the best k, in order, dropping the last
// when full.
func (t *TopK) Offer(sc Scored) {
	if t.k <= 0 || len(t.list) == t.k && !Better(sc, t.list[t.k-1]) {
		return
	}
	i := sort.Search(len(t.list), func(i int) bool { return Better(sc, t.list[i]) })
	if len(t.list) < t.k {
		t.list = append(t.list, Scored{})
	}
	copy(t.list[i+1:], t.list[i:len(t.list)-1])
	t.list[i] = sc
}

// Better is the ranking order: lower cost, then higher level, then shorter
// distance, then handle.
func Better(x, y Scored) bool {
	switch {
	case x.Cost != y.Cost:
		return x.Cost < y.Cost
	case x.Level != y.Level:
		return x.Level > y.Level
	case x.DistanceKm != y.DistanceKm:
		return x.DistanceKm < y.DistanceKm
	default:
		return x.Handle < y.Handle
	}
}

// Round9 removes floating-point noise so that equal costs compare equal.
func Round9(f float64) float64 { return math.Round(f*1e9) / 1e9 }

// ParseWeights reads weights written as
// "level=1,distance=1,load=1,fairness=1,supersede=0.2";
// criteria not named keep their default weight. Weights are finite, from 0
// to 100, and not all zero.
func ParseWeights(s string) (Weights, error) {
	w := DefaultWeights
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if !ok || err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return Weights{}, fmt.Errorf("routing weight %q must be name=number (0 to 100)", part)
		}
		switch strings.TrimSpace(name) {
		case "level":
			w.Level = f
		case "distance":
			w.Distance = f
		case "load":
			w.Load = f
		case "fairness":
			w.Fairness = f
		case "supersede":
			w.Supersede = f
		default:
			return Weights{}, fmt.Errorf("unknown routing weight %q: level, distance, load, fairness or supersede", name)
		}
	}
	if w.Level == 0 && w.Distance == 0 && w.Load == 0 && w.Fairness == 0 {
		return Weights{}, fmt.Errorf("routing weights cannot all be zero")
	}
	return w, nil
}

// UnroutableReason says why nobody qualified, from the regions'
// exclusions: the most common reason (ties: full, then out of radius, then
// level).
func UnroutableReason(answered int, ex map[string]wire.Exclusions) string {
	if answered == 0 {
		return ReasonNoAnswer
	}
	var level, radius, capacity int
	for _, e := range ex {
		level, radius, capacity = level+e.Level, radius+e.Radius, capacity+e.Capacity
	}
	switch {
	case capacity == 0 && radius == 0 && level == 0:
		return ReasonNoSkill
	case capacity >= radius && capacity >= level:
		return ReasonCapacity
	case radius >= level:
		return ReasonRadius
	}
	return ReasonLevel
}
