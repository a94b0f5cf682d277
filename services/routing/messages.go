package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/tickets"
)

// Subjects of the routing plane. Every message is JSON with a version "v".
const (
	// subjectRoute + skill: the question "who can do this job?", answered
	// by every region (one replica per region: a queue group per region).
	subjectRoute = "coopnet.v1.route."
	// subjectAccept + origin region: a member accepts an offer; the origin
	// node, which tracks the ticket, decides and answers (request-reply).
	subjectAccept = "coopnet.v1.accept."
	// subjectRelease + origin region: a member gives back a job they had
	// accepted; the origin node decides and answers (request-reply), then
	// offers the job to the next candidate.
	subjectRelease = "coopnet.v1.release."
	// subjectPresence: each node says it is alive every few seconds, so a
	// router knows how many answers to wait for.
	subjectPresence = "coopnet.v1.presence"
	// subjectJobs + region + "." + kind: durable messages to one region
	// (JetStream, de-duplicated by Nats-Msg-Id).
	subjectJobs = "coopnet.v1.jobs."
)

// Kinds of durable job messages.
const (
	kindOffer    = "offer"    // origin → target region: offer a job to a member
	kindDecline  = "decline"  // target → origin: the member declined
	kindWithdraw = "withdraw" // origin → target: the offer expired or was cancelled
	kindAccepted = "accepted" // origin → target: the member got the job (in case the reply was lost)
	// target → origin: another job took the member's place (see rankCost);
	// the offer's job goes to its next candidate.
	kindSuperseded = "superseded"
)

const wireVersion = 1

// maxRegret bounds what a job may say it loses when its offer is superseded
// (costs are sums of a few weighted terms of about 0..1).
const maxRegret = 1e6

var (
	regionRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)
	skillRe  = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	tokenRe  = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// Question asks every region for candidates. It carries what scoring needs
// and never the client's name or contact: only the commune, the département
// and coordinates rounded to about 10 km.
type Question struct {
	V                int     `json:"v"`
	ID               string  `json:"id"`
	OriginRegion     string  `json:"origin_region"`
	Skill            string  `json:"skill"`
	MinLevel         int     `json:"min_level"`
	EstimatedMinutes int     `json:"estimated_minutes"`
	OnSite           bool    `json:"on_site"`
	Commune          string  `json:"commune"`
	Departement      string  `json:"departement"`
	Lat              float64 `json:"lat"`
	Lon              float64 `json:"lon"`
	HorizonDays      int     `json:"horizon_days"`
	// NoSupersede: propose nobody in the place of a pending offer (the job
	// asking had its own offer superseded).
	NoSupersede bool `json:"no_supersede,omitempty"`
	// Skip: members (handle@host) to leave out, who were offered the job
	// already.
	Skip []string `json:"skip,omitempty"`
}

// job is what scoring needs of the question.
func (q *Question) job() Job {
	return Job{Skill: q.Skill, MinLevel: q.MinLevel, EstimatedMinutes: q.EstimatedMinutes, OnSite: q.OnSite}
}

// maxSkip bounds Question.Skip.
const maxSkip = 100

// Candidate is one member a region proposes, with the figures to score them.
type Candidate struct {
	Region       string  `json:"region"`
	MemberID     string  `json:"member_id"`
	Handle       string  `json:"handle"` // full handle name@host
	Name         string  `json:"name"`
	Level        int     `json:"level"`
	DistanceKm   float64 `json:"distance_km"`
	RemoteOK     bool    `json:"remote_ok"`
	RadiusKm     int     `json:"radius_km"`
	CapacityMin  int     `json:"capacity_minutes"`       // weekly hours × horizon, in minutes
	BookedMin    int     `json:"booked_minutes"`         // already booked over the horizon
	RoutedMinQtr int     `json:"routed_minutes_quarter"` // routed work received this quarter
	// Supersedes, when set, is a pending offer the member would give up to
	// take this job (they have no room otherwise; BookedMin leaves it out),
	// and SupersedeCost what that offer's job loses by going to its next
	// candidate.
	Supersedes    string  `json:"supersedes,omitempty"`
	SupersedeCost float64 `json:"supersede_cost,omitempty"`
}

// Exclusions count, per region, the members who have the skill but were
// left out, and why: the reasons staff see for an unroutable ticket.
type Exclusions struct {
	Level    int `json:"level"`    // skill below the level asked
	Radius   int `json:"radius"`   // on-site job outside their radius
	Capacity int `json:"capacity"` // not enough free hours over the horizon
	Inactive int `json:"inactive"`
}

