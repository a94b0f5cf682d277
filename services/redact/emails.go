package redact

import (
	"strings"
	"unicode"
)

// emails scrubs every e-mail address: a local part of letters (accented
// ones too), digits and ._%+-, an at sign, and a domain of two labels or
// more ending with letters. The at sign may be written [at], (at) or
// [arobase], the dots of the domain [dot] or (point), spaced or not.
func (s *scrubber) emails() {
	r := s.runes
	for i := 0; i < len(r); i++ {
		n := s.atSign(i)
		if n == 0 {
			continue
		}
		from, to := s.localStart(i), s.domainEnd(i+n)
		if from >= 0 && to >= 0 {
			s.set(from, to, asEmail)
			i = to - 1
		}
	}
}

// atSign is the length of the at sign at rune i, or 0.
func (s *scrubber) atSign(i int) int {
	switch s.runes[i] {
	case '@':
		return 1
	case '[', '(', '{':
		for _, w := range [...]string{"at", "@", "arobase"} {
			if n := s.bracketed(i, w); n > 0 {
				return n
			}
		}
	}
	return 0
}

// bracketed is the length of word w in brackets at rune i ("[at]"), any
// case, or 0.
func (s *scrubber) bracketed(i int, w string) int {
	r := s.runes
	closing := ']'
	switch r[i] {
	case '(':
		closing = ')'
	case '{':
		closing = '}'
	}
	j := i + 1
	for _, c := range w {
		if j >= len(r) || unicode.ToLower(r[j]) != c {
			return 0
		}
		j++
	}
	if j >= len(r) || r[j] != closing {
		return 0
	}
	return j + 1 - i
}

// localStart is where the local part of an address whose at sign is at
// rune i starts (a space before the at sign included), or -1.
func (s *scrubber) localStart(i int) int {
	r := s.runes
	end := i
	if end > 1 && isBlank(r[end-1]) && s.local(end-2) {
		end--
	}
	from := end
	for from > 0 && s.local(from-1) {
		from--
	}
	for from < end && strings.ContainsRune(".-+", r[from]) {
		from++
	}
	if from == end {
		return -1
	}
	return from
}

// domainEnd is where the domain of an address starting at rune i ends (a
// space after the at sign included), or -1.
func (s *scrubber) domainEnd(i int) int {
	r := s.runes
	if i < len(r)-1 && isBlank(r[i]) && s.label(i+1) {
		i++
	}
	labels, end, letters := 0, -1, false
	for {
		from := i
		for i < len(r) && s.label(i) {
			i++
		}
		if i == from {
			break
		}
		labels, end, letters = labels+1, i, i-from >= 2
		for _, c := range r[from:i] {
			letters = letters && unicode.IsLetter(c)
		}
		if n := s.dot(i); n > 0 && i+n < len(r) && s.label(i+n) {
			i += n
			continue
		}
		break
	}
	if labels < 2 || !letters {
		return -1
	}
	return end
}

// dot is the length of the dot of a domain at rune i ("." or " [dot] "),
// or 0.
func (s *scrubber) dot(i int) int {
	r := s.runes
	if i < len(r) && r[i] == '.' {
		return 1
	}
	j := i
	if j < len(r) && isBlank(r[j]) {
		j++
	}
	if j >= len(r) || !strings.ContainsRune("[({", r[j]) {
		return 0
	}
	n := s.bracketed(j, "dot")
	if n == 0 {
		n = s.bracketed(j, "point")
	}
	if n == 0 {
		return 0
	}
	j += n
	if j < len(r) && isBlank(r[j]) {
		j++
	}
	return j - i
}

// local reports whether rune i may be in the local part of an e-mail
// address (and is not scrubbed yet).
func (s *scrubber) local(i int) bool {
	r := s.runes[i]
	return s.mask[i] == keep && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._%+-", r))
}

// label reports whether rune i may be in a label of a domain (and is not
// scrubbed yet).
func (s *scrubber) label(i int) bool {
	r := s.runes[i]
	return s.mask[i] == keep && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-')
}

func isBlank(r rune) bool { return r == ' ' || r == '\u00a0' || r == '\u202f' }
