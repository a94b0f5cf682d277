// Package wire holds the routing plane's messages over NATS: their
// subjects, their types, and how each is read and checked. Every message
// is JSON with a version "v"; one that is not valid is malformed
// (ErrMalformed): dropped and counted, never retried.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coopnet/coopnet/services/storage"
)

// Subjects of the routing plane. Every message is JSON with a version "v".
const (
	// SubjectRoute + skill: the question "who can do this job?", answered
	// by every region (one replica per region: a queue group per region).
	SubjectRoute = "coopnet.v1.route."
	// SubjectAccept + origin region: a member accepts an offer; the origin
	// node, which tracks the ticket, decides and answers (request-reply).
	SubjectAccept = "coopnet.v1.accept."
	// SubjectRelease + origin region: a member gives back a job they had
	// accepted; the origin node decides and answers (request-reply), then
	// offers the job to the next candidate.
	SubjectRelease = "coopnet.v1.release."
	// SubjectPresence: each node says it is alive every few seconds, so a
	// router knows how many answers to wait for.
	SubjectPresence = "coopnet.v1.presence"
	// SubjectJobs + region + "." + kind: durable messages to one region
	// (JetStream, de-duplicated by Nats-Msg-Id).
	SubjectJobs = "coopnet.v1.jobs."
)

// Kinds of durable job messages.
const (
	KindOffer    = "offer"    // origin → target region: offer a job to a member
	KindDecline  = "decline"  // target → origin: the member declined
	KindWithdraw = "withdraw" // origin → target: the offer expired or was cancelled
	KindAccepted = "accepted" // origin → target: the member got the job (in case the reply was lost)
	// target → origin: another job took the member's place (see score.RankCost);
	// the offer's job goes to its next candidate.
	KindSuperseded = "superseded"
)

const Version = 1

// MaxRegret bounds what a job may say it loses when its offer is superseded
// (costs are sums of a few weighted terms of about 0..1).
const MaxRegret = 1e6

var (
	RegionRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)
	SkillRe  = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	TokenRe  = regexp.MustCompile(`^[0-9a-f]{32}$`)
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

// MaxSkip bounds Question.Skip.
const MaxSkip = 100

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

// MaxReleaseReason bounds the reason given with a job given back.
const MaxReleaseReason = 1000

// WireVersion is the reply's version.
func (r *ReleaseReply) WireVersion() int { return r.V }

// Presence says a region's node is alive.
type Presence struct {
	V      int    `json:"v"`
	Region string `json:"region"`
	// Hello marks a node's first presence after it starts: every other
	// region answers with its own at once, so that the new node knows them
	// all in a moment rather than after presenceEvery.
	Hello bool `json:"hello,omitempty"`
}

// ErrMalformed marks a message that is not ours or not valid: dropped and
// counted, never retried.
var ErrMalformed = errors.New("routing: malformed message")

// MaxMessage bounds a message's size.
const MaxMessage = 1 << 20

// DecodeAnswer reads a region's Answer (not yet validated).
func DecodeAnswer(data []byte) (Answer, error) {
	var a Answer
	return a, Decode(data, &a)
}

// DecodeQuestion reads a Question (not yet validated).
func DecodeQuestion(data []byte) (Question, error) {
	var q Question
	return q, Decode(data, &q)
}

