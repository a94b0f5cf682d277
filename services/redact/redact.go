// Package redact scrubs a client's personal data from the texts that go to
// other regions (a job's title and note in an offer, a copy's texts once
// its job is over): the client's name, contact, phone and sites, and
// anyone's e-mail address, phone number, street address, public IP address
// and name after a civility, each replaced by a marker that says what was
// there.
package redact

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/geo"
)

// Redacted replaces what names a client in a text offered to another region.
const Redacted = "[client]"

// The markers of what else is scrubbed from such a text, whoever's it is:
// they tell the reader that someone's name, a phone number, an e-mail
// address, a street address or a public IP address was there, not which.
const (
	RedactedName    = "[nom]"
	RedactedPhone   = "[téléphone]"
	RedactedEmail   = "[e-mail]"
	RedactedAddress = "[adresse]"
	RedactedIP      = "[IP]"
)

// Client scrubs what identifies client p, or anyone, from text: any
// e-mail address, phone number, street address with its number, public IP
// address and name after a civility ("M. Martin"); the client's phone
// however written, their name and contact as
// written, each word of the contact's name (and of the client's name, for a
// private person) but civilities, the e-mail's local part, and the
// addresses of their sites. It is a safety net for the title and note of an
// offer, which technicians write freely: a client's personal data leaves
// the node only once a member has accepted to work for them. Redacting a
// redacted text changes nothing.
func Client(text string, p clients.Private) string {
	s := newScrubber(text)
	// What may be written inside a word, or next to one, first; what
	// follows takes it for a marker, as it would in a text redacted already
	// (an e-mail address is not read across a phone number's figures).
	s.phones(p.ContactPhone)
	s.emails()
	s.terms([]string{p.ContactEmail}, false, asEmail)
	s.terms([]string{p.Name, p.ContactName}, false, asClient)
	// Then addresses and single words, only as whole words ("Anne" is not
	// in "panne").
	toks := s.tokens()
	for _, a := range p.Addresses {
		s.siteAddress(toks, a)
	}
	s.streets(toks)
	s.people(toks)
	s.terms(clientWords(p), true, asClient)
	return s.String()
}

// clientWords are the words of client p scrubbed as whole words: those of
// the contact's name (and of the client's, for a private person), and the
// e-mail's local part, but the words any mailbox or name may hold.
func clientWords(p clients.Private) []string {
	var words []string
	words = appendNameWords(words, p.ContactName)
	if p.Kind == "person" {
		words = appendNameWords(words, p.Name)
	}
	if local, _, ok := strings.Cut(p.ContactEmail, "@"); ok && !genericMailboxes[geo.Fold(local)] {
		words = append(words, local)
	}
	return words
}

// appendNameWords appends to words those of a person's name but
// civilities: the name without them ("Jeanne Dupont" of "Mme Jeanne
// Dupont"), each word as written ("Jean-Pierre", "d'Artagnan"), each part
// of a hyphenated or elided one ("Pierre", "Artagnan"), and a name with its
// particles ("Le Gall", "de La Fontaine"), so that "Mme Le Gall" leaves
// only "Mme".
func appendNameWords(words []string, name string) []string {
	fields := strings.FieldsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
	first := 0
	for first < len(fields) && civilities[geo.Fold(strings.TrimSuffix(fields[first], "."))] && !particles[geo.Fold(fields[first])] {
		first++
	}
	if first < len(fields)-1 {
		words = append(words, strings.Join(fields[first:], " "))
	}
	for i, f := range fields {
		key := geo.Fold(strings.TrimSuffix(f, "."))
		if civilities[key] {
			if particles[key] {
				j := i
				for j < len(fields) && particles[geo.Fold(fields[j])] {
					j++
				}
				if j < len(fields) {
					words = append(words, strings.Join(fields[i:j+1], " "))
				}
			}
			continue
		}
		words = append(words, f)
		parts := strings.FieldsFunc(f, func(r rune) bool { return r == '-' || isApostrophe(r) })
		for _, w := range parts {
			if len(parts) > 1 && !civilities[geo.Fold(w)] {
				words = append(words, w)
			}
		}
	}
	return words
}

