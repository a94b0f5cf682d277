package member

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/coopnet/coopnet/services/geo"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/score"
	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/storage"
)

// AnswerQuestion answers for this region's members: those who could take
// the job, with their figures, and how many were left out and why.
func (s *Service) AnswerQuestion(ctx context.Context, m *nats.Msg) {
	q, err := wire.DecodeQuestion(m.Data)
	if !s.relay.Check("question", err, &q) {
		return
	}
	// The members' figures go to the asking region's node only: the
	// question must be signed by it, and the answer go to its own inbox
	// (which NATS lets no other region read, see deploy/nats).
	if !relay.AsksFor(m, q.OriginRegion) {
		s.relay.Drop("question", fmt.Errorf("reply subject %q is not an inbox of %s", m.Reply, q.OriginRegion))
		return
	}
	if err := s.relay.Verify(ctx, relay.In{Subject: m.Subject, Data: m.Data, Header: m.Header}, relay.Sender{Region: q.OriginRegion}, true); err != nil {
		s.relay.DropOrWarn("question", err)
		return
	}
	a, err := s.candidates(ctx, q)
	if err != nil {
		s.log.Error("routing: answer a question", "question", q.ID, "err", err)
		return // no answer: the asking region leaves this one out
	}
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	s.relay.Respond(ctx, m, b)
}

// candidates computes this region's answer to a question: its best
// candidates (at most MaxCandidatesPerRegion, ranked by the one cost
// function: the coop-wide best are among the regions' best), and how many
// members were left out and why.
func (s *Service) candidates(ctx context.Context, q wire.Question) (wire.Answer, error) {
	a := wire.Answer{V: wire.Version, QuestionID: q.ID, Region: s.cfg.Region, Candidates: []wire.Candidate{}}
	holders, err := s.holders(ctx, q.Skill)
	if err != nil || len(holders) == 0 {
		return a, err
	}
	_, err = s.book.use(ctx, func(bk bookings) {
		a.Candidates, a.Excluded = rankHolders(s.cfg.Region, q, holders, s.cfg.Weights, bk, score.MaxCandidatesPerRegion)
	})
	return a, err
}

// bookings is what a region's ranking reads of its members' bookings.
type bookings interface {
	// minutes are the member's booked minutes over the horizon and routed
	// minutes received this quarter.
	minutes(memberID string) (booked, routed int)
	// inPlaceOf proposes c, who has no room for job, in the place of one of
	// their pending offers (see book.inPlaceOf).
	inPlaceOf(c wire.Candidate, job score.Job) (wire.Candidate, bool)
}

// rankHolders ranks a region's members who have the question's skill: the
// best k who can take the job, best first (as RankTop orders them), and
// how many were left out and why. A member who lacks room only because of
// a pending offer is proposed in its place, unless the question says not
// to.
//
// A region answers every question with it, over hundreds of members, so
// it does the least work for those who cannot make the top k: level and
// reach first, bookings only for those who pass, the cost from the figures
// alone, and the great-circle distance, for remote work by a member who
// accepts it, only when it breaks a tie or is shown in the answer.
func rankHolders(region string, q wire.Question, holders []members.SkillHolder, w score.Weights, bk bookings, k int) ([]wire.Candidate, wire.Exclusions) {
	var ex wire.Exclusions
	job := score.JobOf(&q)
	to := geo.Point{Lat: q.Lat, Lon: q.Lon}
	var skip map[string]bool
	if len(q.Skip) > 0 {
		skip = make(map[string]bool, len(q.Skip))
		for _, h := range q.Skip {
			skip[h] = true
		}
	}
	top := score.NewTopK(k)
	for i := range holders {
		h := &holders[i]
		if skip[h.Handle] {
			continue // offered the job already: not counted as left out either
		}
		if !h.Active {
			ex.Inactive++
			continue
		}
		if h.Level < job.MinLevel {
			ex.Level++
			continue
		}
		c := wire.Candidate{Region: region, MemberID: h.ID, Handle: h.Handle, Name: h.Name, Level: h.Level,
			DistanceKm: -1, RemoteOK: h.RemoteOK, RadiusKm: h.RadiusKm, CapacityMin: score.CapacityMin(h.WeeklyHours, q.HorizonDays)}
		if job.OnSite || !h.RemoteOK {
			// Reach (and cost) depend on the distance: see Exclude.
			if beyond(h, to, c.RadiusKm) {
				ex.Radius++
				continue
			}
			c.DistanceKm = distanceTo(h, to)
			if c.DistanceKm > float64(c.RadiusKm) {
				ex.Radius++
				continue
			}
		}
		c.BookedMin, c.RoutedMinQtr = bk.minutes(h.ID)
		if c.CapacityMin-c.BookedMin < job.EstimatedMinutes {
			// No room, because of a pending offer: proposed in its place, at
			// the cost of what that offer's job loses (see score.RankCost).
			in, ok := bk.inPlaceOf(c, job)
			if !ok || q.NoSupersede {
				ex.Capacity++
				continue
			}
			c = in
		}
		cost := score.Round9(score.RankCost(c, job, w)) // the distance, if still unknown, is not part of it
		if !top.MayTake(cost) {
			continue
		}
		if c.DistanceKm < 0 {
			c.DistanceKm = distanceTo(h, to)
		}
		top.Offer(score.Scored{Candidate: c, Cost: cost})
	}
	cands := make([]wire.Candidate, len(top.List()))
	for i, sc := range top.List() {
		cands[i] = sc.Candidate
	}
	return cands, ex
}