// Answer is one region's reply to a Question.
type Answer struct {
	V          int         `json:"v"`
	QuestionID string      `json:"question_id"`
	Region     string      `json:"region"`
	Candidates []Candidate `json:"candidates"`
	Excluded   Exclusions  `json:"excluded"`
}

// OfferMsg offers a job to a member of the target region.
type OfferMsg struct {
	V                int       `json:"v"`
	Kind             string    `json:"kind"`
	OfferID          string    `json:"offer_id"`
	RoutingID        string    `json:"routing_id"`
	OriginRegion     string    `json:"origin_region"`
	TicketID         string    `json:"ticket_id"`
	TicketAPID       string    `json:"ticket_ap_id"`
	MemberID         string    `json:"member_id"`
	Title            string    `json:"title"`
	Note             string    `json:"note"`
	Skill            string    `json:"skill"`
	EstimatedMinutes int       `json:"estimated_minutes"`
	OnSite           bool      `json:"on_site"`
	Commune          string    `json:"commune"`
	Departement      string    `json:"departement"`
	DistanceKm       float64   `json:"distance_km"`
	ForwardedBy      string    `json:"forwarded_by"`
	ForwardedByName  string    `json:"forwarded_by_name"`
	ExpiresAt        time.Time `json:"expires_at"`
	// Supersedes: the member's pending offer this one takes the place of.
	Supersedes string `json:"supersedes,omitempty"`
	// Regret: what this job loses if the member's place is taken from it
	// (see Regret); absent when it has no fallback.
	Regret *float64 `json:"regret,omitempty"`
}

// AnswerMsg tells the origin that a member declined, or tells the target
// that an offer was withdrawn.
type AnswerMsg struct {
	V         int    `json:"v"`
	Kind      string `json:"kind"`
	OfferID   string `json:"offer_id"`
	RoutingID string `json:"routing_id"`
	Region    string `json:"region"` // who sends it
	Reason    string `json:"reason"`
}

// AcceptRequest asks the origin to give the job to the member.
type AcceptRequest struct {
	V         int    `json:"v"`
	OfferID   string `json:"offer_id"`
	RoutingID string `json:"routing_id"`
	Region    string `json:"region"`
	MemberID  string `json:"member_id"`
	Handle    string `json:"handle"`
	Name      string `json:"name"`
	// ReleaseToken is a secret of the member's node, kept by the origin
	// with the job: a request to give it back must carry it. The offer's
	// ids travel on the shared stream; this does not. ("" from a node that
	// predates it: the job is then given back without.)
	ReleaseToken string `json:"release_token,omitempty"`
}

// AcceptReply is the origin's decision.
type AcceptReply struct {
	V       int    `json:"v"`
	OK      bool   `json:"ok"`
	Code    string `json:"code,omitempty"` // conflict, not_found, forbidden (not signed by the member's node), unavailable, internal
	Message string `json:"message,omitempty"`
	// Ticket is the job as accepted (an AcceptedTicket): no title or
	// description as written, no client.
	Ticket json.RawMessage `json:"ticket,omitempty"`
	ticket *tickets.Ticket // the ticket given, on the deciding node
}