// Decode reads one JSON message strictly into dst, with encoding/json.
// (The busiest messages, answers and questions, had a reader of their
// own, without reflection: 17 µs rather than 75 µs for an answer of 20
// candidates, about 175 µs of a forward's 5.7 ms of CPU: 3 %. The routing
// benchmark could not tell the two apart beyond its noise, 169–276 against
// 225–316 forwards/s, on 3 December 2026; the Plain way stays. Profiled
// later that day under 8 forwarders, DecodeAnswer was 9 % of the
// process's CPU and Decode 12 %, with the restructuring's whole cost on
// the routing at −14 % of forwards/s: below the 20 % that would keep a
// reader of their own.)
func Decode(data []byte, dst any) error {
	if len(data) > MaxMessage {
		return fmt.Errorf("%w: too large", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return nil
}

func Bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func Finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

func (q *Question) Validate() error {
	switch {
	case q.V != Version:
		return Bad("question version %d", q.V)
	case !storage.ValidID(q.ID):
		return Bad("question id %q", q.ID)
	case !RegionRe.MatchString(q.OriginRegion):
		return Bad("origin region %q", q.OriginRegion)
	case !SkillRe.MatchString(q.Skill):
		return Bad("skill %q", q.Skill)
	case q.MinLevel < 1 || q.MinLevel > 5:
		return Bad("min level %d", q.MinLevel)
	case q.EstimatedMinutes < 0 || q.EstimatedMinutes > 1000*60:
		return Bad("estimated minutes %d", q.EstimatedMinutes)
	case !Finite(q.Lat, q.Lon) || q.Lat < -90 || q.Lat > 90 || q.Lon < -180 || q.Lon > 180:
		return Bad("coordinates")
	case q.HorizonDays < 1 || q.HorizonDays > 366:
		return Bad("horizon %d days", q.HorizonDays)
	case len(q.Commune) > 200 || len(q.Departement) > 3:
		return Bad("location")
	case len(q.Skip) > MaxSkip || slices.ContainsFunc(q.Skip, func(h string) bool { return len(h) == 0 || len(h) > 300 || !Plain(h, false) }):
		return Bad("members to skip")
	}
	return nil
}

func (a *Answer) Validate(questionID string) error {
	if a.V != Version || a.QuestionID != questionID || !RegionRe.MatchString(a.Region) || len(a.Candidates) > 10000 {
		return Bad("answer header")
	}
	for i, c := range a.Candidates {
		switch {
		case c.Region != a.Region:
			return Bad("candidate %d of another region", i)
		case !storage.ValidID(c.MemberID), len(c.Handle) == 0, len(c.Handle) > 300, len(c.Name) > 300,
			!Plain(c.Handle, false), !Plain(c.Name, false):
			return Bad("candidate %d identity", i)
		case c.Level < 1 || c.Level > 5:
			return Bad("candidate %d level", i)
		case !Finite(c.DistanceKm) || c.DistanceKm < 0 || c.DistanceKm > 50000:
			return Bad("candidate %d distance", i)
		case c.CapacityMin < 0 || c.BookedMin < 0 || c.RoutedMinQtr < 0 || c.RadiusKm < 0:
			return Bad("candidate %d figures", i)
		case c.Supersedes != "" && !storage.ValidID(c.Supersedes),
			!Finite(c.SupersedeCost) || c.SupersedeCost < 0 || c.SupersedeCost > MaxRegret,
			c.Supersedes == "" && c.SupersedeCost != 0:
			return Bad("candidate %d superseded offer", i)
		}
	}
	return nil
}

// Plain reports whether s is valid UTF-8 without control characters (tabs
// and newlines allowed where multiline): what every text from the wire must
// be before it is stored.
func Plain(s string, multiline bool) bool {
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

func (o *OfferMsg) Validate() error {
	switch {
	case !Plain(o.Title, false) || !Plain(o.Note, true) || !Plain(o.Commune, false) || !Plain(o.Departement, false) ||
		!Plain(o.ForwardedBy, false) || !Plain(o.ForwardedByName, false) || !Plain(o.TicketAPID, false):
		return Bad("offer text")
	case o.V != Version || o.Kind != KindOffer:
		return Bad("offer header")
	case !storage.ValidID(o.OfferID) || !storage.ValidID(o.RoutingID) || !storage.ValidID(o.TicketID) || !storage.ValidID(o.MemberID):
		return Bad("offer ids")
	case !RegionRe.MatchString(o.OriginRegion) || !SkillRe.MatchString(o.Skill):
		return Bad("offer region or skill")
	case len(o.Title) == 0 || len(o.Title) > 1000 || len(o.Note) > 4000 || len(o.TicketAPID) > 500:
		return Bad("offer text")
	case o.EstimatedMinutes < 0 || o.EstimatedMinutes > 1000*60 || !Finite(o.DistanceKm) || o.DistanceKm < 0:
		return Bad("offer figures")
	case o.ExpiresAt.IsZero() || len(o.ForwardedBy) > 300 || len(o.ForwardedByName) > 300:
		return Bad("offer expiry or sender")
	case o.Supersedes != "" && (!storage.ValidID(o.Supersedes) || o.Supersedes == o.OfferID),
		o.Regret != nil && (!Finite(*o.Regret) || *o.Regret < 0 || *o.Regret > MaxRegret):
		return Bad("offer's superseding figures")
	}
	return nil
}

// DecodeAnswerMsg reads and checks an AnswerMsg of the given kind.
func DecodeAnswerMsg(data []byte, kind string) (AnswerMsg, error) {
	var a AnswerMsg
	if err := Decode(data, &a); err != nil {
		return a, err
	}
	return a, a.Validate(kind)
}

func (a *AnswerMsg) Validate(kind string) error {
	if a.V != Version || a.Kind != kind || !storage.ValidID(a.OfferID) || !storage.ValidID(a.RoutingID) ||
		!RegionRe.MatchString(a.Region) || len(a.Reason) > 2000 || !Plain(a.Reason, true) {
		return Bad("%s message", kind)
	}
	return nil
}

func (r *ReleaseRequest) Validate() error {
	if r.V != Version || !storage.ValidID(r.OfferID) || !storage.ValidID(r.RoutingID) || !RegionRe.MatchString(r.Region) ||
		len(r.Handle) == 0 || len(r.Handle) > 300 || !Plain(r.Handle, false) || r.Token != "" && !TokenRe.MatchString(r.Token) ||
		utf8.RuneCountInString(r.Reason) > MaxReleaseReason || !Plain(r.Reason, true) {
		return Bad("release request")
	}
	return nil
}

func (a *AcceptRequest) Validate() error {
	if a.V != Version || a.ReleaseToken != "" && !TokenRe.MatchString(a.ReleaseToken) || !storage.ValidID(a.OfferID) || !storage.ValidID(a.RoutingID) || !storage.ValidID(a.MemberID) ||
		!RegionRe.MatchString(a.Region) || len(a.Handle) == 0 || len(a.Handle) > 300 || len(a.Name) > 300 ||
		!Plain(a.Handle, false) || !Plain(a.Name, false) {
		return Bad("accept request")
	}
	return nil
}

// Host is the host of an ActivityPub id: the node the object lives on.
func Host(id string) string {
	u, err := url.Parse(id)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// AnswerID is the outbox id, and so the Nats-Msg-Id, of a message about an
// offer (a decline, a withdrawal…). Every region's node reads the offer's
// id on the stream: with that id alone, anyone who may publish could send
// a message under it first, and JetStream would drop the real one as a
// duplicate. A fresh suffix makes it unguessable; republishing the same
// row still reuses it, so that JetStream drops the copies.
func AnswerID(kind, offerID string) string { return kind + "-" + offerID + "-" + storage.NewID() }
