package bus

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// The subjects coopnet uses, as permissions name them. Questions are
// coopnet.v1.route.<skill>; the others are said where they are used
// (services/routing).
const (
	subjRoute    = SubjectPrefix + "route.*"
	subjStats    = SubjectPrefix + "stats"
	subjPresence = SubjectPrefix + "presence"
	subjAccept   = SubjectPrefix + "accept."
	subjRelease  = SubjectPrefix + "release."
)

// Permissions are what a region's node may publish and subscribe to on the
// coop's NATS, and nothing more:
//
//   - publish questions, workload questions, presence, acceptance and
//     release requests to any region, job messages to any region's queue
//     (all signed: see services/routing), and answers on inboxes;
//   - subscribe to questions, workload questions and presence, to the
//     acceptances and releases of its own tickets, and to its own inboxes
//     (InboxPrefix): never another region's, where the answers to that
//     region's questions and requests come;
//   - on JetStream, read the job stream's state (not create, change, purge
//     or delete it: the operators create it, so that no region sets it up
//     to copy the jobs elsewhere), and create, read, pull from and
//     acknowledge its own durable consumer, filtered on its own region's
//     jobs: never another region's.
func Permissions(region string) (publish, subscribe []string) {
	consumer := JobsStream + ".jobs-" + region
	publish = []string{
		subjRoute, subjStats, subjPresence, subjAccept + "*", subjRelease + "*", JobsSubjects,
		"_INBOX.>",
		"$JS.API.STREAM.INFO." + JobsStream,
		"$JS.API.CONSUMER.CREATE." + consumer + "." + SubjectPrefix + "jobs." + region + ".>",
		"$JS.API.CONSUMER.INFO." + consumer,
		"$JS.API.CONSUMER.MSG.NEXT." + consumer,
		"$JS.ACK." + consumer + ".>",
	}
	subscribe = []string{
		subjRoute, subjStats, subjPresence, subjAccept + region, subjRelease + region,
		InboxPrefix(region) + ".>",
	}
	return publish, subscribe
}

// regionName is a region's slug, as coopnet's settings take it.
var regionName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// PasswordVariable is the environment variable of nats-server that holds
// region's password in the configuration AuthorizationConfig writes:
// COOPNET_NATS_PASSWORD_ILE_DE_FRANCE for "ile-de-france".
func PasswordVariable(region string) string {
	return "COOPNET_NATS_PASSWORD_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
}

// opsPasswordVariable holds OpsUser's password.
const opsPasswordVariable = "COOPNET_NATS_PASSWORD_OPS"

// OpsUser is the user of the configuration AuthorizationConfig writes that
// may do everything: for the coop's operators (the nats CLI), to change
// the stream's settings, look into it or repair it. No node uses it.
const OpsUser = "coopnet-ops"

// AuthorizationConfig writes the authorization block of a nats-server
// configuration for the coop's regions: one user per region, named after
// it, with Permissions, its password read from the server's environment
// (PasswordVariable), and OpsUser. A region's node then connects with
// COOPNET_NATS_URL=nats://<region>:<password>@host:4222.
func AuthorizationConfig(regions []string) (string, error) {
	regions = append([]string(nil), regions...)
	sort.Strings(regions)
	var b strings.Builder
	b.WriteString(`# coopnet: who may do what on the coop's NATS. Written by
# "coopnet admin nats-config" (README: "NATS in production"); include it
# from the server's configuration. One user per region, named after it,
# whose node connects with COOPNET_NATS_URL=nats://<region>:<password>@...;
# the passwords come from nats-server's environment (a missing one stops
# the server at start): letters and digits, starting with a letter (the
# configuration reads a number, or a brace, as something else). The
# operators' user may do everything; it creates the job stream
# ("coopnet admin nats-stream").
authorization {
  users = [
    {user: "` + OpsUser + `", password: $` + opsPasswordVariable + `}
`)
	seen := map[string]bool{}
	for _, r := range regions {
		if !regionName.MatchString(r) || r == OpsUser || PasswordVariable(r) == opsPasswordVariable {
			return "", fmt.Errorf("bus: %q is not a region's name (lower-case letters, digits and dashes)", r)
		}
		if seen[r] {
			return "", fmt.Errorf("bus: region %q given twice", r)
		}
		seen[r] = true
		pub, sub := Permissions(r)
		fmt.Fprintf(&b, "    {\n      user: %q\n      password: $%s\n      permissions: {\n", r, PasswordVariable(r))
		fmt.Fprintf(&b, "        publish: {allow: %s}\n", quoted(pub))
		fmt.Fprintf(&b, "        subscribe: {allow: %s}\n", quoted(sub))
		b.WriteString("      }\n    }\n")
	}
	if len(regions) == 0 {
		return "", fmt.Errorf("bus: no region")
	}
	b.WriteString("  ]\n}\n")
	return b.String(), nil
}

func quoted(subjects []string) string {
	q := make([]string, len(subjects))
	for i, s := range subjects {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
