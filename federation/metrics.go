package federation

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the federation's own; the inbox's, the transport's and the
// queues' are registered by their packages.
type metrics struct {
	inbox *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		inbox: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coopnet_federation_inbox_total",
			Help: "Activities received, by outcome (accepted, duplicate, unauthorized, forbidden, bad_request)."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.inbox)
	}
	return m
}
