package migrations

// Owners names the one package that owns each table: it alone reads and
// writes it, in SQL or through its gorm models; the others go through its
// API. A test (TestTablesHaveOneOwner) holds the code to it, and fails on
// a table of the schema that has no owner.
var Owners = map[string]string{
	"schema_migrations": "migrations",

	"members": "services/members", "member_skills": "services/members", "api_tokens": "services/members",
	"skill_proposals": "services/members", "member_skill_history": "services/members", "login_failures": "services/members",

	"skills": "services/skills",

	"clients": "services/clients", "sites": "services/clients", "assets": "services/clients",

	"tickets": "services/tickets", "ticket_comments": "services/tickets", "ticket_history": "services/tickets",
	"ticket_attachments": "services/tickets",
	"time_entries":       "services/ledger", "ticket_time_totals": "services/ledger",

	"ticket_events": "services/planning",

	"routings": "services/routing", "offers": "services/routing/member", "bus_outbox": "services/routing/relay",

	"directory_entries": "services/directory", "directory_skills": "services/directory", "directory_left": "services/directory",

	"federation_inbox": "federation/inbox", "federation_outbox": "federation/transport", "federation_keys": "federation/sign",
	"federation_peers": "federation/transport",

	"erasures": "services/privacy",

	"notifications": "services/notify", "notification_prefs": "services/notify", "notification_settings": "services/notify",
	"mail_outbox": "services/notify",
}

// Published are the tables whose owner lets any package read them in SQL
// (a SELECT, a JOIN), never write them: read models with a fixed shape,
// kept by their owner, for reads too hot for a second query.
var Published = map[string]bool{
	"ticket_time_totals": true, // services/ledger: a ticket's time, read with the ticket
}
