package directory

import (
	"testing"
	"time"

	"github.com/coopnet/coopnet/services/apperr"
)

// TestCheckRefusesWhatWouldMislead: a profile received from a peer is
// checked as a name entered here is: control and bidirectional characters
// (an override U+202E turns a name into another, reversed) are refused.
func TestCheckRefusesWhatWouldMislead(t *testing.T) {
	good := Entry{APID: "https://bzh.test/members/marie", Handle: "marie@bzh.test", Name: "Marie Le Gall", Region: "bretagne",
		Commune: "Rennes", Departement: "35", UpdatedAt: time.Now()}
	if err := good.Check(); err != nil {
		t.Fatalf("a plain profile: %v", err)
	}
	for name, mutate := range map[string]func(e *Entry){
		"override in the name":   func(e *Entry) { e.Name = "Marie \u202eeiraM" },
		"isolate in the name":    func(e *Entry) { e.Name = "Admin\u2067 Bretagne" },
		"mark in the commune":    func(e *Entry) { e.Commune = "Rennes\u200f" },
		"override in the handle": func(e *Entry) { e.Handle = "marie\u202e@bzh.test" },
		"control in the region":  func(e *Entry) { e.Region = "bretagne\x00" },
		"empty name":             func(e *Entry) { e.Name = " " },
	} {
		t.Run(name, func(t *testing.T) {
			e := good
			mutate(&e)
			if err := e.Check(); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("accepted: %v", err)
			}
		})
	}
}
