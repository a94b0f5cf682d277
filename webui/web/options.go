package web

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coopnet/coopnet/federation/transport"
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/privacy"
	"github.com/coopnet/coopnet/services/queue"
	"github.com/coopnet/coopnet/services/routing"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/tickets"
)

// Check is a readiness check: nil when the dependency answers. A check
// that Degrades does not make the node unready when it fails, only
// "degraded": the node keeps serving its pages and API without it (NATS
// away: routing waits, the web works), so a load balancer must not take
// it out of service for that.
type Check struct {
	Name     string
	Func     func(ctx context.Context) error
	Degrades bool
}

// Options wire a server to its services.
type Options struct {
	Region    string
	PublicURL string // e.g. https://bretagne.coopnet.example
	Members   *members.Service
	Clients   *clients.Service
	Tickets   *tickets.Service
	Planning  *planning.Service
	Privacy   *privacy.Service
	Routing   *routing.Service
	Skills    *skills.Catalog
	// Notify is the members' notifications (in the app, by e-mail) and
	// what the live pages watch.
	Notify *notify.Service
	// MailDir is the folder the demo writes its mails to ("" when mails
	// are sent, or not at all): a page lists them.
	MailDir string
	// Directory is the coop-wide member directory.
	Directory *directory.Service
	// Federation registers the ActivityPub endpoints (actors, inboxes,
	// WebFinger, NodeInfo); nil serves none.
	Federation interface{ Routes(*echo.Echo) }
	// Peers lists the other regions' nodes (nil: none known), for the
	// login page's hint to a member of another region.
	Peers func(ctx context.Context) ([]transport.PeerNode, error)
	// Queues are the node's durable queues, whose state and dead letters
	// staff see.
	Queues   []*queue.Queue
	Logger   *slog.Logger
	Registry *prometheus.Registry // metrics; a fresh one when nil
	Ready    []Check              // readiness checks (database, NATS …)
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For is believed; without any, the peer address is the
	// client's.
	TrustedProxies []*net.IPNet
	// MetricsToken, when set, lets /metrics answer a request that sends it
	// as a bearer token. Without it /metrics is refused on this server:
	// its figures (members' counts, routing, failures) are not for anyone
	// who can reach the node; cmd can serve them on a listen address of
	// their own instead (MetricsHandler).
	MetricsToken string
	// Now is the server's clock (failed logins' waits); time.Now when nil.
	Now func() time.Time
}
