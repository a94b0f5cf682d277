package routing

import (
	"strings"
	"unicode/utf8"

	"github.com/coopnet/coopnet/services/geo"
)

// Redacted replaces what names a client in a text offered to another region.
const Redacted = "[client]"

// redact replaces every occurrence of the terms (the client's name and
// contact) in text by Redacted, ignoring case and accents. It is a safety
// net for the title and note of an offer, which technicians write freely:
// a client's personal data leaves the node only once a member has accepted
// to work for them. Terms shorter than three letters are ignored.
func redact(text string, terms []string) string {
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
			for b := off + k; b < off+k+len(term); b++ {
				mask[owner[b]] = true
			}
			found = true
			off += k + len(term)
		}
	}
	if !found {
		return text
	}
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
