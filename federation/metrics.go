package federation

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	inbox           *prometheus.CounterVec
	applied         *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	deliveryLatency prometheus.Histogram
	keyFetches      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	m := &metrics{
		inbox: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_federation_inbox_total",
			Help: "Activities received, by outcome (accepted, duplicate, unauthorized, forbidden, bad_request)."}, []string{"result"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_federation_applied_total",
			Help: "Received activities processed, by outcome (ok, pending: to retry, failed)."}, []string{"result"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_federation_delivery_attempts_total",
			Help: "Delivery attempts, by outcome (delivered, retry, refused, gone, expired)."}, []string{"result"}),
		deliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "coopnet_federation_delivery_seconds",
			Help: "Time of one delivery attempt.", Buckets: prometheus.ExponentialBuckets(.005, 2, 12)}),
		keyFetches: prometheus.NewCounter(prometheus.CounterOpts{Name: "coopnet_federation_key_fetches_total",
			Help: "Peer keys fetched (not found in the cache, or refreshed after a failed check)."}),
	}
	if reg == nil {
		return m
	}
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "coopnet_federation_outbox_depth",
		Help: "Deliveries waiting in the outbox."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.QueueDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	reg.MustRegister(m.inbox, m.applied, m.deliveries, m.deliveryLatency, m.keyFetches, depth)
	return m
}
