package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/storage"
)

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 1 << 20

// BodyLimit refuses bodies larger than MaxBodyBytes with 413, whether they
// announce their length or not.
func BodyLimit(next echo.HandlerFunc) echo.HandlerFunc { return BodyLimits(nil)(next) }

// BodyLimits is BodyLimit with larger limits for some routes (their path
// as registered: the uploads).
func BodyLimits(routes map[string]int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			limit := int64(MaxBodyBytes)
			if n, ok := routes[c.Path()]; ok && r.Method == http.MethodPost {
				limit = n
			}
			if r.ContentLength > limit {
				return apperr.New(apperr.TooLarge, "the request body is larger than %d bytes", limit)
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			return next(c)
		}
	}
}

// decodeJSON reads a JSON body strictly into dst: the content type must be
// JSON, unknown fields and trailing data are refused, and each failure says
// precisely what is wrong.
func DecodeJSON(c echo.Context, dst any) error {
	r := c.Request()
	ct := r.Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &apperr.Error{Code: apperr.BadRequest, Message: "the body must be JSON, sent with Content-Type: application/json"}
	}
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apperr.New(apperr.TooLarge, "the request body is larger than %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return apperr.New(apperr.BadRequest, "the request body could not be read")
	}
	switch trimmed := bytes.TrimSpace(body); {
	case len(trimmed) == 0:
		return apperr.New(apperr.BadRequest, "the request body is empty: a JSON object is expected")
	case bytes.Equal(trimmed, []byte("null")):
		// encoding/json reads null into a struct as nothing at all: the
		// request would go through as if every field were left out.
		return apperr.New(apperr.BadRequest, "the body must be a JSON object, not null")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.New(apperr.BadRequest, "the body has data after its JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apperr.New(apperr.BadRequest, "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.BadRequest, "malformed JSON: the body ends too early")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return apperr.New(apperr.BadRequest, "the body must be a JSON %s", jsonKind(typ.Type.Kind().String()))
		}
		return &apperr.Error{Code: apperr.Invalid, Message: "some fields have the wrong type",
			Fields: map[string]string{field: "must be " + jsonKind(typ.Type.String())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &apperr.Error{Code: apperr.Invalid, Message: "the body has a field this endpoint does not know",
			Fields: map[string]string{name: "unknown field"}}
	default:
		return apperr.New(apperr.BadRequest, "malformed JSON: %s", err.Error())
	}
}

// jsonKind names a Go type the way a JSON user thinks of it.
func jsonKind(goType string) string {
	t := strings.TrimPrefix(goType, "*")
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case t == "struct", strings.Contains(t, "."), strings.HasPrefix(t, "map"):
		return "an object"
	}
	return "of another type"
}

// Page is one page of a list.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageParams reads ?limit= (1-200, default 50) and ?cursor=.
func PageParams(c echo.Context) (limit int, after string, err error) {
	return PageParamsFor(c, storage.ValidID)
}

// pageParamsFor is pageParams for a list whose cursor is not an id.
func PageParamsFor(c echo.Context, validCursor func(string) bool) (limit int, after string, err error) {
	limit = 50
	var v apperr.Validation
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			v.Add("limit", "must be a whole number from 1 to 200")
		}
		limit = n
	}
	if s := c.QueryParam("cursor"); s != "" {
		var ok bool
		if after, ok = DecodeCursor(s, validCursor); !ok {
			v.Add("cursor", "is not a cursor returned by this list")
		}
	}
	return limit, after, v.Err()
}

// EncodeCursor is a list's cursor as PageParams reads it back.
func EncodeCursor(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }

// DecodeCursor reads back what EncodeCursor made; ok is false for a text
// that is not one, or whose content valid refuses.
func DecodeCursor(s string, valid func(string) bool) (raw string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err == nil && valid(string(b))
}

// page builds a Page from up to limit+1 fetched items.
func NewPage[T any](items []T, limit int, id func(T) string) Page[T] {
	p := Page[T]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = EncodeCursor(id(items[limit-1]))
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}

func JSONEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("webui: encode: %w", err)
	}
	return nil
}
