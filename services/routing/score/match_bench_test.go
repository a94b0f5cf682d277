package score

// How good is the router's matching? It places forwarded jobs one at a
// time, each with the best candidate at that moment, where a member with no
// room left because of a pending offer may be offered a job that needs them
// more (see RankCost). For a batch of jobs known together, the best
// possible placement minimises the sum of the same cost over all jobs (an
// assignment problem, solved exactly by the Hungarian algorithm).
// BenchmarkMatchingQuality compares the two on a deterministic synthetic
// national batch, beside first come, first served (nobody's place taken),
// and measures how evenly the work is spread (Gini coefficient of the hours
// each member receives).
//
//	go test -run TestHungarian -bench Matching -benchtime 1x ./services/routing/

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/routing/wire"
)

const (
	matchMembers = 600
	matchJobs    = 200
	matchSeed    = 20240601
	// infeasible is the cost of a pair that Exclude rules out: larger than
	// any sum of real costs, so that the optimum places as many jobs as it
	// can before it minimises their cost.
	infeasible = 1e6
	// matchTargetRatio is the target for the router's cost / optimal cost.
	matchTargetRatio = 1.05
)

var matchSkills = []string{"website", "network", "workstation", "server", "training", "backup"}

// matchMember is one synthetic member of the national batch.
type matchMember struct {
	region, handle string
	at             geo.Point
	skills         map[string]int // skill → level
	radiusKm       int
	remoteOK       bool
	capacityMin    int
	bookedMin      int
	routedMinQtr   int
}

// matchJob is one synthetic forwarded job, at a département's chef-lieu.
type matchJob struct {
	Job
	dept string
	at   geo.Point
}

// matchBatch builds the deterministic batch: 600 members spread over the 13
// metropolitan regions (at their départements' chef-lieux, give or take
// 15 km), 200 jobs at chef-lieux of random départements.
func matchBatch(tb testing.TB) ([]matchMember, []matchJob) { return matchBatchSeed(tb, matchSeed) }

func matchBatchSeed(tb testing.TB, seed uint64) ([]matchMember, []matchJob) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	byRegion := map[string][]geo.Departement{}
	var metro []geo.Departement
	for _, d := range geo.Departements() {
		if len(d.Code) == 2 { // "01".."95", "2A", "2B": metropolitan France
			metro = append(metro, d)
			byRegion[d.Region] = append(byRegion[d.Region], d)
		}
	}
	regions := make([]string, 0, len(byRegion))
	for r := range byRegion {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	if len(regions) != 13 {
		tb.Fatalf("%d metropolitan regions in geo, want 13: %v", len(regions), regions)
	}

	members := make([]matchMember, matchMembers)
	for i := range members {
		region := regions[i%len(regions)]
		d := byRegion[region][rng.IntN(len(byRegion[region]))]
		// About ±0.13° of latitude and ±0.2° of longitude: within ~15 km.
		at := geo.Point{Lat: d.Lat + (rng.Float64()-.5)*.27, Lon: d.Lon + (rng.Float64()-.5)*.4}
		m := matchMember{region: region, handle: fmt.Sprintf("m%03d@%s", i, region), at: at,
			skills: map[string]int{}, radiusKm: 20 + rng.IntN(61), remoteOK: rng.Float64() < .4}
		for _, k := range rng.Perm(len(matchSkills))[:1+rng.IntN(3)] {
			m.skills[matchSkills[k]] = 1 + rng.IntN(5)
		}
		weekly := 20 + rng.IntN(16)
		m.capacityMin = weekly * 60 * DefaultHorizonDays / 7
		if rng.Float64() < .35 { // some already have work over the horizon
			m.bookedMin = rng.IntN(m.capacityMin * 9 / 10)
		}
		if rng.Float64() < .5 { // and routed work earlier this quarter
			m.routedMinQtr = rng.IntN(int(float64(m.capacityMin) * quarterPerHorizon * .3))
		}
		members[i] = m
	}

	jobs := make([]matchJob, matchJobs)
	for i := range jobs {
		d := metro[rng.IntN(len(metro))]
		jobs[i] = matchJob{Job: Job{Skill: matchSkills[rng.IntN(len(matchSkills))], MinLevel: 1 + rng.IntN(3),
			EstimatedMinutes: 60 * (1 + rng.IntN(16)), OnSite: rng.Float64() < .6}, dept: d.Code,
			at: geo.Point{Lat: d.Lat, Lon: d.Lon}}
	}
	return members, jobs
}

