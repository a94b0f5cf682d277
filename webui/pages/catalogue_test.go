package pages

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/notify"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/tickets"
)

// keys lists the catalogue's keys in lang.
func keys(lang string) map[string]bool {
	out := map[string]bool{}
	for k := range messages[lang] {
		out[k] = true
	}
	return out
}

// dynamicKeys are the message keys built from a value: prefix → values.
func kinds() []string {
	var out []string
	for _, k := range notify.Kinds {
		out = append(out, string(k))
	}
	return out
}

func dynamicKeys() map[string][]string {
	return map[string][]string{
		"status.":         tickets.Statuses,
		"priority.":       tickets.Priorities,
		"tickets.sort_":   tickets.Sorts,
		"history.field.":  historyFields,
		"kind.":           clients.Kinds,
		"routing.":        {"pending", "offering", "accepted", "unroutable", "cancelled"},
		"reason.":         {"no_skill", "level", "out_of_radius", "full", "all_declined", "no_answer", "error"},
		"event.":          {planning.Invited, planning.Accepted, planning.Tentative, planning.Rejected},
		"weekday.":        {"0", "1", "2", "3", "4", "5", "6"},
		"role.":           {"technician", "staff", "admin"},
		"notify.":         kinds(),
		"notify.subject.": kinds(),
		"prefs.kind.":     kinds(),
		"prefs.channel.":  notify.Channels,
		"activity.":       {"Offer", "Update", "Create", "Invite", "Delete", "Accept", "Resolve", "Undo", "Reject", "TentativeAccept"},
		"delivery.":       {"pending", "delivered", "failed", "gone"},
		"action.": {"created", "updated", "commented", "commented_internally", "forwarded", "offered", "offered_to", "accepted",
			"unroutable", "offer_declined", "offer_expired", "offer_superseded", "searched_again", "logged_time", "shared", "synced", "refused", "superseded", "planned",
			"planning_accepted", "planning_tentative", "planning_rejected", "copy_held", "client_updated"},
	}
}

// TestCatalogueComplete: every key is in both languages, and every key a
// template or a handler uses is in the catalogue.
func TestCatalogueComplete(t *testing.T) {
	fr, en := keys("fr"), keys("en")
	for k := range fr {
		if !en[k] {
			t.Errorf("%q is in French, not in English", k)
		}
	}
	for k := range en {
		if !fr[k] {
			t.Errorf("%q is in English, not in French", k)
		}
	}
	used := regexp.MustCompile(`(?:T|p\.T|newPage\(c,|redirect\(c, [^,]+,|fail\([^,]+,) "([a-z_]+\.[a-z_]+)"`)
	files, _ := filepath.Glob("templates/*.html")
	gofiles, _ := filepath.Glob("*.go")
	for _, f := range append(files, gofiles...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if !fr[m[1]] {
				t.Errorf("%s uses %q, which the catalogue lacks", f, m[1])
			}
		}
	}
	// Keys built from values: one for each value.
	for prefix, values := range dynamicKeys() {
		for _, v := range values {
			if !fr[prefix+v] {
				t.Errorf("no message %q", prefix+v)
			}
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		lang  string
		cents int64
		want  string
	}{{"fr", 200000, "2\u202f000,00\u00a0€"}, {"fr", 18000, "180,00\u00a0€"}, {"en", 123456789, "€1,234,567.89"}, {"fr", -5, "-0,05\u00a0€"}} {
		if got := formatEuros(c.lang, c.cents); got != c.want {
			t.Errorf("%s %d: %q, want %q", c.lang, c.cents, got, c.want)
		}
	}
}
