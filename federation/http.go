package federation

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/coopnet/coopnet/federation/doc"
	"github.com/coopnet/coopnet/services/apperr"
)

// Routes registers federation's endpoints on the node's server.
func (s *Service) Routes(e *echo.Echo) {
	e.GET("/.well-known/webfinger", s.webfinger)
	e.GET("/.well-known/nodeinfo", s.nodeinfoLinks)
	e.GET("/nodeinfo/2.1", s.nodeinfo)
	e.GET("/actor", s.getNodeActor)
	e.POST("/actor/inbox", s.postInbox)
	e.GET("/actor/outbox", s.getOutbox)
	e.GET("/members/:handle", s.getPerson)
	e.POST("/members/:handle/inbox", s.postMemberInbox)
	e.GET("/members/:handle/outbox", s.getOutbox)
	e.GET("/tickets/:id", s.getTicket)
	e.GET("/attachments/:id", s.getAttachment)
}

// getTicket serves a ticket this node tracks as a ForgeFed Ticket, to the
// node it is shared with only (a signed GET): with the client as the job
// needs it. Other callers learn nothing, not even that it exists.
func (s *Service) getTicket(c echo.Context) error {
	r := c.Request()
	if r.Header.Get("Signature") == "" {
		return apperr.New(apperr.Unauthorised, "a ticket is served to a signed request of the node it is shared with")
	}
	host, err := s.transport.VerifyRequest(r, nil)
	if err != nil {
		return err
	}
	notFound := apperr.NotFoundf("no ticket %q shared with %s", c.Param("id"), host)
	if s.tickets == nil {
		return notFound
	}
	ctx := r.Context()
	t, err := s.tickets.GetByAPID(ctx, s.cfg.PublicURL+"/tickets/"+c.Param("id"))
	if apperr.CodeOf(err) == apperr.NotFound || (err == nil && (t.OriginRegion != s.cfg.Region || handleHost(t.AssigneeHandle) != host)) {
		return notFound
	}
	if err != nil {
		return err
	}
	obj, err := s.ticketState(ctx, s.db.Conn(ctx), t, true)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store") // the client's contact
	return writeAS(c, obj)
}

// writeAS writes an ActivityStreams document in the media type asked for:
// ld+json with the profile when asked, activity+json otherwise.
func writeAS(c echo.Context, obj any) error {
	ct := doc.MediaActivity
	if strings.Contains(c.Request().Header.Get("Accept"), "application/ld+json") {
		ct = doc.MediaLD
	}
	c.Response().Header().Set("Vary", "Accept")
	c.Response().Header().Set(echo.HeaderContentType, ct)
	c.Response().WriteHeader(http.StatusOK)
	return json.NewEncoder(c.Response()).Encode(obj)
}

func (s *Service) getNodeActor(c echo.Context) error {
	s.transport.HeardFrom(c.Request())
	kp, err := s.keys.Get(c.Request().Context(), "node")
	if err != nil {
		return err
	}
	obj, err := doc.NodeActor(doc.ActorFields{ID: s.NodeActor(), Username: s.cfg.Region, Name: "coopnet " + s.cfg.Region,
		Summary: "Regional node of the coopnet cooperative: " + s.cfg.Region, PublicKeyPEM: kp.PublicPEM},
		s.NodeActor()+"/inbox")
	if err != nil {
		return err
	}
	_, routingPEM, err := s.keys.RoutingKey(c.Request().Context())
	if err != nil {
		return err
	}
	// The key that signs this node's messages on the routing plane (NATS).
	obj["coopnetRoutingKey"] = map[string]any{"id": s.RoutingKeyID(), "owner": s.NodeActor(), "publicKeyPem": routingPEM}
	return writeAS(c, obj)
}

func (s *Service) getPerson(c echo.Context) error {
	ctx := c.Request().Context()
	m, err := s.members.GetByHandle(ctx, c.Param("handle"))
	if err != nil {
		return err
	}
	kp, err := s.keys.Get(ctx, "member:"+m.ID)
	if err != nil {
		return err
	}
	obj, err := doc.Person(s.profileOf(m), kp.PublicPEM, s.NodeActor()+"/inbox")
	if err != nil {
		return err
	}
	return writeAS(c, obj)
}

// postMemberInbox takes activities addressed to a member: coopnet handles
// them as it does those to the node's shared inbox.
func (s *Service) postMemberInbox(c echo.Context) error {
	if _, err := s.members.GetByHandle(c.Request().Context(), c.Param("handle")); err != nil {
		return err
	}
	return s.postInbox(c)
}

// getOutbox answers with an empty collection: coopnet delivers its
// activities to the peers they concern and publishes none.
func (s *Service) getOutbox(c echo.Context) error {
	if h := c.Param("handle"); h != "" {
		if _, err := s.members.GetByHandle(c.Request().Context(), h); err != nil {
			return err
		}
	}
	return writeAS(c, map[string]any{"@context": doc.NSActivityStreams, "id": s.cfg.PublicURL + c.Request().URL.Path,
		"type": "OrderedCollection", "totalItems": 0, "orderedItems": []any{}})
}

// webfinger resolves acct:handle@host to the member's actor, and
// acct:<region>@host to the node's.
func (s *Service) webfinger(c echo.Context) error {
	res := c.QueryParam("resource")
	acct, ok := strings.CutPrefix(res, "acct:")
	user, host, ok2 := strings.Cut(acct, "@")
	if !ok || !ok2 || user == "" || len(res) > 300 {
		return &apperr.Error{Code: apperr.BadRequest, Message: "resource must be acct:handle@host",
			Fields: map[string]string{"resource": "must be acct:handle@host"}}
	}
	if !strings.EqualFold(host, s.host) {
		return apperr.NotFoundf("%s is not on this node", res)
	}
	var self string
	if user == s.cfg.Region {
		self = s.NodeActor()
	} else {
		m, err := s.members.GetByHandle(c.Request().Context(), user)
		if err != nil {
			return err
		}
		self = s.MemberActor(m.Handle)
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/jrd+json")
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	c.Response().WriteHeader(http.StatusOK)
	return json.NewEncoder(c.Response()).Encode(map[string]any{
		"subject": "acct:" + user + "@" + s.host,
		"aliases": []string{self},
		"links": []map[string]string{
			{"rel": "self", "type": doc.MediaActivity, "href": self},
			{"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": self},
		},
	})
}

func (s *Service) nodeinfoLinks(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"links": []map[string]string{
		{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": s.cfg.PublicURL + "/nodeinfo/2.1"},
	}})
}

func (s *Service) nodeinfo(c echo.Context) error {
	n, err := s.members.Count(c.Request().Context())
	if err != nil {
		return err
	}
	v := s.cfg.Version
	if v == "" {
		v = "dev"
	}
	c.Response().Header().Set(echo.HeaderContentType,
		`application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"`)
	c.Response().WriteHeader(http.StatusOK)
	return json.NewEncoder(c.Response()).Encode(map[string]any{
		"version":           "2.1",
		"software":          map[string]any{"name": "coopnet", "version": v, "repository": "https://github.com/coopnet/coopnet"},
		"protocols":         []string{"activitypub"},
		"services":          map[string]any{"inbound": []string{}, "outbound": []string{}},
		"openRegistrations": false,
		"usage":             map[string]any{"users": map[string]any{"total": n}},
		"metadata":          map[string]any{"region": s.cfg.Region, "nodeName": "coopnet " + s.cfg.Region},
	})
}