// candidate is member i as their region would propose them for job j (the
// region only proposes members who have the skill).
func (m matchMember) candidate(i int, j matchJob) (wire.Candidate, bool) {
	level, ok := m.skills[j.Skill]
	if !ok {
		return wire.Candidate{}, false
	}
	return wire.Candidate{Region: m.region, MemberID: strconv.Itoa(i), Handle: m.handle, Name: m.handle, Level: level,
		DistanceKm: math.Round(geo.DistanceKm(m.at, j.at)*10) / 10, RemoteOK: m.remoteOK, RadiusKm: m.radiusKm,
		CapacityMin: m.capacityMin, BookedMin: m.bookedMin, RoutedMinQtr: m.routedMinQtr}, true
}

// matching is one placement of the batch: the member of each job (-1: not
// placed) and the total cost of the placed jobs.
type matching struct {
	member        []int
	cost          float64
	placed        int
	superseded    int // offers whose member went to another job
	searchedAgain int // superseded jobs whose list ran out
}

// routerMatch is the router placing the batch's jobs one by one, in order,
// as the nodes do it (search, offerNext, receiveOffer, advance):
//   - each region proposes its best MaxCandidatesPerRegion members, by
//     RankCost; the origin keeps the best maxCandidates of all;
//   - a member already given a job of the batch has no room for another
//     (the batch stands for the days an offer waits for its answer): their
//     region proposes them only as taking the place of that pending offer,
//     at the cost of what its job loses (Regret, sent with the offer);
//   - the job is offered down its ranked list; a member taken meanwhile
//     declines at once, as a full member's node does;
//   - a member with no room declines at once (their node does, see
//     receiveOffer): one given a job of the batch since the search, or one
//     whose pending offer named was answered meanwhile;
//   - a job whose offer was superseded goes on down its own list without
//     taking anyone's place; if the list runs out it searches once more,
//     without those it offered the job to, still taking nobody's place.
//
// With supersede false nobody is ever proposed in a pending offer's place:
// first come, first served.
func routerMatch(members []matchMember, jobs []matchJob, w Weights, supersede bool) matching {
	type state struct {
		list          []Scored
		next          int
		superseded    bool
		searchedAgain bool
		offered       map[string]bool // members offered the job
		regret        float64
		fallback      bool // regret is known: the offer may be superseded
	}
	holder := make([]int, len(members))
	for i := range holder {
		holder[i] = -1
	}
	st := make([]state, len(jobs))
	g := matching{member: make([]int, len(jobs))}
	search := func(ji int, mayTakePlace bool, offered map[string]bool) []Scored {
		j := jobs[ji]
		byRegion := map[string][]wire.Candidate{}
		for i, m := range members {
			c, ok := m.candidate(i, j)
			if !ok || offered[c.Handle] {
				continue
			}
			if x := holder[i]; x >= 0 {
				if !mayTakePlace || !st[x].fallback {
					continue
				}
				c.Supersedes, c.SupersedeCost = strconv.Itoa(x), st[x].regret
			}
			byRegion[m.region] = append(byRegion[m.region], c)
		}
		var all []wire.Candidate
		for _, cands := range byRegion {
			for _, sc := range RankTop(cands, j.Job, w, MaxCandidatesPerRegion) {
				all = append(all, sc.Candidate)
			}
		}
		return RankTop(all, j.Job, w, MaxCandidates)
	}
	var offer func(ji int)
	offer = func(ji int) {
		s, j := &st[ji], jobs[ji]
		g.member[ji] = -1
		for {
			if s.next >= len(s.list) {
				if !s.superseded || s.searchedAgain {
					return // unplaced
				}
				s.list, s.next, s.searchedAgain = search(ji, false, s.offered), 0, true
				g.searchedAgain++
				continue
			}
			c := s.list[s.next]
			s.next++
			if s.superseded && c.Supersedes != "" {
				continue
			}
			if s.offered == nil {
				s.offered = map[string]bool{}
			}
			s.offered[c.Handle] = true
			i, _ := strconv.Atoi(c.MemberID)
			x := holder[i]
			if x >= 0 && (c.Supersedes == "" || c.Supersedes != strconv.Itoa(x)) {
				continue // full now: the member's node declines at once
			}
			holder[i], g.member[ji] = ji, i
			s.regret, s.fallback = Regret(s.list, s.next-1, j.Job, w)
			if x >= 0 {
				g.superseded++
				st[x].superseded = true
				offer(x)
			}
			return
		}
	}
	for ji := range jobs {
		st[ji].list = search(ji, supersede, nil)
		offer(ji)
	}
	for ji, i := range g.member {
		if i >= 0 {
			c, _ := members[i].candidate(i, jobs[ji])
			g.cost, g.placed = g.cost+Round9(Cost(c, jobs[ji].Job, w)), g.placed+1
		}
	}
	return g
}