// AcceptedTicket is what of a ticket the origin tells the member's node
// with its acceptance, over NATS, where every region's node can read:
// what the job is and whose it is now, nothing personal. The ticket itself
// follows over ActivityPub, to that node only.
type AcceptedTicket struct {
	ID             string            `json:"id"`
	APID           string            `json:"ap_id"`
	Status         tickets.Status    `json:"status"`
	Version        int               `json:"version"`
	Skill          string            `json:"skill"`
	Priority       string            `json:"priority"`
	OnSite         bool              `json:"on_site"`
	EstimatedHours float64           `json:"estimated_hours"`
	OriginRegion   string            `json:"origin_region"`
	Assignee       *tickets.Assignee `json:"assignee"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
}

// acceptedOf is what the reply to an acceptance says of ticket t.
func acceptedOf(t *tickets.Ticket) AcceptedTicket {
	v := t.View()
	return AcceptedTicket{ID: v.ID, APID: v.APID, Status: v.Status, Version: v.Version, Skill: v.Skill, Priority: v.Priority,
		OnSite: v.OnSite, EstimatedHours: v.EstimatedHours, OriginRegion: v.OriginRegion, Assignee: v.Assignee,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

func (a *AcceptedTicket) validate(o *Offer) error {
	switch {
	case a.ID != o.TicketID || a.APID != o.TicketAPID || a.OriginRegion != o.OriginRegion:
		return bad("the accepted ticket is not the offer's")
	case a.Assignee == nil || len(a.Assignee.Handle) > 300 || len(a.Assignee.Name) > 300 || !plain(a.Assignee.Name, false):
		return bad("the accepted ticket's assignee")
	case a.Version < 1 || len(a.Priority) > 16 || !skillRe.MatchString(a.Skill) || !finite(a.EstimatedHours):
		return bad("the accepted ticket's figures")
	}
	return nil
}

// ReleaseRequest asks the origin to take back a job the member accepted.
type ReleaseRequest struct {
	V         int    `json:"v"`
	OfferID   string `json:"offer_id"` // the offer the member accepted
	RoutingID string `json:"routing_id"`
	Region    string `json:"region"`
	Handle    string `json:"handle"`
	Token     string `json:"token"` // the acceptance's ReleaseToken ("" for a job accepted before them)
	Reason    string `json:"reason"`
}

// ReleaseReply is the origin's decision.
type ReleaseReply struct {
	V       int    `json:"v"`
	OK      bool   `json:"ok"`
	Code    string `json:"code,omitempty"` // conflict, not_found, forbidden, unavailable, internal
	Message string `json:"message,omitempty"`
}

// Presence says a region's node is alive.
type Presence struct {
	V      int    `json:"v"`
	Region string `json:"region"`
	// Hello marks a node's first presence after it starts: every other
	// region answers with its own at once, so that the new node knows them
	// all in a moment rather than after presenceEvery.
	Hello bool `json:"hello,omitempty"`
}

// errMalformed marks a message that is not ours or not valid: dropped and
// counted, never retried.
var errMalformed = errors.New("routing: malformed message")

// maxMessage bounds a message's size.
const maxMessage = 1 << 20

// decodeAnswerMsg reads a region's Answer (not yet validated).
func decodeAnswerMsg(data []byte) (Answer, error) {
	var a Answer
	return a, decode(data, &a)
}

// decodeQuestion reads a Question (not yet validated).
func decodeQuestion(data []byte) (Question, error) {
	var q Question
	return q, decode(data, &q)
}

// decode reads one JSON message strictly into dst, with encoding/json.
// (The busiest messages, answers and questions, had a reader of their
// own, without reflection: 17 µs rather than 75 µs for an answer of 20
// candidates, about 175 µs of a forward's 5.7 ms of CPU: 3 %. The routing
// benchmark could not tell the two apart beyond its noise, 169–276 against
// 225–316 forwards/s, on 3 December 2026; the plain way stays. Profiled
// later that day under 8 forwarders, decodeAnswerMsg was 9 % of the
// process's CPU and decode 12 %, with the restructuring's whole cost on
// the routing at −14 % of forwards/s: below the 20 % that would keep a
// reader of their own.)
func decode(data []byte, dst any) error {
	if len(data) > maxMessage {
		return fmt.Errorf("%w: too large", errMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data", errMalformed)
	}
	return nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMalformed}, args...)...)
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

func (q *Question) validate() error {
	switch {
	case q.V != wireVersion:
		return bad("question version %d", q.V)
	case !storage.ValidID(q.ID):
		return bad("question id %q", q.ID)
	case !regionRe.MatchString(q.OriginRegion):
		return bad("origin region %q", q.OriginRegion)
	case !skillRe.MatchString(q.Skill):
		return bad("skill %q", q.Skill)
	case q.MinLevel < 1 || q.MinLevel > 5:
		return bad("min level %d", q.MinLevel)
	case q.EstimatedMinutes < 0 || q.EstimatedMinutes > 1000*60:
		return bad("estimated minutes %d", q.EstimatedMinutes)
	case !finite(q.Lat, q.Lon) || q.Lat < -90 || q.Lat > 90 || q.Lon < -180 || q.Lon > 180:
		return bad("coordinates")
	case q.HorizonDays < 1 || q.HorizonDays > 366:
		return bad("horizon %d days", q.HorizonDays)
	case len(q.Commune) > 200 || len(q.Departement) > 3:
		return bad("location")
	case len(q.Skip) > maxSkip || slices.ContainsFunc(q.Skip, func(h string) bool { return len(h) == 0 || len(h) > 300 || !plain(h, false) }):
		return bad("members to skip")
	}
	return nil
}

func (a *Answer) validate(questionID string) error {
	if a.V != wireVersion || a.QuestionID != questionID || !regionRe.MatchString(a.Region) || len(a.Candidates) > 10000 {
		return bad("answer header")
	}
	for i, c := range a.Candidates {
		switch {
		case c.Region != a.Region:
			return bad("candidate %d of another region", i)
		case !storage.ValidID(c.MemberID), len(c.Handle) == 0, len(c.Handle) > 300, len(c.Name) > 300,
			!plain(c.Handle, false), !plain(c.Name, false):
			return bad("candidate %d identity", i)
		case c.Level < 1 || c.Level > 5:
			return bad("candidate %d level", i)
		case !finite(c.DistanceKm) || c.DistanceKm < 0 || c.DistanceKm > 50000:
			return bad("candidate %d distance", i)
		case c.CapacityMin < 0 || c.BookedMin < 0 || c.RoutedMinQtr < 0 || c.RadiusKm < 0:
			return bad("candidate %d figures", i)
		case c.Supersedes != "" && !storage.ValidID(c.Supersedes),
			!finite(c.SupersedeCost) || c.SupersedeCost < 0 || c.SupersedeCost > maxRegret,
			c.Supersedes == "" && c.SupersedeCost != 0:
			return bad("candidate %d superseded offer", i)
		}
	}
	return nil
}

// plain reports whether s is valid UTF-8 without control characters (tabs
// and newlines allowed where multiline): what every text from the wire must
// be before it is stored.
func plain(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return false
		}
	}
	return true
}

func (o *OfferMsg) validate() error {
	switch {
	case !plain(o.Title, false) || !plain(o.Note, true) || !plain(o.Commune, false) || !plain(o.Departement, false) ||
		!plain(o.ForwardedBy, false) || !plain(o.ForwardedByName, false) || !plain(o.TicketAPID, false):
		return bad("offer text")
	case o.V != wireVersion || o.Kind != kindOffer:
		return bad("offer header")
	case !storage.ValidID(o.OfferID) || !storage.ValidID(o.RoutingID) || !storage.ValidID(o.TicketID) || !storage.ValidID(o.MemberID):
		return bad("offer ids")
	case !regionRe.MatchString(o.OriginRegion) || !skillRe.MatchString(o.Skill):
		return bad("offer region or skill")
	case len(o.Title) == 0 || len(o.Title) > 1000 || len(o.Note) > 4000 || len(o.TicketAPID) > 500:
		return bad("offer text")
	case o.EstimatedMinutes < 0 || o.EstimatedMinutes > 1000*60 || !finite(o.DistanceKm) || o.DistanceKm < 0:
		return bad("offer figures")
	case o.ExpiresAt.IsZero() || len(o.ForwardedBy) > 300 || len(o.ForwardedByName) > 300:
		return bad("offer expiry or sender")
	case o.Supersedes != "" && (!storage.ValidID(o.Supersedes) || o.Supersedes == o.OfferID),
		o.Regret != nil && (!finite(*o.Regret) || *o.Regret < 0 || *o.Regret > maxRegret):
		return bad("offer's superseding figures")
	}
	return nil
}

// decodeAnswer reads and checks an AnswerMsg of the given kind.
func decodeAnswer(data []byte, kind string) (AnswerMsg, error) {
	var a AnswerMsg
	if err := decode(data, &a); err != nil {
		return a, err
	}
	return a, a.validate(kind)
}

func (a *AnswerMsg) validate(kind string) error {
	if a.V != wireVersion || a.Kind != kind || !storage.ValidID(a.OfferID) || !storage.ValidID(a.RoutingID) ||
		!regionRe.MatchString(a.Region) || len(a.Reason) > 2000 || !plain(a.Reason, true) {
		return bad("%s message", kind)
	}
	return nil
}

func (r *ReleaseRequest) validate() error {
	if r.V != wireVersion || !storage.ValidID(r.OfferID) || !storage.ValidID(r.RoutingID) || !regionRe.MatchString(r.Region) ||
		len(r.Handle) == 0 || len(r.Handle) > 300 || !plain(r.Handle, false) || r.Token != "" && !tokenRe.MatchString(r.Token) ||
		utf8.RuneCountInString(r.Reason) > maxReleaseReason || !plain(r.Reason, true) {
		return bad("release request")
	}
	return nil
}

func (a *AcceptRequest) validate() error {
	if a.V != wireVersion || a.ReleaseToken != "" && !tokenRe.MatchString(a.ReleaseToken) || !storage.ValidID(a.OfferID) || !storage.ValidID(a.RoutingID) || !storage.ValidID(a.MemberID) ||
		!regionRe.MatchString(a.Region) || len(a.Handle) == 0 || len(a.Handle) > 300 || len(a.Name) > 300 ||
		!plain(a.Handle, false) || !plain(a.Name, false) {
		return bad("accept request")
	}
	return nil
}
