package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/wire"
	"github.com/coopnet/coopnet/services/storage"
)

// subjectStats: "how loaded are you?", answered by every region (one
// replica each) with its totals, for the staff's national dashboard.
const subjectStats = "coopnet.v1.stats"

// RegionLoad is one region's workload: its technicians, their weekly
// capacity, and the hours booked on them (work accepted and under way, and
// offers waiting for an answer).
type RegionLoad struct {
	V              int    `json:"v"`
	Question       string `json:"question"`
	Region         string `json:"region"`
	Technicians    int    `json:"technicians"`
	CapacityHours  int    `json:"capacity_hours"`
	BookedMinutes  int    `json:"booked_minutes"`
	RoutedReceived int    `json:"routed_received"` // jobs of other regions its members took this quarter
}

func (l *RegionLoad) validate(question string) error {
	switch {
	case l.V != wire.Version:
		return wire.Bad("version %d", l.V)
	case l.Question != question:
		return wire.Bad("an answer to another question")
	case !wire.RegionRe.MatchString(l.Region):
		return wire.Bad("region %q", l.Region)
	case l.Technicians < 0 || l.Technicians > 1_000_000 || l.CapacityHours < 0 || l.CapacityHours > 100_000_000 ||
		l.BookedMinutes < 0 || l.BookedMinutes > 1<<40 || l.RoutedReceived < 0 || l.RoutedReceived > 1<<30:
		return wire.Bad("figures out of range")
	}
	return nil
}

// localLoad is this region's answer.
func (s *Service) localLoad(ctx context.Context, question string) (RegionLoad, error) {
	l := RegionLoad{V: wire.Version, Question: question, Region: s.cfg.Region}
	techs, err := s.members.Technicians(ctx)
	if err != nil {
		return l, fmt.Errorf("routing: capacity: %w", err)
	}
	for _, m := range techs {
		l.Technicians++
		l.CapacityHours += m.WeeklyHours
	}
	minutes, err := s.member.BookedMinutes(ctx)
	if err != nil {
		return l, err
	}
	for _, m := range minutes {
		l.BookedMinutes += m
	}
	if l.RoutedReceived, err = s.member.RoutedReceived(ctx); err != nil {
		return l, fmt.Errorf("routing: routed jobs: %w", err)
	}
	return l, nil
}

func (s *Service) answerStats(ctx context.Context, m *nats.Msg) {
	var q struct {
		V        int    `json:"v"`
		Question string `json:"question"`
		From     string `json:"from"`
	}
	if err := wire.Decode(m.Data, &q); err != nil || q.V != wire.Version || q.Question == "" || len(q.Question) > 64 ||
		!wire.RegionRe.MatchString(q.From) || m.Reply == "" {
		s.relay.Drop("stats", err)
		return
	}
	if q.From == s.cfg.Region {
		return // the asking node has its own figures
	}
	if !relay.AsksFor(m, q.From) {
		s.relay.Drop("stats", fmt.Errorf("reply subject %q is not an inbox of %s", m.Reply, q.From))
		return
	}
	if err := s.relay.Verify(ctx, relay.In{Subject: m.Subject, Data: m.Data, Header: m.Header}, relay.Sender{Region: q.From}, true); err != nil {
		s.relay.DropOrWarn("stats", err)
		return
	}
	l, err := s.localLoad(ctx, q.Question)
	if err != nil {
		s.log.Warn("routing: stats", "err", err)
		return
	}
	s.relay.RespondJSON(ctx, m, l)
}

// RegionLoads asks every region for its workload and returns the answers
// that came within the gather window, by region. This node's own figures
// are always there, even when the routing network is down.
func (s *Service) RegionLoads(ctx context.Context) ([]RegionLoad, error) {
	id := storage.NewID()
	own, err := s.localLoad(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []RegionLoad{own}
	if s.bus.Connected() {
		ch := make(chan *nats.Msg, 64)
		s.waitMu.Lock()
		s.waiting[id] = ch
		s.waitMu.Unlock()
		defer func() {
			s.waitMu.Lock()
			delete(s.waiting, id)
			s.waitMu.Unlock()
		}()
		b, _ := json.Marshal(map[string]any{"v": wire.Version, "question": id, "from": s.cfg.Region})
		msg, err := s.relay.NewMsg(ctx, subjectStats, b)
		if err == nil {
			msg.Reply = s.replyPrefix + id
			err = s.bus.Conn.PublishMsg(msg)
		}
		if err == nil {
			expected := s.relay.LiveRegions()
			timer := time.NewTimer(s.cfg.GatherWindow)
			defer timer.Stop()
			seen := map[string]bool{s.cfg.Region: true}
		collect:
			for expected == 0 || len(seen) < expected {
				select {
				case <-ctx.Done():
					break collect
				case <-timer.C:
					break collect
				case m := <-ch:
					var l RegionLoad
					if err := wire.Decode(m.Data, &l); err != nil {
						s.relay.Drop("stats_answer", err)
						continue
					}
					if err := l.validate(id); err != nil {
						s.relay.Drop("stats_answer", err)
						continue
					}
					if err := s.relay.Verify(ctx, relay.In{Subject: m.Subject, Data: m.Data, Header: m.Header}, relay.Sender{Region: l.Region}, true); err != nil {
						s.relay.DropOrWarn("stats_answer", err)
						continue
					}
					if !seen[l.Region] {
						seen[l.Region] = true
						out = append(out, l)
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b RegionLoad) int {
		if a.Region < b.Region {
			return -1
		}
		if a.Region > b.Region {
			return 1
		}
		return 0
	})
	return out, nil
}
