package webui

import (
	"github.com/coopnet/coopnet/services/clients"
	"github.com/coopnet/coopnet/services/planning"
	"github.com/coopnet/coopnet/services/tickets"
)

// Keys lists the catalogue's keys in lang (tests).
func Keys(lang string) map[string]bool {
	out := map[string]bool{}
	for k := range messages[lang] {
		out[k] = true
	}
	return out
}

// DynamicKeys are the message keys built from a value: prefix → values.
func DynamicKeys() map[string][]string {
	return map[string][]string{
		"status.":   tickets.Statuses,
		"priority.": tickets.Priorities,
		"kind.":     clients.Kinds,
		"routing.":  {"pending", "offering", "accepted", "unroutable", "cancelled"},
		"reason.":   {"no_skill", "level", "out_of_radius", "full", "all_declined", "no_answer", "error"},
		"event.":    {planning.Invited, planning.Accepted, planning.Tentative, planning.Rejected},
		"weekday.":  {"0", "1", "2", "3", "4", "5", "6"},
		"role.":     {"technician", "staff", "admin"},
		"activity.": {"Offer", "Update", "Create", "Invite", "Delete", "Accept", "Resolve", "Undo", "Reject", "TentativeAccept"},
		"delivery.": {"pending", "delivered", "failed", "gone"},
		"action.": {"created", "updated", "commented", "commented_internally", "forwarded", "offered", "offered_to", "accepted",
			"unroutable", "offer_declined", "offer_expired", "offer_superseded", "searched_again", "logged_time", "shared", "synced", "refused", "superseded", "planned",
			"planning_accepted", "planning_tentative", "planning_rejected", "copy_held", "client_updated"},
	}
}

// FormatEuros is formatEuros (tests).
var FormatEuros = formatEuros

// QueryRoutes lists the routes whose query parameters are declared (tests).
func QueryRoutes() map[string][]string { return queryParams }
