package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
)

// Problem is an RFC 9457 problem detail, coopnet's one error shape.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// ProblemType returns the stable URI naming a kind of problem.
func ProblemType(code apperr.Code) string { return "urn:coopnet:problem:" + string(code) }

var statusOf = map[apperr.Code]int{
	apperr.Invalid:          http.StatusUnprocessableEntity,
	apperr.BadRequest:       http.StatusBadRequest,
	apperr.NotFound:         http.StatusNotFound,
	apperr.Conflict:         http.StatusConflict,
	apperr.Forbidden:        http.StatusForbidden,
	apperr.Unauthorised:     http.StatusUnauthorized,
	apperr.TooLarge:         http.StatusRequestEntityTooLarge,
	apperr.UnsupportedMedia: http.StatusUnsupportedMediaType,
	apperr.RateLimited:      http.StatusTooManyRequests,
	apperr.Unavailable:      http.StatusServiceUnavailable,
	apperr.Internal:         http.StatusInternalServerError,
}

var titleOf = map[apperr.Code]string{
	apperr.Invalid:          "Invalid request",
	apperr.BadRequest:       "Malformed request",
	apperr.NotFound:         "Not found",
	apperr.Conflict:         "Conflict",
	apperr.Forbidden:        "Forbidden",
	apperr.Unauthorised:     "Authentication required",
	apperr.TooLarge:         "Request too large",
	apperr.UnsupportedMedia: "Unsupported media type",
	apperr.RateLimited:      "Too many requests",
	apperr.Unavailable:      "Service unavailable",
	apperr.Internal:         "Internal error",
}

// codeOfStatus maps echo's own HTTP errors (unknown route, wrong method …).
func codeOfStatus(status int) apperr.Code {
	for c, s := range statusOf {
		if s == status {
			return c
		}
	}
	if status >= 500 {
		return apperr.Internal
	}
	return apperr.BadRequest
}

// toProblem is the one place where an error becomes an HTTP response.
func ToProblem(err error, log *slog.Logger, c echo.Context) Problem {
	var ae *apperr.Error
	var he *echo.HTTPError
	p := Problem{Instance: c.Request().URL.Path, RequestID: RequestID(c)}
	if apperr.CodeOf(err) == apperr.Internal && storage.IsUnavailable(err) {
		// The database does not answer: nothing about this request, and
		// worth trying again in a moment (errorHandler adds Retry-After).
		log.Warn("database unavailable", "err", err, "request_id", p.RequestID)
		err = &apperr.Error{Code: apperr.Unavailable, Message: "the database does not answer right now: try again in a moment", Err: err}
	}
	switch {
	case errors.As(err, &ae):
		p.Status = statusOf[ae.Code]
		p.Type, p.Title, p.Detail, p.Errors = ProblemType(ae.Code), titleOf[ae.Code], ae.Message, ae.Fields
		if ae.Code == apperr.Internal {
			log.Error("internal error", "err", err, "request_id", p.RequestID)
			p.Detail = "something went wrong on our side; the error is logged with this request's id"
		}
	case errors.As(err, &he):
		code := codeOfStatus(he.Code)
		p.Status = he.Code
		p.Type, p.Title = ProblemType(code), http.StatusText(he.Code)
		if msg, ok := he.Message.(string); ok && he.Code < 500 {
			p.Detail = msg
		}
		if he.Code == http.StatusMethodNotAllowed {
			p.Detail = "this method is not allowed on this path"
		}
		if he.Code >= 500 {
			log.Error("internal error", "err", err, "request_id", p.RequestID)
		}
	default:
		log.Error("internal error", "err", err, "request_id", p.RequestID)
		p.Status = http.StatusInternalServerError
		p.Type, p.Title = ProblemType(apperr.Internal), titleOf[apperr.Internal]
		p.Detail = "something went wrong on our side; the error is logged with this request's id"
	}
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	return p
}

// RetryAfter is how long, in seconds, a client should wait before trying
// again a request answered 503: the database or NATS coming back.
const RetryAfter = "5"
