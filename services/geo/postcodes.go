package geo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
	"unicode"
)

// postcodesGz lists every French postcode La Poste uses with the communes it
// serves (codes-postaux 4.1.2 from the Base Adresse Nationale, MIT licence,
// built from INSEE's COG and the DGFiP's FIMOCT; regenerate with
// internal/genpostcodes). About 6,200 postcodes and 35,700 communes.
//
//go:embed postcodes.tsv.gz
var postcodesGz []byte

var (
	postcodesOnce sync.Once
	postcodes     map[string][]string
)

func loadPostcodes() {
	postcodes = make(map[string][]string, 6400)
	zr, err := gzip.NewReader(bytes.NewReader(postcodesGz))
	if err != nil {
		panic("geo: embedded postcode table: " + err.Error())
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		code, names, ok := strings.Cut(line, "\t")
		if !ok {
			panic("geo: embedded postcode table: bad line " + line)
		}
		postcodes[code] = strings.Split(names, "|")
	}
	if err := sc.Err(); err != nil {
		panic("geo: embedded postcode table: " + err.Error())
	}
}

// Communes returns the communes a postcode serves, or nil when La Poste does
// not use that postcode.
func Communes(postcode string) []string {
	postcodesOnce.Do(loadPostcodes)
	return postcodes[strings.TrimSpace(postcode)]
}

var foldMap = map[rune]string{
	'à': "a", 'â': "a", 'ä': "a", 'á': "a", 'ã': "a", 'å': "a",
	'ç': "c", 'é': "e", 'è': "e", 'ê': "e", 'ë': "e",
	'î': "i", 'ï': "i", 'í': "i", 'ì': "i", 'ô': "o", 'ö': "o", 'ó': "o", 'ò': "o", 'õ': "o",
	'ù': "u", 'û': "u", 'ü': "u", 'ú': "u", 'ÿ': "y", 'ñ': "n", 'œ': "oe", 'æ': "ae",
}

// Fold lower-cases s and strips French diacritics ("École" → "ecole"), for
// comparisons and searches that ignore case and accents.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		if f, ok := foldMap[r]; ok {
			b.WriteString(f)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// placeKey folds a place name and keeps only letters and digits, so that
// "Pont de Roide" matches "Pont-de-Roide" and "St Hippolyte" does not need
// its hyphens; "Saint" and "St" are the same.
func placeKey(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(Fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		switch w {
		case "st":
			w = "saint"
		case "ste":
			w = "sainte"
		}
		b.WriteString(w)
	}
	return b.String()
}

// matchCommune returns the name of the commune of a postcode that name
// designates, or "". "Paris", "Lyon" or "Marseille" designate the one
// arrondissement of the postcode.
func matchCommune(communes []string, name string) string {
	key := placeKey(name)
	if key == "" {
		return ""
	}
	for _, c := range communes {
		if placeKey(c) == key {
			return c
		}
	}
	if len(communes) == 1 && strings.HasPrefix(placeKey(communes[0]), key) && strings.HasSuffix(communes[0], " Arrondissement") {
		return communes[0]
	}
	return ""
}
