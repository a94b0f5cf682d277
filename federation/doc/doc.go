// Package doc holds the ActivityPub documents coopnet serves and reads:
// their JSON-LD context, how each is made (with go-fed's vocabulary, so
// that what is sent is valid ActivityStreams and ForgeFed) and how a
// received activity is read and checked before it is applied.
package doc

// This file is the only one that imports go-fed's streams (it compiles
// slowly: keep it here). It turns coopnet's objects into ActivityStreams
// documents and checks documents received from peers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-fed/activity/streams"
	"github.com/go-fed/activity/streams/vocab"
)

// JSON-LD contexts.
const (
	NSActivityStreams = "https://www.w3.org/ns/activitystreams"
	nsSecurity        = "https://w3id.org/security/v1"
	nsForgeFed2020    = "https://forgefed.peers.community/ns"
	nsForgeFed        = "https://forgefed.org/ns"
	// nsCoopnet names coopnet's own terms (skills, region…). It is an
	// identifier, not a page to fetch.
	nsCoopnet = "https://coopnet.coop/ns#"
)

// Media types of ActivityPub.
const (
	MediaActivity = "application/activity+json"
	MediaLD       = `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`
)

// coopnetContext is the @context of every document coopnet serves.
var coopnetContext = []any{NSActivityStreams, nsSecurity, nsForgeFed2020, coopnetTerms}

// coopnetTerms are coopnet's own terms: a person's skills and region, a
// shared ticket's working state, the client a job is for.
var coopnetTerms = map[string]any{
	"coopnet":          nsCoopnet,
	"region":           "coopnet:region",
	"skills":           "coopnet:skills",
	"level":            "coopnet:level",
	"commune":          "coopnet:commune",
	"departement":      "coopnet:departement",
	"remoteOk":         "coopnet:remoteOk",
	"handle":           "coopnet:handle",
	"status":           "coopnet:status",
	"priority":         "coopnet:priority",
	"skill":            "coopnet:skill",
	"onSite":           "coopnet:onSite",
	"estimatedMinutes": "coopnet:estimatedMinutes",
	"trackerMinutes":   "coopnet:trackerMinutes",
	"assigneeMinutes":  "coopnet:assigneeMinutes",
	"version":          "coopnet:version",
	"originRegion":     "coopnet:originRegion",
	"createdBy":        "coopnet:createdBy",
	"assignee":         "coopnet:assignee",
	"client":           "coopnet:client",
	"authorName":       "coopnet:authorName",
	"size":             "coopnet:size",
	"sha256":           "coopnet:sha256",
}

func iri(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(fmt.Sprintf("federation: bad IRI %q: %v", s, err)) // our own URLs, built from a validated base
	}
	return u
}

func idProp(s string) vocab.JSONLDIdProperty {
	p := streams.NewJSONLDIdProperty()
	p.SetIRI(iri(s))
	return p
}

func nameProp(s string) vocab.ActivityStreamsNameProperty {
	p := streams.NewActivityStreamsNameProperty()
	p.AppendXMLSchemaString(s)
	return p
}

func publicKeyProp(owner, pem string) vocab.W3IDSecurityV1PublicKeyProperty {
	k := streams.NewW3IDSecurityV1PublicKey()
	k.SetJSONLDId(idProp(owner + "#main-key"))
	o := streams.NewW3IDSecurityV1OwnerProperty()
	o.SetIRI(iri(owner))
	k.SetW3IDSecurityV1Owner(o)
	p := streams.NewW3IDSecurityV1PublicKeyPemProperty()
	p.Set(pem)
	k.SetW3IDSecurityV1PublicKeyPem(p)
	prop := streams.NewW3IDSecurityV1PublicKeyProperty()
	prop.AppendW3IDSecurityV1PublicKey(k)
	return prop
}

// ActorFields are what a Service or a Person shares.
type ActorFields struct {
	ID, Username, Name, Summary, PublicKeyPEM string
}