// costMatrix is the cost of every job (row) with every member (column);
// infeasible where the member lacks the skill or Exclude rules them out.
func costMatrix(members []matchMember, jobs []matchJob, w Weights) [][]float64 {
	out := make([][]float64, len(jobs))
	for ji, j := range jobs {
		row := make([]float64, len(members))
		for i, m := range members {
			row[i] = infeasible
			if c, ok := m.candidate(i, j); ok && Exclude(c, j.Job) == "" {
				row[i] = Round9(Cost(c, j.Job, w))
			}
		}
		out[ji] = row
	}
	return out
}

// optimalMatch is the assignment of the given jobs (indices into the
// matrix's rows) of least total cost, placing as many as possible.
func optimalMatch(cost [][]float64, rows []int) matching {
	sub := make([][]float64, len(rows))
	for k, r := range rows {
		sub[k] = cost[r]
	}
	assign, _ := hungarian(sub)
	o := matching{member: make([]int, len(cost))}
	for i := range o.member {
		o.member[i] = -1
	}
	for k, col := range assign {
		if c := sub[k][col]; c < infeasible {
			o.member[rows[k]], o.cost, o.placed = col, o.cost+c, o.placed+1
		}
	}
	return o
}

// hungarian solves the rectangular assignment problem: for an n×m cost
// matrix with n ≤ m, it gives each row a distinct column so that the sum of
// the costs is least, and returns each row's column and that sum. It is the
// O(n²·m) shortest augmenting path method with potentials (Kuhn–Munkres as
// refined by Jonker–Volgenant): rows are added one at a time, and each is
// matched by a Dijkstra-like search over reduced costs.
func hungarian(cost [][]float64) ([]int, float64) {
	n := len(cost)
	if n == 0 {
		return nil, 0
	}
	m := len(cost[0])
	if n > m {
		panic(fmt.Sprintf("hungarian: %d rows > %d columns", n, m))
	}
	// 1-based: column 0 is a virtual column holding the row being added.
	u := make([]float64, n+1) // row potentials
	v := make([]float64, m+1) // column potentials
	p := make([]int, m+1)     // p[j]: the row matched to column j (0: none)
	way := make([]int, m+1)   // the previous column on the augmenting path
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j], used[j] = math.Inf(1), false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				if cur := cost[i0-1][j-1] - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 { // augment along the path
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	assign := make([]int, n)
	total := 0.0
	for j := 1; j <= m; j++ {
		if p[j] != 0 {
			assign[p[j]-1] = j - 1
			total += cost[p[j]-1][j-1]
		}
	}
	return assign, total
}

