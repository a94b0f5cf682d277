package routing

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The routing plane's busiest messages are read without reflection: every
// forward brings one question to each region and one answer, with up to
// MaxCandidatesPerRegion candidates, from each; encoding/json spent about a
// tenth of a node's CPU reading them. The reader below accepts a subset of
// what decode accepts and reads it to the same values (FuzzWireJSON checks
// both on random input): exact field names only, no null, no duplicated
// field; anything else is malformed, as with decode.

// jsonReader reads one JSON document; the first error sticks.
type jsonReader struct {
	b   []byte
	i   int
	err error
}

func (r *jsonReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at offset %d", errMalformed, fmt.Sprintf(format, args...), r.i)
	}
}

func (r *jsonReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// next skips white space and reports the next byte (0 at the end).
func (r *jsonReader) next() byte {
	r.space()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

func (r *jsonReader) expect(c byte) bool {
	if r.err != nil {
		return false
	}
	if r.next() != c {
		r.fail("%q expected", c)
		return false
	}
	r.i++
	return true
}

// object reads an object, calling field for each member with its name and
// its bit (1 << index in names: the caller's fields, each allowed once);
// field reads the value.
func (r *jsonReader) object(names []string, field func(name string)) {
	if !r.expect('{') {
		return
	}
	if r.next() == '}' {
		r.i++
		return
	}
	var seen uint64
	for r.err == nil {
		key, ok := r.rawString()
		if !ok {
			r.fail("field name expected (without escapes)")
			return
		}
		k := -1
		for j, n := range names {
			if n == string(key) {
				k = j
				break
			}
		}
		switch {
		case k < 0:
			r.fail("unknown field %q", key)
			return
		case seen&(1<<k) != 0:
			r.fail("field %q twice", key)
			return
		}
		seen |= 1 << k
		if !r.expect(':') {
			return
		}
		field(names[k])
		switch r.next() {
		case ',':
			r.i++
		case '}':
			r.i++
			return
		default:
			r.fail("',' or '}' expected")
		}
	}
}

// array reads an array of at most maxWireArray elements, calling elem for
// each; elem reads it.
func (r *jsonReader) array(elem func()) {
	if !r.expect('[') {
		return
	}
	if r.next() == ']' {
		r.i++
		return
	}
	for n := 0; r.err == nil; n++ {
		if n == maxWireArray {
			r.fail("more than %d elements", maxWireArray)
			return
		}
		elem()
		switch r.next() {
		case ',':
			r.i++
		case ']':
			r.i++
			return
		default:
			r.fail("',' or ']' expected")
		}
	}
}

// rawString reads a string without escapes and of valid UTF-8 as it is in
// the input (names, and the fast path of str); ok is false otherwise, with
// r.i left at the opening quote for str's slow path.
func (r *jsonReader) rawString() (s []byte, ok bool) {
	if r.next() != '"' {
		r.fail("string expected")
		return nil, false
	}
	start := r.i + 1
	ascii := true
	for j := start; j < len(r.b); j++ {
		switch c := r.b[j]; {
		case c == '"':
			s = r.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			r.i = j + 1
			return s, true
		case c == '\\', c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (r *jsonReader) str() string {
	if r.err != nil {
		return ""
	}
	if s, ok := r.rawString(); ok {
		return string(s)
	}
	if r.err != nil {
		return ""
	}
	// Escapes or invalid UTF-8 (rare): find the string's end, and let
	// encoding/json read it as decode would.
	j := r.i + 1
	for ; j < len(r.b) && r.b[j] != '"'; j++ {
		if r.b[j] == '\\' {
			j++
		}
	}
	if j >= len(r.b) {
		r.fail("unterminated string")
		return ""
	}
	var s string
	if err := json.Unmarshal(r.b[r.i:j+1], &s); err != nil {
		r.fail("string: %v", err)
		return ""
	}
	r.i = j + 1
	return s
}

// number reads a JSON number's text; integer limits it to -?(0|[1-9][0-9]*).
func (r *jsonReader) number(integer bool) []byte {
	if r.err != nil {
		return nil
	}
	r.space()
	start, j := r.i, r.i
	digits := func() int {
		n := 0
		for j < len(r.b) && r.b[j] >= '0' && r.b[j] <= '9' {
			j++
			n++
		}
		return n
	}
	if j < len(r.b) && r.b[j] == '-' {
		j++
	}
	switch {
	case j < len(r.b) && r.b[j] == '0':
		j++
	case digits() == 0:
		r.fail("number expected")
		return nil
	}
	if !integer {
		if j < len(r.b) && r.b[j] == '.' {
			j++
			if digits() == 0 {
				r.fail("digits expected after '.'")
				return nil
			}
		}
		if j < len(r.b) && (r.b[j] == 'e' || r.b[j] == 'E') {
			j++
			if j < len(r.b) && (r.b[j] == '+' || r.b[j] == '-') {
				j++
			}
			if digits() == 0 {
				r.fail("digits expected in exponent")
				return nil
			}
		}
	}
	if j < len(r.b) {
		switch r.b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
		default:
			r.fail("not a number of that kind")
			return nil
		}
	}
	r.i = j
	return r.b[start:j]
}

func (r *jsonReader) int() int {
	b := r.number(true)
	if r.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		r.fail("integer: %v", err)
	}
	return int(n)
}

func (r *jsonReader) float() float64 {
	b := r.number(false)
	if r.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		r.fail("number: %v", err)
	}
	return f
}

func (r *jsonReader) bool() bool {
	r.space()
	switch {
	case r.err != nil:
	case len(r.b)-r.i >= 4 && string(r.b[r.i:r.i+4]) == "true":
		r.i += 4
		return true
	case len(r.b)-r.i >= 5 && string(r.b[r.i:r.i+5]) == "false":
		r.i += 5
	default:
		r.fail("true or false expected")
	}
	return false
}

// end checks that nothing but white space follows the document.
func (r *jsonReader) end() error {
	if r.err == nil && r.next() != 0 {
		r.fail("trailing data")
	}
	return r.err
}

var (
	answerFields    = []string{"v", "question_id", "region", "candidates", "excluded"}
	exclusionFields = []string{"level", "radius", "capacity", "inactive"}
	candidateFields = []string{"region", "member_id", "handle", "name", "level", "distance_km", "remote_ok", "radius_km", "capacity_minutes", "booked_minutes", "routed_minutes_quarter", "supersedes", "supersede_cost"}
	questionFields  = []string{"v", "id", "origin_region", "skill", "min_level", "estimated_minutes", "on_site", "commune", "departement", "lat", "lon", "horizon_days", "no_supersede", "skip"}
)

// maxWireArray bounds the elements of an array read before validation.
const maxWireArray = 10000

// readObject reads data, a JSON object of the given fields, calling field
// for each with the reader, which field reads the value with.
func readObject(data []byte, names []string, field func(r *jsonReader, name string)) error {
	if len(data) > maxMessage {
		return fmt.Errorf("%w: too large", errMalformed)
	}
	r := jsonReader{b: data}
	r.object(names, func(name string) { field(&r, name) })
	return r.end()
}

// decodeAnswerMsg reads a region's Answer (not yet validated).
func decodeAnswerMsg(data []byte) (Answer, error) {
	var a Answer
	err := readObject(data, answerFields, func(r *jsonReader, name string) {
		switch name {
		case "v":
			a.V = r.int()
		case "question_id":
			a.QuestionID = r.str()
		case "region":
			a.Region = r.str()
		case "excluded":
			r.object(exclusionFields, func(name string) {
				switch name {
				case "level":
					a.Excluded.Level = r.int()
				case "radius":
					a.Excluded.Radius = r.int()
				case "capacity":
					a.Excluded.Capacity = r.int()
				case "inactive":
					a.Excluded.Inactive = r.int()
				}
			})
		case "candidates":
			a.Candidates = make([]Candidate, 0, MaxCandidatesPerRegion)
			r.array(func() {
				a.Candidates = append(a.Candidates, Candidate{})
				r.candidate(&a.Candidates[len(a.Candidates)-1])
			})
		}
	})
	return a, err
}

func (r *jsonReader) candidate(c *Candidate) {
	r.object(candidateFields, func(name string) {
		switch name {
		case "region":
			c.Region = r.str()
		case "member_id":
			c.MemberID = r.str()
		case "handle":
			c.Handle = r.str()
		case "name":
			c.Name = r.str()
		case "level":
			c.Level = r.int()
		case "distance_km":
			c.DistanceKm = r.float()
		case "remote_ok":
			c.RemoteOK = r.bool()
		case "radius_km":
			c.RadiusKm = r.int()
		case "capacity_minutes":
			c.CapacityMin = r.int()
		case "booked_minutes":
			c.BookedMin = r.int()
		case "routed_minutes_quarter":
			c.RoutedMinQtr = r.int()
		case "supersedes":
			c.Supersedes = r.str()
		case "supersede_cost":
			c.SupersedeCost = r.float()
		}
	})
}

// decodeQuestion reads a Question (not yet validated).
func decodeQuestion(data []byte) (Question, error) {
	var q Question
	err := readObject(data, questionFields, func(r *jsonReader, name string) {
		switch name {
		case "v":
			q.V = r.int()
		case "id":
			q.ID = r.str()
		case "origin_region":
			q.OriginRegion = r.str()
		case "skill":
			q.Skill = r.str()
		case "min_level":
			q.MinLevel = r.int()
		case "estimated_minutes":
			q.EstimatedMinutes = r.int()
		case "on_site":
			q.OnSite = r.bool()
		case "commune":
			q.Commune = r.str()
		case "departement":
			q.Departement = r.str()
		case "lat":
			q.Lat = r.float()
		case "lon":
			q.Lon = r.float()
		case "horizon_days":
			q.HorizonDays = r.int()
		case "no_supersede":
			q.NoSupersede = r.bool()
		case "skip":
			q.Skip = []string{}
			r.array(func() { q.Skip = append(q.Skip, r.str()) })
		}
	})
	return q, err
}
