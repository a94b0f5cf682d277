package privacy

import (
	"fmt"
	"sort"
	"strings"
)

// Entry is one line of the record of processing (RGPD article 30): what
// personal data a node holds, whose, where, why, shared with whom, kept
// how long, and how its subjects exercise their rights.
type Entry struct {
	Data       string   `json:"data"`
	Subjects   string   `json:"subjects"`
	Where      []string `json:"where"` // tables; "nats:" a JetStream stream
	Purpose    string   `json:"purpose"`
	SharedWith string   `json:"shared_with"`
	Kept       string   `json:"kept"`
	Rights     string   `json:"rights"`
}

// Record is the record of processing of a regional node: the one list
// that `coopnet admin privacy` prints, that the README shows, and that a
// test holds against the database's own catalogue, so that a table added
// later is classified.
var Record = []Entry{
	{Data: "Members of this node: name, e-mail, handle, home postcode, commune and position, skills and levels (confirmed and proposed, with their history), weekly hours, radius, remote work; password hashes and the hashes of their session and API tokens",
		Subjects: "members", Where: []string{"members", "member_skills", "skill_proposals", "member_skill_history", "api_tokens"},
		Purpose:    "running the coop: logins, routing jobs to the right member, planning",
		SharedWith: "every peer node: the public profile only (name, handle, region, commune, département, skills, remote work), never the e-mail nor the exact place",
		Kept:       "while a member; a member who leaves is deactivated (removed from every node's directory at once), then erased by an administrator",
		Rights:     "export: GET /api/v1/members/{id}/export; erasure (once deactivated): POST /api/v1/members/{id}/erasure"},
	{Data: "Members of the other regions: name, handle, region, commune, département, skills, remote work",
		Subjects: "members of other regions", Where: []string{"directory_entries", "directory_skills", "directory_left"},
		Purpose: "the coop-wide directory", SharedWith: "nobody: received from their node",
		Kept:   "while they are members: removed when their node says they left (directory_left keeps only the actor's id and when)",
		Rights: "with their own node"},
	{Data: "Clients of this node: name, kind, postcode, commune, position, contact person (name, e-mail, phone); their sites (name, address, position) and equipment (hostnames, notes)",
		Subjects: "clients and their contacts", Where: []string{"clients", "sites", "assets"},
		Purpose:    "doing the work the client asks for",
		SharedWith: "the node of a member of another region who works on one of their requests: name, kind, place and contact, while the job lasts; never over NATS, never to a third region",
		Kept:       "while the coop works for them; erased at their request",
		Rights:     "export: GET /api/v1/clients/{id}/export (staff); erasure: POST /api/v1/clients/{id}/erasure (staff), propagated to every node that received one of their requests"},
	{Data: "Requests: titles, descriptions, public and internal comments with their attached files (photos, quotes; the files in the node's file store), history, time logged with its notes, interventions with their places",
		Subjects: "clients and their contacts; members (who did what)", Where: []string{"tickets", "ticket_comments", "ticket_attachments", "ticket_history", "time_entries", "ticket_events"},
		Purpose:    "doing and recording the work",
		SharedWith: "the node of the member of another region assigned to the request: the request, its public comments with their files and interventions (internal comments and their files never leave the node)",
		Kept:       "the record of the work; their texts are erased with the client's data",
		Rights:     "in the client's export and erasure"},
	{Data: "Copies of other regions' requests and clients, held for this node's member who does the job",
		Subjects: "clients of other regions and their contacts", Where: []string{"clients", "tickets", "ticket_comments", "ticket_attachments", "ticket_events"},
		Purpose:    "the member doing the job",
		SharedWith: "the request's own node (changes, comments, time, answers)",
		Kept:       "the contact, the exact places and the attached files go when the job ends (closed, cancelled, given back, or resolved for 30 days); erased when the client's node erases its data",
		Rights:     "with the client's own node, which propagates"},
	{Data: "Routing: forward notes, offers (title and note scrubbed of the client's name, contact, phones, e-mails and addresses; commune; who forwarded), messages waiting to be published",
		Subjects: "members (who forwarded, who was offered); clients only as scrubbed text", Where: []string{"routings", "offers", "bus_outbox", "nats:COOPNET_JOBS"},
		Purpose:    "finding the member who can do a job",
		SharedWith: "the candidate members' nodes, over NATS: the scrubbed title and note, the commune, the hours",
		Kept:       "with the request's record; the JetStream stream keeps a message 14 days at most",
		Rights:     "in the client's erasure (notes and titles erased)"},
	{Data: "Federation activities received and sent (they may carry a client's data sent to the assignee's node)",
		Subjects: "clients, members", Where: []string{"federation_inbox", "federation_outbox"},
		Purpose:    "delivering and applying what regions tell each other, once, and knowing who received what",
		SharedWith: "the peer node each was sent to or received from",
		Kept:       "the activity itself until applied or delivered, then 7 days (COOPNET_ACTIVITY_BODY_RETENTION); the record without it (ids, digest, type, times) 400 days (COOPNET_ACTIVITY_RECORD_RETENTION)",
		Rights:     "listed in the client's export (shared_with); emptied by the client's erasure"},
	{Data: "Login attempts: counts and times, under keys that are HMACs (under a secret of the node) of the address (an IPv6 address by its /64) and of the e-mail at the address, never either in clear; when an account last logged in at an address",
		Subjects: "whoever tries to log in", Where: []string{"login_failures"},
		Purpose:    "slowing down password guessing without locking members out",
		SharedWith: "nobody (the node's replicas share the database)",
		Kept:       "a day after the key's last failure; an account's last success at an address 30 days",
		Rights:     "nothing to export: nobody can be found in it without the node's secret"},
	{Data: "Notifications of this node's members: what happened on which request or offer (ids), who did it (a member's name), when read; their choices (where each kind goes, quiet hours, digest, language); the mails queued for them (when due, when sent), addressed to their e-mail",
		Subjects: "members", Where: []string{"notifications", "notification_prefs", "notification_settings", "mail_outbox"},
		Purpose:    "telling members what concerns them, in the app and by e-mail, outside their quiet hours",
		SharedWith: "the coop's mail server (COOPNET_SMTP_URL): the member's address and name, the request's title and a link; never a client's contact, description or comments",
		Kept:       "while a member; erased with the member",
		Rights:     "in the member's export and erasure"},
	{Data: "Erasures: what was erased (ids), by whom, when, why",
		Subjects: "clients, members", Where: []string{"erasures"},
		Purpose:    "proof that an erasure was done",
		SharedWith: "nobody",
		Kept:       "for good: it holds no erased data",
		Rights:     "in the subject's export"},
}

// NotPersonal are the tables that hold no personal data.
var NotPersonal = []string{"skills", "schema_migrations", "federation_keys", "federation_peers",
	"ticket_time_totals", // minutes per ticket, the sums of time_entries
}

// Tables lists every table the record names, sorted.
func Tables() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range Record {
		for _, w := range e.Where {
			if !strings.Contains(w, ":") && !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Markdown is the record as a Markdown table: what the README shows and
// `coopnet admin privacy` prints.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| data | whose | where | why | shared with | kept | rights |\n|---|---|---|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, e := range Record {
		where := make([]string, len(e.Where))
		for i, w := range e.Where {
			where[i] = "`" + w + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", cell(e.Data), cell(e.Subjects), strings.Join(where, ", "),
			cell(e.Purpose), cell(e.SharedWith), cell(e.Kept), cell(e.Rights))
	}
	return b.String()
}
