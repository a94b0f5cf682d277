package routing

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/geo"
)

// Redacted replaces what names a client in a text offered to another region.
const Redacted = "[client]"

// redactClient scrubs what identifies client p from text: their name and
// contact as written, each word of the contact's name (and of the client's
// name, for a private person) but civilities, the e-mail's local part, and
// the phone number however it is spaced or prefixed (+33).
func redactClient(text string, p clients.Private) string {
	// Whole texts anywhere: they are long and specific.
	text = redact(text, []string{p.Name, p.ContactName, p.ContactEmail, p.ContactPhone}, false)
	// Single words only as whole words ("Anne" is not in "panne"), and not
	// the words any mailbox or name may hold.
	var words []string
	names := []string{p.ContactName}
	if p.Kind == "person" {
		names = append(names, p.Name)
	}
	for _, n := range names {
		for _, w := range strings.FieldsFunc(n, func(r rune) bool { return unicode.IsSpace(r) || r == '\'' || r == ',' }) {
			if !civilities[geo.Fold(strings.TrimSuffix(w, "."))] {
				words = append(words, w)
			}
		}
	}
	if local, _, ok := strings.Cut(p.ContactEmail, "@"); ok && !genericMailboxes[geo.Fold(local)] {
		words = append(words, local)
	}
	return redactPhone(redact(text, words, true), p.ContactPhone)
}

// civilities are left in a text: "Mme [client]" says no more than "[client]".
var civilities = map[string]bool{"m": true, "mr": true, "mme": true, "mlle": true, "madame": true, "monsieur": true,
	"mademoiselle": true, "dr": true, "docteur": true, "me": true, "maitre": true, "pr": true, "le": true, "la": true,
	"de": true, "du": true, "des": true}

// genericMailboxes are mailboxes that name no one: not scrubbed as words.
var genericMailboxes = map[string]bool{"info": true, "infos": true, "contact": true, "accueil": true, "mairie": true,
	"secretariat": true, "direction": true, "ecole": true, "admin": true, "administration": true, "bonjour": true,
	"hello": true, "office": true, "bureau": true, "association": true, "asso": true, "president": true,
	"presidence": true, "tresorier": true, "compta": true, "comptabilite": true, "support": true, "sav": true}

// redactPhone replaces phone in text written with any spacing, dots,
// dashes or brackets, and with +33 or 0033 for the leading 0; also inside a
// longer run of figures ("le 12/03 au 03 81 00 00 01").
func redactPhone(text, phone string) string {
	want := phoneDigits(phone)
	if len(want) < 8 {
		return text
	}
	runes := []rune(text)
	mask := make([]bool, len(runes))
	isSep := func(r rune) bool { return strings.ContainsRune(" .-+()/\u00a0", r) }
	// Where a group of figures starts (a digit, or a + or ( before one) and
	// ends.
	var starts, ends []int
	for i, r := range runes {
		digit := unicode.IsDigit(r)
		opens := (r == '+' || r == '(') && i+1 < len(runes) && unicode.IsDigit(runes[i+1])
		after := i > 0 && (unicode.IsDigit(runes[i-1]) || runes[i-1] == '+' || runes[i-1] == '(')
		if (digit || opens) && !after {
			starts = append(starts, i)
		}
		if digit && (i+1 == len(runes) || !unicode.IsDigit(runes[i+1])) {
			ends = append(ends, i+1)
		}
	}
	found := false
	for _, a := range starts {
		for _, b := range ends {
			if b <= a {
				continue
			}
			span := runes[a:b]
			ok := true
			for _, r := range span {
				if !unicode.IsDigit(r) && !isSep(r) {
					ok = false
					break
				}
			}
			if !ok {
				break // the groups after b are past a word
			}
			if phoneDigits(string(span)) == want {
				for k := a; k < b; k++ {
					mask[k] = true
				}
				found = true
			}
		}
	}
	if !found {
		return text
	}
	return masked(runes, mask)
}

// phoneDigits is a phone number's digits, a French international prefix
// (+33, 0033) written as the leading 0.
func phoneDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "0033") && len(d) == 13:
		return "0" + d[4:]
	case strings.HasPrefix(d, "33") && len(d) == 11:
		return "0" + d[2:]
	}
	return d
}

// redact replaces every occurrence of the terms (the client's name and
// contact) in text by Redacted, ignoring case and accents; with words, only
// where a term stands as a whole word. It is a safety net for the title and
// note of an offer, which technicians write freely: a client's personal
// data leaves the node only once a member has accepted to work for them.
// Terms shorter than three letters are ignored.
func redact(text string, terms []string, words bool) string {
	runes := []rune(text)
	var folded strings.Builder
	var owner []int // for each byte of the folded text, the rune it comes from
	for i, r := range runes {
		f := geo.Fold(string(r))
		folded.WriteString(f)
		for range len(f) {
			owner = append(owner, i)
		}
	}
	ft := folded.String()
	mask := make([]bool, len(runes))
	found := false
	for _, t := range terms {
		term := geo.Fold(strings.TrimSpace(t))
		if utf8.RuneCountInString(term) < 3 {
			continue
		}
		for off := 0; off < len(ft); {
			k := strings.Index(ft[off:], term)
			if k < 0 {
				break
			}
			from, to := off+k, off+k+len(term)
			if words && !(isWordEdge(ft, from) && isWordEdge(ft, to)) {
				off = from + 1
				continue
			}
			for b := from; b < to; b++ {
				mask[owner[b]] = true
			}
			found = true
			off = to
		}
	}
	if !found {
		return text
	}
	return masked(runes, mask)
}

// isWordEdge reports whether byte offset i of s is at the edge of a word:
// the start or end of s, or between a letter or digit and anything else.
func isWordEdge(s string, i int) bool {
	if i <= 0 || i >= len(s) {
		return true
	}
	before, _ := utf8.DecodeLastRuneInString(s[:i])
	after, _ := utf8.DecodeRuneInString(s[i:])
	return !(isWordRune(before) && isWordRune(after))
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// masked is runes with each run of masked runes replaced by Redacted.
func masked(runes []rune, mask []bool) string {
	var out strings.Builder
	for i, r := range runes {
		switch {
		case !mask[i]:
			out.WriteRune(r)
		case i == 0 || !mask[i-1]:
			out.WriteString(Redacted)
		}
	}
	return out.String()
}
