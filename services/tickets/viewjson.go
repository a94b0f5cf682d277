package tickets

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends v as encoding/json writes it (same fields, order,
// escaping and number and time formats; TestViewJSON checks it byte for
// byte), without reflection: the read of a ticket is the API's hottest
// path.
func (v *View) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, v.ID)
	b = append(b, `,"client_id":`...)
	b = appendString(b, v.ClientID)
	b = append(b, `,"technician_id":`...)
	b = appendString(b, v.TechnicianID)
	b = append(b, `,"title":`...)
	b = appendString(b, v.Title)
	b = append(b, `,"description":`...)
	b = appendString(b, v.Description)
	b = append(b, `,"skill":`...)
	b = appendString(b, v.Skill)
	b = append(b, `,"priority":`...)
	b = appendString(b, v.Priority)
	b = append(b, `,"on_site":`...)
	b = strconv.AppendBool(b, v.OnSite)
	b = append(b, `,"estimated_hours":`...)
	b = appendFloat(b, v.EstimatedHours)
	b = append(b, `,"status":`...)
	b = appendString(b, string(v.Status))
	b = append(b, `,"origin_region":`...)
	b = appendString(b, v.OriginRegion)
	b = append(b, `,"assignee":`...)
	if v.Assignee == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"handle":`...)
		b = appendString(b, v.Assignee.Handle)
		b = append(b, `,"region":`...)
		b = appendString(b, v.Assignee.Region)
		b = append(b, `,"name":`...)
		b = appendString(b, v.Assignee.Name)
		b = append(b, '}')
	}
	b = append(b, `,"ap_id":`...)
	b = appendString(b, v.APID)
	b = append(b, `,"created_by":`...)
	b = appendString(b, v.CreatedBy)
	b = append(b, `,"time_spent_hours":`...)
	b = appendFloat(b, v.TimeSpentHours)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(v.Version), 10)
	b = append(b, `,"created_at":"`...)
	b = v.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","updated_at":"`...)
	b = v.UpdatedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// appendFloat writes f as encoding/json does (finite values only: hours
// are never NaN or infinite).
func appendFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does by default:
// HTML-safe (<, > and & escaped), U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