func serialize(t vocab.Type) (map[string]any, error) {
	m, err := streams.Serialize(t)
	if err != nil {
		return nil, fmt.Errorf("federation: serialize %s: %w", t.GetTypeName(), err)
	}
	m["@context"] = coopnetContext
	return m, nil
}

// actorType is what a Service and a Person share in go-fed.
type actorType interface {
	SetJSONLDId(vocab.JSONLDIdProperty)
	SetActivityStreamsPreferredUsername(vocab.ActivityStreamsPreferredUsernameProperty)
	SetActivityStreamsName(vocab.ActivityStreamsNameProperty)
	SetActivityStreamsInbox(vocab.ActivityStreamsInboxProperty)
	SetActivityStreamsOutbox(vocab.ActivityStreamsOutboxProperty)
}

// setActor sets an actor's id, username, name, inbox and outbox.
func setActor(a actorType, id, username, name string) {
	a.SetJSONLDId(idProp(id))
	pu := streams.NewActivityStreamsPreferredUsernameProperty()
	pu.SetXMLSchemaString(username)
	a.SetActivityStreamsPreferredUsername(pu)
	a.SetActivityStreamsName(nameProp(name))
	in := streams.NewActivityStreamsInboxProperty()
	in.SetIRI(iri(id + "/inbox"))
	a.SetActivityStreamsInbox(in)
	out := streams.NewActivityStreamsOutboxProperty()
	out.SetIRI(iri(id + "/outbox"))
	a.SetActivityStreamsOutbox(out)
}

// NodeActor is the node's own actor, a Service.
func NodeActor(a ActorFields, sharedInbox string) (map[string]any, error) {
	s := streams.NewActivityStreamsService()
	setActor(s, a.ID, a.Username, a.Name)
	sum := streams.NewActivityStreamsSummaryProperty()
	sum.AppendXMLSchemaString(a.Summary)
	s.SetActivityStreamsSummary(sum)
	s.SetW3IDSecurityV1PublicKey(publicKeyProp(a.ID, a.PublicKeyPEM))
	m, err := serialize(s)
	if err != nil {
		return nil, err
	}
	m["endpoints"] = map[string]any{"sharedInbox": sharedInbox}
	m["manuallyApprovesFollowers"] = true
	return m, nil
}

// Profile is the public profile of a member, as their Person actor and
// the coop-wide directory show it.
type Profile struct {
	ID          string // the actor id, PublicURL/members/handle
	Username    string // the local handle
	Name        string
	Region      string
	Commune     string
	Departement string
	RemoteOK    bool
	Skills      []Skill
	Updated     time.Time
}

// Skill is one skill of a profile.
type Skill struct {
	Name  string `json:"name"`
	Level int    `json:"level"`
}

// Person is a member's actor, a Person with their skills and coarse
// location (commune, département): nothing private.
func Person(p Profile, publicKeyPEM, sharedInbox string) (map[string]any, error) {
	s := streams.NewActivityStreamsPerson()
	setActor(s, p.ID, p.Username, p.Name)
	u := streams.NewActivityStreamsUrlProperty()
	u.AppendIRI(iri(p.ID))
	s.SetActivityStreamsUrl(u)
	up := streams.NewActivityStreamsUpdatedProperty()
	up.Set(p.Updated.UTC())
	s.SetActivityStreamsUpdated(up)
	if publicKeyPEM != "" {
		s.SetW3IDSecurityV1PublicKey(publicKeyProp(p.ID, publicKeyPEM))
	}
	m, err := serialize(s)
	if err != nil {
		return nil, err
	}
	skills := make([]any, len(p.Skills))
	for i, sk := range p.Skills {
		skills[i] = map[string]any{"name": sk.Name, "level": sk.Level}
	}
	m["skills"] = skills
	// To the microsecond (go-fed writes whole seconds): the newer profile
	// wins, and two changes within a second must not tie.
	m["updated"] = p.Updated.UTC().Format(time.RFC3339Nano)
	m["region"] = p.Region
	m["commune"] = p.Commune
	m["departement"] = p.Departement
	m["remoteOk"] = p.RemoteOK
	m["endpoints"] = map[string]any{"sharedInbox": sharedInbox}
	m["discoverable"] = false
	m["manuallyApprovesFollowers"] = true
	return m, nil
}