// civilities are left in a text: "Mme [client]" says no more than
// "[client]". So are the particles of names, words of many names.
var civilities = map[string]bool{"m": true, "mr": true, "mme": true, "mlle": true, "madame": true, "monsieur": true,
	"mademoiselle": true, "dr": true, "docteur": true, "me": true, "maitre": true, "pr": true, "le": true, "la": true,
	"les": true, "de": true, "du": true, "des": true, "d": true, "l": true, "van": true, "von": true, "der": true,
	"den": true, "del": true, "della": true, "di": true, "da": true, "dos": true}

// particles start a family name ("Le Gall", "de La Fontaine").
var particles = map[string]bool{"le": true, "la": true, "les": true, "de": true, "du": true, "des": true, "van": true,
	"von": true, "der": true, "den": true, "del": true, "della": true, "di": true, "da": true, "dos": true}

// genericMailboxes are mailboxes that name no one: not scrubbed as words.
var genericMailboxes = map[string]bool{"info": true, "infos": true, "contact": true, "accueil": true, "mairie": true,
	"secretariat": true, "direction": true, "ecole": true, "admin": true, "administration": true, "bonjour": true,
	"hello": true, "office": true, "bureau": true, "association": true, "asso": true, "president": true,
	"presidence": true, "tresorier": true, "compta": true, "comptabilite": true, "support": true, "sav": true}

// ScrubbedAway reports whether nothing is left of a redacted text but
// markers and punctuation.
func ScrubbedAway(text string) bool {
	for _, m := range markers {
		if m != "" {
			text = strings.ReplaceAll(text, m, "")
		}
	}
	return strings.IndexFunc(text, isWordRune) < 0
}

// A scrub is what a rune of a text is scrubbed as, the strongest last: a
// rune several things claim goes to the strongest (an e-mail address
// holding the contact's name is scrubbed as an e-mail address).
type scrub uint8

const (
	keep scrub = iota
	asName
	asClient
	asAddress
	asIP
	asPhone
	asEmail
	isMarker // a marker already in the text: left as it is
)

// markers are what replace each run of runes scrubbed as one thing.
var markers = [...]string{asName: RedactedName, asClient: Redacted, asAddress: RedactedAddress, asIP: RedactedIP, asPhone: RedactedPhone,
	asEmail: RedactedEmail}

// foldedMarkers are the markers as they read in a folded text.
var foldedMarkers = func() []string {
	var fm []string
	for _, m := range markers {
		if m != "" {
			fm = append(fm, foldText(m))
		}
	}
	return fm
}()

// A scrubber marks what to scrub in a text, then writes it with each run
// of scrubbed runes replaced by its marker.
type scrubber struct {
	runes []rune
	mask  []scrub
	// folded is the text folded as geo.Fold does, runs of spaces and
	// hyphens as one ' ' and any apostrophe as the ASCII one, to find terms
	// ignoring case, accents and how a name is joined ("Jean Pierre" is
	// "Jean-Pierre"); at[i] is the offset in it of rune i.
	folded string
	at     []int32
}

func newScrubber(text string) *scrubber {
	runes := []rune(text)
	s := &scrubber{runes: runes, mask: make([]scrub, len(runes)), at: make([]int32, len(runes)+1)}
	b := make([]byte, 0, len(text)+8)
	for i, r := range runes {
		s.at[i] = int32(len(b))
		if n := len(b); n > 0 && b[n-1] == ' ' && isSpaceOrHyphen(r) {
			continue
		}
		b = appendFold(b, r)
	}
	s.at[len(runes)] = int32(len(b))
	s.folded = string(b)
	if strings.IndexByte(s.folded, '[') >= 0 {
		for _, m := range foldedMarkers {
			for off := 0; ; {
				k := strings.Index(s.folded[off:], m)
				if k < 0 {
					break
				}
				from, to := off+k, off+k+len(m)
				for i := s.runeOf(from); i <= s.runeOf(to-1); i++ {
					s.mask[i] = isMarker
				}
				off = to
			}
		}
	}
	return s
}

