package webui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/webui/web"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	panics   prometheus.Counter
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coopnet_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coopnet_http_request_duration_seconds",
			Help:    "HTTP request latency by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coopnet_http_panics_total", Help: "Handler panics recovered.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.panics)
	return m
}

// metricsHandler serves /metrics to a request with the metrics token only.
func (s *Server) metricsHandler() echo.HandlerFunc {
	h := echo.WrapHandler(s.MetricsHandler())
	want := []byte("Bearer " + s.Opt.MetricsToken)
	return func(c echo.Context) error {
		if s.Opt.MetricsToken == "" {
			return apperr.New(apperr.Forbidden, "the metrics are not public: set COOPNET_METRICS_TOKEN_FILE (then send "+
				"Authorization: Bearer <token>) or COOPNET_METRICS_LISTEN (a listen address of their own)")
		}
		got := []byte(c.Request().Header.Get(echo.HeaderAuthorization))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="coopnet metrics"`)
			return apperr.New(apperr.Unauthorised, "send the metrics token: Authorization: Bearer <token>")
		}
		return h(c)
	}
}

// MetricsHandler serves the node's metrics without any check, for a
// listen address of their own (COOPNET_METRICS_LISTEN: a private network,
// a Prometheus on the same host).
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.Opt.Registry, promhttp.HandlerOpts{})
}

// Request ids are a random prefix per process and a counter: unique across
// replicas and restarts, and no system call per request.
var (
	requestIDPrefix = func() string {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}()
	requestIDSeq atomic.Uint64
)

func newRequestID() string {
	return requestIDPrefix + "-" + strconv.FormatUint(requestIDSeq.Add(1), 36)
}

// validRequestID accepts a caller's X-Request-ID only if it is short and plain.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

var statusStrings sync.Map

func statusString(code int) string {
	if v, ok := statusStrings.Load(code); ok {
		return v.(string)
	}
	s := strconv.Itoa(code)
	statusStrings.Store(code, s)
	return s
}

// observe gives each request an id, recovers from panics (a 500 problem
// without details, logged with the id and the stack), logs one line per
// request and counts it in the metrics.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		start := time.Now()
		r := c.Request()
		id := r.Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(web.RequestIDKey, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)

		func() {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					s.metrics.panics.Inc()
					s.RequestLog(c).Error("panic in handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			err = next(c)
		}()
		if err != nil {
			s.errorHandler(err, c)
		}

		status := c.Response().Status
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		st := statusString(status)
		method := knownMethod(r.Method)
		s.metrics.requests.WithLabelValues(route, method, st).Inc()
		s.metrics.latency.WithLabelValues(route, method, st).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			level = slog.LevelDebug
		}
		// One line a request, written straight to the handler: no source
		// position to look up, no logger to derive for it.
		if h := s.Log.Handler(); h.Enabled(r.Context(), level) {
			rec := slog.NewRecord(start.Add(elapsed), level, "request", 0)
			rec.AddAttrs(slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
				slog.String("path", r.URL.Path), slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000), slog.Int64("bytes", c.Response().Size))
			_ = h.Handle(r.Context(), rec)
		}
		return nil
	}
}

// knownMethod bounds the method label: any other verb is "other", so that
// made-up methods cannot grow the metrics without limit.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	out := map[string]string{}
	ok, degraded := true, false
	for _, chk := range s.Opt.Ready {
		if err := chk.Func(ctx); err != nil {
			out[chk.Name] = "unavailable"
			if chk.Degrades {
				degraded = true
			} else {
				ok = false
			}
			s.RequestLog(c).Warn("readiness check failed", "check", chk.Name, "degrades_only", chk.Degrades, "err", err)
		} else {
			out[chk.Name] = "ok"
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, map[string]any{"ready": ok, "degraded": degraded, "checks": out})
}
