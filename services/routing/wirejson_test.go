package routing

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sameAsDecode checks the wire reader against decode (encoding/json) on
// one input: whatever the reader accepts, decode accepts, with the same
// values. (The reader may refuse what decode accepts, e.g. a null or a
// field name in other case: none of that is what nodes send.)
func sameAsDecode(t *testing.T, data []byte) (answerOK, questionOK bool) {
	t.Helper()
	return readsAsDecode(t, "answer", data, decodeAnswerMsg), readsAsDecode(t, "question", data, decodeQuestion)
}

// readsAsDecode checks one reader of sameAsDecode, and reports whether it
// read data.
func readsAsDecode[T any](t *testing.T, kind string, data []byte, read func([]byte) (T, error)) bool {
	t.Helper()
	fast, err := read(data)
	if err != nil {
		if !errors.Is(err, errMalformed) {
			t.Fatalf("%s %q: error %v is not errMalformed", kind, data, err)
		}
		return false
	}
	var slow T
	if serr := decode(data, &slow); serr != nil {
		t.Fatalf("%s %q: read, but decode says %v", kind, data, serr)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s %q:\nread   %#v\ndecode %#v", kind, data, fast, slow)
	}
	return true
}

// wireText is a random text with what a reader could get wrong: quotes,
// backslashes, HTML characters, control characters, accents, surrogate
// pairs, invalid UTF-8.
func wireText(rng *rand.Rand) string {
	parts := []string{"a", "Zoé", "\"", "\\", "<", "&", "\n", "\x00", "\x1f", "é", "😀", "\u2028", "\xff", "\xc3", " ", "@", "/"}
	var b strings.Builder
	for range rng.IntN(8) {
		b.WriteString(parts[rng.IntN(len(parts))])
	}
	return b.String()
}

func wireFloat(rng *rand.Rand) float64 {
	switch rng.IntN(5) {
	case 0:
		return 0
	case 1:
		return float64(rng.IntN(1000)) / 10
	case 2:
		return rng.Float64() * 1e-9
	case 3:
		return -rng.Float64() * 1e25
	}
	return rng.NormFloat64() * 1000
}

func randomAnswer(rng *rand.Rand) Answer {
	a := Answer{V: rng.IntN(3), QuestionID: wireText(rng), Region: wireText(rng),
		Excluded: Exclusions{Level: rng.IntN(100) - 5, Radius: rng.IntN(100), Capacity: rng.Int(), Inactive: -rng.Int()}}
	a.Candidates = []Candidate{} // as nodes send it: never null
	{
		for range rng.IntN(12) {
			a.Candidates = append(a.Candidates, Candidate{Region: wireText(rng), MemberID: wireText(rng), Handle: wireText(rng),
				Name: wireText(rng), Level: rng.IntN(7) - 1, DistanceKm: wireFloat(rng), RemoteOK: rng.IntN(2) == 0,
				RadiusKm: rng.IntN(300), CapacityMin: rng.IntN(10000), BookedMin: rng.IntN(10000), RoutedMinQtr: rng.IntN(10000),
				Supersedes: wireText(rng), SupersedeCost: wireFloat(rng)})
		}
	}
	return a
}

func randomQuestion(rng *rand.Rand) Question {
	q := Question{V: rng.IntN(3), ID: wireText(rng), OriginRegion: wireText(rng), Skill: wireText(rng), MinLevel: rng.IntN(7),
		EstimatedMinutes: rng.IntN(100000) - 10, OnSite: rng.IntN(2) == 0, Commune: wireText(rng), Departement: wireText(rng),
		Lat: wireFloat(rng), Lon: wireFloat(rng), HorizonDays: rng.IntN(400), NoSupersede: rng.IntN(2) == 0}
	for range rng.IntN(4) {
		q.Skip = append(q.Skip, wireText(rng))
	}
	return q
}

// TestWireJSONAsDecode: what encoding/json writes, the reader reads to
// the same values as decode, for random messages; and mangled ones are
// either refused or read as decode reads them.
func TestWireJSONAsDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 2000 {
		var v any = randomAnswer(rng)
		if i%2 == 1 {
			v = randomQuestion(rng)
		}
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		answerOK, questionOK := sameAsDecode(t, data)
		if _, isAnswer := v.(Answer); isAnswer && !answerOK || !isAnswer && !questionOK {
			t.Fatalf("refused what encoding/json wrote: %s", data)
		}
		// Mangle a byte, cut, or append: refused, or read as decode does.
		m := []byte(string(data))
		switch rng.IntN(3) {
		case 0:
			const bytes = "{}[],:\"\\ 0-1.eE+tfnul\x00\xff"
			m[rng.IntN(len(m))] = bytes[rng.IntN(len(bytes))]
		case 1:
			m = m[:rng.IntN(len(m))]
		default:
			m = append(m, " \n}x,1"[rng.IntN(6):]...)
		}
		sameAsDecode(t, m)
	}
}