// runeOf is the rune of byte b of the folded text.
func (s *scrubber) runeOf(b int) int {
	i, _ := slices.BinarySearch(s.at, int32(b)+1) // the first rune after b's
	return i - 1
}

// appendFold appends r folded as geo.Fold does, any space or hyphen as ' '
// and any apostrophe as the ASCII one.
func appendFold(b []byte, r rune) []byte {
	switch {
	case r < utf8.RuneSelf:
		switch {
		case 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == '-':
			r = ' '
		}
		return append(b, byte(r))
	case isSpaceOrHyphen(r):
		return append(b, ' ')
	case isApostrophe(r):
		return append(b, '\'')
	case r < rune(len(latinFolds)):
		return append(b, latinFolds[r]...)
	}
	return append(b, geo.Fold(string(r))...)
}

// latinFolds are the Latin-1 and Latin Extended-A runes folded, the
// letters of French and its neighbours (geo.Fold takes an allocation).
var latinFolds = func() (f [0x180]string) {
	for r := range f {
		f[r] = geo.Fold(string(rune(r)))
	}
	return f
}()

// foldText is s folded as a scrubber folds its text.
func foldText(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if len(b) > 0 && b[len(b)-1] == ' ' && isSpaceOrHyphen(r) {
			continue
		}
		b = appendFold(b, r)
	}
	return string(b)
}

func isSpaceOrHyphen(r rune) bool {
	return unicode.IsSpace(r) || r == '-' || r == '\u2010' || r == '\u2011'
}

func isApostrophe(r rune) bool { return r == '\'' || r == '’' || r == 'ʼ' || r == '‘' }

// set marks runes [from, to) as scrubbed as k, unless they are claimed by
// something stronger.
func (s *scrubber) set(from, to int, k scrub) {
	for i := from; i < to; i++ {
		if s.mask[i] < k {
			s.mask[i] = k
		}
	}
}

