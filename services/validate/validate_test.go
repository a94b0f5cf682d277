package validate

import (
	"testing"

	"github.com/coopnet/coopnet/services/apperr"
)

func TestEmailAndPhone(t *testing.T) {
	for _, tc := range []struct {
		in    string
		ok    bool
		phone bool
	}{
		{"jean@example.org", true, false},
		{" Jean@Example.ORG ", true, false},
		{"jean@localhost", false, false},
		{"Jean <jean@example.org>", false, false},
		{"jean", false, false},
		{"03 81 00 00 00", true, true},
		{"+33 (0)3.81.00.00.00", true, true},
		{"12", false, true},
		{"call me", false, true},
	} {
		var v apperr.Validation
		if tc.phone {
			Phone(&v, "f", tc.in)
		} else {
			Email(&v, "f", tc.in, true)
		}
		if (v.Err() == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok=%v", tc.in, v.Err(), tc.ok)
		}
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in        string
		min, max  int
		multiline bool
		ok        bool
	}{
		{"  École  ", 1, 10, false, true},
		{"", 1, 10, false, false},
		{"abc", 0, 2, false, false},
		{"ligne 1\nligne 2", 1, 100, true, true},
		{"ligne 1\nligne 2", 1, 100, false, false},
		{"a\x00b", 1, 10, true, false},
		{"\xff", 0, 10, false, false},
	} {
		var v apperr.Validation
		Text(&v, "f", tc.in, tc.min, tc.max, tc.multiline)
		if (v.Err() == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok=%v", tc.in, v.Err(), tc.ok)
		}
	}
}