// TestWireJSONRefuses: what the reader must refuse, although encoding/json
// would read some of it (stricter, never looser).
func TestWireJSONRefuses(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `{`, `{"v":1`, `{"v":1,}`, `{"v":1}x`, `{"v":1}{}`, `{"v":01}`, `{"v":1.0}`, `{"v":1e2}`,
		`{"v":-}`, `{"v":+1}`, `{"v":99999999999999999999}`, `{"v":null}`, `{"V":1}`, `{"v":1,"v":1}`, `{"unknown":1}`,
		`{"region":"a\u0062"}x`, `{"region":"unterminated}`, `{"region":"\x01"}`, `{"candidates":null}`,
		`{"candidates":[{"level":1,"level":2}]}`, `{"candidates":[{"distance_km":1.}]}`, `{"candidates":[{"distance_km":.5}]}`,
		`{"candidates":[{"distance_km":1e}]}`, `{"candidates":[{"distance_km":1e400}]}`, `{"candidates":[{"remote_ok":tru}]}`,
		`{"candidates":[{"remote_ok":truex}]}`, `{"candidates":[1]}`, `{"candidates":[{}}`, `{"excluded":{"level":1,}}`,
		`{"\u0076":1}`, `{"skip":["a",]}`, `{"lat":NaN}`, `{"lat":Infinity}`, `{"lat":0x10}`,
	} {
		if a, err := decodeAnswerMsg([]byte(in)); err == nil {
			t.Errorf("%s: read as an answer %+v", in, a)
		}
		if q, err := decodeQuestion([]byte(in)); err == nil {
			t.Errorf("%s: read as a question %+v", in, q)
		}
		sameAsDecode(t, []byte(in))
	}
	// Arrays are bounded before validation.
	skip := func(n int) []byte {
		return []byte(`{"skip":[` + strings.TrimSuffix(strings.Repeat(`"a",`, n), ",") + `]}`)
	}
	if _, err := decodeQuestion(skip(maxWireArray)); err != nil {
		t.Errorf("%d members to skip: %v", maxWireArray, err)
	}
	if _, err := decodeQuestion(skip(maxWireArray + 1)); err == nil {
		t.Errorf("%d members to skip: read", maxWireArray+1)
	}
	// Escapes and white space are read as decode reads them.
	for _, in := range []string{
		` { "region" : "a\u00e9\n\"b\ud83d\ude00" , "v" : -0 , "excluded" : { } , "candidates" : [ ] } `,
		`{"candidates":[{"name":"Zo\u00e9 \u003cx\u003e","distance_km":-0.5e-3,"remote_ok":false}]}`,
		`{"skip":[],"lat":1E+2,"lon":-0,"commune":"\ud800"}`,
	} {
		a, q := sameAsDecode(t, []byte(in))
		if !a && !q {
			t.Errorf("%s: refused", in)
		}
	}
}

// FuzzWireJSON: go test -fuzz FuzzWireJSON ./services/routing/
func FuzzWireJSON(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		a, _ := json.Marshal(randomAnswer(rng))
		q, _ := json.Marshal(randomQuestion(rng))
		f.Add(a)
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameAsDecode(t, data) })
}

// BenchmarkAnswerDecode reads a region's answer of MaxCandidatesPerRegion
// candidates, with the wire reader and, as the baseline, with decode.
func BenchmarkAnswerDecode(b *testing.B) {
	a := Answer{V: wireVersion, QuestionID: "01JDZ8XKQ3M4N5P6R7S8T9V0WX", Region: "bretagne", Candidates: []Candidate{},
		Excluded: Exclusions{Level: 12, Capacity: 3}}
	for i := range MaxCandidatesPerRegion {
		a.Candidates = append(a.Candidates, Candidate{Region: "bretagne", MemberID: "01JDZ8XKQ3M4N5P6R7S8T9V0X" + string(rune('A'+i)),
			Handle: "membre" + string(rune('a'+i)) + "@bzh.coopnet.example", Name: "Maëlle Le Goff", Level: 4, DistanceKm: 612.3,
			RemoteOK: true, RadiusKm: 50, CapacityMin: 4800, BookedMin: 1200, RoutedMinQtr: 360})
	}
	data, err := json.Marshal(a)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("reader", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := decodeAnswerMsg(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var a Answer
			if err := decode(data, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