// gini is the Gini coefficient of xs: 0 when everyone has the same, close
// to 1 when one has everything.
func gini(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum, weighted float64
	for i, x := range s {
		sum += x
		weighted += float64(i+1) * x
	}
	n := float64(len(s))
	if n == 0 || sum == 0 {
		return 0
	}
	return 2*weighted/(n*sum) - (n+1)/n
}

// hoursGini is the Gini coefficient of the batch's hours per member, among
// all members and among those who got a job.
func hoursGini(mt matching, jobs []matchJob, members int) (all, assigned float64) {
	hours := make([]float64, members)
	var got []float64
	for ji, i := range mt.member {
		if i >= 0 {
			hours[i] += float64(jobs[ji].EstimatedMinutes) / 60
		}
	}
	for _, h := range hours {
		if h > 0 {
			got = append(got, h)
		}
	}
	return gini(hours), gini(got)
}

// loadGini is the Gini coefficient, among all members, of their booked
// share of capacity over the horizon once the batch is placed: unlike the
// batch's hours, it depends on who got which job.
func loadGini(mt matching, members []matchMember, jobs []matchJob) float64 {
	share := make([]float64, len(members))
	for i, m := range members {
		share[i] = float64(m.bookedMin) / float64(m.capacityMin)
	}
	for ji, i := range mt.member {
		if i >= 0 {
			share[i] += float64(jobs[ji].EstimatedMinutes) / float64(members[i].capacityMin)
		}
	}
	return gini(share)
}

// matchQuality is what the benchmark measures.
type matchQuality struct {
	router, optimal         matching // the router; optimal: over the jobs it placed
	fcfs, fcfsOptimal       matching // first come, first served; optimal over its jobs
	optimalAll              matching // optimal: over every job of the batch
	onlyOptimal             []int    // jobs the optimum places and the router cannot
	onlyRouter              int      // jobs the router places and that optimum leaves out
	unplaceable             int      // jobs nobody at all could take
	giniAll, giniAssigned   float64  // the router
	oGiniAll, oGiniAssigned float64  // optimal over the router's jobs
	giniLoad, oGiniLoad     float64  // booked share of capacity, router and optimal
}

func (q matchQuality) ratio() float64     { return q.router.cost / q.optimal.cost }
func (q matchQuality) fcfsRatio() float64 { return q.fcfs.cost / q.fcfsOptimal.cost }

func measureMatching(members []matchMember, jobs []matchJob) matchQuality {
	var q matchQuality
	q.router = routerMatch(members, jobs, DefaultWeights, true)
	q.fcfs = routerMatch(members, jobs, DefaultWeights, false)
	cost := costMatrix(members, jobs, DefaultWeights)
	var placed, fcfsPlaced, all []int
	for ji := range jobs {
		all = append(all, ji)
		if q.router.member[ji] >= 0 {
			placed = append(placed, ji)
		}
		if q.fcfs.member[ji] >= 0 {
			fcfsPlaced = append(fcfsPlaced, ji)
		}
		if !slices.ContainsFunc(cost[ji], func(c float64) bool { return c < infeasible }) {
			q.unplaceable++
		}
	}
	q.optimal = optimalMatch(cost, placed)
	q.fcfsOptimal = optimalMatch(cost, fcfsPlaced)
	q.optimalAll = optimalMatch(cost, all)
	for ji, i := range q.optimalAll.member {
		if i >= 0 && q.router.member[ji] < 0 {
			q.onlyOptimal = append(q.onlyOptimal, ji)
		}
		if i < 0 && q.router.member[ji] >= 0 {
			q.onlyRouter++
		}
	}
	q.giniAll, q.giniAssigned = hoursGini(q.router, jobs, len(members))
	q.oGiniAll, q.oGiniAssigned = hoursGini(q.optimal, jobs, len(members))
	q.giniLoad, q.oGiniLoad = loadGini(q.router, members, jobs), loadGini(q.optimal, members, jobs)
	return q
}