// wordAt reports whether rune i is a letter or digit not scrubbed yet: a
// scrubbed one is a marker's bracket to the word edges of what follows.
func (s *scrubber) wordAt(i int) bool {
	return i >= 0 && i < len(s.runes) && s.mask[i] == keep && isWordRune(s.runes[i])
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// String is the text with each run of runes scrubbed as one thing replaced
// by its marker; a text with nothing to scrub as it was (made valid UTF-8).
func (s *scrubber) String() string {
	var out strings.Builder
	out.Grow(len(s.folded) + 16)
	for i, r := range s.runes {
		switch k := s.mask[i]; {
		case k == keep || k == isMarker:
			out.WriteRune(r)
		case i == 0 || s.mask[i-1] != k:
			out.WriteString(markers[k])
		}
	}
	return out.String()
}

// terms scrubs as k every occurrence of the terms in the text, ignoring
// case and accents; with words, only where a term stands as a whole word.
// Terms shorter than three letters are ignored.
func (s *scrubber) terms(terms []string, words bool, k scrub) {
	for _, t := range terms {
		term := foldText(strings.TrimSpace(t))
		if utf8.RuneCountInString(term) < 3 {
			continue
		}
		for off := 0; ; {
			i := strings.Index(s.folded[off:], term)
			if i < 0 {
				break
			}
			from, to := off+i, off+i+len(term)
			if words && !(s.edgeAt(from) && s.edgeAt(to)) {
				off = from + 1
				continue
			}
			s.set(s.runeOf(from), s.runeOf(to-1)+1, k)
			off = to
		}
	}
}

// edgeAt reports whether byte offset b of the folded text is at the edge of
// a word: the start or end of the text, or between a letter or digit and
// anything else.
func (s *scrubber) edgeAt(b int) bool {
	if b <= 0 || b >= len(s.folded) {
		return true
	}
	before, after := s.runeOf(b-1), s.runeOf(b)
	return before != after && !(s.wordAt(before) && s.wordAt(after))
}

// people scrubs the names written after a civility, whoever's they are:
// "M. Jean-Pierre Martin", "Mme Le Gall", "Dr Watson", "M. de Villepin" (a
// word with a capital, perhaps after de, du, des or d', then the words
// joined to it or written with a capital), but not a title: "M. le Maire",
// "Mme la Directrice".
func (s *scrubber) people(toks []token) {
	for i := 0; i+1 < len(toks); i++ {
		civ := toks[i]
		if !civilityWords[s.text(civ)] || civ.digits || s.wordAt(civ.from-1) ||
			s.text(civ) == "m" && !(civ.to < len(s.runes) && s.runes[civ.to] == '.' && s.mask[civ.to] == keep) {
			continue
		}
		j, prev, sep := i+1, civ, afterType
		for j < len(toks) && !toks[j].upper && nameOfParticles[s.text(toks[j])] && s.gap(prev, toks[j], 2, sep) {
			j, prev, sep = j+1, toks[j], inName
		}
		if j >= len(toks) || !toks[j].upper || toks[j].digits || !s.gap(prev, toks[j], 2, sep) {
			continue
		}
		w := s.text(toks[j])
		if titles[w] || (w == "le" || w == "la") && j+1 < len(toks) && titles[s.text(toks[j+1])] {
			continue
		}
		end := s.personName(toks, j)
		s.set(toks[i+1].from, toks[end].to, asName)
		i = end
	}
}

// personName is the last token of a person's name whose word toks[j] is:
// the words after it joined by a hyphen or an apostrophe, or written with a
// capital (perhaps after particles: "Jean de La Fontaine"), up to four, not
// a civility ("Mme Dupont et M. Martin").
func (s *scrubber) personName(toks []token, j int) int {
	for n := 0; n < 4 && j+1 < len(toks); n++ {
		if next := toks[j+1]; !next.digits && s.gap(toks[j], next, 1, joins) {
			j++
			continue
		}
		k, prev := j+1, toks[j]
		for k < len(toks) && personParticles[s.text(toks[k])] && s.gap(prev, toks[k], 2, inName) {
			prev = toks[k]
			k++
		}
		if k >= len(toks) || toks[k].digits || !toks[k].upper || civilityWords[s.text(toks[k])] ||
			!s.gap(prev, toks[k], 2, inName) {
			break
		}
		j = k
	}
	return j
}

// civilityWords come before a person's name.
var civilityWords = map[string]bool{"m": true, "mr": true, "mme": true, "mmes": true, "mlle": true, "mm": true,
	"madame": true, "monsieur": true, "mademoiselle": true, "dr": true, "docteur": true, "me": true, "maitre": true,
	"pr": true, "professeur": true}

// nameOfParticles are the particles of a family name written in small
// letters after a civility ("M. de Villepin"); personParticles those
// within a name ("Anne Le Gall").
var (
	nameOfParticles = map[string]bool{"de": true, "du": true, "des": true, "d": true}
	personParticles = map[string]bool{"de": true, "du": true, "des": true, "d": true, "le": true, "la": true, "les": true}
)

// titles follow a civility in the place of a name ("M. le Maire").
var titles = map[string]bool{"maire": true, "adjoint": true, "adjointe": true, "directeur": true, "directrice": true,
	"president": true, "presidente": true, "proviseur": true, "principal": true, "principale": true,
	"secretaire": true, "tresorier": true, "tresoriere": true, "depute": true, "deputee": true, "senateur": true,
	"senatrice": true, "prefet": true, "prefete": true, "cure": true, "abbe": true, "conseiller": true,
	"conseillere": true, "responsable": true, "gerant": true, "gerante": true, "inspecteur": true,
	"inspectrice": true, "professeur": true, "docteur": true, "notaire": true}
