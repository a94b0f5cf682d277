// Package apperr is coopnet's one application error type. Services return
// *Error values (possibly wrapped) to say what went wrong in terms a user may
// read; the web layer turns them into problem+json responses in exactly one
// place. Anything that is not an *Error is treated as internal: logged, never
// shown.
package apperr

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Code classifies an application error. Each code maps to one HTTP status.
type Code string

// The codes. Keep them few: they are part of the API's problem "type".
const (
	Invalid          Code = "invalid"           // 422: the request is well formed but its values are not acceptable
	BadRequest       Code = "bad_request"       // 400: the request cannot be read (malformed JSON, wrong types)
	NotFound         Code = "not_found"         // 404
	Conflict         Code = "conflict"          // 409: duplicate, stale version, wrong state
	Forbidden        Code = "forbidden"         // 403
	Unauthorised     Code = "unauthorised"      // 401
	TooLarge         Code = "too_large"         // 413
	UnsupportedMedia Code = "unsupported_media" // 415: the body is not of a type this endpoint takes
	RateLimited      Code = "rate_limited"      // 429
	Unavailable      Code = "unavailable"       // 503
	Internal         Code = "internal"          // 500
)

// ErrNotFound is the sentinel every store wraps when a row does not exist,
// so that callers can test with errors.Is(err, apperr.ErrNotFound).
var ErrNotFound = &Error{Code: NotFound, Message: "not found"}

// Error is an application error: a code, a message safe to show to the user
// and, for validation errors, a message per field.
type Error struct {
	Code    Code
	Message string
	Fields  map[string]string
	// Reasons say, for the fields that have one, why in a form a user
	// interface can put in its own language (Fields say it in English).
	Reasons map[string]Reason
	// Err is the underlying cause, for logs only.
	Err error
}

// Reason is why a field is not valid: a stable code ("required",
// "max_chars"…) and the figures or names its message needs.
type Reason struct {
	Code string
	Args []any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	b.WriteString(e.Message)
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(e.Fields[k])
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) true for any not-found *Error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t == ErrNotFound && e.Code == NotFound
}

// New returns an error with a code and a user-safe message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf returns a not-found error naming what was missing.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Code: NotFound, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Validation collects field errors; use Err to get an error when any was added.
type Validation struct {
	fields  map[string]string
	reasons map[string]Reason
}

// Add records a message for a field; the first message for a field wins.
func (v *Validation) Add(field, message string) {
	if v.fields == nil {
		v.fields = map[string]string{}
	}
	if _, ok := v.fields[field]; !ok {
		v.fields[field] = message
	}
}

// Addf is Add with formatting.
func (v *Validation) Addf(field, format string, args ...any) {
	v.Add(field, fmt.Sprintf(format, args...))
}

// Reject records, for a field that has no message yet, why it is not
// valid: the code of the reason and its English message, format with args.
func (v *Validation) Reject(field, code, format string, args ...any) {
	if v.Has(field) {
		return
	}
	v.Addf(field, format, args...)
	if v.reasons == nil {
		v.reasons = map[string]Reason{}
	}
	v.reasons[field] = Reason{Code: code, Args: args}
}

// Has reports whether a field already has an error.
func (v *Validation) Has(field string) bool { _, ok := v.fields[field]; return ok }

// Err returns an Invalid *Error listing the fields, or nil when there is none.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: "some fields are not valid", Fields: v.fields, Reasons: v.reasons}
}