// BenchmarkMatchingQuality: the router's placement of a national batch of
// 200 jobs over 600 members, against the optimal assignment under the same
// cost function, each member taking at most one job of the batch, and
// first come, first served beside it. The target ratio router/optimal
// ≤ 1.05 is reported, not asserted.
func BenchmarkMatchingQuality(b *testing.B) {
	members, jobs := matchBatch(b)
	var q matchQuality
	for b.Loop() {
		q = measureMatching(members, jobs)
	}
	if q.optimal.placed != q.router.placed {
		b.Fatalf("the optimum over the router's %d jobs placed %d of them", q.router.placed, q.optimal.placed)
	}

	b.ReportMetric(q.ratio(), "router/optimal")
	b.ReportMetric(q.fcfsRatio(), "fcfs/optimal")
	b.ReportMetric(q.router.cost, "router_cost")
	b.ReportMetric(q.optimal.cost, "optimal_cost")
	b.ReportMetric(float64(q.router.placed), "router_placed")
	b.ReportMetric(float64(q.fcfs.placed), "fcfs_placed")
	b.ReportMetric(float64(q.optimalAll.placed), "optimal_placed")
	b.ReportMetric(float64(q.router.superseded), "superseded")
	b.ReportMetric(q.giniAll, "gini_all")
	b.ReportMetric(q.giniAssigned, "gini_assigned")
	b.ReportMetric(q.giniLoad, "gini_load")

	verdict := "ok"
	if q.ratio() > matchTargetRatio {
		verdict = "MISSED"
	}
	// testing keeps ten lines of a benchmark's log: seven here.
	var s strings.Builder
	fmt.Fprintf(&s, "matching quality: the router vs the optimal assignment (Hungarian), same cost, DefaultWeights\n")
	fmt.Fprintf(&s, "  %d members in 13 regions, %d jobs (seed %d); a member takes at most one job of the batch\n",
		len(members), len(jobs), matchSeed)
	fmt.Fprintf(&s, "  jobs placed: router %d (%d offers superseded, %d searches again), first come first served %d, optimal %d, nobody qualified %d",
		q.router.placed, q.router.superseded, q.router.searchedAgain, q.fcfs.placed, q.optimalAll.placed, q.unplaceable)
	if len(q.onlyOptimal) > 0 {
		fmt.Fprintf(&s, "; the optimum over all jobs places %d the router could not, leaving out %d it placed",
			len(q.onlyOptimal), q.onlyRouter)
	}
	fmt.Fprintf(&s, "\n  cost over the router's %d jobs: router %.4f, optimal %.4f (%.4f vs %.4f a job); ratio %.4f (target ≤ %.2f): %s\n",
		q.router.placed, q.router.cost, q.optimal.cost,
		q.router.cost/float64(max(q.router.placed, 1)), q.optimal.cost/float64(max(q.optimal.placed, 1)),
		q.ratio(), matchTargetRatio, verdict)
	fmt.Fprintf(&s, "  baseline, first come first served (nobody's place taken): %.4f over its %d jobs against %.4f, ratio %.4f\n",
		q.fcfs.cost, q.fcfs.placed, q.fcfsOptimal.cost, q.fcfsRatio())
	fmt.Fprintf(&s, "  Gini of the batch's hours: all %d members %.3f, members with a job %.3f (optimal: %.3f, %.3f; "+
		"one job each, so both spread the same hours)\n", len(members), q.giniAll, q.giniAssigned, q.oGiniAll, q.oGiniAssigned)
	fmt.Fprintf(&s, "  Gini of booked share of capacity after the batch, all members: router %.3f, optimal %.3f",
		q.giniLoad, q.oGiniLoad)
	b.Log(s.String())
}

