package web

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/queue"
)

// Core is what the API's handlers and the pages' share: the node's
// services, its logger and how its public URL is reached.
type Core struct {
	Opt    Options
	Log    *slog.Logger
	Secure bool   // cookies only over https
	Origin string // scheme://host of the public URL
}

// NewCore fills in the options' defaults.
func NewCore(opt Options) *Core {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	u, _ := url.Parse(opt.PublicURL)
	c := &Core{Opt: opt, Log: opt.Logger, Secure: u != nil && u.Scheme == "https"}
	if u != nil {
		c.Origin = u.Scheme + "://" + u.Host
	}
	return c
}

// RequestIDKey is where the request's id is kept in echo's context.
const RequestIDKey = "request_id"

// RequestID is the request's id ("" outside a request).
func RequestID(c echo.Context) string {
	id, _ := c.Get(RequestIDKey).(string)
	return id
}

// RequestLog is the node's logger with the request's id.
func (s *Core) RequestLog(c echo.Context) *slog.Logger {
	return s.Log.With("request_id", RequestID(c))
}

// NeedPrivacy refuses a request when the node runs without the privacy
// service.
func (s *Core) NeedPrivacy() error {
	if s.Opt.Privacy == nil {
		return apperr.New(apperr.Unavailable, "privacy is not available on this node")
	}
	return nil
}

// AfterLeaving ends at once what members who left still hold, when the
// routing runs on this node (it also does so every minute: what fails now,
// the node of a job not answering, is done then).
func (s *Core) AfterLeaving(c echo.Context) {
	if s.Opt.Routing == nil {
		return
	}
	if _, _, err := s.Opt.Routing.Member().SweepLeavers(c.Request().Context()); err != nil {
		s.RequestLog(c).Warn("the offers and jobs of a member who left; the routing retries", "err", err)
	}
}

// QueuesView is the state of the node's durable queues: each one's items
// by state, and the latest items they gave up on (dead letters), newest
// first, without a client's personal data.
type QueuesView struct {
	Items       []queue.Stats      `json:"items"`
	DeadLetters []queue.DeadLetter `json:"dead_letters"`
}

// deadLettersShown is how many dead letters of each queue staff see.
const deadLettersShown = 20

// Queues is the state of the node's queues.
func (s *Core) Queues(ctx context.Context) (*QueuesView, error) {
	v := &QueuesView{Items: []queue.Stats{}, DeadLetters: []queue.DeadLetter{}}
	for _, q := range s.Opt.Queues {
		st, err := q.Stats(ctx)
		if err != nil {
			return nil, err
		}
		v.Items = append(v.Items, st)
		dead, err := q.DeadLetters(ctx, deadLettersShown)
		if err != nil {
			return nil, err
		}
		v.DeadLetters = append(v.DeadLetters, dead...)
	}
	return v, nil
}

// NoStore keeps answers of the API (which carry members' and clients'
// personal data) out of every cache, shared or the browser's own.
func NoStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// Paris is the coop's time zone: a calendar's days and weeks are French.
var Paris = mustLoadLocation("Europe/Paris")

func mustLoadLocation(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is embedded
	}
	return l
}

// MondayOf is the start of t's week: Monday 00:00, Paris time.
func MondayOf(t time.Time) time.Time {
	t = t.In(Paris)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, Paris)
	return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
}
