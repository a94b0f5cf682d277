package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/wire"
)

// subscribe sets up everything this node listens to: questions for its
// region, acceptances of its tickets, presence, and its durable job queue.
func (s *Service) subscribe(ctx context.Context) error {
	nc := s.bus.Conn
	queue := "coopnet-" + s.cfg.Region // one answer per region, whatever its replicas
	// NATS calls a subscription's handler one message at a time: questions
	// and jobs are handled side by side by a bounded pool instead.
	sub, err := nc.QueueSubscribe(wire.SubjectRoute+"*", queue, func(m *nats.Msg) { s.relay.Spawn(func() { s.member.AnswerQuestion(ctx, m) }) })
	if err != nil {
		return fmt.Errorf("routing: subscribe to questions: %w", err)
	}
	s.subs = append(s.subs, sub)
	sub, err = nc.QueueSubscribe(subjectStats, queue, func(m *nats.Msg) { s.relay.Spawn(func() { s.answerStats(ctx, m) }) })
	if err != nil {
		return fmt.Errorf("routing: subscribe to stats: %w", err)
	}
	s.subs = append(s.subs, sub)
	sub, err = nc.QueueSubscribe(wire.SubjectAccept+s.cfg.Region, queue, func(m *nats.Msg) { s.answerAccept(ctx, m) })
	if err != nil {
		return fmt.Errorf("routing: subscribe to acceptances: %w", err)
	}
	s.subs = append(s.subs, sub)
	sub, err = nc.QueueSubscribe(wire.SubjectRelease+s.cfg.Region, queue, func(m *nats.Msg) { s.answerRelease(ctx, m) })
	if err != nil {
		return fmt.Errorf("routing: subscribe to releases: %w", err)
	}
	s.subs = append(s.subs, sub)
	// One subscription for the answers to every question this node asks.
	s.replyPrefix = nc.NewInbox() + "."
	sub, err = nc.Subscribe(s.replyPrefix+"*", func(m *nats.Msg) {
		s.waitMu.Lock()
		ch := s.waiting[strings.TrimPrefix(m.Subject, s.replyPrefix)]
		s.waitMu.Unlock()
		if ch == nil {
			return // a late answer: its gather is over
		}
		select {
		case ch <- m:
		default: // more answers than regions: the gather has what it needs
		}
	})
	if err != nil {
		return fmt.Errorf("routing: subscribe to answers: %w", err)
	}
	s.subs = append(s.subs, sub)
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("routing: flush subscriptions: %w", err)
	}

	// The region's durable queue: offers to its members, answers to its
	// tickets' offers. Replicas share the consumer; each message is handled
	// once and acknowledged after it is saved.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := s.bus.JS.CreateOrUpdateConsumer(cctx, "COOPNET_JOBS", jetstream.ConsumerConfig{
		Durable:       "jobs-" + s.cfg.Region,
		FilterSubject: wire.SubjectJobs + s.cfg.Region + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1, // handleJob drops a message that keeps failing, after logging it
	})
	if err != nil {
		return fmt.Errorf("routing: job consumer: %w", err)
	}
	s.consume, err = cons.Consume(func(m jetstream.Msg) { s.relay.Spawn(func() { s.handleJob(ctx, m) }) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if ctx.Err() == nil {
				s.log.Debug("job consumer", "err", err)
			}
		}))
	if err != nil {
		return fmt.Errorf("routing: consume jobs: %w", err)
	}
	return nil
}

// gather asks every region for candidates and collects their answers until
// every live region has answered or the window closes: a region that does
// not answer in time is left out.
func (s *Service) gather(ctx context.Context, q wire.Question) ([]wire.Answer, error) {
	start := time.Now()
	defer func() { s.m.gather.Observe(time.Since(start).Seconds()) }()
	data, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	// Answers come to this node's one reply subscription, tagged with the
	// question's id: no subscription to set up and tear down per question.
	ch := make(chan *nats.Msg, 64)
	s.waitMu.Lock()
	s.waiting[q.ID] = ch
	s.waitMu.Unlock()
	defer func() {
		s.waitMu.Lock()
		delete(s.waiting, q.ID)
		s.waitMu.Unlock()
	}()
	msg, err := s.relay.NewMsg(ctx, wire.SubjectRoute+q.Skill, data)
	if err != nil {
		return nil, err
	}
	msg.Reply = s.replyPrefix + q.ID
	if err := s.bus.Conn.PublishMsg(msg); err != nil {
		return nil, fmt.Errorf("routing: ask regions: %w", err)
	}
	// Just after its start a node does not know every region yet (they
	// answer its presence at once, see relay.Hello): while it settles it
	// waits for the whole window rather than stop at the first
	// answers, which could be its own region's alone.
	expected := s.relay.LiveRegions()
	if s.relay.Settling() {
		expected = 0
	}
	var wanted map[string]bool // the regions Config.Expect names
	if s.cfg.Expect != nil {
		if names := s.cfg.Expect(); len(names) > 0 {
			wanted = map[string]bool{}
			for _, r := range names {
				wanted[r] = true
			}
			expected = len(wanted)
		}
	}
	timer := time.NewTimer(s.cfg.GatherWindow)
	defer timer.Stop()
	var answers []wire.Answer
	seen := map[string]bool{}
	for expected == 0 || len(answers) < expected {
		select {
		case <-ctx.Done():
			return answers, ctx.Err()
		case <-timer.C:
			return answers, nil
		case m := <-ch:
			a, err := wire.DecodeAnswer(m.Data)
			if err != nil {
				s.relay.Drop("answer", err)
				continue
			}
			if err := a.Validate(q.ID); err != nil {
				s.relay.Drop("answer", err)
				continue
			}
			// Only the region's own node answers for its members.
			if err := s.relay.Verify(ctx, relay.In{Subject: m.Subject, Data: m.Data, Header: m.Header}, relay.Sender{Region: a.Region}, true); err != nil {
				s.relay.DropOrWarn("answer", err)
				continue
			}
			if seen[a.Region] {
				s.relay.Drop("answer", fmt.Errorf("a second answer from %s", a.Region))
				continue
			}
			seen[a.Region] = true
			answers = append(answers, a)
			if wanted != nil && !wanted[a.Region] {
				expected++ // an answer from a region not named: wait for those named still
			}
		}
	}
	return answers, nil
}