// TestHungarian checks the assignment solver against brute force on random
// 5×7 matrices (with ties and infeasible pairs) and a few edge shapes.
func TestHungarian(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	check := func(name string, cost [][]float64) {
		t.Helper()
		assign, total := hungarian(cost)
		want := bruteAssign(cost)
		if math.Abs(total-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Fatalf("%s: total %v, brute force %v; matrix %v", name, total, want, cost)
		}
		seen := map[int]bool{}
		sum := 0.0
		for i, j := range assign {
			if j < 0 || j >= len(cost[0]) || seen[j] {
				t.Fatalf("%s: assignment %v is not injective", name, assign)
			}
			seen[j] = true
			sum += cost[i][j]
		}
		if math.Abs(sum-total) > 1e-9*math.Max(1, math.Abs(total)) {
			t.Fatalf("%s: assignment %v sums to %v, reported %v", name, assign, sum, total)
		}
	}
	random := func(n, m int) [][]float64 {
		c := make([][]float64, n)
		for i := range c {
			c[i] = make([]float64, m)
			for j := range c[i] {
				switch r := rng.Float64(); {
				case r < .15:
					c[i][j] = infeasible
				case r < .35:
					c[i][j] = float64(rng.IntN(4)) // ties
				default:
					c[i][j] = rng.Float64() * 5
				}
			}
		}
		return c
	}
	for k := range 500 {
		check(fmt.Sprintf("5×7 #%d", k), random(5, 7))
	}
	for k := range 50 {
		check(fmt.Sprintf("5×5 #%d", k), random(5, 5))
		check(fmt.Sprintf("1×4 #%d", k), random(1, 4))
		check(fmt.Sprintf("3×7 #%d", k), random(3, 7))
	}
	if a, total := hungarian(nil); a != nil || total != 0 {
		t.Errorf("empty: %v %v", a, total)
	}
	// Every row infeasible but one column: the solver still gives each row
	// a distinct column.
	check("all infeasible", [][]float64{{infeasible, infeasible, infeasible}, {infeasible, 1, infeasible}})
}

// bruteAssign is the least total over every injective map of rows to
// columns.
func bruteAssign(cost [][]float64) float64 {
	n, m := len(cost), len(cost[0])
	used := make([]bool, m)
	best := math.Inf(1)
	var rec func(i int, sum float64)
	rec = func(i int, sum float64) {
		if i == n {
			best = min(best, sum)
			return
		}
		for j := range m {
			if !used[j] {
				used[j] = true
				rec(i+1, sum+cost[i][j])
				used[j] = false
			}
		}
	}
	rec(0, 0)
	return best
}

func TestGini(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{1, 1, 1, 1}, 0},
		{[]float64{0, 0, 0, 4}, .75},
		{[]float64{1, 2, 3, 4}, .25},
		{nil, 0},
	} {
		if got := gini(c.xs); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("gini(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

// TestRouterMatching: on batches drawn like the benchmark's with other
// seeds, the router's placement is a valid one (each job to a qualified
// member, no member twice), places at least as many jobs as first come,
// first served, and is within the target of the optimum.
func TestRouterMatching(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		members, jobs := matchBatchSeed(t, matchSeed+seed)
		q := measureMatching(members, jobs)
		cost := costMatrix(members, jobs, DefaultWeights)
		held := map[int]int{}
		for ji, i := range q.router.member {
			if i < 0 {
				continue
			}
			if cost[ji][i] >= infeasible {
				t.Fatalf("seed %d: job %d given to member %d, who cannot take it", seed, ji, i)
			}
			if other, ok := held[i]; ok {
				t.Fatalf("seed %d: member %d given jobs %d and %d", seed, i, other, ji)
			}
			held[i] = ji
		}
		if len(held) != q.router.placed || q.router.placed < q.fcfs.placed {
			t.Errorf("seed %d: router placed %d (%d members), first come first served %d", seed, q.router.placed, len(held), q.fcfs.placed)
		}
		if q.ratio() > matchTargetRatio {
			t.Errorf("seed %d: router/optimal %.4f > %.2f", seed, q.ratio(), matchTargetRatio)
		}
		t.Logf("seed %d: router %.4f (%d placed, %d superseded), first come first served %.4f (%d placed)",
			seed, q.ratio(), q.router.placed, q.router.superseded, q.fcfsRatio(), q.fcfs.placed)
	}
}
