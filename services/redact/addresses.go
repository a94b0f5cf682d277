package redact

import (
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A token is a word or number of a text: a run of letters or of digits.
type token struct {
	from, to int // its runes
	abbr     uint8
	digits   bool
	upper    bool // written with a capital
}

// text is token t folded, an abbreviation as its word ("av" is "avenue").
func (s *scrubber) text(t token) string {
	if t.abbr > 0 {
		return abbreviated[t.abbr-1]
	}
	return s.folded[s.at[t.from]:s.at[t.to]]
}

// tokens are the words and numbers of the text not scrubbed yet: what
// is scrubbed parts them as a marker would.
func (s *scrubber) tokens() []token {
	r := s.runes
	toks := make([]token, 0, len(r)/5+1)
	class := func(i int) int {
		if s.mask[i] != keep {
			return 0
		}
		return runeClass(r[i])
	}
	for i := 0; i < len(r); {
		c := class(i)
		if c == 0 {
			i++
			continue
		}
		j := i + 1
		for j < len(r) && class(j) == c {
			j++
		}
		t := token{from: i, to: j, digits: c == 2, upper: unicode.IsUpper(r[i])}
		if w := s.folded[s.at[i]:s.at[j]]; len(w) <= 4 && !t.digits {
			t.abbr = abbreviations[w]
		}
		toks = append(toks, t)
		i = j
	}
	return toks
}

// runeClass is 1 for a letter, 2 for a digit, 0 for anything else.
func runeClass(r rune) int {
	switch {
	case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
		return 1
	case '0' <= r && r <= '9':
		return 2
	case r < utf8.RuneSelf:
		return 0
	case unicode.IsLetter(r):
		return 1
	case unicode.IsDigit(r):
		return 2
	}
	return 0
}

// streetTypes are the words of a French street address after its number:
// true for those that are hardly anything else ("rue"); the others
// ("place", "route") are common words too, taken for a street only before
// a name written with a capital ("5 place de la Mairie", not "1 place de
// parking"). Not "cours", "domaine", "parc", "passage" or "voie": "10 cours
// de Python", "1 domaine Windows" are what a technician writes more often
// than "12 cours Gambetta".
var streetTypes = map[string]bool{"rue": true, "avenue": true, "boulevard": true, "impasse": true, "allee": true,
	"chemin": true, "quai": true, "ruelle": true, "faubourg": true, "sentier": true, "esplanade": true,
	"venelle": true, "place": false, "route": false, "square": false, "cite": false, "residence": false,
	"lotissement": false, "hameau": false, "clos": false, "promenade": false, "montee": false, "traverse": false,
	"parvis": false}

// abbreviationsOf are the words of addresses as abbreviated.
var abbreviationsOf = map[string]string{"r": "rue", "av": "avenue", "ave": "avenue", "bd": "boulevard",
	"bld": "boulevard", "blvd": "boulevard", "boul": "boulevard", "bvd": "boulevard", "pl": "place",
	"imp": "impasse", "all": "allee", "ch": "chemin", "chem": "chemin", "che": "chemin", "rte": "route",
	"fg": "faubourg", "fbg": "faubourg", "sq": "square", "res": "residence", "lot": "lotissement",
	"ham": "hameau", "st": "saint", "ste": "sainte"}

// abbreviated are the words of abbreviationsOf, and abbreviations the
// abbreviations with the index of their word in it, plus 1.
var abbreviated, abbreviations = func() ([]string, map[string]uint8) {
	var words []string
	index := map[string]uint8{}
	for _, k := range slices.Sorted(maps.Keys(abbreviationsOf)) {
		w := abbreviationsOf[k]
		i := slices.Index(words, w)
		if i < 0 {
			i, words = len(words), append(words, w)
		}
		index[k] = uint8(i + 1)
	}
	return words, index
}()

// numberSuffixes follow a street number ("12 bis").
var numberSuffixes = map[string]bool{"bis": true, "ter": true, "quater": true, "a": true, "b": true, "c": true, "d": true}

// nameParticles are the little words of street and place names ("rue de
// la Gare", "Pont-de-Roide").
var nameParticles = map[string]bool{"de": true, "du": true, "des": true, "la": true, "le": true, "les": true,
	"l": true, "d": true, "au": true, "aux": true, "en": true, "sur": true, "sous": true, "et": true, "lez": true}

// The separators between the words of an address.
func inName(r rune) bool       { return isBlank(r) || r == '-' || isApostrophe(r) }
func afterType(r rune) bool    { return inName(r) || r == '.' }
func afterNumber(r rune) bool  { return isBlank(r) || r == ',' }
func beforePlace(r rune) bool  { return isBlank(r) || strings.ContainsRune(",-–\n\r", r) }
func inSiteStreet(r rune) bool { return afterType(r) || strings.ContainsRune(",–\n\r", r) }
func joins(r rune) bool        { return r == '-' || isApostrophe(r) }

// gap reports whether at most max runes, each accepted by sep and not
// scrubbed, are between tokens a and b.
func (s *scrubber) gap(a, b token, max int, sep func(rune) bool) bool {
	if b.from-a.to > max {
		return false
	}
	for i := a.to; i < b.from; i++ {
		if s.mask[i] != keep || !sep(s.runes[i]) {
			return false
		}
	}
	return true
}

// number reports whether toks[i] is a street number (up to 4 figures, not
// from 0) at the start of a word; it returns the last token of the number
// with its suffix ("12 bis", "12b").
func (s *scrubber) number(toks []token, i int) (int, bool) {
	t := toks[i]
	if !t.digits || t.to-t.from > 4 || s.text(t)[0] == '0' || s.wordAt(t.from-1) {
		return 0, false
	}
	if i+1 < len(toks) && numberSuffixes[s.text(toks[i+1])] &&
		(toks[i+1].from == t.to || toks[i+1].to-toks[i+1].from > 1 && s.gap(t, toks[i+1], 1, isBlank)) &&
		!s.wordAt(toks[i+1].to) {
		return i + 1, true
	}
	if s.wordAt(t.to) {
		return 0, false
	}
	return i, true
}

// streets scrubs every street address with its number: a number (12, 12
// bis), a street type (rue, av., place…), a name (particles, then a word,
// then the words joined to it by a hyphen or an apostrophe or written with
// a capital), and a postcode and commune after it.
func (s *scrubber) streets(toks []token) {
	for i := 0; i < len(toks); i++ {
		j, ok := s.number(toks, i)
		if !ok || j+1 >= len(toks) {
			continue
		}
		typ := toks[j+1]
		strong, isType := streetTypes[s.text(typ)]
		if !isType || !s.gap(toks[j], typ, 3, afterNumber) {
			continue
		}
		end := s.streetName(toks, j+1, strong)
		if end < 0 {
			continue
		}
		end = s.placeAfter(toks, end)
		s.set(toks[i].from, toks[end].to, asAddress)
		i = end
	}
}

// streetName is the last token of the name of a street whose type is
// toks[t], or -1: particles then a word (one written with a capital unless
// strong; "8 Mai" too), then what follows it of a name.
func (s *scrubber) streetName(toks []token, t int, strong bool) int {
	j, prev := t+1, toks[t]
	sep := afterType
	for j < len(toks) && nameParticles[s.text(toks[j])] && s.gap(prev, toks[j], 2, sep) {
		prev, sep = toks[j], inName
		j++
	}
	if j >= len(toks) || !s.gap(prev, toks[j], 2, sep) {
		return -1
	}
	w := toks[j]
	if w.digits && w.to-w.from <= 2 && j+1 < len(toks) && toks[j+1].upper && s.gap(w, toks[j+1], 1, isBlank) {
		return s.nameAfter(toks, j+1) // "rue du 8 Mai"
	}
	if w.digits || !strong && !w.upper {
		return -1
	}
	return s.nameAfter(toks, j)
}

// nameAfter is the last token of a name whose word toks[j] is: the words
// after it joined by a hyphen or an apostrophe, or written with a capital
// (perhaps after particles), up to eight words in all.
func (s *scrubber) nameAfter(toks []token, j int) int {
	for n := 0; n < 8 && j+1 < len(toks); n++ {
		next := toks[j+1]
		if next.digits {
			break
		}
		if s.gap(toks[j], next, 1, joins) {
			j++
			continue
		}
		k, prev := j+1, toks[j]
		for k < len(toks) && nameParticles[s.text(toks[k])] && s.gap(prev, toks[k], 2, inName) {
			prev = toks[k]
			k++
		}
		if k >= len(toks) || toks[k].digits || !toks[k].upper || !s.gap(prev, toks[k], 2, inName) {
			break
		}
		j = k
	}
	return j
}

// placeAfter is the last token of an address whose street ends at
// toks[end]: its postcode and commune when they follow.
func (s *scrubber) placeAfter(toks []token, end int) int {
	k := end + 1
	if k >= len(toks) || !toks[k].digits || toks[k].to-toks[k].from != 5 || !s.gap(toks[end], toks[k], 4, beforePlace) ||
		s.wordAt(toks[k].to) {
		return end
	}
	if k+1 < len(toks) && !toks[k+1].digits && s.gap(toks[k], toks[k+1], 2, isBlank) {
		return s.nameAfter(toks, k+1)
	}
	return k
}

// siteAddress scrubs the address of one of the client's sites, as stored
// (a street, then the postcode and commune) or as written in a text: its
// street with or without its number, in any case, with or without accents,
// abbreviated or not ("12, r. des ecoles"), and the postcode and commune
// after it.
func (s *scrubber) siteAddress(toks []token, addr string) {
	for _, p := range newScrubber(addr).sitePatterns() {
		for i := 0; i+len(p) <= len(toks); i++ {
			if s.text(toks[i]) != p[0] || s.wordAt(toks[i].from-1) {
				continue
			}
			ok := true
			for m := 1; ok && m < len(p); m++ {
				ok = s.text(toks[i+m]) == p[m] && s.gap(toks[i+m-1], toks[i+m], 3, inSiteStreet)
			}
			end := i + len(p) - 1
			if !ok || s.wordAt(toks[end].to) {
				continue
			}
			from := i
			if i > 0 {
				for j := max(i-2, 0); j < i; j++ {
					if last, ok := s.number(toks, j); ok && last == i-1 && s.gap(toks[i-1], toks[i], 3, afterNumber) {
						from = j
						break
					}
				}
			}
			end = s.placeAfter(toks, end)
			s.set(toks[from].from, toks[end].to, asAddress)
			i = end
		}
	}
}

// sitePatterns are the words of a site's address to find in a text: its
// street without the number, and from its street type on when something
// stands before it ("Bâtiment B, 12 rue des Écoles"); each of two words at
// least, one of which a name's (not "Rue A").
func (s *scrubber) sitePatterns() [][]string {
	a := s.tokens()
	i := 0
	if i < len(a) && a[i].digits && a[i].to-a[i].from <= 4 {
		i++
		if i < len(a) && numberSuffixes[s.text(a[i])] {
			i++
		}
	}
	end := len(a)
	var commune []token
	for p := len(a) - 1; p >= i; p-- {
		if a[p].digits && a[p].to-a[p].from == 5 {
			end, commune = p, a[p+1:]
			break
		}
	}
	core := a[i:end]
	// An address written with its postcode and commune in the street too.
	if n := len(core) - len(commune); n >= 0 && slices.EqualFunc(core[n:], commune, func(a, b token) bool { return s.text(a) == s.text(b) }) {
		core = core[:n]
	}
	if n := len(core); n > 0 && core[n-1].digits && core[n-1].to-core[n-1].from == 5 {
		core = core[:n-1]
	}
	var pats [][]string
	add := func(ts []token) {
		var p []string
		named := false
		for _, t := range ts {
			w := s.text(t)
			_, isType := streetTypes[w]
			named = named || !t.digits && !isType && !nameParticles[w] && utf8.RuneCountInString(w) >= 3
			p = append(p, w)
		}
		if len(p) >= 2 && named {
			pats = append(pats, p)
		}
	}
	add(core)
	for t := 1; t < len(core); t++ {
		if _, isType := streetTypes[s.text(core[t])]; isType {
			add(core[t:])
			break
		}
	}
	return pats
}