// Update wraps an object in an Update by actor, addressed to the given
// actors.
func Update(id, actor string, object map[string]any, to []string, published time.Time) (map[string]any, error) {
	u := streams.NewActivityStreamsUpdate()
	u.SetJSONLDId(idProp(id))
	a := streams.NewActivityStreamsActorProperty()
	a.AppendIRI(iri(actor))
	u.SetActivityStreamsActor(a)
	toP := streams.NewActivityStreamsToProperty()
	for _, t := range to {
		toP.AppendIRI(iri(t))
	}
	u.SetActivityStreamsTo(toP)
	pub := streams.NewActivityStreamsPublishedProperty()
	pub.Set(published.UTC())
	u.SetActivityStreamsPublished(pub)
	m, err := serialize(u)
	if err != nil {
		return nil, err
	}
	obj := make(map[string]any, len(object))
	for k, v := range object {
		if k != "@context" {
			obj[k] = v
		}
	}
	m["object"] = obj
	return m, nil
}

// Activity is an activity received from a peer, checked: its envelope
// (id, type, actor) and its object, embedded or by id.
type Activity struct {
	ID, Type, Actor string
	// Object is the embedded object, nil when the activity names it by id.
	Object map[string]any
	// ObjectID is the object's id, embedded or not.
	ObjectID string
	// ObjectType is the embedded object's type.
	ObjectType string
	Raw        map[string]any
}

// KnownTypes are the activity types coopnet understands; go-fed checks the
// shape of those it has in its vocabulary. Resolve and Assign came to
// ForgeFed after go-fed v1.0.0 and are checked here.
var KnownTypes = map[string]bool{
	"Create": true, "Update": true, "Delete": true, "Offer": true, "Accept": true, "Reject": true,
	"TentativeAccept": true, "Invite": true, "Undo": true, "Resolve": true, "Assign": true,
}

var ErrMalformed = errors.New("malformed activity")

func Malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// ParseActivity checks a received JSON-LD activity. Both the 2020 ForgeFed
// context (go-fed's) and today's are accepted: today's is read as the
// 2020 one, whose terms coopnet uses are the same.
func ParseActivity(ctx context.Context, body []byte) (*Activity, error) {
	a, err := ReadActivity(body)
	if err != nil {
		return nil, err
	}
	// go-fed checks the whole document's shape where its vocabulary knows
	// the types (the rest is checked by the handler of each type).
	if a.Type != "Resolve" && a.Type != "Assign" {
		if _, err := streams.ToType(ctx, normalizeForGoFed(a.Raw)); err != nil {
			return nil, Malformed("not valid ActivityStreams: %v", err)
		}
	}
	return a, nil
}

// ReadActivity reads an activity's envelope: what parseActivity checks but
// go-fed's check of the whole document, for activities checked when they
// were received.
func ReadActivity(body []byte) (*Activity, error) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, Malformed("not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, Malformed("trailing data after the JSON object")
	}
	if m == nil {
		return nil, Malformed("not a JSON object")
	}
	if err := checkContext(m["@context"]); err != nil {
		return nil, err
	}
	a := &Activity{Raw: m}
	var ok bool
	if a.Type, ok = m["type"].(string); !ok || !KnownTypes[a.Type] {
		return nil, Malformed("type %v is not an activity coopnet handles", m["type"])
	}
	if a.ID, ok = m["id"].(string); !ok || !absoluteHTTP(a.ID) {
		return nil, Malformed("id must be an absolute http(s) URL")
	}
	if a.Actor = IDOf(m["actor"]); !absoluteHTTP(a.Actor) {
		return nil, Malformed("actor must be one actor, by id or embedded with an id")
	}
	switch o := m["object"].(type) {
	case string:
		a.ObjectID = o
	case map[string]any:
		a.Object = o
		a.ObjectID, _ = o["id"].(string)
		a.ObjectType, _ = o["type"].(string)
		if a.ObjectType == "" {
			return nil, Malformed("the embedded object has no type")
		}
	case nil:
	default:
		return nil, Malformed("object must be an id or one embedded object")
	}
	if a.ObjectID != "" && !absoluteHTTP(a.ObjectID) {
		return nil, Malformed("object id must be an absolute http(s) URL")
	}
	return a, nil
}

