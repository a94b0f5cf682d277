// Package validate holds the small checks every service applies to text that
// comes from outside: lengths, control characters, e-mail addresses, phones.
package validate

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/geo"
)

// Text trims s and checks it: valid UTF-8, no control characters (newlines
// and tabs allowed when multiline), between min and max runes. It records a
// message on v under field and returns the trimmed text.
func Text(v *apperr.Validation, field, s string, min, max int, multiline bool) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		v.Reject(field, "utf8", "must be valid UTF-8 text")
		return s
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n < min && n == 0:
		v.Reject(field, "required", "is required")
	case n < min:
		v.Reject(field, "min_chars", "must be at least %d characters", min)
	case n > max:
		v.Reject(field, "max_chars", "must be at most %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			v.Reject(field, "control_chars", "must not contain control characters")
			break
		}
		if Bidi(r) {
			v.Reject(field, "bidi_chars", "must not contain bidirectional control characters (such as U+202E)")
			break
		}
	}
	return s
}

// Bidi reports whether r is a bidirectional formatting character: the
// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the
// marks (U+200E, U+200F, U+061C). In a name shown on every node's
// directory, an override turns « Marie » into a name that reads as
// someone else's, or hides what follows it: no text coopnet stores needs
// them.
func Bidi(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// Email normalises an e-mail address (trimmed, lower-cased) and checks it is
// a bare address such as jean@example.org. Empty is allowed unless required.
func Email(v *apperr.Validation, field, s string, required bool) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		if required {
			v.Reject(field, "required", "is required")
		}
		return s
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		v.Reject(field, "email", "must be an e-mail address such as jean@example.org")
	}
	return s
}

// Phone checks a telephone number loosely: digits with optional +, spaces,
// dots, dashes and parentheses, 6 to 20 digits. Empty is allowed.
func Phone(v *apperr.Validation, field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '.', r == '-', r == '(', r == ')':
		default:
			v.Reject(field, "phone", "must be a telephone number such as 03 81 00 00 00")
			return s
		}
	}
	if digits < 6 || digits > 20 {
		v.Reject(field, "phone", "must be a telephone number such as 03 81 00 00 00")
	}
	return s
}

// OneOf checks that s is one of the allowed values.
func OneOf(v *apperr.Validation, field, s string, allowed ...string) string {
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	if s == "" {
		v.Reject(field, "required", "is required")
	} else {
		v.Reject(field, "one_of", "must be one of: %s", strings.Join(allowed, ", "))
	}
	return s
}

// Location resolves a French postcode (with optional commune and lat/lon)
// through geo, recording field errors on v. ok is false when nothing usable
// was given or it was invalid.
func Location(v *apperr.Validation, postcode, commune string, lat, lon *float64, required bool) (loc geo.Location, ok bool) {
	postcode = strings.TrimSpace(postcode)
	commune = Text(v, "commune", commune, 0, 120, false)
	if postcode == "" {
		switch {
		case required:
			v.Reject("postcode", "required", "is required")
		case lat != nil || lon != nil:
			v.Add("postcode", "is required with lat and lon")
		}
		return geo.Location{}, false
	}
	loc, err := geo.Resolve(postcode, commune, lat, lon)
	switch {
	case errors.Is(err, geo.ErrUnknownPostcode):
		v.Reject("postcode", "postcode", "is not a French postcode in use (five digits, e.g. 25150)")
		return loc, false
	case errors.Is(err, geo.ErrCommuneMismatch):
		var me *geo.CommuneMismatchError
		if errors.As(err, &me) {
			list := me.Communes
			if len(list) > 12 {
				list = append(list[:12:12], "…")
			}
			v.Reject("commune", "commune", "%s does not serve %q; it serves %s", me.Postcode, me.Commune, strings.Join(list, ", "))
		} else {
			v.Add("commune", err.Error())
		}
		return loc, false
	case errors.Is(err, geo.ErrInvalidCoordinates):
		msg := "lat and lon must be given together, in decimal degrees, within the postcode's département"
		v.Add("lat", msg)
		v.Add("lon", msg)
		return loc, false
	case err != nil:
		v.Add("postcode", "cannot be resolved")
		return loc, false
	}
	return loc, !v.Has("commune")
}
