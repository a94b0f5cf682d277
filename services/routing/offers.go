package routing

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/coopnet/coopnet/services/routing/relay"
	"github.com/coopnet/coopnet/services/routing/wire"
)

// handleJob handles one durable message of this region's queue.
func (s *Service) handleJob(ctx context.Context, m jetstream.Msg) {
	kind := m.Subject()[strings.LastIndexByte(m.Subject(), '.')+1:]
	jm := relay.In{Subject: m.Subject(), Data: m.Data(), Header: m.Headers()}
	var err error
	switch kind {
	case wire.KindOffer:
		err = s.member.ReceiveOffer(ctx, jm)
	case wire.KindDecline:
		err = s.receiveDecline(ctx, jm)
	case wire.KindWithdraw:
		err = s.member.ReceiveWithdraw(ctx, jm)
	case wire.KindAccepted:
		err = s.member.ReceiveAccepted(ctx, jm)
	case wire.KindSuperseded:
		err = s.receiveSuperseded(ctx, jm)
	default:
		kind = "unknown" // bounded metric labels, whatever the subject
		err = wire.Bad("unknown kind in %q", m.Subject())
	}
	var delivered uint64 = 1
	if md, mdErr := m.Metadata(); mdErr == nil {
		delivered = md.NumDelivered
	}
	switch {
	case errors.Is(err, wire.ErrMalformed):
		s.relay.Drop(kind, err)
		_ = m.Term() // never redeliver what cannot be understood
	case err != nil && delivered >= maxDeliveries:
		s.log.Error("routing: job message failed too often; dropped", "subject", m.Subject(), "deliveries", delivered, "err", err)
		s.relay.Drop(kind, err)
		_ = m.Term()
	case err != nil:
		if ctx.Err() == nil {
			s.log.Warn("routing: handle job message; will retry", "subject", m.Subject(), "deliveries", delivered, "err", err)
		}
		_ = m.NakWithDelay(min(time.Duration(1<<min(delivered, 6))*time.Second, time.Minute))
	default:
		_ = m.Ack()
	}
}

// maxDeliveries bounds the attempts at a job message that keeps failing
// (about twenty minutes of back-off): then it is dropped, counted and logged
// rather than retried for ever.
const maxDeliveries = 25
