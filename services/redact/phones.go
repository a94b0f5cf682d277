package redact

import (
	"bytes"
	"slices"
)

// A chain is a run of groups of figures (ASCII digits) in a text, each
// after at most three of the separators a phone number is written with.
type chain struct {
	groups []span
	digits []byte // the figures of all groups
	off    []int  // off[k]: where those of group k start in digits
	used   []bool // used[k]: group k is in a phone number found
}

type span struct{ from, to int }

// maxGap is the most separators between two groups of a phone number
// ("06 - 12", "(0)6").
const maxGap = 3

func isPhoneSep(r rune) bool {
	switch r {
	case ' ', '\u00a0', '\u202f', '\u2009', '.', '-', '\u2010', '\u2011', '/', '(', ')', '+':
		return true
	}
	return false
}

// phones scrubs every phone number (see phonesIn), the client's phone
// however its figures are grouped (with +33, 0033 or the leading 0, or
// without it), and public IPv4 addresses.
func (s *scrubber) phones(clientPhone string) {
	var want []byte
	for _, r := range clientPhone {
		if r >= '0' && r <= '9' {
			want = append(want, byte(r))
		}
	}
	if want = phoneKey(want); len(want) < 8 {
		want = nil
	}
	r := s.runes
	var c chain
	last := -maxGap - 1 // where the last group ended
	for i := 0; i < len(r); i++ {
		if !isDigit(r[i]) {
			continue
		}
		from := i
		for i < len(r) && isDigit(r[i]) {
			i++
		}
		joined := from-last <= maxGap && len(c.groups) > 0
		for k := last; joined && k < from; k++ {
			joined = isPhoneSep(r[k])
		}
		if !joined {
			s.phonesIn(&c, want)
			c.groups, c.digits, c.off = c.groups[:0], c.digits[:0], c.off[:0]
		}
		c.groups = append(c.groups, span{from, i})
		c.off = append(c.off, len(c.digits))
		for _, d := range r[from:i] {
			c.digits = append(c.digits, byte(d))
		}
		last = i
		i-- // r[i] is not a digit
	}
	s.phonesIn(&c, want)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// phonesIn scrubs the phone numbers of a chain: those written with a
// country code (+33, 0033, (+33), +33 (0), its overseas ones, or another
// country's: up to 15 figures in all); national ones of ten figures from 0
// grouped as French numbers are (06 12 34 56 78, 0612345678, 0800 123
// 456); nine figures without the 0 grouped 6 12 34 56 78 with one
// separator; the client's phone (want) grouped any way; and public IPv4
// addresses.
func (s *scrubber) phonesIn(c *chain, want []byte) {
	n := len(c.groups)
	if n == 0 {
		return
	}
	c.off = append(c.off, len(c.digits))
	c.used = slices.Grow(c.used[:0], n)[:n]
	clear(c.used)
	for i := 0; i < n; i++ {
		k := s.international(c, i)
		if k < 0 {
			k = s.national(c, i)
		}
		if k >= 0 {
			s.phone(c, i, k)
			i = k
		}
	}
	// Without the 0, only where no number above is.
	for i := 0; i+4 < n; i++ {
		if !slices.Contains(c.used[i:i+5], true) && s.withoutZero(c, i) {
			s.phone(c, i, i+4)
			i += 4
		}
	}
	if want != nil {
		for i := range n {
			for k := i; k < n && c.off[k+1]-c.off[i] <= len(want)+5; k++ {
				if d := c.digits[c.off[i]:c.off[k+1]]; len(d) >= len(want) && bytes.Equal(phoneKey(d), want) {
					s.set(s.phoneStart(c, i), c.groups[k].to, asPhone)
				}
			}
		}
	}
	for i := 0; i+3 < n; i++ {
		if s.publicIPv4(c, i) {
			s.set(c.groups[i].from, c.groups[i+3].to, asIP)
			i += 3
		}
	}
}

// phone scrubs the phone number of groups i to k of c.
func (s *scrubber) phone(c *chain, i, k int) {
	s.set(s.phoneStart(c, i), c.groups[k].to, asPhone)
	for j := i; j <= k; j++ {
		c.used[j] = true
	}
}

// phoneStart is where a phone number whose first group is group i of c
// starts: at the + before it, and at the bracket before that if one closes
// after the group ("(+33) 6", "(03) 81").
func (s *scrubber) phoneStart(c *chain, i int) int {
	r, g := s.runes, c.groups[i]
	j := g.from
	if j > 0 && r[j-1] == '+' {
		j--
	}
	if j > 0 && r[j-1] == '(' && i+1 < len(c.groups) && slices.Contains(r[g.to:c.groups[i+1].from], ')') {
		j--
	}
	return j
}

// plusBefore reports whether group i of c is written right after a +.
func (s *scrubber) plusBefore(c *chain, i int) bool {
	from := c.groups[i].from
	return from > 0 && s.runes[from-1] == '+'
}

// frenchCodes are the country codes of France and its overseas
// départements and collectivités, with the figures of a number after them.
var frenchCodes = []struct {
	code string
	n    int
}{{"33", 9}, {"262", 9}, {"269", 9}, {"590", 9}, {"594", 9}, {"596", 9}, {"508", 6}, {"681", 6}, {"687", 6}, {"689", 8}}

// frenchNumber reports whether d (the figures after + or 00) are a French
// number: a code of frenchCodes and the figures after it, perhaps with the
// national 0 ("+33 (0)6…").
func frenchNumber(d []byte) bool {
	for _, fc := range frenchCodes {
		if !bytes.HasPrefix(d, []byte(fc.code)) {
			continue
		}
		rest := d[len(fc.code):]
		if fc.n == 9 && len(rest) == 10 && rest[0] == '0' {
			rest = rest[1:]
		}
		if len(rest) == fc.n && rest[0] != '0' {
			return true
		}
	}
	return false
}

// international is the last group of a number with a country code whose
// first group is group i of c (+33 6 12 34 56 78, 0033612345678, 00 41 79
// 123 45 67), or -1: a French number as soon as its figures are complete;
// another as many groups as make up to 15 figures, at least 8.
func (s *scrubber) international(c *chain, i int) int {
	first, skip := i, 0
	d := c.digits[c.off[i]:c.off[i+1]]
	switch {
	case s.plusBefore(c, i):
	case len(d) == 2 && d[0] == '0' && d[1] == '0' && i+1 < len(c.groups):
		first = i + 1
	case len(d) > 2 && d[0] == '0' && d[1] == '0':
		skip = 2
	default:
		return -1
	}
	from := c.off[first] + skip
	if from >= len(c.digits) || c.digits[from] == '0' {
		return -1
	}
	other := -1
	for k := first; k < len(c.groups); k++ {
		d := c.digits[from:c.off[k+1]]
		if len(d) > 15 {
			break
		}
		if frenchNumber(d) {
			return k
		}
		if len(d) >= 8 {
			other = k
		}
	}
	return other
}

// nationalGroupings are how the figures of a French national number are
// grouped: 06 12 34 56 78, 0612345678, 0800 12 34 56, 0800 123 456, 0 800
// 12 34 56, 0 800 123 456.
var nationalGroupings = [][]int{{2, 2, 2, 2, 2}, {10}, {4, 2, 2, 2}, {4, 3, 3}, {1, 3, 2, 2, 2}, {1, 3, 3, 3}}

// national is the last group of a French national number whose first
// group is group i of c, or -1.
func (s *scrubber) national(c *chain, i int) int {
	d := c.digits[c.off[i]:]
	if len(d) < 10 || d[0] != '0' || d[1] == '0' || s.plusBefore(c, i) {
		return -1
	}
	for _, g := range nationalGroupings {
		if i+len(g) > len(c.groups) {
			continue
		}
		ok := true
		for j, n := range g {
			ok = ok && c.off[i+j+1]-c.off[i+j] == n
		}
		if ok {
			return i + len(g) - 1
		}
	}
	return -1
}

// withoutZero reports whether groups i to i+4 of c are a French number
// written without its 0: 6 12 34 56 78, one figure from 1 then four pairs,
// with the same single separator between them.
func (s *scrubber) withoutZero(c *chain, i int) bool {
	if c.digits[c.off[i]] == '0' || c.off[i+1]-c.off[i] != 1 || s.plusBefore(c, i) {
		return false
	}
	first := c.groups[i]
	if c.groups[i+1].from-first.to != 1 {
		return false
	}
	sep := s.runes[first.to]
	if !isBlank(sep) && sep != '.' && sep != '-' {
		return false
	}
	for j := i + 1; j <= i+4; j++ {
		g := c.groups[j]
		if c.off[j+1]-c.off[j] != 2 || s.runes[g.from-1] != sep || (j > i+1 && g.from-c.groups[j-1].to != 1) {
			return false
		}
	}
	return true
}

// phoneKey is the figures that name a phone number however it is written:
// the nine after the 0 of a French number (the national 0, +33, 0033, an
// overseas code: 06 12 34 56 78, +33 (0)6 12 34 56 78 and 6 12 34 56 78 are
// one number); another country's without 00.
func phoneKey(d []byte) []byte {
	if len(d) > 2 && d[0] == '0' && d[1] == '0' {
		d = d[2:]
	}
	for _, fc := range frenchCodes {
		if fc.n != 9 || !bytes.HasPrefix(d, []byte(fc.code)) {
			continue
		}
		rest := d[len(fc.code):]
		if len(rest) == 10 && rest[0] == '0' {
			rest = rest[1:]
		}
		if len(rest) == 9 && rest[0] != '0' {
			return rest
		}
	}
	if len(d) == 10 && d[0] == '0' && d[1] != '0' {
		return d[1:]
	}
	return d
}

// publicIPv4 reports whether groups i to i+3 of c are a public IPv4
// address: four numbers up to 255 joined by single dots, not within a
// longer dotted run (a version number), outside the private, shared,
// loopback, link-local and multicast ranges, and not a well-known public
// DNS resolver. A private address (192.168.1.10) names no one outside its
// network and is what a technician needs; a public one may name the
// client's connection.
func (s *scrubber) publicIPv4(c *chain, i int) bool {
	r := s.runes
	var o [4]int
	for j := range 4 {
		g := c.groups[i+j]
		d := c.digits[c.off[i+j]:c.off[i+j+1]]
		if len(d) > 3 || (len(d) > 1 && d[0] == '0') || (j > 0 && (g.from-c.groups[i+j-1].to != 1 || r[g.from-1] != '.')) {
			return false
		}
		for _, f := range d {
			o[j] = o[j]*10 + int(f-'0')
		}
		if o[j] > 255 {
			return false
		}
	}
	from, to := c.groups[i].from, c.groups[i+3].to
	dotted := func(a, b int) bool { return a >= 0 && b < len(r) && r[a] == '.' && isDigit(r[b]) }
	if dotted(from-1, from-2) || dotted(to, to+1) || s.wordAt(from-1) || s.wordAt(to) {
		return false
	}
	switch {
	case o[0] == 0, o[0] == 10, o[0] == 127, o[0] >= 224,
		o[0] == 100 && o[1] >= 64 && o[1] < 128, o[0] == 169 && o[1] == 254,
		o[0] == 172 && o[1] >= 16 && o[1] < 32, o[0] == 192 && o[1] == 168:
		return false
	}
	return !publicResolvers[o]
}

// publicResolvers are public DNS resolvers a note may name (Google,
// Cloudflare, Quad9, OpenDNS, FDN): nobody's.
var publicResolvers = map[[4]int]bool{{8, 8, 8, 8}: true, {8, 8, 4, 4}: true, {1, 1, 1, 1}: true, {1, 0, 0, 1}: true,
	{9, 9, 9, 9}: true, {149, 112, 112, 112}: true, {208, 67, 222, 222}: true, {208, 67, 220, 220}: true,
	{80, 67, 169, 12}: true, {80, 67, 169, 40}: true}