// checkContext accepts the ActivityStreams context, alone or with others.
func checkContext(c any) error {
	switch v := c.(type) {
	case string:
		if v == NSActivityStreams {
			return nil
		}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s == NSActivityStreams {
				return nil
			}
		}
	}
	return Malformed("@context must include %s", NSActivityStreams)
}

// normalizeForGoFed returns a copy of m whose ForgeFed context is the 2020
// one go-fed knows, and without coopnet's own terms.
func normalizeForGoFed(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	ctx := []any{NSActivityStreams, nsSecurity}
	if hasContext(m["@context"], nsForgeFed) || hasContext(m["@context"], nsForgeFed2020) {
		ctx = append(ctx, nsForgeFed2020)
	}
	out["@context"] = ctx
	if o, ok := m["object"].(map[string]any); ok {
		obj := make(map[string]any, len(o))
		for k, v := range o {
			if _, own := coopnetTerms[k]; own {
				continue
			}
			switch k {
			case "endpoints", "discoverable", "manuallyApprovesFollowers", "@context":
			default:
				obj[k] = v
			}
		}
		out["object"] = obj
	}
	return out
}

func hasContext(c any, ns string) bool {
	switch v := c.(type) {
	case string:
		return v == ns
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s == ns {
				return true
			}
			if mm, ok := e.(map[string]any); ok {
				for _, x := range mm {
					if x == ns {
						return true
					}
				}
			}
		}
	}
	return false
}

// IDOf is the id of a property holding one IRI or one object with an id.
func IDOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		s, _ := x["id"].(string)
		return s
	case []any:
		if len(x) == 1 {
			return IDOf(x[0])
		}
	}
	return ""
}