// beyond says, without trigonometry, that a member surely lives farther
// than km from a place: the great-circle distance is never less than the
// distance along a meridian between their latitudes (the margin covers
// distanceTo's rounding). false means "maybe not": see distanceTo.
func beyond(h *members.SkillHolder, to geo.Point, km int) bool {
	return h.Lat != nil && geo.EarthRadiusKm*math.Abs(*h.Lat-to.Lat)*math.Pi/180 > float64(km)+0.1
}

// distanceTo is a member's great-circle distance to a place, to 0.1 km;
// unknownDistance for a member without a home location.
func distanceTo(h *members.SkillHolder, to geo.Point) float64 {
	if h.Lat == nil || h.Lon == nil {
		return unknownDistance
	}
	return math.Round(geo.DistanceKm(geo.Point{Lat: *h.Lat, Lon: *h.Lon}, to)*10) / 10
}

// holders returns the region's members with a skill, cached for a couple
// of seconds: members and skills change rarely, questions come often.
func (s *Service) holders(ctx context.Context, skill string) ([]members.SkillHolder, error) {
	s.holdMu.Lock()
	h, ok := s.holdCache[skill]
	s.holdMu.Unlock()
	if ok && time.Since(h.at) < holdersTTL {
		return h.list, nil
	}
	list, err := s.members.WithSkill(ctx, skill)
	if err != nil {
		return nil, err
	}
	s.holdMu.Lock()
	s.holdCache[skill] = cachedHolders{list: list, at: time.Now()}
	s.holdMu.Unlock()
	return list, nil
}

const holdersTTL = 2 * time.Second

type cachedHolders struct {
	list []members.SkillHolder
	at   time.Time
}

// unknownDistance stands for a member without a home location: never within
// a radius, fine for remote work.
const unknownDistance = 40000.0

// book is a node's view of how busy its members are: minutes booked (work
// under way, offers pending, other regions' jobs accepted over the horizon)
// and routed minutes received this quarter. Questions come often and this
// changes slowly, so it is read from the database at most every
// bookTTL, and offers stored in between are added at once: the member a
// burst of jobs goes to is seen busier from one offer to the next.
type book struct {
	s *Service

	mu       sync.Mutex
	loadedAt time.Time
	gen      uint64 // reloads so far
	minutes  map[string]memberMinutes
	held     map[string][]heldOffer // pending offers that may be superseded, by member
}

// heldOffer is a pending offer that another job may take the member's place
// from: its origin sent what its job would lose.
type heldOffer struct {
	ID        string
	MemberID  string
	Minutes   int
	Regret    float64
	ExpiresAt time.Time
}

const bookTTL = time.Second

// use runs f with the view of bookings, under the view's lock, reading it
// again first when it is older than bookTTL, and returns its generation.
func (b *book) use(ctx context.Context, f func(bookings)) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.minutes == nil || time.Since(b.loadedAt) >= bookTTL {
		minutes, err := b.s.loadBook(ctx)
		if err != nil {
			return 0, err
		}
		held, err := b.s.loadHeld(ctx)
		if err != nil {
			return 0, err
		}
		b.minutes, b.held, b.loadedAt = minutes, held, time.Now()
		b.gen++
	}
	f(lockedBook{b: b, now: time.Now()})
	return b.gen, nil
}

// memberMinutes are a member's booked minutes over the horizon and routed
// minutes received this quarter.
type memberMinutes struct{ booked, routed int }

// lockedBook is a book whose lock its user holds (see book.use), at one
// instant.
type lockedBook struct {
	b   *book
	now time.Time
}

func (l lockedBook) minutes(memberID string) (booked, routed int) {
	m := l.b.minutes[memberID]
	return max(0, m.booked), m.routed
}

// add counts an offer just stored for a member, if the view is still of
// generation gen, read before the offer was stored. Otherwise a reload in
// between may have counted it already: the view is read again instead.
func (b *book) add(gen uint64, o *Offer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.minutes == nil {
		return
	}
	if b.gen != gen {
		b.loadedAt = time.Time{}
		return
	}
	m := b.minutes[o.MemberID]
	m.booked += o.EstimatedMinutes
	b.minutes[o.MemberID] = m
	if o.Regret != nil {
		b.held[o.MemberID] = append(b.held[o.MemberID], heldOffer{ID: o.ID, MemberID: o.MemberID,
			Minutes: o.EstimatedMinutes, Regret: *o.Regret, ExpiresAt: o.ExpiresAt})
	}
}

// invalidate makes the next use read the view again: an offer ended (its
// minutes are no longer booked). Adjusting the counts instead could count
// twice a change a concurrent reload already saw.
func (b *book) invalidate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loadedAt = time.Time{}
}