func absoluteHTTP(s string) bool {
	if s == "" || len(s) > 2000 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// ProfileFrom reads a Person received in an Update.
func ProfileFrom(o map[string]any) (Profile, error) {
	p := Profile{}
	p.ID, _ = o["id"].(string)
	p.Username, _ = o["preferredUsername"].(string)
	switch n := o["name"].(type) {
	case string:
		p.Name = n
	case []any:
		if len(n) > 0 {
			p.Name, _ = n[0].(string)
		}
	}
	p.Region, _ = o["region"].(string)
	p.Commune, _ = o["commune"].(string)
	p.Departement, _ = o["departement"].(string)
	p.RemoteOK, _ = o["remoteOk"].(bool)
	up, _ := o["updated"].(string)
	t, err := time.Parse(time.RFC3339, up)
	if err != nil {
		return p, Malformed("a Person needs its updated time (RFC 3339)")
	}
	p.Updated = t.UTC()
	if raw, ok := o["skills"]; ok {
		list, ok := raw.([]any)
		if !ok {
			return p, Malformed("skills must be a list")
		}
		for _, e := range list {
			sk, ok := e.(map[string]any)
			if !ok {
				return p, Malformed("each skill must be {name, level}")
			}
			name, _ := sk["name"].(string)
			var level int64
			if n, ok := sk["level"].(json.Number); ok {
				level, _ = n.Int64()
			}
			p.Skills = append(p.Skills, Skill{Name: name, Level: int(level)})
		}
	}
	return p, nil
}

// activityType is what every activity coopnet sends has in go-fed.
type activityType interface {
	vocab.Type
	SetJSONLDId(vocab.JSONLDIdProperty)
	SetActivityStreamsActor(vocab.ActivityStreamsActorProperty)
	SetActivityStreamsTo(vocab.ActivityStreamsToProperty)
	SetActivityStreamsPublished(vocab.ActivityStreamsPublishedProperty)
}

func newActivity(typ string) activityType {
	switch typ {
	case "Create":
		return streams.NewActivityStreamsCreate()
	case "Update":
		return streams.NewActivityStreamsUpdate()
	case "Offer":
		return streams.NewActivityStreamsOffer()
	case "Accept":
		return streams.NewActivityStreamsAccept()
	case "TentativeAccept":
		return streams.NewActivityStreamsTentativeAccept()
	case "Reject":
		return streams.NewActivityStreamsReject()
	case "Undo":
		return streams.NewActivityStreamsUndo()
	case "Invite":
		return streams.NewActivityStreamsInvite()
	}
	return nil
}

// ActivityOf is an activity of type typ by actor, addressed to the given
// actors, about object (an id or an embedded document), and with target
// when not empty. Resolve, which go-fed v1.0.0 does not know, is built as
// the others are.
func ActivityOf(typ, id, actor string, object any, to []string, target string, published time.Time) (map[string]any, error) {
	var m map[string]any
	if a := newActivity(typ); a != nil {
		a.SetJSONLDId(idProp(id))
		ap := streams.NewActivityStreamsActorProperty()
		ap.AppendIRI(iri(actor))
		a.SetActivityStreamsActor(ap)
		toP := streams.NewActivityStreamsToProperty()
		for _, t := range to {
			toP.AppendIRI(iri(t))
		}
		a.SetActivityStreamsTo(toP)
		pub := streams.NewActivityStreamsPublishedProperty()
		pub.Set(published.UTC())
		a.SetActivityStreamsPublished(pub)
		var err error
		if m, err = serialize(a); err != nil {
			return nil, err
		}
	} else {
		m = map[string]any{"@context": coopnetContext, "id": id, "type": typ, "actor": actor, "to": to,
			"published": published.UTC().Format(time.RFC3339)}
	}
	if o, ok := object.(map[string]any); ok {
		obj := make(map[string]any, len(o))
		for k, v := range o {
			if k != "@context" {
				obj[k] = v
			}
		}
		object = obj
	}
	m["object"] = object
	if target != "" {
		m["target"] = target
	}
	return m, nil
}

// TicketDoc is a ticket as ActivityStreams shows it: a ForgeFed Ticket
// with coopnet's working state.
type TicketDoc struct {
	ID, Title, Description string
	AttributedTo           string // the actor who took the request in
	AssignedTo             string // the assignee's actor, if any
	Resolved               bool
	Published, Updated     time.Time
	Extra                  map[string]any // coopnet's terms
}

// Ticket is a ForgeFed Ticket: summary is its title, content its
// description.
func Ticket(d TicketDoc) (map[string]any, error) {
	t := streams.NewForgeFedTicket()
	t.SetJSONLDId(idProp(d.ID))
	sum := streams.NewActivityStreamsSummaryProperty()
	sum.AppendXMLSchemaString(d.Title)
	t.SetActivityStreamsSummary(sum)
	c := streams.NewActivityStreamsContentProperty()
	c.AppendXMLSchemaString(d.Description)
	t.SetActivityStreamsContent(c)
	mt := streams.NewActivityStreamsMediaTypeProperty()
	mt.Set("text/plain")
	t.SetActivityStreamsMediaType(mt)
	if d.AttributedTo != "" {
		at := streams.NewActivityStreamsAttributedToProperty()
		at.AppendIRI(iri(d.AttributedTo))
		t.SetActivityStreamsAttributedTo(at)
	}
	if d.AssignedTo != "" {
		as := streams.NewForgeFedAssignedToProperty()
		as.SetIRI(iri(d.AssignedTo))
		t.SetForgeFedAssignedTo(as)
	}
	r := streams.NewForgeFedIsResolvedProperty()
	r.Set(d.Resolved)
	t.SetForgeFedIsResolved(r)
	pub := streams.NewActivityStreamsPublishedProperty()
	pub.Set(d.Published.UTC())
	t.SetActivityStreamsPublished(pub)
	up := streams.NewActivityStreamsUpdatedProperty()
	up.Set(d.Updated.UTC())
	t.SetActivityStreamsUpdated(up)
	m, err := serialize(t)
	if err != nil {
		return nil, err
	}
	for k, v := range d.Extra {
		m[k] = v
	}
	return m, nil
}

// Note is a public comment on a ticket: a Note in the ticket's context.
// NoteFile is a file attached to a comment: a Document the other node
// fetches at URL with a signed GET.
type NoteFile struct {
	ID, URL, Name, MediaType, SHA256 string
	Size                             int64
}

func Note(id, author, authorHandle, authorName, ticket, body string, published time.Time, fs ...NoteFile) (map[string]any, error) {
	n := streams.NewActivityStreamsNote()
	n.SetJSONLDId(idProp(id))
	at := streams.NewActivityStreamsAttributedToProperty()
	at.AppendIRI(iri(author))
	n.SetActivityStreamsAttributedTo(at)
	cx := streams.NewActivityStreamsContextProperty()
	cx.AppendIRI(iri(ticket))
	n.SetActivityStreamsContext(cx)
	c := streams.NewActivityStreamsContentProperty()
	c.AppendXMLSchemaString(body)
	n.SetActivityStreamsContent(c)
	mt := streams.NewActivityStreamsMediaTypeProperty()
	mt.Set("text/plain")
	n.SetActivityStreamsMediaType(mt)
	pub := streams.NewActivityStreamsPublishedProperty()
	pub.Set(published.UTC())
	n.SetActivityStreamsPublished(pub)
	if len(fs) > 0 {
		att := streams.NewActivityStreamsAttachmentProperty()
		for _, f := range fs {
			d := streams.NewActivityStreamsDocument()
			d.SetJSONLDId(idProp(f.ID))
			d.SetActivityStreamsName(nameProp(f.Name))
			dm := streams.NewActivityStreamsMediaTypeProperty()
			dm.Set(f.MediaType)
			d.SetActivityStreamsMediaType(dm)
			u := streams.NewActivityStreamsUrlProperty()
			u.AppendIRI(iri(f.URL))
			d.SetActivityStreamsUrl(u)
			att.AppendActivityStreamsDocument(d)
		}
		n.SetActivityStreamsAttachment(att)
	}
	m, err := serialize(n)
	if err != nil {
		return nil, err
	}
	m["handle"], m["authorName"] = authorHandle, authorName
	if len(fs) > 0 {
		// The size and digest, coopnet's terms, that the fetching node
		// checks the file against.
		docs, _ := m["attachment"].([]any)
		if len(fs) == 1 && docs == nil {
			if one, ok := m["attachment"].(map[string]any); ok {
				docs = []any{one}
			}
		}
		for i, d := range docs {
			if dm, ok := d.(map[string]any); ok && i < len(fs) {
				dm["size"], dm["sha256"] = fs[i].Size, fs[i].SHA256
			}
		}
		m["attachment"] = docs
	}
	return m, nil
}

// Event is an intervention: an Event in the ticket's context, from start
// to end, at a place.
func Event(id, organizer, ticket, name, location string, start, end time.Time) (map[string]any, error) {
	e := streams.NewActivityStreamsEvent()
	e.SetJSONLDId(idProp(id))
	e.SetActivityStreamsName(nameProp(name))
	at := streams.NewActivityStreamsAttributedToProperty()
	at.AppendIRI(iri(organizer))
	e.SetActivityStreamsAttributedTo(at)
	cx := streams.NewActivityStreamsContextProperty()
	cx.AppendIRI(iri(ticket))
	e.SetActivityStreamsContext(cx)
	st := streams.NewActivityStreamsStartTimeProperty()
	st.Set(start.UTC())
	e.SetActivityStreamsStartTime(st)
	et := streams.NewActivityStreamsEndTimeProperty()
	et.Set(end.UTC())
	e.SetActivityStreamsEndTime(et)
	if location != "" {
		p := streams.NewActivityStreamsPlace()
		p.SetActivityStreamsName(nameProp(location))
		lp := streams.NewActivityStreamsLocationProperty()
		lp.AppendActivityStreamsPlace(p)
		e.SetActivityStreamsLocation(lp)
	}
	return serialize(e)
}