// inPlaceOf proposes c, who has no room for job, in the place of one of
// their pending offers: the one whose job loses least among those that
// leave room enough once given up. ok is false when there is none.
func (l lockedBook) inPlaceOf(c wire.Candidate, job score.Job) (wire.Candidate, bool) {
	b := l.b
	now := l.now
	best := -1
	held := b.held[c.MemberID]
	for i, h := range held {
		if h.ExpiresAt.After(now) && c.CapacityMin-(c.BookedMin-h.Minutes) >= job.EstimatedMinutes &&
			(best < 0 || h.Regret < held[best].Regret || h.Regret == held[best].Regret && h.ID < held[best].ID) {
			best = i
		}
	}
	if best < 0 {
		return c, false
	}
	h := held[best]
	c.BookedMin -= h.Minutes
	c.Supersedes, c.SupersedeCost = h.ID, h.Regret
	return c, true
}

// loadBook reads the members' booked and routed minutes from the database:
// the jobs they hold (their tickets, and copies of other regions' tickets),
// their open offers, and the jobs of other regions they accepted whose
// copy has not arrived yet (counted once, not again with the copy).
func (s *Service) loadBook(ctx context.Context) (minutes map[string]memberMinutes, err error) {
	// Both reads see the same moment: a copy arriving between them (its
	// job not yet among the member's tickets, its accepted offer already
	// left out as held) would leave the job out of the member's book,
	// which would then take more than the member has room for.
	err = s.db.Snapshot(ctx, func(ctx context.Context) error {
		minutes, err = s.readBook(ctx)
		return err
	})
	return minutes, err
}

func (s *Service) readBook(ctx context.Context) (map[string]memberMinutes, error) {
	active, err := s.tickets.ActiveMinutes(ctx)
	if err != nil {
		return nil, err
	}
	minutes := make(map[string]memberMinutes, len(active))
	for id, m := range active {
		minutes[id] = memberMinutes{booked: m}
	}
	now := storage.Now()
	var rows []struct {
		MemberID string
		Booked   int
		Routed   int
	}
	err = s.db.Conn(ctx).Model(&Offer{}).Select(`member_id,
		SUM(CASE WHEN state = 'pending' AND expires_at > ? THEN estimated_minutes ELSE 0 END) AS booked,
		SUM(CASE WHEN state = 'accepted' AND answered_at >= ? THEN estimated_minutes ELSE 0 END) AS routed`,
		now, quarterStart(now)).
		Where("state = 'pending' OR (state = 'accepted' AND answered_at >= ?)",
			minTime(quarterStart(now), now.AddDate(0, 0, -s.cfg.HorizonDays))).
		Group("member_id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("routing: offered minutes: %w", err)
	}
	for _, r := range rows {
		m := minutes[r.MemberID]
		m.booked += r.Booked
		m.routed = r.Routed
		minutes[r.MemberID] = m
	}
	// Jobs of other regions accepted lately whose copy has not arrived
	// yet: booked all the same (once it arrives, the member's tickets
	// count it).
	var accepted []struct {
		MemberID         string
		TicketAPID       string `gorm:"column:ticket_ap_id"`
		EstimatedMinutes int
	}
	if err := s.db.Conn(ctx).Model(&Offer{}).Select("member_id, ticket_ap_id, estimated_minutes").
		Where("state = 'accepted' AND origin_region <> ? AND answered_at > ?", s.cfg.Region, now.AddDate(0, 0, -s.cfg.HorizonDays)).
		Find(&accepted).Error; err != nil {
		return nil, fmt.Errorf("routing: accepted minutes: %w", err)
	}
	apIDs := make([]string, len(accepted))
	for i, a := range accepted {
		apIDs[i] = a.TicketAPID
	}
	held, err := s.tickets.AssigneesOf(ctx, apIDs)
	if err != nil {
		return nil, err
	}
	for _, a := range accepted {
		if held[a.TicketAPID] != a.MemberID {
			m := minutes[a.MemberID]
			m.booked += a.EstimatedMinutes
			minutes[a.MemberID] = m
		}
	}
	return minutes, nil
}

// loadHeld reads the pending offers that may be superseded, by member.
func (s *Service) loadHeld(ctx context.Context) (map[string][]heldOffer, error) {
	var rows []heldOffer
	err := s.db.WithContext(ctx).Model(&Offer{}).
		Select("id, member_id, estimated_minutes AS minutes, regret, expires_at").
		Where("state = 'pending' AND expires_at > ? AND regret IS NOT NULL AND release_token = ''", storage.Now()).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("routing: offers that may be superseded: %w", err)
	}
	held := map[string][]heldOffer{}
	for _, h := range rows {
		held[h.MemberID] = append(held[h.MemberID], h)
	}
	return held, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// quarterStart is the first instant of the calendar quarter of t, in Paris.
func quarterStart(t time.Time) time.Time {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.UTC
	}
	p := t.In(paris)
	month := time.Month((int(p.Month())-1)/3*3 + 1)
	return time.Date(p.Year(), month, 1, 0, 0, 0, 0, paris).UTC()
}
